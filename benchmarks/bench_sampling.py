"""Truncated step-level (SLATE) vs full-trajectory sampling, and shared-prefix encoding.

python benchmarks/bench_sampling.py [--quick]

Same policy (SmolLM2-135M-Instruct, resolved offline, CPU, raw or warm-started with ``--model``), same judge (SLATE ``StepJudgeReward`` over
the ``rules`` judge: per-step ternary scores) and same tasks (2-hop synthetic world, BM25).

1. Advantage-estimator variance. The quantity estimated is the advantage of a FIXED first step ``a``
   (step 0 of a task, drawn once from the policy). With seeds s = 1..S we re-estimate it:
   * full trajectory (Search-R1 GRPO): play ``a`` to the end of the episode with the policy, plus G-1
     other full episodes from the task; reward of an episode = sum of its per-step judge rewards
     (the trajectory-level return SLATE's theorem compares against); advantage of ``a`` =
     (R_a - mean R) / (std R + eps) over the G episodes.
   * truncated step-level (SLATE): k-1 other candidates for step 0 from the same prefix; advantage of
     ``a`` = (r_a - mean r) / (std r + eps) over the k step rewards.
   Reported: mean over (task, a) of the variance across seeds of each estimator, and the ratio.
   Two step-level figures: at equal group size (G = k; the trajectory estimate then costs up to T
   times more tokens) and at an equal budget of generated tokens (more step candidates are drawn, k
   at a time, until they have cost as many tokens as that seed's trajectory estimate).
2. Generated tokens per training sample from one call of each sampler.
3. Shared-prefix speed-up: ``HFPolicy.generate(prefix, n=k)`` with the prefix encoded once and its KV
   cache expanded to k branches, vs the same call re-encoding the prefix for every branch.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny budgets (a few minutes on 2 CPU cores)")
    p.add_argument("--k", type=int, default=None)
    p.add_argument("--steps", type=int, default=3, help="T, the step budget")
    p.add_argument("--tasks", type=int, default=None)
    p.add_argument("--seeds", type=int, default=None)
    p.add_argument("--max-new-tokens", type=int, default=None)
    p.add_argument("--model", default="smollm2",
                   help="policy: smollm2 (raw), or a checkpoint such as the warm start that bench_train.py saves "
                        "under runs/bench_train/warmstart/model")
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads (1 by default: on a busy 2-core box with the Lucene JVM in-process, "
                        "more threads oversubscribe and decoding runs ~20x slower)")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    quick = args.quick
    k = args.k or 4
    T = args.steps
    n_tasks = args.tasks or (2 if quick else 6)
    n_seeds = args.seeds or (3 if quick else 8)
    max_new = args.max_new_tokens or (32 if quick else 64)

    import torch

    from searchgym.agents.advantages import group_zscore
    from searchgym.agents.hf_policy import HFPolicy
    from searchgym.agents.samplers import TrajectorySampler, TruncatedStepSampler, score_all
    from searchgym.corpora.synthetic import WorldConfig, generate_world
    from searchgym.envs import DeepSearchEnv
    from searchgym.judges import load_judge
    from searchgym.rewards.process import StepJudgeReward
    from searchgym.search import build_searcher

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    world = generate_world(WorldConfig(seed=0, num_passages=500, num_tasks=40, hops=(2,)))
    tasks = [t for t in world.tasks if len(t.hops) == 2][:n_tasks]
    searcher = build_searcher("bm25", world.documents)
    env = DeepSearchEnv(world.tasks, searcher, max_turns=T, passage_chars=200)
    step_reward = StepJudgeReward(load_judge("rules"), budget=T)
    policy = HFPolicy.from_pretrained(args.model, max_new_tokens=max_new, temperature=1.0, seed=0)

    # --- 3. shared-prefix speed-up --------------------------------------------------------------
    env.reset(options={"task": tasks[0]})
    env.step(f"<search>{tasks[0].hops[0].question}</search>")
    prefix = env.messages
    timing = {}
    for shared in (True, False, True, False):
        policy.shared_prefix = shared
        t0 = time.perf_counter()
        policy.generate([prefix], n=8)
        timing.setdefault(shared, []).append(time.perf_counter() - t0)
    policy.shared_prefix = True
    enc, re_enc = min(timing[True]), min(timing[False])
    plen = len(policy.prompt_ids(prefix))
    print(f"[speed] k=8 branches, prefix {plen} tokens, {max_new} new tokens max: shared prefix {enc:.2f} s, "
          f"re-encode {re_enc:.2f} s, speed-up {re_enc / enc:.2f}x", flush=True)

    # --- 2. tokens per training sample ----------------------------------------------------------
    traj_sampler = TrajectorySampler(env, policy, step_reward, group_size=k)
    traj_sampler.sample(tasks[:1])
    step_sampler = TruncatedStepSampler(env, policy, step_reward, k=k, max_steps=T, seed=0)
    step_sampler.sample(tasks[:1])
    for name, s in (("trajectory", traj_sampler), ("step", step_sampler)):
        st = s.last_stats
        print(f"[tokens] {name:10s} samples {st['samples']:.0f}  generated tokens {st['generated_tokens']:.0f}  "
              f"per sample {st['generated_tokens_per_sample']:.1f}  steps/episode {st['steps_per_episode']:.2f}  "
              f"searches/episode {st['searches_per_episode']:.2f}  EM {st['em']:.2f}", flush=True)

    # --- 1. advantage-estimator variance --------------------------------------------------------
    def play_out(envs):
        """Finish every env's episode with the policy; returns generated tokens."""
        made = 0
        while True:
            live = [e for e in envs if not e.done]
            if not live:
                return made
            for e, out in zip(live, policy.generate([e.messages for e in live], n=1)):
                made += len(out[0].token_ids)
                e.step(out[0].text)

    def episode_return(e):
        """Sum of the per-step judge rewards along the episode (each step judged in its own context)."""
        traj = e.trajectory
        partial = [type(traj)(traj.task, traj.steps[: i + 1], traj.seen) for i in range(len(traj.steps))]
        return sum(r.value for r in score_all(step_reward, partial))

    var_traj, var_step, var_budget, tok_traj, tok_step, tok_budget, cands_budget = [], [], [], [], [], [], []
    t_start = time.perf_counter()
    for ti, task in enumerate(tasks):
        env.reset(options={"task": task})
        root = env.fork()
        policy.generator.manual_seed(1000 + ti)
        first = policy.generate([root.messages], n=1)[0][0].text  # the fixed step a whose advantage we estimate
        a_env = root.fork()
        a_env.step(first)
        r_a = score_all(step_reward, [a_env.trajectory])[0].value
        est_traj, est_step, est_budget = [], [], []
        for seed in range(n_seeds):
            policy.generator.manual_seed(seed)
            # full trajectory: a played to the end, plus G-1 fresh episodes
            envs = [a_env.fork()] + [root.fork() for _ in range(k - 1)]
            made = play_out(envs)
            returns = [episode_return(e) for e in envs]
            est_traj.append(group_zscore(returns)[0])
            tok_traj.append(made)
            # truncated step level: k-1 other candidates for the same step (equal group size), then more
            # candidates until the step estimate has spent as many generated tokens as the trajectory one
            others = policy.generate([root.messages], n=k - 1)[0]
            while sum(len(c.token_ids) for c in others) < made:
                others += policy.generate([root.messages], n=k)[0]
            forks = []
            for c in others:
                f = root.fork()
                f.step(c.text)
                forks.append(f)
            rewards = [r_a] + [r.value for r in score_all(step_reward, [f.trajectory for f in forks])]
            est_step.append(group_zscore(rewards[:k])[0])
            est_budget.append(group_zscore(rewards)[0])
            tok_step.append(sum(len(c.token_ids) for c in others[: k - 1]))
            tok_budget.append(sum(len(c.token_ids) for c in others))
            cands_budget.append(len(others) + 1)
        var_traj.append(statistics.pvariance(est_traj))
        var_step.append(statistics.pvariance(est_step))
        var_budget.append(statistics.pvariance(est_budget))
        print(f"[variance] task {ti + 1}/{len(tasks)}: r(a)={r_a:+.2f}  Var_traj={var_traj[-1]:.3f}  "
              f"Var_step(k={k})={var_step[-1]:.3f}  Var_step(equal tokens)={var_budget[-1]:.3f}  "
              f"({time.perf_counter() - t_start:.0f} s)", flush=True)
    vt, vs, vb = (statistics.mean(v) for v in (var_traj, var_step, var_budget))

    def ratio(a, b):
        return a / b if b > 0 else float("inf")

    print(f"[variance] advantage of a fixed first step, variance across {n_seeds} seeds, mean over {len(tasks)} tasks "
          f"(T={T}, SLATE bound: up to T x at equal group size):")
    print(f"[variance]   full trajectory, G={k} episodes:           {vt:.4f}  "
          f"({statistics.mean(tok_traj):.0f} generated tokens per estimate)")
    print(f"[variance]   step-level, k={k} candidates:               {vs:.4f}  ratio {ratio(vt, vs):.2f}x  "
          f"({statistics.mean(tok_step):.0f} tokens)")
    print(f"[variance]   step-level, equal token budget (k~{statistics.mean(cands_budget):.1f}): {vb:.4f}  "
          f"ratio {ratio(vt, vb):.2f}x  ({statistics.mean(tok_budget):.0f} tokens)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
