"""Searcher specs: ``build_searcher(spec, documents)`` over the registry of search engines.

``bm25``, ``bm25s``, ``dense``, ``hybrid``, ``remote:<url>`` or a registered engine. See docs/search.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from searchgym.corpora.records import Document
from searchgym.registry import Registry
from searchgym.search.base import Searcher

SEARCHERS: Registry[Searcher] = Registry("searcher", "searchgym.searchers")
SEARCHER_HELP = "bm25[:k1=..,b=..] (Lucene) | bm25s (no Java) | dense[:encoder] | hybrid | remote:http://host:port"


def register_searcher(name: str, factory: Callable[..., Searcher], **grammar: Any) -> None:
    """Register ``factory(arg, documents=, cache_dir=, progress=, **options) -> Searcher`` under ``name``."""
    SEARCHERS.register(name, factory, **grammar)


def available_searchers() -> list[str]:
    """Names of built-in, registered and entry-point searchers."""
    return SEARCHERS.names()


def _number(kind: str, key: str, raw: str, cast: Callable[[str], Any]) -> Any:
    try:
        return cast(raw)
    except ValueError:
        raise ValueError(f"{kind} option {key}={raw!r} is not a {cast.__name__}") from None


def _bm25_options(kind: str, options: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {key: _number(kind, key, options[key], float) for key in ("k1", "b") if key in options}
    if "threads" in options:
        out["threads"] = _number(kind, "threads", options["threads"], int)
    if "language" in options:
        out["language"] = options["language"]
    return out


def _needs(documents: Sequence[Document] | None, name: str) -> Sequence[Document]:
    if documents is None:
        raise ValueError(f"searcher {name!r} needs documents")
    return documents


def _bm25(arg: str | None, documents: Sequence[Document] | None = None, cache_dir: Path | None = None,
          progress: bool = True, **options: str) -> Searcher:
    from searchgym.search.bm25 import BM25Searcher

    return BM25Searcher(_needs(documents, "bm25"), cache_dir=cache_dir, progress=progress,
                        **_bm25_options("bm25", options))


def _bm25s(arg: str | None, documents: Sequence[Document] | None = None, cache_dir: Path | None = None,
           progress: bool = True, **options: str) -> Searcher:
    from searchgym.search.bm25s_searcher import BM25sSearcher

    return BM25sSearcher(_needs(documents, "bm25s"), cache_dir=cache_dir, progress=progress,
                         **_bm25_options("bm25s", options))


def _dense(arg: str | None, documents: Sequence[Document] | None = None, cache_dir: Path | None = None,
           progress: bool = True) -> Searcher:
    from searchgym.search.dense import DenseSearcher

    return DenseSearcher(_needs(documents, "dense"), arg, cache_dir=cache_dir, progress=progress)


def _hybrid(arg: str | None, documents: Sequence[Document] | None = None, cache_dir: Path | None = None,
            progress: bool = True) -> Searcher:
    from searchgym.search.bm25 import BM25Searcher
    from searchgym.search.dense import DenseSearcher
    from searchgym.search.hybrid import HybridSearcher

    documents = _needs(documents, "hybrid")
    return HybridSearcher([BM25Searcher(documents, cache_dir=cache_dir, progress=progress),
                           DenseSearcher(documents, arg, cache_dir=cache_dir, progress=progress)])


def _remote(arg: str | None, documents: Sequence[Document] | None = None, cache_dir: Path | None = None,
            progress: bool = True) -> Searcher:
    from searchgym.search.remote import RemoteSearcher

    if not arg or not arg.startswith(("http://", "https://")):
        raise ValueError(f"remote spec needs a URL: 'remote:http://host:port', got 'remote:{arg or ''}'")
    return RemoteSearcher(arg)


SEARCHERS.register("bm25", _bm25, options=("k1", "b", "language", "threads"), arg="none")
SEARCHERS.register("bm25s", _bm25s, options=("k1", "b"), arg="none")
SEARCHERS.register("dense", _dense)
SEARCHERS.register("hybrid", _hybrid)
SEARCHERS.register("remote", _remote)


def build_searcher(spec: str, documents: Sequence[Document] | None = None, cache_dir: Path | None = None,
                   *, progress: bool = True) -> Searcher:
    """Build the searcher a spec names over ``documents`` (indexes cached under ``cache_dir``)."""
    searcher = SEARCHERS.build(spec, documents=documents, cache_dir=cache_dir, progress=progress)
    if not all(callable(getattr(searcher, m, None)) for m in ("search", "doc")):
        raise TypeError(f"searcher {spec!r} built a {type(searcher).__name__}, which is not a Searcher")
    return searcher


__all__ = ["SEARCHERS", "SEARCHER_HELP", "available_searchers", "build_searcher", "register_searcher"]
