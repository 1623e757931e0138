"""Synthetic world generation at 10k, 100k and 1M passages: time, peak memory, passage streaming rate.

    python benchmarks/bench_world.py [--quick] [--tasks 200] [--stream-all]

Each size runs in a fresh subprocess so that its peak RSS is its own. "peak traced" is the peak of
Python allocations during ``generate_world`` (tracemalloc, second run); "gen" is timed without
tracing. Streaming renders a sample of passages (every passage with ``--stream-all``).
"""

from __future__ import annotations

import argparse
import collections
import json
import resource
import subprocess
import sys
import time
import tracemalloc


def measure(n: int, tasks: int, stream_all: bool) -> dict[str, float]:
    from searchgym.corpora.synthetic import WorldConfig, generate_world

    cfg = WorldConfig(seed=0, num_passages=n, num_tasks=tasks, hops=(2, 3, 4))
    start = time.perf_counter()
    ts = generate_world(cfg)
    gen_s = time.perf_counter() - start
    tracemalloc.start()
    generate_world(cfg)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    step = 1 if stream_all else max(1, n // 50_000)
    start = time.perf_counter()
    chars = 0
    for i in range(0, n, step):
        chars += len(ts.documents[i].text)
    rendered = len(range(0, n, step))
    render_s = time.perf_counter() - start
    kinds = collections.Counter(t.kind for t in ts.tasks)
    return {
        "passages": n,
        "gen_s": gen_s,
        "peak_traced_mib": peak / 2**20,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "render_us_per_doc": 1e6 * render_s / rendered,
        "stream_all_s_est": render_s / rendered * n,
        "avg_chars": chars / rendered,
        "tasks": len(ts.tasks),
        "kinds": dict(kinds),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="stop at 100k passages")
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--stream-all", action="store_true", help="render every passage, not a sample")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.tasks, args.stream_all)))
        return 0
    sizes = [10_000, 100_000] + ([] if args.quick else [1_000_000])
    print(f"{'passages':>10} {'gen s':>7} {'peak MiB':>9} {'RSS MiB':>8} {'render us/doc':>14} "
          f"{'stream all s':>13} {'chars/doc':>9}  tasks")
    rows = []
    for n in sizes:
        cmd = [sys.executable, __file__, "--one", str(n), "--tasks", str(args.tasks)]
        cmd += ["--stream-all"] if args.stream_all else []
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(r)
        print(f"{r['passages']:>10,} {r['gen_s']:>7.2f} {r['peak_traced_mib']:>9.1f} {r['max_rss_mib']:>8.0f} "
              f"{r['render_us_per_doc']:>14.1f} {r['stream_all_s_est']:>13.1f} {r['avg_chars']:>9.0f}  {r['kinds']}",
              flush=True)
    first, last = rows[0], rows[-1]
    scale = last["passages"] / first["passages"]
    print(f"x{scale:.0f} passages: generation x{last['gen_s'] / first['gen_s']:.1f}, "
          f"peak memory x{last['peak_traced_mib'] / max(first['peak_traced_mib'], 1e-9):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
