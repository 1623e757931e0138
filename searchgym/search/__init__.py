"""Search engines over a corpus: BM25 (pyserini), dense (faiss), hybrid (RRF) and remote (HTTP).

``build_searcher(spec, documents, cache_dir=None)`` turns a spec string (``"bm25:k1=0.9,b=0.4"``,
``"dense"``, ``"remote:http://host:port"``...; see :mod:`searchgym.search.specs`) into a ``Searcher``.

Engines are imported only when built, so ``import searchgym.search`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from searchgym._lazy import lazy_exports
from searchgym.search.base import Hit, Searcher, SearchError
from searchgym.search.specs import available_searchers, build_searcher, register_searcher

if TYPE_CHECKING:
    from searchgym.search.bm25 import BM25Searcher
    from searchgym.search.bm25s_searcher import BM25sSearcher
    from searchgym.search.dense import DenseSearcher
    from searchgym.search.encoders import TransformerEncoder
    from searchgym.search.hybrid import HybridSearcher, rrf
    from searchgym.search.java import JavaUnavailableError
    from searchgym.search.remote import RemoteSearcher
    from searchgym.search.server import RetrievalServer

_LAZY = {
    "BM25Searcher": "searchgym.search.bm25",
    "BM25sSearcher": "searchgym.search.bm25s_searcher",
    "DenseSearcher": "searchgym.search.dense",
    "HybridSearcher": "searchgym.search.hybrid",
    "RemoteSearcher": "searchgym.search.remote",
    "RetrievalServer": "searchgym.search.server",
    "TransformerEncoder": "searchgym.search.encoders",
    "JavaUnavailableError": "searchgym.search.java",
    "rrf": "searchgym.search.hybrid",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = ["BM25Searcher", "BM25sSearcher", "DenseSearcher", "Hit", "HybridSearcher", "JavaUnavailableError",
           "RemoteSearcher", "RetrievalServer", "SearchError", "Searcher", "TransformerEncoder", "available_searchers",
           "build_searcher", "register_searcher", "rrf"]
