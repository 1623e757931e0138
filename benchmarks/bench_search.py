"""Search benchmark on the synthetic world: Lucene BM25 vs bm25s (and dense) at 10k / 100k / 1M passages.

    python benchmarks/bench_search.py                                   # bm25,bm25s at 10k, 100k, 1M
    python benchmarks/bench_search.py --backends bm25,bm25s --sizes 10000,100000
    python benchmarks/bench_search.py --quick                           # 10k passages only
    python benchmarks/bench_search.py --backends bm25s                  # no Java needed
    python benchmarks/bench_search.py --backends bm25,bm25s,dense --dense-max 10000
    python benchmarks/bench_search.py --sizes 1000000 --json out.json --markdown out.md

Per size and backend it prints:

* **build**: index build time (a fresh temporary cache, so never a cache hit), on-disk index size, and the
  peak RSS of the build process (``VmHWM``; the corpus is generated in that process first, and its RSS
  then is printed as ``base``). Lucene indexes in a Java subprocess, whose peak RSS is printed apart
  (``getrusage(RUSAGE_CHILDREN)``).
* **query**: a second, fresh process opens the built index (no corpus generated in it, except for
  ``dense``, whose searcher needs the documents) and prints the load time, its peak RSS, single-query
  latency p50/p95 (each query timed alone, after ``--warmup`` untimed passes over all queries) and the
  throughput of one ``batch_search`` over all queries, in wall time and in the process's CPU time (all
  its threads), which other jobs on a shared machine inflate far less.
* **overlap@10** of every pair of backends: mean over the queries of |top10_a ∩ top10_b| / 10, and the
  share of queries whose top hit agrees.

Each build and each query phase runs in its own subprocess so that memory figures never mix backends.
Passages come from the synthetic world generator (``WorldConfig(seed=0, num_passages=N, num_tasks=200)``,
the world behind the spec ``synthetic:seed=0,passages=N``); queries are its task questions, topped up with
its hop questions when ``--queries`` exceeds the number of tasks. Dense (MiniLM on CPU) is built only up
to ``--dense-max`` passages; above that the encode rate measured on a sample is extrapolated and printed
as such. The figures of this repository are in ``benchmarks/results/bench_search.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

BACKENDS = ("bm25", "bm25s", "dense")
LABELS = {"bm25": "Lucene", "bm25s": "bm25s", "dense": "dense"}
K = 10


# ---------------------------------------------------------------- measurements (inside the workers)

def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb() -> float:
    """Resident memory of this process now (MiB)."""
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MiB)."""
    return _status_mb("VmHWM")


def children_peak_mb() -> float:
    """Peak resident memory of the largest finished child process (MiB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def cpu_s(children: bool = False) -> float:
    """User + system CPU seconds of this process (all its threads), or of its finished children."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile ``q`` in [0, 1]."""
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def make_world(size: int):
    from searchgym.corpora.synthetic import WorldConfig, generate_world

    return generate_world(WorldConfig(seed=0, num_passages=size, num_tasks=min(200, size)))


def make_queries(world, n: int) -> list[str]:
    """``n`` queries: the task questions first, then hop questions, repeated if still short."""
    qs = [task.question for task in world.tasks]
    qs += [h.question for task in world.tasks for h in task.hops]
    if not qs:
        raise ValueError("the world has no tasks to take queries from")
    while len(qs) < n:
        qs = qs + qs
    return qs[:n]


def _encoder():
    from searchgym.search.encoders import TransformerEncoder

    return TransformerEncoder()


