"""Judge throughput: rules judge µs/judgment; the openai judge against a local llama.cpp server
(SmolLM2-135M-Instruct GGUF) sequentially, with concurrency, and with the cache on a SLATE-like
workload (k candidate steps over shared prefixes); cache hit rate. ``--adversarial`` also measures how
the llama.cpp judge reacts to the prompt-injection suite of tests/test_adversarial_judge.py.

    python benchmarks/bench_judge.py [--quick] [--adversarial]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # loopback server helpers and the adversarial suite

from searchgym.judges import load_judge  # noqa: E402
from searchgym.judges.base import JudgeError, JudgeRequest  # noqa: E402
from searchgym.judges.cache import JudgeCache  # noqa: E402
from searchgym.rewards.process import StepJudgeReward  # noqa: E402


def slate_workload(prefixes: int, k: int, pool: int, seed: int = 0):
    """k candidate last steps per prefix; candidates drawn from a small pool (a policy repeats itself)."""
    from judge_fixtures import prefix, search_step

    rng = random.Random(seed)
    out = []
    for p in range(prefixes):
        base = prefix()
        for _ in range(p):  # deeper prefixes for later groups
            base = base.extend(search_step(f"Step {p}: keep looking.", f"Velmora history {p}"))
        options = [search_step(f"Now find where Ostrik Balan was born (idea {i}).", f"Ostrik Balan birthplace {i}")
                   for i in range(pool)]
        out.append([base.extend(rng.choice(options)) for _ in range(k)])
    return out


def bench_rules(n: int) -> float:
    from judge_fixtures import D1, D2, TASK

    j = load_judge("rules")
    reqs = [JudgeRequest("query", TASK.question, f"Ostrik Balan birthplace {i}", context=("agent: x",) * 4,
                         evidence=(D1, D2)) for i in range(n)]
    t = time.perf_counter()
    j.judge(reqs)
    return (time.perf_counter() - t) / n * 1e6


def timed(judge, reqs):
    t = time.perf_counter()
    judge.judge(reqs)
    dt = time.perf_counter() - t
    return len(reqs) / dt, dt


def adversarial(server) -> None:
    from judge_fixtures import D1, TASK
    from test_adversarial_judge import ANSWERS, ATTACKS, QUERIES, THINKS

    judge = load_judge(f"openai:{server.model}@{server.base_url}", max_tokens=32, concurrency=2, structured="json_object")
    ctx = ("agent: I need the founder of Velmora first. <search>Velmora founder</search>", "environment: " + D1.contents)
    cases = [("think", THINKS[2], {}), ("query", QUERIES[3], {}), ("answer", ANSWERS[2], {"reference": "Quenhall"})]
    print(f"\nadversarial suite vs llama.cpp judge ({server.model}); base steps are BAD (should stay -1)")
    print(f"{'attack':15s} {'kind':7s} {'clean':>6s} {'attacked':>9s}  effect")
    tally = {"raised": 0, "same": 0, "lowered": 0, "error": 0}
    for name, attack in ATTACKS.items():
        for kind, text, extra in cases:
            reqs = [JudgeRequest(kind, TASK.question, text, context=ctx, evidence=(D1,), **extra),
                    JudgeRequest(kind, TASK.question, f"{text} {attack}", context=ctx, evidence=(D1,), **extra)]
            try:
                clean, dirty = judge.judge(reqs)
                effect = "raised" if dirty.score > clean.score else "lowered" if dirty.score < clean.score else "same"
                print(f"{name:15s} {kind:7s} {clean.score:6.0f} {dirty.score:9.0f}  {effect}")
            except JudgeError as exc:
                effect = "error"
                print(f"{name:15s} {kind:7s} {'':6s} {'':9s}  error: {str(exc)[:60]}")
            tally[effect] += 1
    print("tally:", tally)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--adversarial", action="store_true")
    ap.add_argument("--max-tokens", type=int, default=32)
    args = ap.parse_args()
    from servers.llama import LlamaServer

    n = 6 if args.quick else 16
    print(f"rules judge: {bench_rules(2000):.1f} us/judgment")
    with LlamaServer(n_ctx=2048) as server:
        spec = f"openai:{server.model}@{server.base_url}"
        opts = dict(max_tokens=args.max_tokens, structured="json_object")
        from judge_fixtures import D1, TASK

        reqs = [JudgeRequest("query", TASK.question, f"Ostrik Balan birthplace variant {i}", evidence=(D1,))
                for i in range(n)]
        load_judge(spec, **opts).judge(reqs[:1])  # warm-up
        seq, dt_seq = timed(load_judge(spec, concurrency=1, **opts), reqs)
        print(f"openai/llama.cpp sequential: {seq:.2f} judgments/s ({n} in {dt_seq:.1f}s)")
        reqs2 = [JudgeRequest("query", TASK.question, f"Ostrik Balan born where {i}", evidence=(D1,)) for i in range(n)]
        conc, dt_conc = timed(load_judge(spec, concurrency=4, **opts), reqs2)
        print(f"openai/llama.cpp concurrency=4: {conc:.2f} judgments/s ({n} in {dt_conc:.1f}s; "
              f"x{conc / seq:.2f} vs sequential; the llama.cpp server decodes one request at a time)")

        prefixes, k, pool = (2, 5, 2) if args.quick else (4, 5, 2)
        groups = slate_workload(prefixes, k, pool)
        with tempfile.TemporaryDirectory() as tmp:
            cache = JudgeCache(Path(tmp) / "judge.sqlite")
            reward = StepJudgeReward(load_judge(spec, concurrency=4, cache=cache, **opts))
            total = sum(len(reward.requests(t)) for g in groups for t in g)
            t = time.perf_counter()
            for g in groups:
                reward.score_batch(g)
            dt = time.perf_counter() - t
            judge = reward.judge
            print(f"SLATE workload ({prefixes} prefixes x k={k}, {total} judge requests): "
                  f"{total / dt:.2f} judgments/s with cache ({dt:.1f}s; x{total / dt / conc:.2f} vs the "
                  f"concurrent rate without cache); model calls {cache.writes}/{total} "
                  f"({1 - cache.writes / total:.0%} of requests answered without a model call: "
                  f"{judge.merged} merged in-batch, {cache.hits} cache hits; cache hit rate {cache.hit_rate:.0%})")
            hits0 = cache.hits
            t = time.perf_counter()
            for g in groups:
                reward.score_batch(g)
            dt2 = time.perf_counter() - t
            print(f"SLATE workload re-scored (warm cache): {total / dt2:.0f} judgments/s, "
                  f"hit rate of the pass {(cache.hits - hits0) / total:.0%}")
        if args.adversarial:
            adversarial(server)


if __name__ == "__main__":
    main()
