"""Grounding: does the cited evidence support a filled rubric? Exact (gold support ids) or by a judge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from searchgym.records.corpus import Document, Task
from searchgym.records.rubric import Rubric


@dataclass(frozen=True, slots=True)
class GroundingQuery:
    """Does ``evidence`` (cited documents the agent saw) fully support ``statement``?"""

    task: Task
    rubric: Rubric
    statement: str
    evidence: tuple[Document, ...]


@dataclass(frozen=True, slots=True)
class Grounding:
    """A verdict; ``doc_ids`` are the evidence documents it rests on."""

    supported: bool
    doc_ids: tuple[str, ...] = ()
    rationale: str = ""


@runtime_checkable
class Grounder(Protocol):
    """Decides, in a batch, whether cited evidence supports filled rubrics."""

    @property
    def name(self) -> str:
        """The grounder's name (read-only here, so frozen dataclasses implement it)."""
        ...

    def ground(self, queries: Sequence[GroundingQuery]) -> list[Grounding]: ...


@dataclass(frozen=True)
class GoldGrounder:
    """Exact grounding for gold-hop rubrics: supported iff an evidence id is a gold support id."""

    name: str = "gold"

    def ground(self, queries: Sequence[GroundingQuery]) -> list[Grounding]:
        out = []
        for q in queries:
            if not q.rubric.support:
                raise ValueError(f"rubric {q.rubric.text!r} has no gold support ids; ground it with a JudgeGrounder")
            hits = tuple(d.id for d in q.evidence if d.id in q.rubric.support)
            out.append(Grounding(bool(hits), hits, "cited gold evidence" if hits else "no cited document is gold evidence"))
        return out


@dataclass(frozen=True)
class JudgeGrounder:
    """Grounding by a ``searchgym.judges.base.Judge``: one ``support`` request per rubric.

    Supported iff the judge's score exceeds ``threshold`` (judges score in [-1, 1]). The evidence is
    the full text of the cited, seen documents. ``JudgeError`` propagates (the reward decides).
    """

    judge: Any
    threshold: float = 0.0
    principles: tuple[str, ...] = ()
    name: str = "judge"

    def ground(self, queries: Sequence[GroundingQuery]) -> list[Grounding]:
        from searchgym.judges.base import SUPPORT, JudgeRequest

        asked = [i for i, q in enumerate(queries) if q.evidence]
        requests = [JudgeRequest(kind=SUPPORT, question=queries[i].task.question, target=queries[i].statement,
                                 evidence=queries[i].evidence, principles=self.principles) for i in asked]
        verdicts = self.judge.judge(requests) if requests else []
        if len(verdicts) != len(requests):
            from searchgym.judges.base import JudgeError

            raise JudgeError(f"judge {getattr(self.judge, 'name', '?')} returned {len(verdicts)} verdicts for {len(requests)} requests")
        out = [Grounding(False, (), "no evidence")] * len(queries)
        for i, v in zip(asked, verdicts):
            ok = v.score > self.threshold
            out[i] = Grounding(ok, tuple(d.id for d in queries[i].evidence) if ok else (), v.rationale)
        return out


__all__ = ["GoldGrounder", "Grounder", "Grounding", "GroundingQuery", "JudgeGrounder"]
