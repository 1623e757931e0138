"""How much signal a GRPO group carries at each sampling temperature: alike groups, distinct candidates, invalid turns.

    python benchmarks/bench_step_diversity.py --model runs/quickstart/warmstart/model
    python benchmarks/bench_step_diversity.py --model PATH --temperatures 1.0,1.3,1.6 --tasks 16 --samplers step,trajectory
    python benchmarks/bench_step_diversity.py --model PATH --temperatures 1.0 --step-value rollout --gate 0.5,0.7,0.8,0.9

A group whose samples all score the same has zero advantage everywhere: it costs its generation and teaches
nothing (TRL's ``frac_reward_zero_std``). A warm start trained to imitate the oracle is nearly deterministic,
so at temperature 1 most of its candidates are the same turn. SLATE's step groups suffer most: their k
candidates share the whole prefix and differ in one turn, where a trajectory group's G episodes can drift
apart over every turn. This samples groups from ``--model`` on TRAIN tasks (never the held-out split) with
the training reward of ``searchgym train`` (``--judge``, C-GRPO citation rubric) and prints, per sampler and
temperature: the share of groups scored alike, distinct candidate texts per group (out of k), invalid turns
among the samples, samples with a positive advantage (the ones the default loss learns from, since
``negative_advantage_weight`` is 0), and EM of the episodes played. Pick the highest temperature whose
invalid share stays small.

Measured 2026-12-06 (fp32, 2 cores; bench_learning's warm start, 16 train tasks of its world, k = 4), step
groups: 1.0 -> 65 % alike, 1.84 distinct, 0.5 % invalid, 39 positive; 1.3 -> 40 %, 2.65, 1.4 %, 64;
1.6 -> 37 %, 3.65, 24.6 %, 66. More signal is not a better agent: bench_learning's step arm trained at 1.3 (seed
0, ~34k tokens) went from the warm start's 0.486 / 0.388 (held-out / unseen world) to 0.314 / 0.269, where at 1.0
it reached 0.514 / 0.519; its answer groups had a right and a wrong answer in 6 of 11 logged groups (1 of 9 at
1.0), and still it learned to answer with the bridge entity (docs/learning.md).

``--gate`` sizes likelihood-gated branching before building it: draw one probe turn at each step and branch
into a group of k only where the probe's sequence probability is below a threshold (a confident policy would
draw k copies of one turn), the probe itself kept out of the group so its draws stay unconditioned. For each
threshold it prints the step groups that would be skipped, the informative ones among them (lost), and the net
share of candidate tokens saved: a skipped group costs one turn instead of k, a branched one a probe more. The
first candidate of each sampled group stands in for the probe (a draw from the same distribution).
Measured 2026-12-08 (bf16, bench_learning's warm start, 16 train tasks, rollout values, k = 4; 57 step groups, 36
of them scored alike, 21 informative; 4 min: the third command above): thresholds 0.5 / 0.7 / 0.8 / 0.9 skip
40 / 31 / 27 / 15 groups, lose 11 / 5 / 4 / 1 informative ones and save 44 / 26 / 18 / -4 % of the candidate
tokens, so informative groups per candidate token change by -15 / +3 / -1 / -9 %. The probe's likelihood does not
tell a group that teaches from one that does not; the gate was not built (docs/learning.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path


def group_stats(samples) -> dict[str, float]:
    """Alike groups (as training's ``groups_kept_alike`` counts them), distinct texts per group and positive
    advantages, over ``TrainingSample``s."""
    from searchgym.train.rollout import group_samples, informative

    groups = group_samples(samples)
    return {
        "groups": float(len(groups)),
        "alike": sum(not informative(g) for g in groups) / max(len(groups), 1),
        "distinct": statistics.mean(len({s.text for s in g}) for g in groups) if groups else 0.0,
        "positive": float(sum(1 for s in samples if s.advantage > 0)),
    }


def gate_rows(samples, thresholds) -> list[dict[str, float]]:
    """For each threshold, the step groups likelihood-gated branching would skip (their first candidate, the probe,
    at least that probable), the informative ones among them, and the net share of candidate tokens saved (a
    skipped group costs one turn of its k, a branched group one more turn, its probe)."""
    import math

    from searchgym.train.rollout import group_samples, informative

    groups = [g for g in group_samples(samples) if not g[0].components.get("playout")]
    tokens = [sum(len(s.completion_ids) for s in g) for g in groups]
    total = sum(tokens) or 1
    probe = [math.exp(sum(g[0].logprobs)) for g in groups]
    rows = []
    for threshold in thresholds:
        skip = [p >= threshold for p in probe]
        saved = sum(n * (len(g) - 1) / len(g) if s else -n / len(g) for g, n, s in zip(groups, tokens, skip))
        rows.append({"threshold": threshold, "groups": float(len(groups)),
                     "informative": float(sum(informative(g) for g in groups)), "skipped": float(sum(skip)),
                     "informative_lost": float(sum(informative(g) for g, s in zip(groups, skip) if s)),
                     "tokens_saved": saved / total})
    return rows


def main(argv: list[str] | None = None) -> int:
    """Sample groups at each temperature and print their table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="a warm-started checkpoint folder (e.g. runs/quickstart/warmstart/model)")
    p.add_argument("--corpus", default="synthetic:seed=0,passages=500,tasks=160,hops=2")
    p.add_argument("--temperatures", default="1.0,1.3,1.6")
    p.add_argument("--samplers", default="step", help="comma list of step, trajectory")
    p.add_argument("--tasks", type=int, default=16, help="train tasks, two per sampler call")
    p.add_argument("--k", type=int, default=4, help="k step candidates / G episodes per group")
    p.add_argument("--judge", default="gold", help="process judge of the step groups")
    p.add_argument("--max-turns", type=int, default=4)
    p.add_argument("--max-new-tokens", type=int, default=96)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--step-value", default="judge", choices=("judge", "rollout"), help="step groups' values")
    p.add_argument("--gate", default="", help="comma list of probe-probability thresholds to size gated branching at")
    p.add_argument("--json", default=None, help="also write the rows here")
    args = p.parse_args(argv)

    import torch

    from searchgym.corpora import load_taskset
    from searchgym.envs import DeepSearchEnv
    from searchgym.policies.hf_policy import HFPolicy, cpu_has_bf16
    from searchgym.rewards.outcome import exact_match
    from searchgym.search import build_searcher
    from searchgym.train import training as T
    from searchgym.train.config import TrainConfig
    from searchgym.train.samplers import TrajectorySampler, TruncatedStepSampler
    from searchgym.train.splits import split_tasks

    temperatures = [float(t) for t in args.temperatures.split(",") if t.strip()]
    gates = [float(t) for t in args.gate.split(",") if t.strip()]
    if any(not 0.0 < g <= 1.0 for g in gates):
        p.error(f"--gate thresholds are probabilities in (0, 1], got {args.gate!r}")
    samplers = [s.strip() for s in args.samplers.split(",") if s.strip()]
    unknown = set(samplers) - {"step", "trajectory"}
    if unknown:
        p.error(f"unknown sampler(s) {sorted(unknown)}: use step, trajectory")
    if not Path(args.model).is_dir():
        p.error(f"--model {args.model!r} is not a checkpoint folder")
    config = TrainConfig(corpus=args.corpus, judge=args.judge, citation_rubric=True, model=args.model,
                         warmstart=False, max_new_tokens=args.max_new_tokens, max_turns=args.max_turns)
    taskset = load_taskset(config.corpus)
    tasks = split_tasks(taskset.tasks, "train")[: args.tasks]
    searcher = build_searcher(config.searcher, taskset.documents)
    model, tokenizer = T.load_model_and_tokenizer(config.model)
    model.eval()
    print(f"{args.model}: {len(tasks)} train tasks of {args.corpus}, k = G = {args.k}, judge {args.judge}", flush=True)
    print("| sampler | temperature | groups | alike | distinct / k | invalid turns | positive advantages | EM | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for name in samplers:
        reward = T.build_reward(TrainConfig(**{**config.to_dict(), "sampler": name}))
        for temperature in temperatures:
            torch.manual_seed(args.seed)
            # bf16 autocast where native, as training samples there
            policy = HFPolicy(model, tokenizer, max_new_tokens=args.max_new_tokens, temperature=temperature,
                              seed=args.seed, autocast_bf16=cpu_has_bf16())
            env = DeepSearchEnv(tasks, searcher, max_turns=args.max_turns, top_k=config.top_k,
                                passage_chars=config.passage_chars, reward=None)
            if name == "step":
                sampler = TruncatedStepSampler(env, policy, reward, k=args.k, max_steps=args.max_turns,
                                               temperature=config.continue_temperature, tokenizer=tokenizer,
                                               seed=args.seed, value=args.step_value)
            else:
                sampler = TrajectorySampler(env, policy, reward, group_size=args.k, tokenizer=tokenizer)
            started = time.perf_counter()
            samples, trajectories = [], []
            for i in range(0, len(tasks), 2):
                samples += sampler.sample(tasks[i:i + 2])
                trajectories += sampler.last_trajectories
            seconds = time.perf_counter() - started
            turns = [step for t in trajectories for step in t.steps] if name == "trajectory" else []
            invalid = (statistics.mean(s.components.get("invalid", 0.0) for s in samples) if name == "step"
                       else sum(not step.valid for step in turns) / max(len(turns), 1))
            em = statistics.mean(float(t.final_answer is not None and exact_match(t.final_answer, t.task.answers))
                                 for t in trajectories)
            row = {"sampler": name, "temperature": temperature, **group_stats(samples), "invalid": invalid,
                   "em": em, "seconds": seconds}
            rows.append(row)
            print(f"| {name} | {temperature:g} | {row['groups']:.0f} | {row['alike']:.2f} | {row['distinct']:.2f} "
                  f"| {invalid:.3f} | {row['positive']:.0f} | {em:.2f} | {seconds:.0f} |", flush=True)
            if name == "step" and gates:
                row["gate"] = gate_rows(samples, gates)
                for g in row["gate"]:
                    print(f"  gate {g['threshold']:g}: skips {g['skipped']:.0f} of {g['groups']:.0f} groups, "
                          f"{g['informative_lost']:.0f} of {g['informative']:.0f} informative; "
                          f"saves {g['tokens_saved']:+.0%} of candidate tokens", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
