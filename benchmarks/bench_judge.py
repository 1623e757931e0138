"""Judge quality and throughput.

    python benchmarks/bench_judge.py [--quick] [--no-llama] [--openai-url URL --openai-model NAME]
                                     [--per-case N] [--adversarial]

1. Quality (issue 11 item 6). A labelled set of steps from the synthetic world
   (``synthetic:seed=0,passages=300,tasks=40,hops=2``, BM25, ``labelled_steps(max_tasks=30)``): the
   oracle's steps are good; perturbations (off-topic, repeated, restated question, wrong entity,
   premature answer, wrong answer) are bad. A judge approves a step when it scores it above 0. Printed
   per judge and step kind (think/query/open/answer/all): accuracy, n, the share of good steps approved
   and the share of bad steps approved. ``rules`` and ``gold`` judge the whole set; a model judge (the
   local llama.cpp server with the SmolLM2-135M-Instruct GGUF, or any OpenAI-compatible server given by
   ``--openai-url``) judges a stratified subset (at most ``--per-case`` items per (case, kind, label)),
   and the deterministic judges are shown again on that same subset for a like-for-like comparison.
   Judge failures (``JudgeError`` after the judge's retries) are counted and left out of the table,
   never scored.
2. Throughput: rules and gold µs/judgment; for the model judge, judgments/s sequentially, with
   concurrency 4, and on a SLATE-like workload (k candidate steps over shared prefixes) with the judge
   cache (cache hit rate, in-batch merges). ``--adversarial`` also measures how the model judge reacts
   to the prompt-injection suite of tests/test_adversarial_judge.py.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # loopback server helpers and the adversarial suite

from searchgym.judges import load_judge  # noqa: E402
from searchgym.judges.base import JudgeError, JudgeRequest  # noqa: E402
from searchgym.judges.cache import JudgeCache  # noqa: E402
from searchgym.eval.labelled import LabelledStep, judge_accuracy, labelled_steps  # noqa: E402
from searchgym.rewards.process import StepJudgeReward  # noqa: E402

WORLD = "synthetic:seed=0,passages=300,tasks=40,hops=2"
KINDS = ("think", "query", "open", "answer", "all")


# ---------------------------------------------------------------------------------------------
# quality

def stratified(items: Sequence[LabelledStep], per_case: int, seed: int = 0) -> list[LabelledStep]:
    """At most ``per_case`` items of each (case, kind, label), drawn at random, in the set's order."""
    rng = random.Random(seed)
    strata: dict[tuple[str, str, bool], list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        strata[(item.case, item.kind, item.good)].append(i)
    keep: set[int] = set()
    for idx in strata.values():
        keep.update(rng.sample(idx, min(per_case, len(idx))))
    return [items[i] for i in sorted(keep)]


def merge_tables(tables: Sequence[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Sums ``judge_accuracy`` tables of disjoint item sets; accuracy recomputed from the sums."""
    out: dict[str, dict[str, float]] = {}
    for table in tables:
        for kind, row in table.items():
            acc = out.setdefault(kind, {})
            for key, value in row.items():
                if key != "accuracy":
                    acc[key] = acc.get(key, 0.0) + value
    for row in out.values():
        row["accuracy"] = row["correct"] / row["n"] if row["n"] else float("nan")
    return out


def accuracy_robust(judge: Any, items: Sequence[LabelledStep], chunk: int = 4,
                    progress: bool = False) -> tuple[dict, int, float]:
    """``judge_accuracy`` in chunks; a chunk that fails is retried item by item and items the judge
    cannot score are counted as errors (left out). Returns (table, errors, seconds)."""
    tables, errors = [], 0
    t0 = time.perf_counter()
    for start in range(0, len(items), chunk):
        if progress and start:
            print(f"  ... {start}/{len(items)} judged, {errors} errors ({time.perf_counter() - t0:.0f}s)", flush=True)
        part = list(items[start:start + chunk])
        try:
            tables.append(judge_accuracy(judge, part))
            continue
        except JudgeError:
            pass
        for item in part:
            try:
                tables.append(judge_accuracy(judge, [item]))
            except JudgeError:
                errors += 1
    return merge_tables(tables), errors, time.perf_counter() - t0


def print_table(name: str, table: dict[str, dict[str, float]], note: str = "") -> None:
    print(f"\n{name}{note}")
    print(f"  {'kind':7s} {'accuracy':>8s} {'n':>5s} {'good approved':>14s} {'bad approved':>13s}")
    for kind in KINDS:
        row = table.get(kind)
        if row is None:
            print(f"  {kind:7s} {'-':>8s} {0:5d}")
            continue
        good = f"{row['good_approved'] / row['good']:.2f} ({row['good']:.0f})" if row["good"] else "- (0)"
        bad = f"{row['bad_approved'] / row['bad']:.2f} ({row['bad']:.0f})" if row["bad"] else "- (0)"
        print(f"  {kind:7s} {row['accuracy']:8.3f} {row['n']:5.0f} {good:>14s} {bad:>13s}")


def build_labelled() -> list[LabelledStep]:
    from searchgym.corpora import load_taskset
    from searchgym.search import build_searcher

    t0 = time.perf_counter()
    taskset = load_taskset(WORLD)
    searcher = build_searcher("bm25", taskset.documents, progress=False)
    items = labelled_steps(taskset, searcher, max_tasks=30)
    cases: dict[str, int] = defaultdict(int)
    for item in items:
        cases[f"{item.case}/{item.kind}/{'good' if item.good else 'bad'}"] += 1
    print(f"labelled set: {len(items)} judged step parts from {WORLD}, BM25, 30 tasks "
          f"(built in {time.perf_counter() - t0:.0f}s; a judge approves a step when it scores it > 0)")
    print("  " + ", ".join(f"{k} {v}" for k, v in sorted(cases.items())))
    return items


def quality_deterministic(items: Sequence[LabelledStep]) -> None:
    for name in ("rules", "gold"):
        table, errors, dt = accuracy_robust(load_judge(name), items, chunk=len(items))
        print_table(name, table, f"  (whole set; {errors} errors; {dt * 1e6 / len(items):.0f} us/judgment "
                                 f"incl. request building)")


def quality_model(spec: str, opts: dict, items: Sequence[LabelledStep], per_case: int) -> None:
    subset = stratified(items, per_case)
    with tempfile.TemporaryDirectory() as tmp:
        # the cache spares re-asking a failed chunk's answered items when it is retried item by item
        judge = load_judge(spec, cache=JudgeCache(Path(tmp) / "quality.sqlite"), **opts)
        table, errors, dt = accuracy_robust(judge, subset, progress=True)
    print_table(spec, table, f"  (stratified subset: <= {per_case} per case/kind/label, {len(subset)} items; "
                             f"{errors} judge errors left out; {len(subset) / dt:.2f} judgments/s)")
    for name in ("rules", "gold"):
        sub, _, _ = accuracy_robust(load_judge(name), subset, chunk=len(subset))
        print(f"  {name} on the same subset: " + "  ".join(
            f"{k} {sub[k]['accuracy']:.3f}" for k in KINDS if k in sub))


# ---------------------------------------------------------------------------------------------
# throughput

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


def bench_deterministic(name: str, n: int) -> float:
    """µs per judgment of a model-free judge on query requests (with the task, which ``gold`` needs)."""
    from judge_fixtures import D1, D2, TASK

    judge = load_judge(name)
    reqs = [JudgeRequest("query", TASK.question, f"Ostrik Balan birthplace {i}", context=("agent: x",) * 4,
                         evidence=(D1, D2), task=TASK, outcome=("w0-2",)) for i in range(n)]
    t = time.perf_counter()
    judge.judge(reqs)
    return (time.perf_counter() - t) / n * 1e6


def timed(judge, reqs):
    t = time.perf_counter()
    judge.judge(reqs)
    dt = time.perf_counter() - t
    return len(reqs) / dt, dt


def throughput(spec: str, opts: dict, quick: bool) -> None:
    from judge_fixtures import D1, TASK

    n = 6 if quick else 16
    reqs = [JudgeRequest("query", TASK.question, f"Ostrik Balan birthplace variant {i}", evidence=(D1,))
            for i in range(n)]
    load_judge(spec, **opts).judge(reqs[:1])  # warm-up
    seq, dt_seq = timed(load_judge(spec, concurrency=1, **opts), reqs)
    print(f"{spec} sequential: {seq:.2f} judgments/s ({n} in {dt_seq:.1f}s)")
    reqs2 = [JudgeRequest("query", TASK.question, f"Ostrik Balan born where {i}", evidence=(D1,)) for i in range(n)]
    conc, dt_conc = timed(load_judge(spec, concurrency=4, **opts), reqs2)
    print(f"{spec} concurrency=4: {conc:.2f} judgments/s ({n} in {dt_conc:.1f}s; x{conc / seq:.2f} vs sequential; "
          f"a llama.cpp server decodes one request at a time)")

    prefixes, k, pool = (2, 5, 2) if quick else (4, 5, 2)
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
        print(f"SLATE workload ({prefixes} prefixes x k={k}, {total} judge requests: r_think + r_action per "
              f"candidate): {total / dt:.2f} judgments/s with cache ({dt:.1f}s; x{total / dt / conc:.2f} vs the "
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


def adversarial(spec: str, label: str, opts: dict) -> None:
    from judge_fixtures import D1, TASK
    from test_adversarial_judge import ANSWERS, ATTACKS, QUERIES, THINKS

    judge = load_judge(spec, concurrency=2, **opts)
    ctx = ("agent: I need the founder of Velmora first. <search>Velmora founder</search>", "environment: " + D1.contents)
    cases = [("think", THINKS[2], {}), ("query", QUERIES[3], {}), ("answer", ANSWERS[2], {"reference": "Quenhall"})]
    print(f"\nadversarial suite vs {label}; base steps are BAD (should stay -1)")
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


# ---------------------------------------------------------------------------------------------

def run_model_parts(spec: str, label: str, args: argparse.Namespace, items: Sequence[LabelledStep]) -> None:
    opts: dict[str, Any] = dict(max_tokens=args.max_tokens)
    if args.structured:
        opts["structured"] = args.structured
    print(f"\n== model judge: {label} ==")
    if not args.no_quality:
        # one request at a time: a llama.cpp server decodes one anyway, and queued requests would only
        # run into their timeouts on a busy machine
        quality_model(spec, dict(opts, concurrency=1, timeout=args.timeout, max_retries=1), items, args.per_case)
    print()
    throughput(spec, opts, args.quick)
    if args.adversarial:
        adversarial(spec, label, opts)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small model-judge workloads (a few minutes on 2 CPUs)")
    ap.add_argument("--llama", action=argparse.BooleanOptionalAction, default=True,
                    help="start a local llama.cpp server (SmolLM2-135M-Instruct GGUF) as the model judge "
                         "(default on; ignored with --openai-url)")
    ap.add_argument("--openai-url", default=None, help="an OpenAI-compatible server's base URL (.../v1) to judge with")
    ap.add_argument("--openai-model", default="smollm2", help="the model name that server serves")
    ap.add_argument("--per-case", type=int, default=None,
                    help="model judge: at most this many labelled items per (case, kind, label) "
                         "(default 2 with --quick, 8 otherwise)")
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--timeout", type=float, default=300.0, help="model judge: seconds per request (quality part)")
    ap.add_argument("--structured", default="json_object", help="response format mode for the model judge "
                    "('auto', 'json_schema', 'json_object', 'none'; llama.cpp takes json_object)")
    ap.add_argument("--no-quality", action="store_true", help="skip the model judge's quality table")
    ap.add_argument("--adversarial", action="store_true")
    args = ap.parse_args(argv)
    # a plain SIGTERM would skip the context manager that stops the llama.cpp server
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.per_case is None:
        args.per_case = 2 if args.quick else 8
    if args.per_case < 1:
        ap.error("--per-case must be >= 1")

    print("== deterministic judges ==")
    for name in ("rules", "gold"):
        print(f"{name} judge: {bench_deterministic(name, 2000):.1f} us/judgment (query requests)")
    items = build_labelled()
    quality_deterministic(items)

    if args.openai_url:
        run_model_parts(f"openai:{args.openai_model}@{args.openai_url}", f"{args.openai_model} at {args.openai_url}",
                        args, items)
    elif args.llama:
        from servers.llama import LlamaServer

        with LlamaServer(n_ctx=4096) as server:
            run_model_parts(f"openai:{server.model}@{server.base_url}",
                            f"llama.cpp server, {server.model} (SmolLM2-135M-Instruct Q4_1 GGUF)", args, items)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
