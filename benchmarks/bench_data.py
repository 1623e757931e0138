"""Retrieval difficulty of each data set: recall@k of the gold supporting paragraphs and the oracle's
solve rate, per data set and searcher.

For every real sample in ``../shared/data`` (HotpotQA, MuSiQue 2-hop, MuSiQue 3/4-hop, 2Wiki; the
wiki-18 corpus has no tasks and is listed for its size only) and a synthetic world, and for each
searcher ``bm25``, ``bm25s``, ``dense``, ``hybrid`` (built with ``searchgym.search.build_searcher``;
one that this install does not know is reported as "not available"):

* hop R@k: for each gold sub-question (``Hop.question``), the share of its supporting paragraphs
  in the top k results of searching it, averaged over hops;
* question R@k: for each task, the share of all its supporting paragraphs in the top k results of
  searching the full question, averaged over tasks;
* oracle EM: the share of tasks the ``OraclePolicy`` answers exactly in a ``DeepSearchEnv``
  (top-k 5, passages cut at 400 characters, at most 24 turns), with its searches per episode;
  its failures are listed.

Build times include the dense encoder's pass over the corpus the first time (embeddings are cached
on disk after that) and the JVM start for the first BM25 index.

    python benchmarks/bench_data.py            # every task; the dense encoder's first pass over each corpus dominates
    python benchmarks/bench_data.py --quick    # 10 tasks per data set, a small world
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared" / "data"
KS = (1, 3, 5, 10)
SEARCHERS = ("bm25", "bm25s", "dense", "hybrid")


def datasets(quick: bool) -> list[tuple[str, str]]:
    """(name, corpus spec) of every data set benchmarked."""
    limit = ",limit=10" if quick else ""
    out = [
        ("hotpotqa", f"hotpotqa:{SHARED}/hotpotqa/hotpot_dev_distractor_sample40.json{limit}"),
        ("musique-2hop", f"musique:{SHARED}/musique/musique_ans_v1.0_dev_2hop_sample40.jsonl{limit}"),
        ("musique-3/4hop", f"musique:{SHARED}/musique/musique_ans_v1.0_dev_3to4hop_sample35.jsonl{limit}"),
        ("2wiki", f"2wiki:{SHARED}/2wiki/2wikimultihopqa_dev_sample40.json{limit}"),
        ("wiki18 (corpus)", f"jsonl:{SHARED}/wiki18/flashrag_wiki18_sample_corpus1000.jsonl"),
    ]
    world = "synthetic:seed=0,passages=500,tasks=10,hops=2-4" if quick else "synthetic:seed=0,passages=2000,tasks=100,hops=2-4"
    out.append(("synthetic", world))
    return out


def _ids(hits: Sequence[Any]) -> list[str]:
    return [h.doc_id for h in hits]


def recall_at_k(searcher: Any, queries: Sequence[str], golds: Sequence[Sequence[str]]) -> dict[int, float]:
    """Mean share of each query's gold ids in its top k, for k in ``KS`` (queries without gold skipped)."""
    pairs = [(q, set(g)) for q, g in zip(queries, golds) if g]
    if not pairs:
        return {k: float("nan") for k in KS}
    results = searcher.batch_search([q for q, _ in pairs], k=max(KS))
    return {k: sum(len(set(_ids(r)[:k]) & g) / len(g) for r, (_q, g) in zip(results, pairs)) / len(pairs) for k in KS}


def oracle_run(taskset: Any, searcher: Any, *, max_turns: int = 24, top_k: int = 5,
               passage_chars: int = 400) -> tuple[float, float, list[str]]:
    """(EM, searches per episode, failure notes) of the oracle over every task."""
    from searchgym.policies.oracle import OraclePolicy
    from searchgym.envs import DeepSearchEnv
    from searchgym.rewards.outcome import exact_match

    policy = OraclePolicy(taskset, searcher=searcher)
    env = DeepSearchEnv(taskset.tasks, searcher, max_turns=max_turns, top_k=top_k, passage_chars=passage_chars)
    solved, searches, failures = 0, 0, []
    for task in taskset.tasks:
        env.reset(options={"task_id": task.id})
        while True:
            turn = policy.generate([env.messages])[0][0].text
            _obs, _r, terminated, truncated, info = env.step(turn)
            if terminated or truncated:
                break
        traj = info["trajectory"]
        searches += traj.num_searches
        if traj.final_answer is not None and exact_match(traj.final_answer, task.answers):
            solved += 1
        else:
            last = traj.steps[-1].text if traj.steps else ""
            failures.append(f"{task.id} ({len(task.hops)} hops, {traj.num_searches} searches): {last[:150]}")
    n = max(len(taskset.tasks), 1)
    return solved / n, searches / n, failures


