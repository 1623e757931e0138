"""The ``Searcher`` protocol and the ``Hit`` record every search engine returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from searchgym.corpora.records import Document
from searchgym.errors import SearchgymError


class SearchError(SearchgymError, RuntimeError):
    """A searcher could not answer (an unreachable or misbehaving backend); never raised for query text.

    ``DeepSearchEnv.step`` turns any searcher failure into an observation; this class lets callers
    outside the env tell a backend fault from a bug.
    """


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked search result."""

    doc_id: str
    score: float
    title: str
    text: str


@runtime_checkable
class Searcher(Protocol):
    """A read-only search engine over one corpus.

    Queries come from an untrusted policy: any string (empty, huge, Lucene syntax, control
    characters, lone surrogates) must give a list of hits, possibly empty, and any ``doc_id`` a
    document or ``None``; an exception means the backend failed (:class:`SearchError`), never that
    the text was odd. Every searchgym searcher is safe to call from many threads at once.
    """

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """The top ``k`` hits for ``query``, best first."""
        ...

    def batch_search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """``search`` for each query, in order."""
        ...

    def doc(self, doc_id: str) -> Document | None:
        """The document with this id, or ``None`` when the corpus has none."""
        ...
