"""Composition: weighted sums and gated aggregation keep every component and propagate unscored."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from searchgym.corpora.records import Document, Hop, Task
from searchgym.envs.trajectory import ANSWER, INVALID, SEARCH, Step, Trajectory
from searchgym.rewards import Gated, WeightedSum
from searchgym.rewards.base import Reward, RewardResult
from searchgym.rewards.outcome import FormatReward, OutcomeReward
from searchgym.rewards.rubric import CitationRubricReward, CitationValidityReward

TASK = Task(id="t", question="Who founded Zorblax Corp?", answers=("Mira Quell",),
            hops=(Hop("Who founded Zorblax Corp?", "Mira Quell", (), ("w0-1",)),))
DOC = Document("w0-1", "Zorblax Corp", "Zorblax Corp was founded by Mira Quell.")


def good() -> Trajectory:
    t = Trajectory(task=TASK).extend(Step(text="<search>Zorblax</search>", kind=SEARCH, query="Zorblax", hits=("w0-1",)), (DOC,))
    return t.extend(Step(text="Founded by Mira Quell [w0-1]. <answer>Mira Quell</answer>", kind=ANSWER,
                         answer="Mira Quell", citations=("w0-1",)))


def sloppy() -> Trajectory:
    t = Trajectory(task=TASK).extend(Step(text="hmm", kind=INVALID, error="no action"))
    return t.extend(Step(text="<answer>Mira Quell</answer> [w0-9]", kind=ANSWER, answer="Mira Quell", citations=("w0-9",)))


@dataclass
class Counting:
    """A reward that counts its calls and can be unscored (a judge that failed under skip)."""

    name: str = "judge"
    value: float = 0.5
    scored: bool = True
    calls: int = 0

    def __call__(self, trajectory: Trajectory) -> RewardResult:
        self.calls += 1
        return RewardResult(self.value if self.scored else math.nan, {"raw": self.value}, {"note": "x"}, self.scored)


def test_protocol_conformance():
    for r in (OutcomeReward(), FormatReward(), CitationRubricReward(), CitationValidityReward(), Counting()):
        assert isinstance(r, Reward)


def test_weighted_sum_keeps_prefixed_components():
    ws = WeightedSum([(OutcomeReward(), 0.7), (CitationRubricReward(), 0.3)])
    r = ws(good())
    assert r.value == pytest.approx(1.0) and r.scored
    assert r.components["outcome"] == 1.0 and r.components["outcome.em"] == 1.0
    assert r.components["rubric.n_connected"] == 1.0 and r.components["rubric"] == 1.0
    assert set(r.details) == {"outcome", "rubric"}
    r = ws(sloppy())
    assert r.value == pytest.approx(0.7) and r.components["rubric.n_citations_rejected"] == 1.0


def test_weighted_sum_unscored_propagates():
    r = WeightedSum([(OutcomeReward(), 1.0), (Counting(scored=False), 1.0)])(good())
    assert r.scored is False and math.isnan(r.value) and r.components["outcome"] == 1.0


def test_names_must_be_unique_and_terms_present():
    with pytest.raises(ValueError, match="unique"):
        WeightedSum([(OutcomeReward(), 1.0), (OutcomeReward(metric="f1"), 1.0)])
    with pytest.raises(ValueError):
        WeightedSum([])
    with pytest.raises(ValueError):
        Gated([], OutcomeReward())
    with pytest.raises(ValueError):
        Gated([FormatReward(), CitationValidityReward()], OutcomeReward(), threshold=[1.0])


def test_gated_passes_behaviour_when_bottom_line_holds():
    behaviour = Counting(value=0.9)
    g = Gated([FormatReward(), CitationValidityReward()], behaviour)
    r = g(good())
    assert r.value == 0.9 and r.components["gate_passed"] == 1.0 and behaviour.calls == 1
    assert r.components["format.valid"] == 1.0 and r.components["judge.raw"] == 0.9
    assert r.components["citation_validity.passed"] == 1.0


def test_gated_fails_closed_and_spares_the_behaviour_reward():
    behaviour = Counting(value=0.9)
    g = Gated([FormatReward(), CitationValidityReward()], behaviour, fail_value=-1.0)
    r = g(sloppy())
    assert r.value == -1.0 and r.components["gate_passed"] == 0.0 and behaviour.calls == 0
    assert r.components["format.passed"] == 0.0 and r.components["citation_validity.passed"] == 0.0
    logged = Gated([FormatReward()], behaviour, always_evaluate=True)(sloppy())
    assert logged.value == 0.0 and logged.components["judge"] == 0.9 and behaviour.calls == 1


def test_gated_unscored():
    # an unscored behaviour behind a passed gate: unscored
    r = Gated([FormatReward()], Counting(scored=False))(good())
    assert r.scored is False and math.isnan(r.value)
    # an unscored gate next to a gate that definitely failed: the failure decides
    r = Gated([Counting(name="j", scored=False), FormatReward()], OutcomeReward())(sloppy())
    assert r.scored and r.value == 0.0
    # an unscored gate and no definite failure: unknown
    r = Gated([Counting(name="j", scored=False), FormatReward()], OutcomeReward())(good())
    assert r.scored is False and math.isnan(r.value)


def test_nested_composition():
    inner = WeightedSum([(OutcomeReward(), 0.7), (CitationRubricReward(), 0.3)], name="behaviour")
    g = Gated([FormatReward(), CitationValidityReward()], inner, threshold=[1.0, 1.0])
    r = g(good())
    assert r.value == pytest.approx(1.0) and r.components["behaviour.rubric.n_connected"] == 1.0
