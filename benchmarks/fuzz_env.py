"""Fuzz DeepSearchEnv with random agent turns over every code point; count exceptions (must be 0).

    python benchmarks/fuzz_env.py                    # 12,000 turns on a 2,000-passage synthetic world, BM25
    python benchmarks/fuzz_env.py --turns 50000 --seed 3 --searcher bm25

Turns mix free text, ``<search>``, ``<open>`` (real ids with hostile suffixes, random ids), ``<answer>``
with citations and ``<think>`` blocks; characters are drawn from all of Unicode, lone surrogates,
controls, private use and unassigned code points included. Prints the number of turns, the exceptions
that escaped ``env.step`` (by type), the turns the searcher reported as failed (odd text must never
look like a backend fault), and turns per second. Exit status 1 when either count is not 0.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import time
import traceback

RANGES = [(0x00, 0x7F), (0x80, 0x2FF), (0x370, 0x52F), (0x2000, 0x206F), (0x3040, 0x30FF), (0x4E00, 0x4E80),
          (0xD800, 0xDFFF), (0xE000, 0xE0FF), (0xFFF0, 0xFFFF), (0x1F300, 0x1F64F), (0x10000, 0x10FFFF)]
HOSTILE = ["\ud800", "\udfff", "\x00", "\ufffe", "\U0010ffff", "\u202e", "[", "]", "\\", "%2F", "AND OR (", "*",
           "title:x", "\r\n", "</open>", "<search>"]


def random_text(rng: random.Random, max_len: int = 60) -> str:
    out = []
    for _ in range(rng.randint(0, max_len)):
        if rng.random() < 0.1:
            out.append(rng.choice(HOSTILE))
        else:
            lo, hi = rng.choice(RANGES)
            out.append(chr(rng.randint(lo, hi)))
    return "".join(out)


def random_turn(rng: random.Random, ids: list[str]) -> str:
    kind = rng.random()
    doc_id = rng.choice(ids) + (rng.choice(HOSTILE) if rng.random() < 0.5 else "") if rng.random() < 0.6 \
        else random_text(rng, 20)
    if kind < 0.2:
        return random_text(rng, 200)
    if kind < 0.45:
        return f"<search>{random_text(rng)}</search>"
    if kind < 0.7:
        return f"<open>{doc_id}</open>"
    if kind < 0.85:
        return f"<think>{random_text(rng)}</think><search>{random_text(rng, 30)}</search>"
    return f"<answer>{random_text(rng, 30)} [{doc_id}]</answer>"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--turns", type=int, default=12_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--corpus", default="synthetic:seed=0,passages=2000,tasks=60,hops=2-4")
    ap.add_argument("--searcher", default="bm25")
    args = ap.parse_args(argv)

    from searchgym.envs import DeepSearchEnv
    from searchgym.envs.deep_search import SEARCH_FAILED
    from searchgym.envs.factory import resolve_searcher, resolve_taskset

    taskset = resolve_taskset(args.corpus)
    env = DeepSearchEnv(taskset.tasks, resolve_searcher(args.searcher, taskset), max_turns=8, top_k=5)
    ids = [d.id for d in taskset.documents[:500]]
    rng = random.Random(args.seed)
    errors: collections.Counter[str] = collections.Counter()
    search_failures = episodes = 0
    first: str | None = None
    env.reset(seed=args.seed)
    start = time.perf_counter()
    for _ in range(args.turns):
        turn = random_turn(rng, ids)
        try:
            obs, reward, term, trunc, info = env.step(turn)
            error = info["trajectory"].steps[-1].error if info["trajectory"].steps else None
            search_failures += bool(error and error.startswith(SEARCH_FAILED + ":"))
            if term or trunc:
                episodes += 1
                env.reset()
        except Exception as exc:  # noqa: BLE001  (what the benchmark counts)
            errors[type(exc).__name__] += 1
            first = first or f"{turn!r}\n{traceback.format_exc()}"
            env.reset()
    elapsed = time.perf_counter() - start
    print(f"turns: {args.turns}  episodes: {episodes}  searcher: {args.searcher}  corpus: {args.corpus}")
    print(f"exceptions out of env.step: {sum(errors.values())} {dict(errors) if errors else ''}")
    print(f"turns reported as search failures: {search_failures}")
    print(f"throughput: {args.turns / elapsed:,.0f} turns/s ({elapsed:.1f} s)")
    if first:
        print("first exception:\n" + first[:3000])
    return 1 if errors or search_failures else 0


if __name__ == "__main__":
    sys.exit(main())
