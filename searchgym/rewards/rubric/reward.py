"""The rewards: CaRR's rubric reward (identify, ground, connect, times citation precision) and citation validity."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from searchgym.grammar import placeholder
from searchgym.records.corpus import Task
from searchgym.records.episode import Trajectory
from searchgym.records.rubric import Rubric
from searchgym.rewards.base import RewardResult
from searchgym.rewards.rubric.citations import check_citations
from searchgym.rewards.rubric.connect import connected_rubrics
from searchgym.rewards.rubric.generation import rubrics_from_task
from searchgym.rewards.rubric.grounding import GoldGrounder, Grounder, GroundingQuery
from searchgym.rewards.rubric.identify import entity_names, identify

RubricSource = Callable[[Task], Sequence[Rubric]]


@dataclass
class CitationRubricReward:
    """CaRR's rubric reward R_rubric (see module doc) with per-rubric details.

    ``rubrics``: where a task's rubrics come from (default ``rubrics_from_task``; a judge-backed
    generator can be plugged in). ``grounder``: for rubrics without gold support ids (required only
    when such rubrics occur). ``on_judge_error``: ``"raise"`` or ``"skip"`` (the result is then
    ``scored=False`` with value NaN; no score is invented).
    """

    rubrics: RubricSource = rubrics_from_task
    grounder: Grounder | None = None
    scope: str = "trajectory"
    citation_precision: bool = True
    answer_match: str = "exact"
    on_judge_error: str = "raise"
    name: str = "rubric"
    _gold: GoldGrounder = field(default_factory=GoldGrounder, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.scope not in ("trajectory", "final"):
            raise ValueError(f"scope must be 'trajectory' or 'final', got {self.scope!r}")
        if self.answer_match not in ("exact", "contains"):
            raise ValueError(f"answer_match must be 'exact' or 'contains', got {self.answer_match!r}")
        if self.on_judge_error not in ("raise", "skip"):
            raise ValueError(f"on_judge_error must be 'raise' or 'skip', got {self.on_judge_error!r}")

    def __call__(self, trajectory: Trajectory) -> RewardResult:
        task = trajectory.task
        rubrics = tuple(self.rubrics(task))
        valid, rejected = check_citations(trajectory, self.scope)
        citations = {"valid": list(valid), "rejected": rejected}
        if not rubrics:
            comps = {"rubric": 0.0, "n_rubrics": 0.0, "n_identified": 0.0, "n_supported": 0.0, "n_connected": 0.0,
                     "n_citations_valid": float(len(valid)), "n_citations_rejected": float(len(rejected))}
            return RewardResult(0.0, comps, {"reason": "no rubrics for this task", "citations": citations})
        unsupported = [r.text for r in rubrics if not r.support]
        if unsupported and self.grounder is None:
            # checked up front so the error does not depend on what the agent happened to do
            raise ValueError(f"task {task.id!r}: rubric(s) {unsupported} have no gold support ids and no grounder was "
                             "given; pass CitationRubricReward(grounder=JudgeGrounder(judge))")
        names = entity_names(task, rubrics)
        values = identify(trajectory, names, scope=self.scope, answer_match=self.answer_match)
        docs = trajectory.seen_by_id
        evidence = tuple(docs[d] for d in valid)

        rows: list[dict[str, Any]] = []
        gold_q: list[tuple[int, GroundingQuery]] = []
        judge_q: list[tuple[int, GroundingQuery]] = []
        for i, r in enumerate(rubrics):
            ents = r.entities
            ident = {e: values.get(e) for e in ents}
            row = {"index": i, "hop": r.hop, "rubric": r.text, "entities": list(ents), "identified": ident,
                   "all_identified": all(ident.values()), "filled": r.fill(values), "supported": False,
                   "grounded_by": [], "connected": False, "score": 0, "reason": ""}
            rows.append(row)
            if not row["all_identified"]:
                row["reason"] = "not identified: " + ", ".join(placeholder(e) for e, v in ident.items() if not v)
            elif not evidence:
                row["reason"] = "no valid citation"
            else:
                q = GroundingQuery(task, r, row["filled"], evidence)
                (gold_q if r.support else judge_q).append((i, q))

        verdicts = list(zip([i for i, _ in gold_q], self._gold.ground([q for _, q in gold_q])))
        if judge_q:
            from searchgym.judges.base import JudgeError

            try:
                verdicts += list(zip([i for i, _ in judge_q], self.grounder.ground([q for _, q in judge_q])))  # type: ignore[union-attr]
            except JudgeError as exc:
                if self.on_judge_error == "raise":
                    raise
                return RewardResult(math.nan, {"n_rubrics": float(len(rubrics))},
                                    {"reason": f"judge failed: {exc}", "rubrics": rows, "citations": citations}, scored=False)
        for i, g in verdicts:
            rows[i]["supported"] = g.supported
            rows[i]["grounded_by"] = list(g.doc_ids)
            rows[i]["reason"] = g.rationale

        reached = connected_rubrics([r.entities for r in rubrics], [row["supported"] for row in rows])
        for i in reached:
            rows[i]["connected"] = True
            rows[i]["score"] = 1
        for row in rows:
            if row["supported"] and not row["connected"]:
                row["reason"] = "supported but not connected to <E0>"
        n = len(rubrics)
        coverage = len(reached) / n
        # citation precision: cited documents that ground no supported rubric dilute the reward, so citing
        # everything seen never pays (an unseen or too-early citation counts against it too)
        grounding = {d for r in rubrics for d in r.support} | {d for row in rows if row["supported"]
                                                                for d in row["grounded_by"]}
        cited = len(valid) + len(rejected)
        precision = sum(1 for d in valid if d in grounding) / cited if cited else 0.0
        value = coverage * precision if self.citation_precision else coverage
        comps = {"rubric": value, "coverage": coverage, "citation_precision": precision, "n_rubrics": float(n),
                 "n_identified": float(sum(1 for row in rows if row["all_identified"])),
                 "n_supported": float(sum(1 for row in rows if row["supported"])),
                 "n_connected": float(len(reached)),
                 "n_citations_valid": float(len(valid)), "n_citations_rejected": float(len(rejected))}
        return RewardResult(value, comps, {"rubrics": rows, "entities": values, "citations": citations})


@dataclass(frozen=True)
class CitationValidityReward:
    """A bottom-line check: 1.0 when every citation is valid (seen before it was cited) and, with
    ``require_citation``, there is at least one; else 0.0. Meant as a ``Gated`` gate."""

    require_citation: bool = True
    scope: str = "trajectory"
    name: str = "citation_validity"

    def __call__(self, trajectory: Trajectory) -> RewardResult:
        valid, rejected = check_citations(trajectory, self.scope)
        ok = not rejected and (bool(valid) or not self.require_citation)
        comps = {"n_valid": float(len(valid)), "n_rejected": float(len(rejected))}
        return RewardResult(float(ok), comps, {"valid": list(valid), "rejected": rejected})


__all__ = ["CitationRubricReward", "CitationValidityReward", "RubricSource"]
