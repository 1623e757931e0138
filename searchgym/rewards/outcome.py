"""Outcome rewards: exact match and token F1 against every accepted alias, and a format reward.

The metrics live in the leaf :mod:`searchgym.text`. See docs/rewards.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from searchgym.grammar import strip_citations
from searchgym.records.episode import Trajectory
from searchgym.rewards.base import RewardResult
from searchgym.text import exact_match, f1_score, normalize_answer


@dataclass(frozen=True)
class OutcomeReward:
    """Exact match / F1 of the final answer against ``task.answers``.

    ``metric`` picks the value ("em" or "f1"); both are always in ``components``. A trajectory without
    a final answer (truncated, or ended on an invalid turn) scores 0 with ``details["reason"]``.
    """

    metric: str = "em"
    name: str = "outcome"

    def __post_init__(self) -> None:
        if self.metric not in ("em", "f1"):
            raise ValueError(f"OutcomeReward.metric must be 'em' or 'f1', got {self.metric!r}")

    def __call__(self, trajectory: Trajectory) -> RewardResult:
        answers = trajectory.task.answers
        pred = trajectory.final_answer
        if pred is None:
            return RewardResult(0.0, {"em": 0.0, "f1": 0.0}, {"reason": "no final answer", "answers": list(answers)})
        em, f1 = exact_match(pred, answers), f1_score(pred, answers)
        details = {"prediction": pred, "normalized": normalize_answer(strip_citations(pred)), "answers": list(answers)}
        return RewardResult(em if self.metric == "em" else f1, {"em": em, "f1": f1}, details)


def is_well_formed(trajectory: Trajectory) -> tuple[bool, str]:
    """Whether the episode is well formed, and why not: it has turns, none was rejected by the
    parser, and it ends with a non-empty answer."""
    if not trajectory.steps:
        return False, "no turns"
    bad = [i for i, s in enumerate(trajectory.steps) if not s.valid]
    if bad:
        return False, f"invalid turn(s) at {bad}"
    if trajectory.final_step is None:
        return False, "does not end with an answer"
    if not normalize_answer(strip_citations(trajectory.final_answer or "")):
        return False, "empty answer"
    return True, "ok"


@dataclass(frozen=True)
class FormatReward:
    """A well-formed-trajectory reward.

    ``mode="binary"``: 1.0 when ``is_well_formed`` holds, else 0.0.
    ``mode="search_r1"``: Search-R1's documented table over (answer correct by EM, format valid):
    correct+valid ``1.0``, correct+invalid ``0.8``, wrong+valid ``0.2``, wrong+invalid ``0.1``
    (values configurable through ``table``, ordered that way).
    """

    mode: str = "binary"
    table: tuple[float, float, float, float] = (1.0, 0.8, 0.2, 0.1)
    name: str = "format"

    def __post_init__(self) -> None:
        if self.mode not in ("binary", "search_r1"):
            raise ValueError(f"FormatReward.mode must be 'binary' or 'search_r1', got {self.mode!r}")
        if len(self.table) != 4:
            raise ValueError("FormatReward.table needs 4 values: correct+valid, correct+invalid, wrong+valid, wrong+invalid")

    def __call__(self, trajectory: Trajectory) -> RewardResult:
        valid, why = is_well_formed(trajectory)
        components = {"valid": float(valid), "num_invalid": float(trajectory.num_invalid)}
        if self.mode == "binary":
            return RewardResult(float(valid), components, {"reason": why})
        correct = exact_match(trajectory.final_answer, trajectory.task.answers) == 1.0
        cv, ci, wv, wi = self.table
        value = (cv if valid else ci) if correct else (wv if valid else wi)
        return RewardResult(value, {**components, "em": float(correct)}, {"reason": why})


__all__ = ["FormatReward", "OutcomeReward", "exact_match", "f1_score", "is_well_formed", "normalize_answer", "strip_citations"]