def worker_build(backend: str, size: int, workdir: Path, nq: int, dense_max: int) -> dict:
    t = time.perf_counter()
    world = make_world(size)
    docs = world.documents
    queries = make_queries(world, nq)
    (workdir / "queries.json").write_text(json.dumps(queries))
    out: dict = {"generate_s": time.perf_counter() - t, "base_rss_mb": rss_mb()}
    cache = workdir / f"cache-{backend}"
    t, c0, cc0 = time.perf_counter(), cpu_s(), cpu_s(children=True)
    if backend == "bm25":
        from searchgym.search.bm25 import build_bm25_index

        index_dir = build_bm25_index(docs, cache, progress=False)
    elif backend == "bm25s":
        from searchgym.search.bm25s_searcher import build_bm25s_index

        index_dir = build_bm25s_index(docs, cache, progress=False)
    else:
        from searchgym.search.dense import DenseSearcher

        encoder = _encoder()
        sample = [docs[i].contents for i in range(min(size, 512))]
        t = time.perf_counter()
        encoder.encode(sample)
        out["encode_docs_per_s"] = rate = len(sample) / (time.perf_counter() - t)
        if size > dense_max:
            out["skipped"] = (f"not built above --dense-max={dense_max}: at {rate:,.0f} docs/s the encode "
                              f"alone would take ~{size / rate / 3600:.1f} h here")
            return out
        t, c0 = time.perf_counter(), cpu_s()
        DenseSearcher(docs, encoder, cache_dir=cache, progress=False)
        index_dir = cache
    out["build_s"] = time.perf_counter() - t
    out["build_cpu_s"] = cpu_s() - c0 + cpu_s(children=True) - cc0  # the Java indexer is a child
    out["index_dir"] = str(index_dir)
    out["index_mb"] = dir_mb(Path(index_dir))
    out["build_peak_rss_mb"] = peak_rss_mb()
    if backend == "bm25":
        out["indexer_peak_rss_mb"] = children_peak_mb()
    return out


def worker_query(backend: str, size: int, workdir: Path, index_dir: str, warmup: int = 3) -> dict:
    queries = json.loads((workdir / "queries.json").read_text())
    rss0 = rss_mb()
    t = time.perf_counter()
    if backend == "bm25":
        from searchgym.search.bm25 import BM25Searcher

        searcher = BM25Searcher(index_dir=index_dir, progress=False)
    elif backend == "bm25s":
        from searchgym.search.bm25s_searcher import BM25sSearcher

        searcher = BM25sSearcher(index_dir=index_dir, progress=False)
    else:
        from searchgym.search.dense import DenseSearcher

        searcher = DenseSearcher(make_world(size).documents, _encoder(), cache_dir=Path(index_dir), progress=False)
    out: dict = {"load_s": time.perf_counter() - t, "start_rss_mb": rss0, "loaded_rss_mb": rss_mb()}
    # warm-up passes (the JVM's JIT needs several hundred queries; page cache), the first gives the rankings
    out["rankings"] = [[h.doc_id for h in searcher.search(q, K)] for q in queries]
    for _ in range(warmup - 1):
        for q in queries:
            searcher.search(q, K)
    out["warmup_passes"] = max(1, warmup)
    (workdir / f"rankings-{backend}.json").write_text(json.dumps(out["rankings"]))
    # wall time, and the process's CPU time (all threads: Lucene searches on a JVM thread), which a
    # machine shared with other jobs inflates far less than wall time
    times, cpu = [], []
    for q in queries:
        t, c = time.perf_counter(), time.process_time()
        searcher.search(q, K)
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    out["p50_ms"], out["p95_ms"] = pct(times, 0.5), pct(times, 0.95)
    out["cpu_p50_ms"], out["cpu_p95_ms"] = pct(cpu, 0.5), pct(cpu, 0.95)
    out["mean_ms"] = sum(times) / len(times)
    t, c = time.perf_counter(), time.process_time()
    searcher.batch_search(queries, K)
    out["batch_qps"] = len(queries) / (time.perf_counter() - t)
    out["batch_q_per_cpu_s"] = len(queries) / max(1e-9, time.process_time() - c)
    out["queries"] = len(queries)
    out["query_peak_rss_mb"] = peak_rss_mb()
    close = getattr(searcher, "close", None)
    if close:
        close()
    return out


# ---------------------------------------------------------------- orchestration (the parent process)

