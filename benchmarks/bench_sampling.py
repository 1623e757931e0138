"""SLATE's claim, measured: truncated step-level vs full-trajectory advantage estimators; shared-prefix decoding.

    python benchmarks/bench_sampling.py [--quick] [--model smollm2|PATH] [--judge gold|rules]

Same policy (``HFPolicy``; SmolLM2-135M-Instruct resolved offline by ``resolve_model``, or a warm-started
checkpoint given as ``--model PATH``), same training reward (``GroupReward`` over the ``gold`` judge, the
training default where gold hops exist; ``--judge rules`` for the model-free rules judge), same tasks
(two-hop synthetic world, BM25, budget B = T = ``--steps`` turns). No citation rubric: with one, a correct
answer's value depends on the rest of its group (C-GRPO), which would mix a second effect into the variance.

1. Past-only judging. Every judge request the reward sends goes through an audit wrapper that knows which
   (trajectory, step t) it is about and checks that its ``context`` holds exactly the agent turns before t
   and that no document in its ``evidence`` or ``seen_ids`` was first shown at a step >= t. The run stops
   on a violation. It audits the oracle's episodes first (they search, open and answer, so evidence is
   really shown), then every reward call of part 2. (``outcome``, the ids the judged action itself brought into view, is the privileged
   field by which the ``gold`` judge measures a step's effect; the count of requests carrying it is shown.)
2. Advantage-estimator variance. The quantity estimated is the advantage of a FIXED first step ``a`` of a
   task (drawn once from the policy). For seeds s = 1..S, with fresh sampling noise each time:

   * trajectory (Search-R1 / C-GRPO groups): G = k episodes from the task, one of them continuing from
     ``a``, all played to the end. Episode return = the SUM of the episode's SLATE step rewards (each step
     scored by ``GroupReward.score_steps`` on its own prefix). Why the sum and not ``score_episodes``: it
     is the trajectory return of SLATE's variance argument (same reward, same units as the step
     estimator, so raw variances compare directly); when no episode of a group matches exactly (the raw
     model never does) the C-GRPO outcome is 0 for all, leaving ``score_episodes`` = 0.2 x the MEAN step
     reward, a rescaled variant. ``score_episodes`` is reported too, as what the trajectory sampler trains on.
   * step (SLATE): ``GroupReward.score_steps`` over ``a`` and other candidates for the same first step,
     sampled from the same prefix: (i) k candidates in all (same group size; far fewer tokens); (ii) at
     EQUAL GENERATED TOKENS: candidates drawn k at a time until they cost at least as many generated
     tokens as that seed's trajectory estimate (a's own tokens are not counted for either).

   Each estimator is computed RAW (r_a - group mean, no std division) and z-scored ((r_a - mean) / std,
   as GRPO trains). Per task: the variance across seeds (ddof 1). Reported: the mean over tasks, the std
   over tasks and a bootstrap 95% CI over tasks, and the ratio trajectory / step (bootstrap CI resampling
   tasks). SLATE's bound: the trajectory estimator's variance is up to T times the step one's.
   Caveat: the raw SmolLM2-135M-Instruct writes no action tags (every turn is invalid), so its step
   rewards vary only through r_think; give a warm-started checkpoint (``--model PATH``) for a policy that
   searches. ``--quick``: 3 tasks x 3 seeds, 24 new tokens per turn; default 8 x 8, 64.
3. Generated tokens per training sample from one call of each sampler (TrajectorySampler,
   TruncatedStepSampler) with the same ``GroupReward``.
4. Shared-prefix speed-up: ``HFPolicy.generate_ids(prefix, n=8)`` with the prefix encoded once and its KV
   cache expanded to the branches (``shared_prefix=True``) vs re-encoding it for every branch.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import time
from typing import Any, Sequence


class PastOnlyViolation(AssertionError):
    """A judge request about step t carried something the agent had not seen before step t."""


class PastOnlyAudit:
    """A judge wrapper that checks every request against the (trajectory, step index) it is about.

    ``expect(items)`` announces the ``(trajectory, index)`` items of the next reward call, in the order
    ``StepJudgeReward`` sends their requests (r_think, then r_action or r_answer for a valid step).
    """

    def __init__(self, judge: Any) -> None:
        self.inner, self.name = judge, getattr(judge, "name", "judge")
        self._pending: list[tuple[Any, int]] = []
        self.requests = 0
        self.with_outcome = 0
        self.violations: list[str] = []

    def expect(self, items: Sequence[tuple[Any, int]]) -> None:
        self._pending = list(items)

    def _check(self, req: Any, traj: Any, t: int) -> None:
        first: dict[str, int] = {}
        for j, step in enumerate(traj.steps):
            for doc_id in traj.shown_by(step):
                first.setdefault(doc_id, j)
        shown = set(req.seen_ids) | {d.id for d in req.evidence}
        late = sorted(i for i in shown if first.get(i, -1) >= t)
        if late:
            self.violations.append(f"request about step {t} carries {late}, first shown at steps "
                                   f"{[first[i] for i in late]}")
        agent = [c for c in req.context if c.startswith("agent: ")]
        if agent != ["agent: " + s.text for s in traj.steps[:t]]:
            self.violations.append(f"request about step {t} has {len(agent)} agent turns in its context, "
                                   f"not the {t} before it")
        env = [c for c in req.context if c.startswith("environment: ")]
        if len(env) != sum(bool(s.observation) for s in traj.steps[:t]):
            self.violations.append(f"request about step {t} carries {len(env)} observations, "
                                   f"not those of the {t} steps before it")
        self.requests += 1
        self.with_outcome += bool(req.outcome)

    def judge(self, requests: Sequence[Any]) -> list[Any]:
        from searchgym.envs.trajectory import INVALID

        owners = [(traj, t) for traj, t in self._pending
                  for _ in range(1 if traj.steps[t].kind == INVALID else 2)]
        if len(owners) != len(requests):
            raise PastOnlyViolation(f"audit expected {len(owners)} requests for {len(self._pending)} steps, "
                                    f"got {len(requests)}")
        for req, (traj, t) in zip(requests, owners):
            self._check(req, traj, t)
        if self.violations:
            raise PastOnlyViolation(self.violations[0])
        self._pending = []
        return self.inner.judge(requests)

    async def ajudge(self, requests: Sequence[Any]) -> list[Any]:
        return self.judge(requests)


def bootstrap_ci(values: Sequence[float], stat, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap CI of ``stat`` over resamples of ``values`` (tasks)."""
    rng = random.Random(seed)
    draws = sorted(stat([values[rng.randrange(len(values))] for _ in values]) for _ in range(n))
    return draws[int(0.025 * n)], draws[min(n - 1, int(0.975 * n))]


