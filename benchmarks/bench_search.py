"""Search benchmark on the synthetic world: build time/memory, query latency p50/p99, batch throughput.

    python benchmarks/bench_search.py                       # 10k, 100k, 1M passages
    python benchmarks/bench_search.py --sizes 10000,100000  # chosen sizes
    python benchmarks/bench_search.py --quick               # 10k, fewer queries
    python benchmarks/bench_search.py --no-dense --no-lucene  # bm25s only (no Java)

BM25 (Lucene) and bm25s are measured at every size, with the overlap@10 of their rankings (share of
Lucene's top 10 that bm25s also returns, mean over the queries) and whether their top hit agrees. Dense (MiniLM on CPU) is built only up to ``--dense-max`` passages;
above that the encode throughput measured on a sample is extrapolated and printed as such.
Indexes are built in a fresh temporary cache so build times are real, not cache hits.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import tempfile
import time
from pathlib import Path


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def children_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def latency(searcher, queries: list[str], k: int = 10) -> tuple[float, float]:
    for q in queries[:50]:  # warm up JIT and caches
        searcher.search(q, k)
    times = []
    for q in queries:
        t = time.perf_counter()
        searcher.search(q, k)
        times.append((time.perf_counter() - t) * 1000)
    return pct(times, 0.5), pct(times, 0.99)


def throughput(searcher, queries: list[str], k: int = 10) -> float:
    t = time.perf_counter()
    searcher.batch_search(queries, k)
    return len(queries) / (time.perf_counter() - t)


def make_queries(taskset, n: int) -> list[str]:
    qs = []
    for task in taskset.tasks:
        qs.append(task.question)
        qs.extend(h.question for h in task.hops)
    while len(qs) < n:
        qs = qs + qs
    return qs[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated passage counts")
    ap.add_argument("--quick", action="store_true", help="10k passages, fewer queries")
    ap.add_argument("--queries", type=int, default=1000, help="queries timed per size")
    ap.add_argument("--dense-max", type=int, default=10000, help="largest size at which dense is fully built")
    ap.add_argument("--no-dense", action="store_true")
    ap.add_argument("--no-lucene", action="store_true", help="skip the Lucene backend (no Java)")
    ap.add_argument("--no-bm25s", action="store_true", help="skip the bm25s backend")
    args = ap.parse_args()
    sizes = [10000] if args.quick else [int(s) for s in args.sizes.split(",")]
    nq = 200 if args.quick else args.queries

    from searchgym.corpora.synthetic import WorldConfig, generate_world
    from searchgym.search.bm25 import BM25Searcher

    print(f"cores={os.cpu_count()}  queries/size={nq}  k=10")
    encoder = None
    for n in sizes:
        print(f"\n=== {n:,} passages ===")
        t = time.perf_counter()
        world = generate_world(WorldConfig(seed=0, num_passages=n, num_tasks=200))
        queries = make_queries(world, nq)
        print(f"world generated in {time.perf_counter() - t:.1f} s")
        with tempfile.TemporaryDirectory(prefix="bench-search-") as cache:
            rankings = {}
            if not args.no_lucene:
                rss0 = rss_mb()
                t = time.perf_counter()
                bm25 = BM25Searcher(world.documents, cache_dir=Path(cache), progress=False)
                build = time.perf_counter() - t
                print(f"BM25  build {build:7.1f} s ({n / build:,.0f} docs/s)  index {dir_mb(bm25.index_dir):,.0f} MB  "
                      f"indexer peak RSS {children_peak_mb():,.0f} MB  searcher RSS +{rss_mb() - rss0:,.0f} MB")
                p50, p99 = latency(bm25, queries)
                qps = throughput(bm25, queries)
                print(f"BM25  latency p50 {p50:.2f} ms  p99 {p99:.2f} ms  batch {qps:,.0f} q/s  "
                      "(target p50<=3 ms at 100k)")
                rankings["lucene"] = [[h.doc_id for h in hits] for hits in bm25.batch_search(queries, 10)]
                bm25.close()
                del bm25
                gc.collect()
            if not args.no_bm25s:
                from searchgym.search.bm25s_searcher import BM25sSearcher

                rss0 = rss_mb()
                t = time.perf_counter()
                fast = BM25sSearcher(world.documents, cache_dir=Path(cache), progress=False)
                build = time.perf_counter() - t
                print(f"bm25s build {build:7.1f} s ({n / build:,.0f} docs/s)  index {dir_mb(fast.index_dir):,.0f} MB  "
                      f"RSS +{rss_mb() - rss0:,.0f} MB (index, analyser and the corpus kept for doc())")
                p50, p99 = latency(fast, queries)
                qps = throughput(fast, queries)
                print(f"bm25s latency p50 {p50:.2f} ms  p99 {p99:.2f} ms  batch {qps:,.0f} q/s")
                rankings["bm25s"] = [[h.doc_id for h in hits] for hits in fast.batch_search(queries, 10)]
                del fast
                gc.collect()
            if len(rankings) == 2:
                pairs = list(zip(rankings["lucene"], rankings["bm25s"]))
                overlap = sum(len(set(a) & set(b)) / max(1, len(a)) for a, b in pairs if a) / max(1, sum(
                    1 for a, _ in pairs if a))
                top1 = sum(1 for a, b in pairs if a and b and a[0] == b[0]) / max(1, sum(1 for a, _ in pairs if a))
                print(f"bm25s vs Lucene: overlap@10 {overlap:.3f}  same top hit {top1:.3f}  ({len(pairs)} queries)")
            if args.no_dense:
                continue
            from searchgym.search.dense import DenseSearcher
            from searchgym.search.encoders import TransformerEncoder

            encoder = encoder or TransformerEncoder()
            sample = [world.documents[i].contents for i in range(min(n, 512))]
            t = time.perf_counter()
            encoder.encode(sample)
            enc_rate = len(sample) / (time.perf_counter() - t)
            if n > args.dense_max:
                print(f"dense encode {enc_rate:,.0f} docs/s on a {len(sample)}-doc sample -> full build would take "
                      f"~{n / enc_rate / 3600:.1f} h on this machine (NOT run; raise --dense-max to run it)")
                continue
            rss0 = rss_mb()
            t = time.perf_counter()
            dense = DenseSearcher(world.documents, encoder, cache_dir=Path(cache), progress=True)
            build = time.perf_counter() - t
            print(f"dense build {build:7.1f} s (encode {enc_rate:,.0f} docs/s)  index {type(dense.index).__name__}  "
                  f"RSS +{rss_mb() - rss0:,.0f} MB")
            p50, p99 = latency(dense, queries[: max(100, nq // 5)])
            qps = throughput(dense, queries)
            print(f"dense latency p50 {p50:.2f} ms  p99 {p99:.2f} ms  batch {qps:,.0f} q/s")
            del dense
            gc.collect()


if __name__ == "__main__":
    main()