def run_worker(args: list[str], timeout: float | None) -> dict:
    """Run this script as a worker subprocess; its last stdout line is a JSON result."""
    cmd = [sys.executable, os.path.abspath(__file__), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"worker {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def overlap(a: list[list[str]], b: list[list[str]]) -> tuple[float, float, int]:
    """(mean |top10_a ∩ top10_b| / 10, share of equal top hits, queries counted): queries where both
    backends return nothing are left out."""
    pairs = [(x, y) for x, y in zip(a, b) if x or y]
    if not pairs:
        return float("nan"), float("nan"), 0
    ov = sum(len(set(x[:K]) & set(y[:K])) / K for x, y in pairs) / len(pairs)
    top1 = sum(1 for x, y in pairs if x and y and x[0] == y[0]) / len(pairs)
    return ov, top1, len(pairs)


def fmt(v: float | None, spec: str = ",.1f") -> str:
    return "—" if v is None else format(v, spec)


def markdown(results: dict, command: str) -> str:
    host = f"{platform.node() or 'host'}: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    lines = [
        f"Command: `{command}`  ",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  ",
        f"Machine: {host}",
        "",
        ("| passages | backend | build s (CPU-s) | index MB | build peak RSS MB | query peak RSS MB | "
         "p50 / p95 ms | CPU p50 / p95 ms | batch q/s (per CPU-s) |"),
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, per in results.items():
        for backend, r in per["backends"].items():
            b, q = r.get("build", {}), r.get("query", {})
            peak = fmt(b.get("build_peak_rss_mb"), ",.0f")
            if b.get("indexer_peak_rss_mb") is not None:
                peak += f" (+ Java indexer {b['indexer_peak_rss_mb']:,.0f})"
            lines.append(
                f"| {int(size):,} | {LABELS[backend]} | {fmt(b.get('build_s'))} ({fmt(b.get('build_cpu_s'))}) | "
                f"{fmt(b.get('index_mb'), ',.1f')} | {peak} | {fmt(q.get('query_peak_rss_mb'), ',.0f')} | "
                f"{fmt(q.get('p50_ms'), '.2f')} / {fmt(q.get('p95_ms'), '.2f')} | "
                f"{fmt(q.get('cpu_p50_ms'), '.2f')} / {fmt(q.get('cpu_p95_ms'), '.2f')} | "
                f"{fmt(q.get('batch_qps'), ',.0f')} ({fmt(q.get('batch_q_per_cpu_s'), ',.0f')}) |")
    ov_lines = [(size, pair, o) for size, per in results.items() for pair, o in per.get("overlap", {}).items()]
    if ov_lines:
        lines += ["", "| passages | pair | overlap@10 | same top hit | queries |", "|---:|---|---:|---:|---:|"]
        lines += [f"| {int(s):,} | {p} | {o['overlap@10']:.3f} | {o['top1']:.3f} | {o['queries']} |"
                  for s, p, o in ov_lines]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", default="bm25,bm25s", help=f"comma-separated, from {', '.join(BACKENDS)}")
    ap.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated passage counts")
    ap.add_argument("--quick", action="store_true", help="10k passages only")
    ap.add_argument("--queries", type=int, default=200, help="queries per size (task questions first)")
    ap.add_argument("--dense-max", type=int, default=10000, help="largest size at which dense is fully built")
    ap.add_argument("--warmup", type=int, default=3, help="untimed passes over the queries before timing")
    ap.add_argument("--timeout", type=float, default=None, help="seconds allowed to each worker subprocess")
    ap.add_argument("--workdir", type=Path, default=None, help="keep the built indexes here (default: a temp dir, removed)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results (without rankings) as JSON")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the result tables as Markdown")
    # deprecated switches of the earlier version, kept so old command lines still work
    ap.add_argument("--no-dense", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--no-lucene", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--no-bm25s", action="store_true", help=argparse.SUPPRESS)
    # internal: one measurement in a fresh process
    ap.add_argument("--worker", choices=("build", "query"), help=argparse.SUPPRESS)
    ap.add_argument("--backend", choices=BACKENDS, help=argparse.SUPPRESS)
    ap.add_argument("--index-dir", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        size = int(args.sizes)
        if args.worker == "build":
            result = worker_build(args.backend, size, args.workdir, args.queries, args.dense_max)
        else:
            result = worker_query(args.backend, size, args.workdir, args.index_dir, args.warmup)
        print(json.dumps(result))
        return

    try:
        backends = [b.strip() for b in args.backends.split(",") if b.strip()]
        sizes = [10000] if args.quick else [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        ap.error(f"unknown backend(s) {', '.join(unknown)}: choose from {', '.join(BACKENDS)}")
    backends = [b for b in backends if not ((b == "bm25" and args.no_lucene) or (b == "bm25s" and args.no_bm25s)
                                             or (b == "dense" and args.no_dense))]
    if not backends or any(n < 60 for n in sizes) or args.queries < 1:
        ap.error("need at least one backend, sizes of at least 60 passages and --queries >= 1")

    command = "python benchmarks/bench_search.py " + " ".join(sys.argv[1:])
    print(f"cores={os.cpu_count()}  backends={','.join(backends)}  queries/size={args.queries}  k={K}", flush=True)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="bench-search-"))
    results: dict = {}

    def save() -> None:
        if args.json:
            slim = {s: {**per, "backends": {b: {ph: {k: v for k, v in r.items() if k != "rankings"}
                                                     for ph, r in br.items()} for b, br in per["backends"].items()}}
                    for s, per in results.items()}
            args.json.write_text(json.dumps({"command": command, "results": slim}, indent=1))
        if args.markdown:
            args.markdown.write_text(markdown(results, command))

    try:
        for n in sizes:
            print(f"\n=== {n:,} passages ===", flush=True)
            workdir = root / str(n)
            workdir.mkdir(parents=True, exist_ok=True)
            per: dict = {"backends": {}, "overlap": {}}
            results[str(n)] = per
            rankings = {}
            common = ["--sizes", str(n), "--workdir", str(workdir), "--queries", str(args.queries),
                      "--warmup", str(args.warmup)]
            for backend in backends:
                name = LABELS[backend]
                r: dict = {}
                per["backends"][backend] = r
                try:
                    b = r["build"] = run_worker(["--worker", "build", "--backend", backend, *common,
                                                 "--dense-max", str(args.dense_max)], args.timeout)
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    print(f"{name:6s} build FAILED: {exc}", flush=True)
                    continue
                if "skipped" in b:
                    print(f"{name:6s} {b['skipped']}", flush=True)
                    continue
                java = (f"  Java indexer peak RSS {b['indexer_peak_rss_mb']:,.0f} MB"
                        if "indexer_peak_rss_mb" in b else "")
                print(f"{name:6s} build {b['build_s']:8.1f} s, {b['build_cpu_s']:.1f} CPU-s "
                      f"({n / b['build_s']:,.0f} docs/s)  index "
                      f"{b['index_mb']:,.1f} MB  build peak RSS {b['build_peak_rss_mb']:,.0f} MB "
                      f"(base {b['base_rss_mb']:,.0f} MB after generating the world){java}", flush=True)
                save()
                try:
                    q = r["query"] = run_worker(["--worker", "query", "--backend", backend, *common,
                                                 "--index-dir", b["index_dir"]], args.timeout)
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    print(f"{name:6s} query FAILED: {exc}", flush=True)
                    continue
                rankings[backend] = q["rankings"]
                print(f"{name:6s} load {q['load_s']:6.1f} s  query peak RSS {q['query_peak_rss_mb']:,.0f} MB  "
                      f"latency p50 {q['p50_ms']:.2f} ms  p95 {q['p95_ms']:.2f} ms (CPU {q['cpu_p50_ms']:.2f} / "
                      f"{q['cpu_p95_ms']:.2f} ms)  batch {q['batch_qps']:,.0f} q/s ({q['batch_q_per_cpu_s']:,.0f} "
                      f"per CPU-s, {q['queries']} queries)", flush=True)
                save()
                if not args.workdir:
                    shutil.rmtree(workdir / f"cache-{backend}", ignore_errors=True)
            # rankings of this run, plus those another run left in a shared --workdir
            for path in sorted(workdir.glob("rankings-*.json")):
                rankings.setdefault(path.stem.split("-", 1)[1], json.loads(path.read_text()))
            names = [b for b in BACKENDS if b in rankings]
            for i, a in enumerate(names):
                for bk in names[i + 1:]:
                    ov, top1, nq = overlap(rankings[a], rankings[bk])
                    pair = f"{LABELS[a]} vs {LABELS[bk]}"
                    per["overlap"][pair] = {"overlap@10": ov, "top1": top1, "queries": nq}
                    print(f"{pair}: overlap@10 {ov:.3f}  same top hit {top1:.3f}  ({nq} queries)", flush=True)
            save()
    finally:
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)
    if args.markdown:
        print(f"\ntables written to {args.markdown}")


if __name__ == "__main__":
    main()
