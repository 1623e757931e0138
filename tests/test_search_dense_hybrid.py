"""DenseSearcher (real MiniLM + faiss), RRF fusion and HybridSearcher."""

from __future__ import annotations

import pytest

from searchgym.corpora.records import Document
from searchgym.search.base import Hit
from searchgym.search.hybrid import HybridSearcher, rrf

DOCS = [
    Document("cat", "Cats", "The domestic cat is a small furry carnivorous mammal kept as a pet."),
    Document("rocket", "Rockets", "A rocket engine expels exhaust to produce thrust for spaceflight."),
    Document("bread", "Bread", "Bread is baked from a dough of flour and water, often with yeast."),
    Document("violin", "Violin", "The violin is a wooden string instrument played with a bow."),
    Document("volcano", "Volcano", "A volcano erupts molten lava and ash from the earth's crust."),
]


@pytest.fixture(scope="session")
def encoder():
    from searchgym.search.encoders import TransformerEncoder

    return TransformerEncoder()


@pytest.fixture(scope="session")
def dense(encoder, tmp_path_factory):
    from searchgym.search.dense import DenseSearcher

    return DenseSearcher(DOCS, encoder, cache_dir=tmp_path_factory.mktemp("dense"), progress=False)


def test_encoder_normalised(encoder):
    import numpy as np

    emb = encoder.encode(["hello world", "", "x" * 5000])
    assert emb.shape == (3, 384)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-4)


def test_dense_semantic_match(dense):
    assert dense.search("kitten pet animal", 1)[0].doc_id == "cat"
    assert dense.search("baking with yeast", 2)[0].doc_id == "bread"
    assert dense.search("", 3) == [] and dense.search("x", 0) == []
    assert dense.doc("violin") == DOCS[3] and dense.doc("nope") is None
    assert len(dense.search("music", 50)) == len(DOCS)
    assert isinstance(dense.search("\ud800\x00" + "z" * 10_000, 2), list)


def test_dense_embeddings_cached(dense, encoder):
    from searchgym.search.dense import DenseSearcher

    mtime = dense.embeddings_path.stat().st_mtime_ns
    again = DenseSearcher(DOCS, encoder, cache_dir=dense.embeddings_path.parent, progress=False)
    assert again.embeddings_path == dense.embeddings_path and dense.embeddings_path.stat().st_mtime_ns == mtime
    changed = DenseSearcher(DOCS[:4], encoder, cache_dir=dense.embeddings_path.parent, progress=False)
    assert changed.embeddings_path != dense.embeddings_path


def test_dense_hnsw_above_threshold(encoder, tmp_path):
    import faiss

    from searchgym.search.dense import DenseSearcher

    s = DenseSearcher(DOCS, encoder, cache_dir=tmp_path, hnsw_threshold=2, progress=False)
    assert isinstance(s.index, faiss.IndexHNSWFlat)
    assert s.search("lava eruption", 1)[0].doc_id == "volcano"


def h(doc_id: str) -> Hit:
    return Hit(doc_id, 0.0, doc_id.upper(), "")


def test_rrf_known_rankings():
    fused = rrf([[h("a"), h("b"), h("c")], [h("c"), h("a"), h("d")]], k=60)
    expected = {"a": 1 / 61 + 1 / 62, "b": 1 / 62, "c": 1 / 63 + 1 / 61, "d": 1 / 63}
    assert [x.doc_id for x in fused] == ["a", "c", "b", "d"]
    assert all(x.score == pytest.approx(expected[x.doc_id]) for x in fused)
    weighted = rrf([[h("a")], [h("b")]], k=0, weights=[1.0, 3.0])
    assert [x.doc_id for x in weighted] == ["b", "a"] and weighted[0].score == pytest.approx(3.0)
    with pytest.raises(ValueError):
        rrf([[h("a")]], weights=[1, 2])


class Fixed:
    def __init__(self, order):
        self.order = order

    def batch_search(self, queries, k=10):
        return [[h(d) for d in self.order[:k]] for _ in queries]

    def search(self, query, k=10):
        return self.batch_search([query], k)[0]

    def doc(self, doc_id):
        return Document(doc_id, "", "") if doc_id in self.order else None


def test_hybrid_searcher_fuses_and_finds_docs(dense):
    hybrid = HybridSearcher([Fixed(["x", "y", "z"]), Fixed(["y", "z", "w"])])
    assert [x.doc_id for x in hybrid.search("q", 2)] == ["y", "z"]
    assert hybrid.doc("w").id == "w" and hybrid.doc("none") is None
    real = HybridSearcher([dense, Fixed(["rocket"])])
    assert real.search("thrust for spaceflight", 1)[0].doc_id == "rocket"
