"""BM25sSearcher (bm25s, no JVM): relevance, agreement with Lucene, caching, threads, hostile queries."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("bm25s")

from searchgym.corpora.records import Document  # noqa: E402
from searchgym.search import build_searcher  # noqa: E402
from searchgym.search.bm25s_searcher import Analyzer, BM25sSearcher, build_bm25s_index  # noqa: E402
from searchgym.search.cache import is_complete  # noqa: E402

WORDS = "river castle lantern copper violin meadow harbor glacier orchard falcon".split()


def corpus(n: int = 40, salt: str = "") -> list[Document]:
    return [Document(f"d{i}", f"Entry {i}", f"{WORDS[i % 10]} {WORDS[(i * 3) % 10]} unique{i}token{salt} "
                     f"shared words appear here") for i in range(n)]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("bm25scache")


@pytest.fixture(scope="module")
def engine(cache) -> BM25sSearcher:
    return BM25sSearcher(corpus(), cache_dir=cache, progress=False)


def test_unique_words_rank_their_passage_first(engine):
    for i in (0, 7, 39):
        hits = engine.search(f"unique{i}token shared", 5)
        assert hits[0].doc_id == f"d{i}"
        assert hits[0].title == f"Entry {i}" and hits[0].text.startswith(WORDS[i % 10])
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_ties_break_by_corpus_order_and_k_is_bounded(engine):
    hits = engine.search("shared words", 10**9)  # every doc ties on these terms
    assert [h.doc_id for h in hits] == [f"d{i}" for i in range(40)]
    assert engine.search("shared", -1) == [] and engine.batch_search(["shared"], 0) == [[]]


def test_analyzer_matches_lucene_english():
    analyze = Analyzer()
    assert analyze("The Castle's RIVERS are running, and the falcons flew.") == ["castl", "river", "run", "falcon",
                                                                                 "flew"]


def test_doc_and_batch(engine):
    assert engine.doc("d3") == corpus()[3]
    assert engine.doc("missing") is None and engine.doc("") is None and engine.doc(None) is None  # type: ignore
    batch = engine.batch_search(["unique1token", "", "unique2token"], 3)
    assert [b[0].doc_id if b else None for b in batch] == ["d1", None, "d2"]
    assert batch[0] == engine.search("unique1token", 3)


def test_cache_reuse_invalidation_and_settings(engine, cache):
    start = time.perf_counter()
    path = build_bm25s_index(corpus(), cache, progress=False)
    assert time.perf_counter() - start < 1.0 and path == engine.index_dir and is_complete(path)
    changed = corpus()
    changed[5] = Document("d5", "Entry 5", "a different text")
    assert build_bm25s_index(changed, cache, progress=False) != path
    other = build_searcher("bm25s:k1=1.5,b=0.9", corpus(), cache, progress=False)
    assert isinstance(other, BM25sSearcher) and other.index_dir != path  # k1/b are baked into the scores
    assert other.search("unique3token river", 1)[0].score != engine.search("unique3token river", 1)[0].score
    # the cached index alone (no documents in memory) serves search and doc
    alone = BM25sSearcher(index_dir=path)
    assert alone.search("unique9token", 1) == engine.search("unique9token", 1) and alone.doc("d9") == corpus()[9]
    with pytest.raises(ValueError, match="k1 and b"):
        build_searcher("bm25s:threads=2", corpus(), cache)


def test_empty_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="at least one document"):
        BM25sSearcher([], cache_dir=tmp_path)


def test_agrees_with_lucene_on_the_synthetic_world(tmp_path):
    pytest.importorskip("pyserini")
    from searchgym.corpora import load_taskset

    taskset = load_taskset("synthetic:seed=1,passages=300,tasks=20,hops=2")
    ours = build_searcher("bm25s", taskset.documents, tmp_path, progress=False)
    lucene = build_searcher("bm25", taskset.documents, tmp_path, progress=False)
    queries = [t.question for t in taskset.tasks] + [h.question for t in taskset.tasks for h in t.hops]
    overlap, top1 = [], 0
    for q in queries:
        a, b = ours.search(q, 10), lucene.search(q, 10)
        overlap.append(len({h.doc_id for h in a} & {h.doc_id for h in b}) / max(1, len(b)))
        top1 += bool(a and b and a[0].doc_id == b[0].doc_id)
        if a and b:
            assert a[0].score == pytest.approx(b[0].score, rel=0.02)  # same BM25 variant, same k1/b
    assert sum(overlap) / len(overlap) >= 0.9 and top1 >= 0.95 * len(queries)


def test_many_threads_get_the_serial_answers(engine):
    queries = [f"unique{i}token {WORDS[i % 10]}" for i in range(40)] * 5
    serial = [engine.search(q, 3) for q in queries]
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(lambda q: engine.search(q, 3), queries)) == serial


HOSTILE = ['title:"x" AND (a OR b)~2^3 \\', "*", "?", "", "   ", "\x00\x01\x7f", "\ud800 lone surrogate",
           "a" * 10_000, " ".join(f"w{i}" for i in range(3000)), "-" * 5000, "🦀 日本語 ﷽", "AND OR NOT",
           "\u200b\u202e", "the and of"]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_never_crash(engine, query):
    assert isinstance(engine.search(query, 5), list)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300) | st.text(alphabet="\"'()[]{}~^*?:\\/+-!&| AND OR", max_size=60))
def test_any_text_gives_hits_or_empty(engine, query):
    hits = engine.search(query, 3)
    assert isinstance(hits, list) and all(h.doc_id.startswith("d") for h in hits)
