"""Hybrid search: reciprocal-rank fusion of several searchers."""

from __future__ import annotations

from collections.abc import Sequence

from searchgym.corpora.records import Document
from searchgym.search.base import Hit, Searcher
from searchgym.sharing import SharedOnCopy


def rrf(rankings: Sequence[Sequence[Hit]], k: int = 60, weights: Sequence[float] | None = None) -> list[Hit]:
    """Fuse ranked lists: score(d) = sum_i w_i / (k + rank_i(d)), rank from 1; ties keep first-seen order."""
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError("one weight per ranking")
    scores: dict[str, float] = {}
    first: dict[str, Hit] = {}
    for ranking, w in zip(rankings, weights):
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.doc_id] = scores.get(hit.doc_id, 0.0) + w / (k + rank)
            first.setdefault(hit.doc_id, hit)
    order = sorted(scores, key=lambda d: -scores[d])  # stable sort: ties stay in first-seen order
    return [Hit(doc_id=d, score=scores[d], title=first[d].title, text=first[d].text) for d in order]


class HybridSearcher(SharedOnCopy):
    """Reciprocal-rank fusion (default k=60) of the top ``depth`` hits of each searcher.

    Thread safety: holds no mutable state of its own, so it is as safe as its searchers (every
    searchgym searcher is safe to call from many threads).
    """

    def __init__(self, searchers: Sequence[Searcher], *, weights: Sequence[float] | None = None,
                 rrf_k: int = 60, depth: int = 50) -> None:
        if not searchers:
            raise ValueError("HybridSearcher needs at least one searcher")
        if weights is not None and len(weights) != len(searchers):
            raise ValueError("one weight per searcher")
        self.searchers, self.weights, self.rrf_k, self.depth = list(searchers), weights, rrf_k, depth

    def batch_search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """Fused top ``k`` for each query."""
        if k <= 0:
            return [[] for _ in queries]
        depth = max(k, self.depth)
        per = [s.batch_search(queries, depth) for s in self.searchers]
        return [rrf([p[i] for p in per], self.rrf_k, self.weights)[:k] for i in range(len(queries))]

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """Fused top ``k``."""
        return self.batch_search([query], k)[0]

    def doc(self, doc_id: str) -> Document | None:
        """The document from the first searcher that has it."""
        for s in self.searchers:
            found = s.doc(doc_id)
            if found is not None:
                return found
        return None