def fmt_ratio(x: float) -> str:
    return "inf" if math.isinf(x) else "nan" if math.isnan(x) else f"{x:.2f}"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small budgets (under 10 minutes on a busy 2-core box)")
    p.add_argument("--k", type=int, default=4, help="group size: k step candidates, G = k episodes")
    p.add_argument("--steps", type=int, default=3, help="T = B, the turn budget")
    p.add_argument("--tasks", type=int, default=None)
    p.add_argument("--seeds", type=int, default=None)
    p.add_argument("--max-new-tokens", type=int, default=None)
    p.add_argument("--model", default="smollm2",
                   help="policy: smollm2 (raw), or a local checkpoint directory such as a warm start")
    p.add_argument("--judge", default="gold", help="judge spec for the SLATE step rewards (gold, rules)")
    p.add_argument("--world", default="synthetic:seed=0,passages=300,tasks=40,hops=2")
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads (1: on a busy 2-core box with the Lucene JVM in-process, more "
                        "threads oversubscribe and decoding slows down many times)")
    p.add_argument("--no-samplers", action="store_true", help="skip part 3 (tokens per sample of each sampler)")
    args = p.parse_args(argv)
    if args.k < 2 or args.steps < 1:
        p.error("need --k >= 2 and --steps >= 1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    k, T = args.k, args.steps
    n_tasks = args.tasks or (3 if args.quick else 8)
    n_seeds = args.seeds or (3 if args.quick else 8)
    if n_seeds < 2 or n_tasks < 1:
        p.error("need --seeds >= 2 (a variance across seeds) and --tasks >= 1")
    max_new = args.max_new_tokens or (24 if args.quick else 64)
    t_start = time.perf_counter()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from searchgym.train.advantages import group_zscore
    from searchgym.policies.hf_policy import HFPolicy
    from searchgym.models import resolve_model
    from searchgym.train.samplers import TrajectorySampler, TruncatedStepSampler, TurnEncoder
    from searchgym.corpora import load_taskset
    from searchgym.envs import DeepSearchEnv
    from searchgym.judges import load_judge
    from searchgym.rewards.group import GroupReward
    from searchgym.search import build_searcher

    torch.set_num_threads(args.threads)
    taskset = load_taskset(args.world)
    tasks = [t for t in taskset.tasks if len(t.hops) == 2][:n_tasks]
    if not tasks:
        p.error(f"{args.world} has no two-hop task")
    searcher = build_searcher("bm25", taskset.documents, progress=False)
    env = DeepSearchEnv(taskset, searcher, max_turns=T, passage_chars=200, reward=None)  # the sampler scores
    audit = PastOnlyAudit(load_judge(args.judge))
    reward = GroupReward(judge=audit, budget=T)
    path = str(resolve_model(args.model))
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    encoder = TurnEncoder(tokenizer)

    def policy(seed: int, shared: bool = True) -> HFPolicy:
        return HFPolicy(model, tokenizer, max_new_tokens=max_new, temperature=1.0, seed=seed, shared_prefix=shared)

    def score_steps(trajs: Sequence[Any]) -> list[Any]:
        audit.expect([(t, len(t.steps) - 1) for t in trajs])
        return reward.score_steps(trajs)

    def score_episodes(trajs: Sequence[Any]) -> list[Any]:
        audit.expect([(t, i) for t in trajs for i in range(len(t.steps))])
        return reward.score_episodes(trajs)

    print(f"[setup] {args.world}: {len(tasks)} two-hop tasks, BM25; policy {args.model} ({path}); judge {args.judge}; "
          f"k = G = {k}, T = B = {T}, {max_new} new tokens max per turn, temperature 1, {args.threads} thread(s); "
          f"{time.perf_counter() - t_start:.0f}s", flush=True)
    print("[setup] reward:\n  " + reward.formula("step").replace("\n", "\n  ") + "\n  "
          + reward.formula("trajectory").replace("\n", "\n  "), flush=True)

    # --- 1. past-only audit on episodes with evidence: the oracle searches, opens and answers -------
    from searchgym.policies.oracle import OraclePolicy

    oracle, played = OraclePolicy(taskset), []
    oracle_env = DeepSearchEnv(taskset, searcher, max_turns=8, passage_chars=200, reward=None)
    for task in tasks:
        oracle_env.reset(options={"task": task})
        while not oracle_env.done:
            oracle_env.step(oracle.next_turn(oracle_env.messages))
        played.append(oracle_env.trajectory)
    oracle_reward = GroupReward(judge=audit, budget=8)
    audit.expect([(t, i) for t in played for i in range(len(t.steps))])
    oracle_reward.score_episodes(played)
    for traj in played:
        for i in range(len(traj.steps)):
            audit.expect([(traj.prefix(i + 1), i)])
            oracle_reward.score_steps([traj.prefix(i + 1)])
    print(f"[audit] oracle episodes ({sum(len(t.steps) for t in played)} steps, {sum(len(t.seen) for t in played)} "
          f"documents shown): {audit.requests} judge requests checked, none carries evidence first shown at or "
          f"after its step", flush=True)

    # --- 4. shared-prefix speed-up ---------------------------------------------------------------
    env.reset(options={"task": tasks[0]})
    env.step(f"<search>{tasks[0].hops[0].question}</search>")
    prefix = encoder.prompt(env.messages)
    timing: dict[bool, list[float]] = {True: [], False: []}
    made: dict[bool, int] = {True: 0, False: 0}
    for shared in (True, False) * (1 if args.quick else 2):
        pol = policy(0, shared)
        t0 = time.perf_counter()
        outs = pol.generate_ids([prefix], n=8)[0]
        timing[shared].append(time.perf_counter() - t0)
        made[shared] = sum(len(c.token_ids) for c in outs)
    enc, re_enc = min(timing[True]), min(timing[False])
    print(f"[speed] k=8 branches, prefix {len(prefix)} tokens, <= {max_new} new tokens: shared prefix {enc:.2f}s "
          f"({made[True]} tokens), re-encode {re_enc:.2f}s ({made[False]} tokens), speed-up {re_enc / enc:.2f}x "
          f"(best of {len(timing[True])} each)", flush=True)

    # --- 3. tokens per training sample --------------------------------------------------------------
    if not args.no_samplers:
        # the samplers call the reward themselves (no per-step owner to announce): the unaudited judge
        plain = GroupReward(judge=audit.inner, budget=T)
        samplers = (("trajectory", TrajectorySampler(env, policy(0), plain, group_size=k)),
                    ("step", TruncatedStepSampler(env, policy(0), plain, k=k, max_steps=T, seed=0)))
        for name, sampler in samplers:
            t0 = time.perf_counter()
            sampler.sample(tasks[:1])
            st = sampler.last_stats
            print(f"[tokens] {name:10s} samples {st['samples']:.0f}  generated tokens {st['generated_tokens']:.0f}  "
                  f"per sample {st['generated_tokens_per_sample']:.1f}  steps/episode {st['steps_per_episode']:.2f}  "
                  f"searches/episode {st['searches_per_episode']:.2f}  invalid/episode "
                  f"{st['invalid_per_episode']:.2f}  answered {st['answered']:.2f}  EM {st['em']:.2f}  "
                  f"({time.perf_counter() - t0:.0f}s)", flush=True)

    # --- 2. advantage-estimator variance -----------------------------------------------------------
    def play_out(pol: HFPolicy, envs: list[Any]) -> int:
        """Finish every env's episode with ``pol``; returns the tokens generated."""
        made = 0
        while True:
            live = [e for e in envs if not e.done]
            if not live:
                return made
            for e, out in zip(live, pol.generate([e.messages for e in live], n=1)):
                made += len(out[0].token_ids)
                e.step(out[0].text)

    def step_return(traj: Any) -> float:
        """Sum of the episode's SLATE step rewards, each step scored on its own prefix."""
        return sum(score_steps([traj.prefix(i + 1)])[0].value for i in range(len(traj.steps)))

    names = ("trajectory G=k (sum of step rewards)", "trajectory G=k (C-GRPO score_episodes)",
             f"step k={k}", "step, equal tokens")
    per_task: dict[tuple[str, str], list[float]] = {(n, m): [] for n in names for m in ("raw", "z")}
    tokens: dict[str, list[float]] = {n: [] for n in names}
    group_sizes: list[int] = []
    for ti, task in enumerate(tasks):
        env.reset(options={"task": task})
        root = env.fork()
        first = policy(1000 + ti).generate([root.messages], n=1)[0][0]  # the fixed step a
        a_env = root.fork()
        a_env.step(first.text)
        est: dict[tuple[str, str], list[float]] = {key: [] for key in per_task}
        r_a = None
        for s in range(n_seeds):
            pol = policy(10_000 * (ti + 1) + s)  # its own seeds per task: the tasks' estimates stay independent
            envs = [a_env.fork()] + [root.fork() for _ in range(k - 1)]
            made = play_out(pol, envs)
            trajs = [e.trajectory for e in envs]
            sums = [step_return(t) for t in trajs]
            cgrpo = score_episodes(trajs)
            # the step estimator: candidates for the same first step, k at a time, to equal tokens
            cands = pol.generate([root.messages], n=k - 1)[0]
            while sum(len(c.token_ids) for c in cands) < made:
                cands += pol.generate([root.messages], n=k)[0]
            forks = []
            for c in cands:
                f = root.fork()
                f.step(c.text)
                forks.append(f.trajectory)
            small = score_steps([a_env.trajectory] + forks[: k - 1])
            equal = score_steps([a_env.trajectory] + forks)
            r_a = small[0].value
            groups = {names[0]: ([(v, True) for v in sums], made),
                      names[1]: ([(r.value, r.scored) for r in cgrpo], made),
                      names[2]: ([(r.value, r.scored) for r in small], sum(len(c.token_ids) for c in cands[: k - 1])),
                      names[3]: ([(r.value, r.scored) for r in equal], sum(len(c.token_ids) for c in cands))}
            for name, (members, spent) in groups.items():
                values, scored = [v for v, _ in members], [s for _, s in members]
                est[(name, "raw")].append(group_zscore(values, scored, scale=False)[0])
                est[(name, "z")].append(group_zscore(values, scored)[0])
                tokens[name].append(spent)
            group_sizes.append(len(equal))
        for key, values in est.items():
            per_task[key].append(statistics.variance(values))
        print(f"[variance] task {ti + 1}/{len(tasks)} {task.id}: a = {first.text[:60]!r}  r(a) = {r_a:+.2f}  "
              f"raw var traj(sum) {per_task[(names[0], 'raw')][-1]:.3f}  step k {per_task[(names[2], 'raw')][-1]:.3f}  "
              f"step eq. tokens {per_task[(names[3], 'raw')][-1]:.3f}  ({time.perf_counter() - t_start:.0f}s)",
              flush=True)

    print(f"[audit] {audit.requests} judge requests checked in all: 0 carried evidence first shown at a step >= their "
          f"own, every context held exactly the earlier turns; {audit.with_outcome} carried the privileged "
          f"'outcome' (the judged action's own effect, read only by the gold judge)")
    print(f"[variance] advantage of a fixed first step: variance across {n_seeds} seeds per task, over {len(tasks)} "
          f"tasks: mean ± std over tasks [bootstrap 95% CI of the mean, resampling tasks]; the equal-token step "
          f"groups held {statistics.mean(group_sizes):.1f} candidates on average; ratio = a trajectory "
          f"estimator's mean variance / the step estimator's [bootstrap CI]")

    def ratio_ci(num: list[float], den: list[float]) -> str:
        def ratio(a: float, b: float) -> float:
            return a / b if b > 0 else math.inf if a > 0 else math.nan

        lo, hi = bootstrap_ci(list(zip(num, den)), lambda s: ratio(sum(a for a, _ in s), sum(b for _, b in s)))
        return f"{fmt_ratio(ratio(statistics.mean(num), statistics.mean(den)))} [{fmt_ratio(lo)}, {fmt_ratio(hi)}]"

    for mode in ("raw", "z"):
        print(f"[variance] {'RAW (r_a - mean)' if mode == 'raw' else 'Z-SCORED ((r_a - mean) / std)'}:")
        for name in names:
            vals = per_task[(name, mode)]
            lo, hi = bootstrap_ci(vals, statistics.mean)
            line = (f"[variance]   {name:40s} {statistics.mean(vals):8.4f} ± {statistics.pstdev(vals):.4f} "
                    f"[{lo:.4f}, {hi:.4f}]  tokens/estimate {statistics.mean(tokens[name]):5.0f}")
            if name.startswith("step"):
                line += f"  ratio sum-traj/step {ratio_ci(per_task[(names[0], mode)], vals)}"
                if mode == "z":  # raw C-GRPO values live on their own scale (0.2 x a mean): no raw ratio
                    line += f", C-GRPO-traj/step {ratio_ci(per_task[(names[1], mode)], vals)}"
            print(line)
    print(f"[done] {time.perf_counter() - t_start:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
