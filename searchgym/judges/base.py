"""The ``Judge`` protocol and its request/verdict records.

A request is structured (not a pre-rendered prompt) so that the deterministic ``rules`` backend can
judge it without a model, and model backends render it with ``searchgym.judges.prompts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from searchgym.corpora.records import Document, Task
from searchgym.errors import SearchgymError
from searchgym.grammar import kind_of


class RequestKind(StrEnum):
    """What a request asks the judge to assess. A ``str``: ``RequestKind.QUERY == "query"``."""

    THINK = "think"        # a reasoning span, in context
    QUERY = "query"        # a search query, in context
    OPEN = "open"          # opening a document (``target`` is its id), in context
    ANSWER = "answer"      # a final answer against the reference answer
    SUPPORT = "support"    # does the evidence fully support the statement in ``target``?


THINK = RequestKind.THINK
QUERY = RequestKind.QUERY
OPEN = RequestKind.OPEN
ANSWER = RequestKind.ANSWER
SUPPORT = RequestKind.SUPPORT
REQUEST_KINDS = tuple(RequestKind)


@dataclass(frozen=True, slots=True)
class JudgeRequest:
    """One thing to judge, with only what the agent had BEFORE the judged step.

    ``context`` holds the earlier turns (agent text and observations) in order; ``evidence`` the
    documents shown before the step (the most recent ones; prompts are bounded). The last three fields
    are privileged and never rendered into a model prompt: ``seen_ids`` (every document id shown before
    the step), ``task`` (the task with its gold hops) and ``outcome`` (the ids the judged action brought
    into view). Only judges that measure a step's *effect* with gold data read them (``gold``).
    """

    kind: RequestKind
    question: str
    target: str
    context: tuple[str, ...] = ()
    evidence: tuple[Document, ...] = ()
    reference: str | None = None
    principles: tuple[str, ...] = ()
    seen_ids: frozenset[str] = frozenset()
    task: Task | None = None
    outcome: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", kind_of(RequestKind, self.kind, "judge request kind"))


@dataclass(frozen=True, slots=True)
class Judgment:
    """A verdict. ``score`` is in [-1, 1] (SLATE's ternary scale uses -1, 0, +1)."""

    score: float
    rationale: str = ""
    raw: str = ""
    cached: bool = False
    metadata: tuple[tuple[str, str], ...] = field(default=())


class JudgeError(SearchgymError, RuntimeError):
    """A judge could not produce a verdict after its retries. No score is ever invented."""


@runtime_checkable
class Judge(Protocol):
    """Scores requests in batches; ``ajudge`` is the async twin of ``judge``."""

    name: str

    def judge(self, requests: Sequence[JudgeRequest]) -> list[Judgment]: ...

    async def ajudge(self, requests: Sequence[JudgeRequest]) -> list[Judgment]: ...
