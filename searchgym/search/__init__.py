"""Search engines over a corpus: BM25 (pyserini), dense (faiss), hybrid (RRF) and remote (HTTP).

``build_searcher(spec, documents, cache_dir=None)`` turns a spec string into a ``Searcher``:

* ``"bm25"`` or ``"bm25:k1=0.9,b=0.4"`` (also ``language=``, ``threads=``)
* ``"bm25s"`` or ``"bm25s:k1=0.9,b=0.4"`` (BM25 on the ``bm25s`` library: no JVM)
* ``"dense"`` (all-MiniLM-L6-v2, offline) or ``"dense:<encoder path or hub id>"``
* ``"hybrid"`` (RRF of bm25 and dense) or ``"hybrid:<encoder>"``
* ``"remote:http://host:port"`` (a Search-R1 / FlashRAG style retrieval server)

Engines are imported only when built, so ``import searchgym.search`` stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from searchgym._lazy import lazy_exports
from searchgym.corpora.records import Document
from searchgym.search.base import Hit, SearchError, Searcher

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


def _bm25_options(arg: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in arg.split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"bm25 option {part!r} is not key=value")
        if key in ("k1", "b"):
            options[key] = float(value)
        elif key == "threads":
            options[key] = int(value)
        elif key == "language":
            options[key] = value
        else:
            raise ValueError(f"unknown bm25 option {key!r} (known: k1, b, language, threads)")
    return options


def build_searcher(spec: str, documents: Sequence[Document] | None = None, cache_dir: Path | None = None,
                   *, progress: bool = True) -> Searcher:
    """Build the searcher a spec names over ``documents`` (indexes cached under ``cache_dir``)."""
    kind, _, arg = spec.strip().partition(":")
    kind = kind.lower()
    if kind == "remote":
        from searchgym.search.remote import RemoteSearcher

        if not arg.startswith(("http://", "https://")):
            raise ValueError(f"remote spec needs a URL: 'remote:http://host:port', got {spec!r}")
        return RemoteSearcher(arg)
    if documents is None:
        raise ValueError(f"searcher {spec!r} needs documents")
    if kind == "bm25":
        from searchgym.search.bm25 import BM25Searcher

        return BM25Searcher(documents, cache_dir=cache_dir, progress=progress, **_bm25_options(arg))
    if kind == "bm25s":
        from searchgym.search.bm25s_searcher import BM25sSearcher

        options = _bm25_options(arg)
        if set(options) - {"k1", "b"}:
            raise ValueError(f"bm25s takes only k1 and b, got {spec!r}")
        return BM25sSearcher(documents, cache_dir=cache_dir, progress=progress, **options)
    if kind == "dense":
        from searchgym.search.dense import DenseSearcher

        return DenseSearcher(documents, arg or None, cache_dir=cache_dir, progress=progress)
    if kind == "hybrid":
        from searchgym.search.bm25 import BM25Searcher
        from searchgym.search.dense import DenseSearcher
        from searchgym.search.hybrid import HybridSearcher

        return HybridSearcher([BM25Searcher(documents, cache_dir=cache_dir, progress=progress),
                               DenseSearcher(documents, arg or None, cache_dir=cache_dir, progress=progress)])
    raise ValueError(f"unknown searcher spec {spec!r}: use bm25[:k1=..,b=..], bm25s[:k1=..,b=..], dense[:encoder], hybrid, "
                     "or remote:http://host:port")


__all__ = ["BM25Searcher", "BM25sSearcher", "DenseSearcher", "Hit", "HybridSearcher", "JavaUnavailableError",
           "RemoteSearcher", "RetrievalServer", "SearchError", "Searcher", "TransformerEncoder", "build_searcher",
           "rrf"]
