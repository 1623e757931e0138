"""SmolLM2-135M-Instruct on a 2-hop synthetic task: each sampler trained for the same wall-clock budget.

    python benchmarks/bench_train.py [--quick] [--budget SECONDS] [--eval-tasks N] [--out DIR]

Both samplers start from the same model: SmolLM2 after the cold-start SFT on oracle demonstrations
(searchgym's warm start, done once and shared; ``--set warmstart=false`` starts from the raw model). For
each sampler (trajectory = G whole episodes per task; step = SLATE truncated step-level groups of k), that
model is evaluated on held-out tasks (greedy), trained with GRPO (LoRA) through TRL for the budget, and
evaluated again. Prints the training reward and EM before and after, and writes the
reward curves of both runs to ``<out>/bench_train.png`` and the figures to ``<out>/bench_train.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path

CORPUS = "synthetic:seed=0,passages=200,tasks=120,hops=2"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="60 s per sampler, 8 eval tasks")
    p.add_argument("--budget", type=float, default=180.0, help="training seconds per sampler")
    p.add_argument("--eval-tasks", type=int, default=16)
    p.add_argument("--samplers", default="trajectory,step")
    p.add_argument("--out", default="runs/bench_train")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="extra TrainConfig overrides for both runs")
    args = p.parse_args(argv)
    if args.quick:
        args.budget, args.eval_tasks = min(args.budget, 60.0), min(args.eval_tasks, 8)
    return args


def two_hop(tasks):
    return [t for t in tasks if len(t.hops) == 2]


def evaluate_model(model, tokenizer, config, taskset, searcher, reward, tasks):
    from searchgym.policies.hf_policy import HFPolicy
    from searchgym.eval.report import evaluate
    from searchgym.envs import DeepSearchEnv

    policy = HFPolicy(model, tokenizer, max_new_tokens=config.max_new_tokens, temperature=0.0)

    def make_env():
        return DeepSearchEnv(taskset.tasks, searcher, max_turns=config.max_turns, top_k=config.top_k,
                             passage_chars=config.passage_chars)

    summary = evaluate(policy, make_env, tasks, reward=reward, batch_size=8, progress=False).summary
    # NaN (nothing measurable, e.g. no episode answered) is not JSON: write null like `searchgym eval`
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in summary.items()}


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from searchgym.train.config import load_config
    from searchgym.train.metrics import read_jsonl
    from searchgym.train.splits import split_tasks
    from searchgym.train.warmstart import load_or_warm_start
    from searchgym.train.training import build_reward, build_trainer, load_model_and_tokenizer, make_sampler_factory, run_training
    from searchgym.corpora import load_taskset
    from searchgym.search import build_searcher

    torch.manual_seed(0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = load_config(None, [f"corpus={CORPUS}", *args.overrides])
    taskset = load_taskset(base.corpus)
    train_tasks = two_hop(split_tasks(taskset.tasks, "train"))
    eval_tasks = two_hop(split_tasks(taskset.tasks, "test"))[: args.eval_tasks]
    searcher = build_searcher(base.searcher, taskset.documents)
    reward = build_reward(base, taskset.tasks)
    print(f"{len(train_tasks)} 2-hop training tasks, {len(eval_tasks)} held-out eval tasks, "
          f"{len(taskset.documents)} passages; {args.budget:.0f} s of training per sampler", flush=True)

    results = {}
    for sampler in [s.strip() for s in args.samplers.split(",") if s.strip()]:
        config = load_config(None, [f"corpus={CORPUS}", f"sampler={sampler}", f"output_dir={out / sampler}",
                                    "max_steps=100000", f"max_seconds={args.budget}", "save_steps=100000",
                                    *args.overrides])
        model, tokenizer = load_model_and_tokenizer(config.model)
        if config.warmstart:
            # one warm start for both samplers, kept under <out>/warmstart and reused on later runs
            model = load_or_warm_start(dataclasses.replace(config, output_dir=str(out)), model, tokenizer,
                                       train_tasks, searcher)
        t0 = time.perf_counter()
        before = evaluate_model(model, tokenizer, config, taskset, searcher, reward, eval_tasks)
        eval_seconds = time.perf_counter() - t0
        print(f"[{sampler}] before: reward {before['reward']:.3f} EM {before['em']:.3f} ({eval_seconds:.0f} s eval)",
              flush=True)
        factory = make_sampler_factory(config, train_tasks, searcher, reward, tokenizer)
        trainer = build_trainer(config, model, tokenizer, train_tasks, factory)
        result = run_training(trainer, config)
        trained = trainer.accelerator.unwrap_model(trainer.model)
        after = evaluate_model(trained, tokenizer, config, taskset, searcher, reward, eval_tasks)
        curve = [r for r in read_jsonl(result.metrics_path) if "reward" in r]
        results[sampler] = {
            "before": before, "after": after, "steps": len(curve), "train_seconds": result.seconds,
            "train_reward_first": curve[0]["reward"] if curve else None,
            "train_reward_last": curve[-1]["reward"] if curve else None,
            "curve": [(r["step"], r["reward"]) for r in curve],
        }
        print(f"[{sampler}] after {len(curve)} steps: reward {after['reward']:.3f} EM {after['em']:.3f}", flush=True)
        del trainer, model, trained

    print()
    print(f"{'sampler':<11} {'steps':>5} {'reward before':>14} {'reward after':>13} {'EM before':>10} {'EM after':>9}"
          f" {'train reward first→last':>24}")
    for name, r in results.items():
        first, last = r["train_reward_first"], r["train_reward_last"]
        trend = f"{first:.3f}→{last:.3f}" if first is not None else "n/a"
        print(f"{name:<11} {r['steps']:>5} {r['before']['reward']:>14.3f} {r['after']['reward']:>13.3f} "
              f"{r['before']['em']:>10.3f} {r['after']['em']:>9.3f} {trend:>24}")
    (out / "bench_train.json").write_text(json.dumps(results, indent=1, default=float), encoding="utf-8")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for name, r in results.items():
        if r["curve"]:
            steps, rewards = zip(*r["curve"])
            ax.plot(steps, rewards, marker="o", label=f"{name} sampler")
    ax.set_xlabel("optimizer step (same wall-clock budget)")
    ax.set_ylabel("mean training reward")
    ax.set_title(f"SmolLM2-135M GRPO on 2-hop synthetic tasks, {args.budget:.0f} s each")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "bench_train.png", dpi=110)
    print(f"\nplot: {out / 'bench_train.png'}\nfigures: {out / 'bench_train.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
