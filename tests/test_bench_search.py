"""benchmarks/bench_search.py: the overlap@10 formula and one small bm25s run end to end (no Java)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import load_benchmark

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_search.py"


def _bench():
    return load_benchmark("bench_search")


def test_overlap_is_mean_shared_share_of_ten_and_skips_queries_with_no_hits_anywhere():
    bench = _bench()
    a = [[f"d{i}" for i in range(10)], [f"d{i}" for i in range(10)], [], ["x"]]
    b = [[f"d{i}" for i in range(5, 15)], [f"d{i}" for i in range(10)], [], []]
    ov, top1, n = bench.overlap(a, b)
    assert n == 3  # the query both left empty does not count
    assert abs(ov - (0.5 + 1.0 + 0.0) / 3) < 1e-12
    assert abs(top1 - 1 / 3) < 1e-12
    assert bench.pct([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert bench.pct([5.0, 1.0, 3.0, 2.0, 4.0], 0.95) == 5.0


def test_small_bm25s_run_reports_build_query_and_memory(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "TMPDIR": str(tmp_path)}
    out = tmp_path / "r.json"
    md = tmp_path / "r.md"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--backends", "bm25s", "--sizes", "300", "--queries", "20", "--warmup", "1",
         "--json", str(out), "--markdown", str(md)],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(out.read_text())["results"]["300"]["backends"]["bm25s"]
    build, query = r["build"], r["query"]
    assert build["build_s"] > 0 and build["index_mb"] > 0
    assert build["build_peak_rss_mb"] >= build["base_rss_mb"] > 0
    assert query["queries"] == 20 and "rankings" not in query
    assert 0 < query["p50_ms"] <= query["p95_ms"]
    assert query["query_peak_rss_mb"] > 0 and query["batch_qps"] > 0
    assert "| 300 | bm25s |" in md.read_text()
    assert not list(tmp_path.glob("bench-search-*"))  # its temporary indexes are removed


def test_unknown_backend_is_a_usage_error():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--backends", "elastic"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert proc.returncode == 2 and "unknown backend" in proc.stderr
