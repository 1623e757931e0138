"""DeepSearchEnv's own cost: per step excluding search, per fork, per snapshot/restore; oracle solve rates.

The env runs over hits precomputed with the real BM25 index (a dict lookup stands in for the search),
so the step time is the env's parsing, formatting, trajectory and info bookkeeping alone.
Targets (2-core machine): <= 0.5 ms per step, <= 0.1 ms per fork.

    python benchmarks/bench_env.py [--quick] [--passages 2000] [--solve-sizes 2000,20000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict


class Precomputed:
    """A searcher answering from a dict of real hits: the search costs ~nothing."""

    def __init__(self, searcher, queries, k):
        self.hits = {q: searcher.search(q, k) for q in queries}
        self.inner = searcher
        self.docs = {}

    def search(self, query, k=10):
        return self.hits.get(query, [])[:k]

    def batch_search(self, queries, k=10):
        return [self.search(q, k) for q in queries]

    def doc(self, doc_id):
        if doc_id not in self.docs:
            self.docs[doc_id] = self.inner.doc(doc_id)
        return self.docs[doc_id]


def oracle_episodes(env, policy, tasks):
    """The turns the oracle plays on each task (recorded once, replayed for timing)."""
    scripts, solved = [], defaultdict(list)
    for task in tasks:
        env.reset(options={"task_id": task.id})
        turns, reward = [], 0.0
        while not env.done:
            turn = policy.generate([env.messages])[0][0].text
            turns.append(turn)
            reward = env.step(turn)[1]
        scripts.append((task.id, turns + ["no action here", "<open>not-a-doc</open>"]))  # invalid turns too
        solved[(len(task.hops), task.kind)].append(reward)
    return scripts, solved


def time_steps(env, scripts, repeats):
    per_step = []
    for _ in range(repeats):
        steps, elapsed = 0, 0.0
        for task_id, turns in scripts:
            env.reset(options={"task_id": task_id})
            for turn in turns:
                t0 = time.perf_counter()
                env.step(turn)
                elapsed += time.perf_counter() - t0
                steps += 1
        per_step.append(elapsed / steps)
    return min(per_step), statistics.median(per_step)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--passages", type=int, default=2000)
    p.add_argument("--solve-sizes", default="2000,20000", help="world sizes for the oracle solve rates")
    args = p.parse_args(argv)

    from searchgym.policies.oracle import OraclePolicy
    from searchgym.envs import DeepSearchEnv
    from searchgym.envs.factory import resolve_searcher, resolve_taskset

    n_tasks = 40 if args.quick else 150
    taskset = resolve_taskset(f"synthetic:seed=0,passages={args.passages},tasks={n_tasks},hops=2-4")
    bm25 = resolve_searcher("bm25", taskset, progress=True)
    policy = OraclePolicy(taskset.tasks)
    live = DeepSearchEnv(taskset.tasks, bm25, max_turns=12, top_k=5)
    scripts, _ = oracle_episodes(live, policy, taskset.tasks)
    queries = {t[len("Next: "):].split(" <search>")[0] for _, turns in scripts for t in turns if "<search>" in t}
    fast = Precomputed(bm25, queries, 5)
    env = DeepSearchEnv(taskset.tasks, fast, max_turns=12, top_k=5)
    time_steps(env, scripts, 1)  # warm the doc cache
    best, median = time_steps(env, scripts, 3 if args.quick else 7)
    n_steps = sum(len(t) for _, t in scripts)
    t_live, _ = time_steps(live, scripts, 1)
    print(f"env step overhead (search excluded): best {best * 1e3:.3f} ms, median {median * 1e3:.3f} ms "
          f"over {n_steps} steps x runs  (target <= 0.5 ms: {'OK' if median <= 5e-4 else 'MISSED'})")
    print(f"step with live BM25 (for comparison): {t_live * 1e3:.3f} ms "
          f"-> search is {100 * (1 - median / t_live):.0f}% of a live step")

    task_id, turns = scripts[0]
    env.reset(seed=0, options={"task_id": task_id})  # seeded: forks carry the task RNG along
    for turn in turns[:3]:
        env.step(turn)
    reps = 20_000 if args.quick else 100_000
    for name, fn in (("fork()", env.fork), ("snapshot()", env.snapshot)):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        dt = (time.perf_counter() - t0) / reps
        note = f"  (target <= 0.1 ms: {'OK' if dt <= 1e-4 else 'MISSED'})" if name == "fork()" else ""
        print(f"{name:<11} {dt * 1e6:8.2f} us{note}")
    state = env.snapshot()
    t0 = time.perf_counter()
    for _ in range(reps):
        env.restore(state)
    print(f"restore()   {(time.perf_counter() - t0) / reps * 1e6:8.2f} us")
    t0 = time.perf_counter()
    for _ in range(reps // 10):
        env.messages
    print(f"messages    {(time.perf_counter() - t0) / (reps // 10) * 1e6:8.2f} us (list of {len(env.messages)} dicts)")

    sizes = [int(s) for s in args.solve_sizes.split(",") if s] if not args.quick else [args.passages]
    print("\noracle solve rate (exact match), BM25 top-5, max_turns 12:")
    for size in sizes:
        ts = resolve_taskset(f"synthetic:seed=0,passages={size},tasks={min(300, size)},hops=2-4")
        searcher = resolve_searcher("bm25", ts, progress=True)
        _, solved = oracle_episodes(DeepSearchEnv(ts.tasks, searcher, max_turns=12, top_k=5), OraclePolicy(ts.tasks),
                                    ts.tasks)
        by_hops = defaultdict(list)
        for (hops, _kind), rs in solved.items():
            by_hops[hops] += rs
        line = "  ".join(f"{h} hops {sum(r) / len(r):.3f}" for h, r in sorted(by_hops.items()))
        kinds = "  ".join(f"{k[1]}@{k[0]} {sum(r) / len(r):.2f}(n={len(r)})" for k, r in sorted(solved.items()))
        print(f"  {size:>7,} passages: {line}\n      {kinds}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