def _fmt(x: float) -> str:
    return "  n/a" if x != x else f"{x:5.2f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 tasks per data set and a small world")
    parser.add_argument("--searchers", default=",".join(SEARCHERS), help="comma-separated searcher specs")
    parser.add_argument("--only", default="", help="comma-separated data set names to run (default: all)")
    parser.add_argument("--failures", type=int, default=5, help="oracle failures listed per data set and searcher")
    args = parser.parse_args(argv)
    if not SHARED.is_dir():
        print(f"shared data not found at {SHARED}", file=sys.stderr)
        return 2

    from searchgym.corpora import load_taskset
    from searchgym.search import build_searcher

    searchers = [s.strip() for s in args.searchers.split(",") if s.strip()]
    unavailable: set[str] = set()
    header = (f"{'data set':<16} {'tasks':>5} {'docs':>5} {'searcher':<8} | "
              + " ".join(f"hR@{k:<2}" for k in KS) + " | " + " ".join(f"qR@{k:<2}" for k in KS)
              + " | oracle EM  srch/ep | build s")
    rows: list[str] = []
    notes: list[str] = []
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    for name, spec in datasets(args.quick):
        if only and name not in only:
            continue
        taskset = load_taskset(spec)
        if not taskset.tasks:  # nothing to measure on a bare corpus
            rows.append(f"{name:<16} {0:>5} {len(taskset.documents):>5} {'-':<8} | no tasks (a corpus only)")
            print(rows[-1], flush=True)
            continue
        hops = [h for t in taskset.tasks for h in t.hops]
        for kind in searchers:
            if kind in unavailable:
                continue
            t0 = time.perf_counter()
            try:
                searcher = build_searcher(kind, taskset.documents, progress=False)
            except ValueError as exc:
                if "unknown searcher" not in str(exc):
                    raise
                print(f"{kind}: not available", flush=True)
                unavailable.add(kind)
                continue
            except RuntimeError as exc:  # e.g. the encoder failing under torch: report it, go on
                rows.append(f"{name:<16} {len(taskset.tasks):>5} {len(taskset.documents):>5} {kind:<8} | "
                            f"build failed: {type(exc).__name__}: {str(exc)[:60]}")
                print(rows[-1], flush=True)
                continue
            build = time.perf_counter() - t0
            hop_r = recall_at_k(searcher, [h.question for h in hops], [h.support for h in hops])
            q_r = recall_at_k(searcher, [t.question for t in taskset.tasks], [t.support_ids for t in taskset.tasks])
            em, per_ep, failures = oracle_run(taskset, searcher)
            rows.append(f"{name:<16} {len(taskset.tasks):>5} {len(taskset.documents):>5} {kind:<8} | "
                        + " ".join(_fmt(hop_r[k]) for k in KS) + " | " + " ".join(_fmt(q_r[k]) for k in KS)
                        + f" | {em:9.3f} {per_ep:8.2f} | {build:7.1f}")
            print(rows[-1], flush=True)
            new = [f"  {name} / {kind}: {f}" for f in failures[: args.failures]]
            if len(failures) > args.failures:
                new.append(f"  {name} / {kind}: ... {len(failures) - args.failures} more")
            for note in new:
                print("oracle failure:" + note, flush=True)
            notes += new
    print()
    print(header)
    print("-" * len(header))
    for row in rows:
        print(row)
    for kind in sorted(unavailable):
        print(f"{kind}: not available")
    print("\noracle failures:" if notes else "\noracle failures: none")
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
