"""SLATE process rewards: a judge scores one step of a trajectory from what the agent had BEFORE it.

Ternary judge scores; ``on_error="skip"`` leaves a failed step unscored (NaN), never invented.
See docs/rewards.md for the formulas.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from searchgym.grammar import AGENT_PREFIX, ENV_PREFIX
from searchgym.judges.base import ANSWER, OPEN, QUERY, THINK, JudgeError, JudgeRequest, Judgment
from searchgym.records.episode import ANSWER as ANSWER_STEP
from searchgym.records.episode import INVALID, SEARCH, Step, Trajectory
from searchgym.records.episode import OPEN as OPEN_STEP
from searchgym.rewards.base import RewardResult

REFERENCE_SEP = " || "
BUDGET_WEIGHT = 0.1


def reasoning_of(step: Step) -> str:
    """The step's reasoning as the parser found it: its text without actions and think tags."""
    return step.reasoning or ""


def _context(steps: Sequence[Step], obs_chars: int) -> tuple[str, ...]:
    out: list[str] = []
    for s in steps:
        out.append(AGENT_PREFIX + s.text)
        if s.observation:
            obs = s.observation if len(s.observation) <= obs_chars else s.observation[:obs_chars] + " [...]"
            out.append(ENV_PREFIX + obs)
    return tuple(out)


def step_requests(trajectory: Trajectory, index: int | None = None, *, principles: Sequence[str] = (),
                  max_evidence: int = 8, obs_chars: int = 2000) -> list[tuple[str, JudgeRequest]]:
    """The (component, request) pairs that judge step ``index`` (default: the last), past-only."""
    if not trajectory.steps:
        raise ValueError("a process reward needs a trajectory with at least one step")
    index = len(trajectory.steps) - 1 if index is None else index
    step = trajectory.steps[index]
    before = trajectory.prefix(index)
    task = trajectory.task
    base: dict[str, Any] = dict(question=task.question, context=_context(before.steps, obs_chars),
                                evidence=tuple(before.seen[-max_evidence:]) if max_evidence else (),
                                principles=tuple(principles), seen_ids=before.seen_ids, task=task)
    out = [("r_think", JudgeRequest(kind=THINK, target=reasoning_of(step), **base))]
    if step.kind == SEARCH:
        out.append(("r_action", JudgeRequest(kind=QUERY, target=step.query or "", outcome=step.hits, **base)))
    elif step.kind == OPEN_STEP:
        out.append(("r_action", JudgeRequest(kind=OPEN, target=step.doc_id or "",
                                              outcome=(step.doc_id,) if step.doc_id else (), **base)))
    elif step.kind == ANSWER_STEP:
        out.append(("r_answer", JudgeRequest(kind=ANSWER, target=step.answer or "",
                                             reference=REFERENCE_SEP.join(task.answers), **base)))
    return out


def judge_all(judge: Any, requests: Sequence[JudgeRequest]) -> list[Judgment]:
    """Verdicts for ``requests`` in one batch; a wrong count or a non-verdict is a ``JudgeError``."""
    if not requests:
        return []
    verdicts = list(judge.judge(list(requests)))
    if len(verdicts) != len(requests):
        raise JudgeError(f"judge {getattr(judge, 'name', '?')} returned {len(verdicts)} verdicts for "
                         f"{len(requests)} requests")
    bad = next((v for v in verdicts if not isinstance(v, Judgment)), None)
    if bad is not None:
        raise JudgeError(f"judge {getattr(judge, 'name', '?')} returned {type(bad).__name__}, not a Judgment")
    return verdicts


