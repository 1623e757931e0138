"""Every searcher answers many threads at once exactly as it answers one; a crashing JVM logs into the cache."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest

from searchgym.corpora.records import Document

WORDS = "river castle lantern copper violin meadow harbor glacier orchard falcon".split()
DOCS = [Document(f"d{i}", f"Entry {i}", f"{WORDS[i % 10]} {WORDS[(i * 3) % 10]} {WORDS[(i * 7) % 10]} "
                 f"unique{i}token shared words") for i in range(300)]
# queries with many near-ties, several result sizes, blanks and junk: a mixed-up answer shows
QUERIES = [f"unique{i}token {WORDS[i % 10]}" for i in range(0, 300, 7)] + \
          [" ".join(WORDS[i:i + 3]) for i in range(8)] + ["", "\ud800", "shared words", "AND OR (", "zzz"]


def hammer(searcher, threads: int = 8, rounds: int = 3, queries: list[str] = QUERIES) -> None:
    """Each thread runs search, batch_search and doc over every query; all must equal the serial answers."""
    k_of = {q: 1 + i % 7 for i, q in enumerate(queries)}
    expected = {q: searcher.search(q, k_of[q]) for q in queries}
    batch_expected = searcher.batch_search(queries, 5)
    ids = [f"d{i}" for i in range(0, 300, 11)] + ["missing", "", "\udfff"]
    docs_expected = {i: searcher.doc(i) for i in ids}
    assert sum(bool(v) for v in expected.values()) > len(queries) // 2  # the comparison has substance

    def work(seed: int) -> list[str]:
        wrong = []
        order = queries[seed % len(queries):] + queries[: seed % len(queries)]
        for _ in range(rounds):
            for q in order:
                if searcher.search(q, k_of[q]) != expected[q]:
                    wrong.append(f"search {q!r}")
            if searcher.batch_search(queries, 5) != batch_expected:
                wrong.append("batch_search")
            for i in ids:
                if searcher.doc(i) != docs_expected[i]:
                    wrong.append(f"doc {i!r}")
        return wrong

    with ThreadPoolExecutor(threads) as pool:
        wrong = [w for ws in pool.map(work, range(threads)) for w in ws]
    assert wrong == []


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def bm25(cache):
    from searchgym.search.bm25 import BM25Searcher

    return BM25Searcher(DOCS, cache_dir=cache, progress=False, threads=2)


@pytest.fixture(scope="module")
def dense(cache):
    from searchgym.search.dense import DenseSearcher

    return DenseSearcher(DOCS, cache_dir=cache, progress=False)


def test_bm25_from_8_threads(bm25):
    hammer(bm25)


def test_bm25_batch_path_matches_single_queries(bm25):
    # batches of >= parallel_min go through pyserini's multi-threaded batch search
    assert len(QUERIES) >= bm25.parallel_min and bm25.threads > 1
    assert bm25.batch_search(QUERIES, 4) == [bm25.search(q, 4) for q in QUERIES]


def test_dense_from_8_threads(dense):
    hammer(dense, rounds=1, queries=QUERIES[::6])


def test_hybrid_from_8_threads(bm25, dense):
    from searchgym.search.hybrid import HybridSearcher

    hammer(HybridSearcher([bm25, dense]), rounds=1, queries=QUERIES[::8])


def test_remote_from_8_threads(bm25):
    from searchgym.search.remote import RemoteSearcher
    from searchgym.search.server import RetrievalServer

    with RetrievalServer(bm25) as server:
        remote = RemoteSearcher(server.url, timeout=30)
        try:
            hammer(remote)
            assert server.stats["batched_requests"] > server.stats["batches"]  # concurrent requests were batched
        finally:
            remote.close()


def test_jvm_crash_log_goes_to_the_cache_not_the_cwd(tmp_path):
    cwd, cache = tmp_path / "project", tmp_path / "cache"
    cwd.mkdir()
    code = textwrap.dedent("""
        from searchgym.search.java import import_pyserini
        jnius = import_pyserini("jnius")
        Unsafe = jnius.autoclass("sun.misc.Unsafe", include_protected=True, include_private=True)
        Unsafe.theUnsafe.putAddress(8, 8)  # a write to address 8: the JVM dies with SIGSEGV
    """)
    env = {**os.environ, "SEARCHGYM_CACHE": str(cache), "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0, proc.stderr[-2000:]
    assert not list(cwd.glob("hs_err_pid*.log"))
    logs = list((cache / "jvm-crash").glob("hs_err_pid*.log"))
    assert len(logs) == 1 and "SIGSEGV" in logs[0].read_text(errors="replace")
