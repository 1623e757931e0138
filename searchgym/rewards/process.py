"""SLATE process rewards: a judge scores the LAST step of a trajectory in its context.

(Samarinas, Chang & Zamani, "Truncated Step-Level Sampling with Process Rewards for
Retrieval-Augmented Reasoning", 2026.) The judge gives ternary scores {-1, 0, +1}:

* search step:  r = r_think + r_query
* answer step:  r = r_think + r_answer + 0.1 * (B - t) / B      (B = step budget, t = 1-based step index)
* open step:    r = r_think + r_open, where r_open = 0 (the paper's agent only searches and answers;
  opening a shown document is neutral, the reasoning is still judged).
* invalid step: r = r_think - 1 (``r_action = -1``: a turn the environment could not parse is a
  defined penalty, not a judge verdict).

``r_think`` judges the reasoning text of the step (its text without the action tags); an empty
reasoning is still sent to the judge (which scores it), never scored here. The context is the
earlier turns (agent text and observations), and the evidence is the documents the agent was shown.
The reference for the answer judgment is every accepted answer joined by ``" || "``.

This is how ``TruncatedStepSampler`` uses it: k candidate steps, each the last step of a forked
trajectory sharing a prefix; ``score_batch`` judges all candidates in one judge batch (and a
``JudgeCache`` behind the judge makes identical requests free).

Failure policy: ``on_error="raise"`` lets ``JudgeError`` out; ``on_error="skip"`` returns
``RewardResult(scored=False, value=nan)`` with the error in ``details`` (such a sample must be left
out of the advantage) and counts it in ``metrics``. No score is ever invented.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

from searchgym.judges.base import ANSWER, QUERY, THINK, JudgeError, JudgeRequest, Judgment
from searchgym.envs.trajectory import ANSWER as ANSWER_STEP, INVALID, OPEN, SEARCH, Step, Trajectory
from searchgym.rewards.base import RewardResult

_ACTION = re.compile(r"<\s*(search|open|answer)\s*>.*?<\s*/\s*\1\s*>", re.IGNORECASE | re.DOTALL)
_THINK_TAG = re.compile(r"<\s*/?\s*think\s*>", re.IGNORECASE)
REFERENCE_SEP = " || "


def reasoning_of(step: Step) -> str:
    """The step's text without its action (``<search>``/``<open>``/``<answer>`` spans) and think tags."""
    return _THINK_TAG.sub(" ", _ACTION.sub(" ", step.text)).strip()


def _context(steps: Sequence[Step], obs_chars: int) -> tuple[str, ...]:
    out: list[str] = []
    for s in steps:
        out.append("agent: " + s.text)
        if s.observation:
            obs = s.observation if len(s.observation) <= obs_chars else s.observation[:obs_chars] + " [...]"
            out.append("environment: " + obs)
    return tuple(out)


class StepJudgeReward:
    """SLATE step reward from a ``Judge`` (see the module docstring)."""

    name = "slate_step"

    def __init__(self, judge, budget: int = 4, principles: Sequence[str] = (), on_error: str = "raise",
                 budget_weight: float = 0.1, max_evidence: int = 5, obs_chars: int = 600):
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        if budget < 1:
            raise ValueError("budget must be >= 1")
        self.judge = judge
        self.budget = budget
        self.principles = tuple(principles)
        self.on_error = on_error
        self.budget_weight = budget_weight
        self.max_evidence = max_evidence
        self.obs_chars = obs_chars
        self.metrics = {"scored": 0, "unscored": 0, "judge_errors": 0}

    def requests(self, trajectory: Trajectory) -> list[tuple[str, JudgeRequest]]:
        """The (component, request) pairs that score the trajectory's last step."""
        if not trajectory.steps:
            raise ValueError("StepJudgeReward needs a trajectory with at least one step")
        step = trajectory.steps[-1]
        task = trajectory.task
        context = _context(trajectory.steps[:-1], self.obs_chars)
        evidence = tuple(trajectory.seen[-self.max_evidence:])
        base = dict(question=task.question, context=context, evidence=evidence, principles=self.principles)
        out = [("r_think", JudgeRequest(kind=THINK, target=reasoning_of(step), **base))]
        if step.kind == SEARCH:
            out.append(("r_query", JudgeRequest(kind=QUERY, target=step.query or "", **base)))
        elif step.kind == ANSWER_STEP:
            out.append(("r_answer", JudgeRequest(kind=ANSWER, target=step.answer or "",
                                                 reference=REFERENCE_SEP.join(task.answers), **base)))
        return out

    def _combine(self, trajectory: Trajectory, parts: list[tuple[str, JudgeRequest]],
                 verdicts: Sequence[Judgment]) -> RewardResult:
        step = trajectory.steps[-1]
        comps = {name: float(v.score) for (name, _), v in zip(parts, verdicts)}
        details = {name: {"score": v.score, "rationale": v.rationale, "cached": v.cached}
                   for (name, _), v in zip(parts, verdicts)}
        if step.kind == ANSWER_STEP:
            t = len(trajectory.steps)
            comps["r_budget"] = self.budget_weight * (self.budget - t) / self.budget
        elif step.kind == OPEN:
            comps["r_open"] = 0.0
        elif step.kind == INVALID:
            comps["r_action"] = -1.0
            details["r_action"] = {"error": step.error}
        self.metrics["scored"] += 1
        return RewardResult(value=sum(comps.values()), components=comps, details=details)

    def _unscored(self, error: BaseException) -> RewardResult:
        if self.on_error == "raise":
            raise error if isinstance(error, JudgeError) else JudgeError(str(error))
        self.metrics["unscored"] += 1
        return RewardResult(value=math.nan, components={}, details={"error": str(error)}, scored=False)

    def __call__(self, trajectory: Trajectory) -> RewardResult:
        """The reward of the trajectory's last step."""
        return self.score_batch([trajectory])[0]

    def score_batch(self, trajectories: Sequence[Trajectory]) -> list[RewardResult]:
        """Rewards of the last steps of many trajectories (e.g. k candidates), in one judge batch."""
        plan = [self.requests(t) for t in trajectories]
        flat = [req for parts in plan for _, req in parts]
        try:
            verdicts: list = list(self.judge.judge(flat))
            if len(verdicts) != len(flat):  # a short list would silently drop (zero) components
                raise JudgeError(f"judge {getattr(self.judge, 'name', self.judge)!r} returned {len(verdicts)} "
                                 f"verdicts for {len(flat)} requests")
        except JudgeError as exc:
            self.metrics["judge_errors"] += 1
            partial = getattr(exc, "results", None)
            if partial is None or self.on_error == "raise":
                if self.on_error == "raise":
                    raise
                return [self._unscored(exc) for _ in trajectories]
            verdicts = list(partial)
        out: list[RewardResult] = []
        i = 0
        for traj, parts in zip(trajectories, plan):
            mine = verdicts[i:i + len(parts)]
            i += len(parts)
            bad = next((v for v in mine if not isinstance(v, Judgment)), None)
            out.append(self._combine(traj, parts, mine) if bad is None else self._unscored(bad))
        return out