def step_components(step: Step, t: int, budget: int, parts: Sequence[tuple[str, JudgeRequest]],
                    verdicts: Sequence[Judgment], budget_weight: float = BUDGET_WEIGHT,
                    r_answer: float | None = None) -> dict[str, float]:
    """The SLATE components of the step at 1-based index ``t`` (see the module doc); ``r_answer`` stands in
    for a judge's verdict on an answer step when there is no judge."""
    comps = {name: float(v.score) for (name, _), v in zip(parts, verdicts)}
    if step.kind == ANSWER_STEP and r_answer is not None:
        comps["r_answer"] = float(r_answer)
    if step.kind == INVALID:
        # the env could not execute the turn, so its reasoning led nowhere: both parts take the floor. With
        # r_think judged on the text alone, "<open>a query</open>" after sound reasoning scored 0 and beat
        # a valid search that found nothing (-1); SLATE step groups then reinforced the malformed turn
        comps["r_action"] = -1.0
        if "r_think" in comps:
            comps["r_think"] = -1.0
    if step.kind == ANSWER_STEP:
        # the early-answer bonus pays correct answers only: paid to a wrong one too (as the paper writes it),
        # a wrong answer at t outscored a fruitless search by 0.1 (B - t) / B, which the z-score within k
        # candidates turned into a full-size push to give up and guess (docs/rewards.md)
        correct = comps.get("r_answer", -1.0) >= 1.0
        comps["r_budget"] = budget_weight * (budget - t) / budget if correct else 0.0
    elif t >= budget:
        # spent the last allowed turn without answering: whatever it brought into view can no longer be used.
        # Paid its gain, a search on the last turn (r_think + 1 - 1) outscored a wrong answer (r_think - 1), and
        # bench_learning arm c learned never to answer (answered 0.171, 3.7 searches per episode)
        comps["r_answer"] = -1.0
        if "r_action" in comps:
            comps["r_action"] = -1.0
    return comps


class StepJudgeReward:
    """The SLATE reward of a trajectory's last step (module doc); ``score_batch`` judges many at once."""

    name = "slate_step"

    def __init__(self, judge: Any, budget: int = 4, principles: Sequence[str] = (), on_error: str = "raise",
                 budget_weight: float = BUDGET_WEIGHT, max_evidence: int = 8, obs_chars: int = 2000) -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        if budget < 1:
            raise ValueError("budget must be >= 1")
        self.judge, self.budget, self.principles = judge, int(budget), tuple(principles)
        self.on_error, self.budget_weight = on_error, budget_weight
        self.max_evidence, self.obs_chars = max_evidence, obs_chars
        self.metrics = {"scored": 0, "unscored": 0, "judge_errors": 0}

    def requests(self, trajectory: Trajectory, index: int | None = None) -> list[tuple[str, JudgeRequest]]:
        """The (component, request) pairs that score step ``index`` (default: the last)."""
        return step_requests(trajectory, index, principles=self.principles, max_evidence=self.max_evidence,
                             obs_chars=self.obs_chars)

    def __call__(self, trajectory: Trajectory) -> RewardResult:
        """The reward of the trajectory's last step."""
        return self.score_batch([trajectory])[0]

    def score_batch(self, trajectories: Sequence[Trajectory]) -> list[RewardResult]:
        """Rewards of the last steps of many trajectories (e.g. k candidates), in one judge batch."""
        return self.score_steps([(t, len(t.steps) - 1) for t in trajectories])

    def score_steps(self, items: Sequence[tuple[Trajectory, int]]) -> list[RewardResult]:
        """Rewards of step ``i`` of each ``(trajectory, i)``, in one judge batch."""
        plan = [self.requests(traj, i) for traj, i in items]
        flat = [req for parts in plan for _, req in parts]
        try:
            verdicts = judge_all(self.judge, flat)
        except JudgeError as exc:
            self.metrics["judge_errors"] += 1
            if self.on_error == "raise":
                raise
            self.metrics["unscored"] += len(items)
            return [RewardResult(math.nan, {}, {"error": str(exc)}, scored=False) for _ in items]
        out: list[RewardResult] = []
        pos = 0
        for (traj, i), parts in zip(items, plan):
            mine = verdicts[pos:pos + len(parts)]
            pos += len(parts)
            comps = step_components(traj.steps[i], i + 1, self.budget, parts, mine, self.budget_weight)
            details = {name: {"score": v.score, "rationale": v.rationale, "cached": v.cached}
                       for (name, _), v in zip(parts, mine)}
            self.metrics["scored"] += 1
            out.append(RewardResult(sum(comps.values()), comps, details))
        return out


__all__ = ["BUDGET_WEIGHT", "REFERENCE_SEP", "StepJudgeReward", "judge_all", "reasoning_of", "step_components",
           "step_requests"]
