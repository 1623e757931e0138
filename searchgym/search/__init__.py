"""Search engines over a corpus: BM25 (pyserini), dense (faiss), hybrid (RRF) and remote (HTTP).

``build_searcher(spec, documents, cache_dir=None)`` turns a spec string (``"bm25:k1=0.9,b=0.4"``,
``"dense"``, ``"remote:http://host:port"``...; see :mod:`searchgym.search.specs`) into a ``Searcher``.

Engines are imported only when built, so ``import searchgym.search`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from searchgym.search.base import Hit, SearchError, Searcher
from searchgym.search.specs import available_searchers, build_searcher, register_searcher

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


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)


__all__ = ["Hit", "SearchError", "Searcher", "available_searchers", "build_searcher", "register_searcher", *_LAZY]
