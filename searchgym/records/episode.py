"""Records of an episode: one parsed agent turn (``Step``) and the episode so far (``Trajectory``)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from searchgym.grammar import ActionKind, kind_of, reasoning_of
from searchgym.records.corpus import Document, Task

# Step kinds (``ActionKind`` is a ``str`` enum, so ``step.kind == "search"`` holds). ``invalid`` is a
# turn the parser or the env rejected; it is recorded, never raised.
StepKind = ActionKind
SEARCH = ActionKind.SEARCH
OPEN = ActionKind.OPEN
ANSWER = ActionKind.ANSWER
INVALID = ActionKind.INVALID
STEP_KINDS = tuple(ActionKind)


@dataclass(frozen=True, slots=True)
class Step:
    """One agent turn, parsed, with what the environment answered.

    ``reasoning`` is the turn's text without its action and think tags, as the parser found it; left
    out (``None``) it is derived from ``text`` by the same grammar, so it is always a string.
    """

    text: str
    kind: ActionKind
    query: str | None = None
    doc_id: str | None = None
    answer: str | None = None
    citations: tuple[str, ...] = ()
    observation: str = ""
    hits: tuple[str, ...] = ()
    error: str | None = None
    reasoning: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", kind_of(ActionKind, self.kind, "step kind"))
        if self.reasoning is None:
            object.__setattr__(self, "reasoning", reasoning_of(self.text) if isinstance(self.text, str) else "")

    @property
    def valid(self) -> bool:
        return self.kind != INVALID


@dataclass(frozen=True, slots=True)
class Trajectory:
    """The episode so far. Immutable, so snapshots and forks share it freely.

    ``seen`` holds every document the agent was shown (search results and opened documents), in
    order of first sight; only these may earn citation credit.
    """

    task: Task
    steps: tuple[Step, ...] = ()
    seen: tuple[Document, ...] = ()

    def extend(self, step: Step, newly_seen: tuple[Document, ...] = ()) -> Trajectory:
        known = self.seen_ids
        fresh = tuple(d for d in newly_seen if d.id not in known)
        return replace(self, steps=self.steps + (step,), seen=self.seen + fresh)

    def shown_by(self, step: Step) -> tuple[str, ...]:
        """Ids a step brought into view: its search hits, or the document it opened."""
        if step.kind == SEARCH:
            return step.hits
        return (step.doc_id,) if step.kind == OPEN and step.doc_id else ()

    def prefix(self, n: int) -> Trajectory:
        """The episode as it stood after its first ``n`` steps, with only the documents seen by then.

        Documents no step accounts for (shown by other means) count as seen from the start.
        """
        if not 0 <= n <= len(self.steps):
            raise ValueError(f"prefix length {n} is outside 0..{len(self.steps)}")
        if n == len(self.steps):
            return self
        later = {i for s in self.steps[n:] for i in self.shown_by(s)}
        earlier = {i for s in self.steps[:n] for i in self.shown_by(s)}
        seen = tuple(d for d in self.seen if d.id in earlier or d.id not in later)
        return replace(self, steps=self.steps[:n], seen=seen)

    @property
    def seen_ids(self) -> frozenset[str]:
        return frozenset(d.id for d in self.seen)

    @property
    def seen_by_id(self) -> dict[str, Document]:
        return {d.id: d for d in self.seen}

    @property
    def retrieved_ids(self) -> tuple[str, ...]:
        """Ids surfaced by searches, in order, without repeats."""
        return tuple(dict.fromkeys(i for s in self.steps if s.kind == SEARCH for i in s.hits))

    @property
    def opened_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.doc_id for s in self.steps if s.kind == OPEN and s.doc_id and s.valid))

    @property
    def cited_ids(self) -> tuple[str, ...]:
        """Ids cited anywhere in the agent's valid turns, in order, without repeats."""
        return tuple(dict.fromkeys(c for s in self.steps for c in s.citations))

    @property
    def final_step(self) -> Step | None:
        return self.steps[-1] if self.steps and self.steps[-1].kind == ANSWER else None

    @property
    def final_answer(self) -> str | None:
        step = self.final_step
        return step.answer if step else None

    @property
    def num_searches(self) -> int:
        return sum(1 for s in self.steps if s.kind == SEARCH)

    @property
    def num_invalid(self) -> int:
        return sum(1 for s in self.steps if s.kind == INVALID)
