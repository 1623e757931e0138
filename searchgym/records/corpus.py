"""Plain records shared by every part of searchgym: documents, hops and tasks (frozen: copies share them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from searchgym.sharing import SharedOnCopy


@dataclass(frozen=True, slots=True)
class Document(SharedOnCopy):
    """One passage of a corpus. ``id`` is what the agent opens and cites."""

    id: str
    title: str
    text: str

    @property
    def contents(self) -> str:
        """Title and text as one string, the pyserini ``contents`` convention."""
        return f"{self.title}\n{self.text}" if self.title else self.text


@dataclass(frozen=True, slots=True)
class Hop(SharedOnCopy):
    """One single-hop sub-question of a multi-hop task.

    ``answer`` is the hidden (intermediate) entity the hop resolves to; ``aliases`` are other accepted
    surface forms of it; ``support`` holds the ids of the documents that state the fact.
    """

    question: str
    answer: str
    aliases: tuple[str, ...] = ()
    support: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """Every accepted surface form of the hop's entity, canonical first."""
        return (self.answer, *(a for a in self.aliases if a != self.answer))


@dataclass(frozen=True, slots=True)
class Task(SharedOnCopy):
    """A question with every accepted answer and its gold decomposition.

    ``answers[0]`` is the canonical answer; the rest are aliases. ``hops`` is ordered: the last hop's
    entity is the answer for chains; comparison and intersection tasks say so in ``kind``.
    """

    id: str
    question: str
    answers: tuple[str, ...]
    hops: tuple[Hop, ...] = ()
    source: str = ""
    kind: str = "chain"
    metadata: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.answers:
            raise ValueError(f"task {self.id!r} has no accepted answer")
        if not self.question.strip():
            raise ValueError(f"task {self.id!r} has an empty question")

    @property
    def answer(self) -> str:
        return self.answers[0]

    @property
    def support_ids(self) -> tuple[str, ...]:
        """Ids of every gold supporting document, in hop order, without repeats."""
        return tuple(dict.fromkeys(doc_id for hop in self.hops for doc_id in hop.support))
