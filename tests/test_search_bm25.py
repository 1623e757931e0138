"""BM25Searcher on a real Lucene index: relevance, caching, crash safety, hostile queries."""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchgym.corpora.records import Document
from searchgym.search import build_searcher
from searchgym.search.bm25 import BM25Searcher, build_bm25_index, clean_query
from searchgym.search.cache import is_complete

WORDS = "river castle lantern copper violin meadow harbor glacier orchard falcon".split()


def corpus(n: int = 40, salt: str = "") -> list[Document]:
    return [Document(f"d{i}", f"Entry {i}", f"{WORDS[i % 10]} {WORDS[(i * 3) % 10]} unique{i}token{salt} "
                     f"shared words appear here") for i in range(n)]


@pytest.fixture(scope="session")
def bm25_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("bm25cache")


@pytest.fixture(scope="session")
def bm25(bm25_cache) -> BM25Searcher:
    return BM25Searcher(corpus(), cache_dir=bm25_cache, progress=False)


def test_unique_words_rank_their_passage_first(bm25):
    for i in (0, 7, 39):
        hits = bm25.search(f"unique{i}token shared", 5)
        assert hits[0].doc_id == f"d{i}"
        assert hits[0].title == f"Entry {i}" and hits[0].text.startswith(WORDS[i % 10])
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_doc_and_batch(bm25):
    assert bm25.doc("d3") == corpus()[3]
    assert bm25.doc("missing") is None and bm25.doc("") is None
    batch = bm25.batch_search(["unique1token", "", "unique2token"], 3)
    assert [b[0].doc_id if b else None for b in batch] == ["d1", None, "d2"]
    assert batch[0] == bm25.search("unique1token", 3)


def test_cache_reuse_and_invalidation(bm25, bm25_cache):
    start = time.perf_counter()
    path = build_bm25_index(corpus(), bm25_cache, progress=False)
    assert time.perf_counter() - start < 1.0  # reused: no JVM indexing run
    assert path == bm25.index_dir and is_complete(path)
    changed = corpus()
    changed[5] = Document("d5", "Entry 5", "a different text")
    assert build_bm25_index(changed, bm25_cache, progress=False) != path
    # k1/b are query-time settings: same index, different scores
    other = build_searcher("bm25:k1=1.5,b=0.9", corpus(), bm25_cache, progress=False)
    assert other.index_dir == path
    assert other.search("unique3token river", 1)[0].score != bm25.search("unique3token river", 1)[0].score


def test_partial_build_never_poisons_cache(tmp_path, monkeypatch):
    docs = corpus(10, salt="x")

    class Boom(Exception):
        pass

    def exploding(iterable):  # fail halfway through writing the collection
        for i, d in enumerate(iterable):
            if i == 5:
                raise Boom
            yield d

    with pytest.raises(Boom):
        build_bm25_index(exploding_seq(docs, exploding), tmp_path, progress=False, fingerprint="f" * 32)
    assert not any(p.name.startswith("bm25-") for p in tmp_path.iterdir())
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temp dir left
    path = build_bm25_index(docs, tmp_path, progress=False, fingerprint="f" * 32)
    assert is_complete(path)
    assert BM25Searcher(index_dir=path).search("unique3tokenx", 1)[0].doc_id == "d3"


class exploding_seq(list):
    def __init__(self, docs, wrap):
        super().__init__(docs)
        self._wrap = wrap

    def __iter__(self):
        return self._wrap(list.__iter__(self))


HOSTILE = ['title:"x" AND (a OR b)~2^3 \\', "*", "?", "", "   ", "\x00\x01\x7f", "\ud800 lone surrogate",
           "a" * 10_000, " ".join(f"w{i}" for i in range(3000)), "-" * 5000, "🦀 日本語 ﷽", "AND OR NOT",
           "\u200b\u202e"]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_never_crash(bm25, query):
    assert isinstance(bm25.search(query, 5), list)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300) | st.text(alphabet="\"'()[]{}~^*?:\\/+-!&| AND OR", max_size=60))
def test_any_text_gives_hits_or_empty(bm25, query):
    hits = bm25.search(query, 3)
    assert isinstance(hits, list) and all(h.doc_id.startswith("d") for h in hits)


def test_clean_query_caps_length_and_strips_controls():
    assert clean_query("a\x00b\nc") == "a b c"
    assert len(clean_query("word " * 5000)) <= 1000
    assert clean_query(None) == ""  # type: ignore[arg-type]


def test_java_snags_leave_environment_untouched(bm25):
    assert "OPENAI_API_KEY" not in os.environ or os.environ["OPENAI_API_KEY"] != "unused-placeholder-for-pyserini-import"


def test_java_missing_gives_clear_error(monkeypatch, tmp_path):
    from searchgym.search.java import JavaUnavailableError, java_binary

    monkeypatch.setenv("SEARCHGYM_JAVA_HOME", str(tmp_path))
    with pytest.raises(JavaUnavailableError, match="SEARCHGYM_JAVA_HOME"):
        java_binary()
    fake = tmp_path / "bin" / "java"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho \'openjdk version "17.0.2"\' >&2\n')
    fake.chmod(0o755)
    with pytest.raises(JavaUnavailableError, match="Java 17; pyserini needs Java 21"):
        java_binary()


def test_index_cli_builds_synthetic(tmp_path, capsys, bm25):
    from searchgym.cli.main import main

    spec = "synthetic:seed=3,passages=200,tasks=5"
    assert main(["index", "--corpus", spec, "--searcher", "bm25", "--cache-dir", str(tmp_path), "--query", "founded"]) == 0
    out = capsys.readouterr().out
    assert "200 documents" in out and "index ready" in out
    assert [p for p in tmp_path.iterdir() if p.name.startswith("bm25-") and is_complete(p)]


def test_bm25_served_over_http_from_many_threads(bm25):
    """Many connections at once, each answered through the micro-batcher and BM25's Lucene thread."""
    from concurrent.futures import ThreadPoolExecutor

    from searchgym.search.remote import RemoteSearcher
    from searchgym.search.server import RetrievalServer

    with RetrievalServer(bm25) as srv:
        def one(i: int):
            remote = RemoteSearcher(srv.url)  # own client: a new connection, a new server thread
            try:
                return remote.search(f"unique{i}token", 1)[0].doc_id, remote.doc(f"d{i}")
            finally:
                remote.close()

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(one, range(40)))
    assert results == [(f"d{i}", corpus()[i]) for i in range(40)]


def test_absurd_k_is_bounded(bm25):
    assert len(bm25.search("shared words", 10**9)) == 40
    assert bm25.search("shared", -1) == [] and bm25.batch_search(["shared"], 0) == [[]]
