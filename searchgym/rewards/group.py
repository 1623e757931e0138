"""The training reward: every member of one GRPO group scored by one formula, on one scale.

``GroupReward.score_steps`` (SLATE step groups) and ``score_episodes`` (C-GRPO episode groups).
See docs/rewards.md for the formulas.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from searchgym.records.episode import ANSWER, Trajectory
from searchgym.rewards.base import RewardResult
from searchgym.rewards.cgrpo import DEFAULT_ALPHA
from searchgym.rewards.outcome import exact_match, f1_score
from searchgym.rewards.process import BUDGET_WEIGHT, StepJudgeReward, step_components
from searchgym.sharing import SharedOnCopy


def answer_score(answer: str | None, answers: Sequence[str]) -> float:
    """The deterministic r_answer: +1 exact match, 0 token F1 >= 0.5, -1 otherwise (or no answer)."""
    if answer is None:
        return -1.0
    if exact_match(answer, answers):
        return 1.0
    return 0.0 if f1_score(answer, answers) >= 0.5 else -1.0


@dataclass
class GroupReward(SharedOnCopy):
    """SLATE step groups and C-GRPO episode groups (see the module doc)."""

    judge: Any | None = None
    budget: int = 4
    rubric: Any | None = None  # a CitationRubricReward; None leaves citations out
    alpha: float = DEFAULT_ALPHA
    judge_weight: float = 0.2  # episode groups only: weight of the mean process reward
    on_error: str = "raise"
    principles: tuple[str, ...] = ()
    name: str = "reward"
    stats: dict[str, float] = field(default_factory=lambda: {"scored": 0.0, "unscored": 0.0})

    def __post_init__(self) -> None:
        if self.budget < 1:
            raise ValueError(f"budget must be >= 1, got {self.budget}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {self.alpha}")
        if self.on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {self.on_error!r}")
        self._process = (StepJudgeReward(self.judge, budget=self.budget, principles=self.principles,
                                         on_error=self.on_error) if self.judge is not None else None)

    # -- step groups ---------------------------------------------------------------------------
    def score_steps(self, candidates: Sequence[Trajectory]) -> list[RewardResult]:
        """Rewards of the last steps of ``candidates``, k forks of one prefix (one GRPO group)."""
        if not candidates:
            return []
        process = self._process_results([(t, len(t.steps) - 1) for t in candidates])
        results: list[RewardResult] = []
        for traj, proc in zip(candidates, process):
            if not proc.scored:
                results.append(proc)
                continue
            comps = dict(proc.components)
            if traj.steps[-1].kind == ANSWER:
                comps["correct"] = float(comps.get("r_answer", -1.0) >= 1.0)
            results.append(RewardResult(0.0, comps, dict(proc.details)))
        self._cgrpo_on_answers(candidates, results)
        values = [sum(v for k, v in r.components.items() if k.startswith("r_")) if r.scored else math.nan
                  for r in results]
        floor = min((v for v in values if not math.isnan(v)), default=0.0)
        out = []
        for traj, res, value in zip(candidates, results, values):
            if not res.scored:
                out.append(res)
                continue
            comps = res.components
            if traj.steps[-1].kind == ANSWER and comps.get("correct") != 1.0 and value > floor:
                # a wrong answer ends the episode with nothing, so no sibling did worse: scored above one (an
                # invalid turn, a search on the last turn, a wrong answer with worse reasoning) it drew a
                # positive advantage (half the wrong answers in bench_learning --quick arm c's logged groups)
                comps = {**comps, "r_floor": floor - value}
                value = floor
            out.append(RewardResult(value, comps, res.details))
        self._count(out)
        return out

    def _cgrpo_on_answers(self, candidates: Sequence[Trajectory], results: list[RewardResult]) -> None:
        """Replaces a correct answer's r_answer = 1 by (1 - alpha) + alpha * R_rubric (in place).

        Unlike C-GRPO over episodes, R_rubric is not divided by the group's best: the k candidates share one
        prefix and so one body of evidence, and that division gave a guess grounded in half of the chain
        full credit whenever no candidate could do better. After one search of a two-hop task a lucky
        correct answer then scored 2.025 against 2.0 for the search that fetches the missing hop, the
        z-score within the k blew that 0.025 up to a full-size advantage, and the policy learned to answer
        after one search (bench_learning --quick, arm c: EM 0.486 -> 0.029; docs/rewards.md)."""
        correct = [i for i, r in enumerate(results) if r.scored and r.components.get("correct") == 1.0]
        if self.rubric is None or not correct:
            return
        rubric = {i: self.rubric(candidates[i]) for i in correct}
        if not all(r.scored for r in rubric.values()):
            for i, r in rubric.items():
                if not r.scored:
                    results[i] = RewardResult(math.nan, {}, {"rubric": dict(r.details)}, scored=False)
            correct = [i for i in correct if rubric[i].scored]
        for i in correct:
            rho = rubric[i].value
            comps = dict(results[i].components)
            comps["r_answer"] = (1.0 - self.alpha) + self.alpha * rho
            comps["rubric"] = rho  # no group max here: it does not enter a step group's reward (above)
            comps.update({f"rubric.{k}": v for k, v in rubric[i].components.items() if k != "rubric"})
            results[i] = RewardResult(0.0, comps, {**results[i].details, "rubric": dict(rubric[i].details)})

    # -- episode groups ------------------------------------------------------------------------
    def score_episodes(self, episodes: Sequence[Trajectory]) -> list[RewardResult]:
        """Rewards of G whole episodes of one task (one GRPO group)."""
        if not episodes:
            return []
        ems = [exact_match(t.final_answer, t.task.answers) if t.final_answer is not None else 0.0 for t in episodes]
        f1s = [f1_score(t.final_answer, t.task.answers) if t.final_answer is not None else 0.0 for t in episodes]
        rubric = [self.rubric(t) for t in episodes] if self.rubric is not None else None
        process = self._episode_process(episodes)
        scored = [(rubric is None or rubric[i].scored) and (process is None or process[i].scored)
                  for i in range(len(episodes))]
        rhos = [rubric[i].value if rubric is not None and scored[i] else math.nan for i in range(len(episodes))]
        top = max((r for r in rhos if not math.isnan(r)), default=0.0)
        out: list[RewardResult] = []
        for i, traj in enumerate(episodes):
            comps: dict[str, float] = {"em": ems[i], "f1": f1s[i], "answered": float(traj.final_answer is not None)}
            if not scored[i]:
                out.append(RewardResult(math.nan, comps, {"reason": "a judge could not score this episode"},
                                        scored=False))
                continue
            if rubric is not None:
                bonus = rhos[i] / top if top > 0 else 0.0
                outcome = (1.0 - self.alpha) + self.alpha * bonus if ems[i] else 0.0
                comps.update(rubric=rhos[i], rubric_group_max=top,
                             **{f"rubric.{k}": v for k, v in rubric[i].components.items() if k != "rubric"})
            else:
                outcome = ems[i]
            comps["outcome"] = outcome
            value = outcome
            if process is not None:
                comps.update({f"process.{k}": v for k, v in process[i].components.items()})
                comps["process"] = process[i].value
                value += self.judge_weight * process[i].value
            details = {"rubric": dict(rubric[i].details)} if rubric is not None else {}
            out.append(RewardResult(value, comps, details))
        self._count(out)
        return out

    def _episode_process(self, episodes: Sequence[Trajectory]) -> list[RewardResult] | None:
        """Per episode, the mean SLATE step reward over its steps (one judge batch for the group)."""
        if self.judge is None or self.judge_weight == 0.0:
            return None
        items = [(t, i) for t in episodes for i in range(len(t.steps))]
        steps = self._process_results(items)
        out: list[RewardResult] = []
        pos = 0
        for traj in episodes:
            mine = steps[pos:pos + len(traj.steps)]
            pos += len(traj.steps)
            if not mine:
                out.append(RewardResult(0.0, {"steps": 0.0}))
            elif not all(r.scored for r in mine):
                out.append(RewardResult(math.nan, {}, scored=False))
            else:
                comps: dict[str, float] = {}
                for r in mine:
                    for key, value in r.components.items():
                        comps[key] = comps.get(key, 0.0) + value / len(mine)
                out.append(RewardResult(sum(r.value for r in mine) / len(mine), comps))
        return out

    # -- shared --------------------------------------------------------------------------------
    def _process_results(self, items: Sequence[tuple[Trajectory, int]]) -> list[RewardResult]:
        """SLATE step rewards of ``(trajectory, step index)`` items, judged or by the no-judge rule."""
        if self._process is not None:
            return self._process.score_steps(items)
        out = []
        for traj, i in items:
            step = traj.steps[i]
            parts, verdicts = [], []
            score = answer_score(step.answer, traj.task.answers) if step.kind == ANSWER else None
            comps = step_components(step, i + 1, self.budget, parts, verdicts, BUDGET_WEIGHT, r_answer=score)
            out.append(RewardResult(sum(comps.values()), comps))
        return out

    def metrics(self) -> dict[str, float]:
        """Counters to log: scored / unscored members and, for a cached model judge, the cache hit rate."""
        out = {f"reward_{k}": v for k, v in self.stats.items()}
        cache = getattr(self.judge, "cache", None)
        if cache is not None and hasattr(cache, "hit_rate"):
            out["judge_cache_hit_rate"] = float(cache.hit_rate)
        return out

    def _count(self, results: Sequence[RewardResult]) -> None:
        for r in results:
            self.stats["scored" if r.scored else "unscored"] += 1.0

    def __call__(self, trajectory: Trajectory) -> RewardResult:
        """One episode scored as a group of one (for evaluation reports)."""
        return self.score_episodes([trajectory])[0]

    def formula(self, sampler: str) -> str:
        """The reward this object computes, as text (``searchgym train --print-config`` shows it)."""
        return reward_formula(sampler, judge=getattr(self.judge, "name", None), rubric=self.rubric is not None,
                              alpha=self.alpha, judge_weight=self.judge_weight, budget=self.budget)


def reward_formula(sampler: str, *, judge: str | None, rubric: bool, alpha: float, judge_weight: float,
                   budget: int, step_value: str = "judge") -> str:
    """``GroupReward``'s formula for a sampler (``"trajectory"`` or ``"step"``), as text; ``step_value`` is
    the step sampler's valuation of a candidate (``"judge"`` or ``"rollout"``)."""
    correct = f"(1 - {alpha:g}) + {alpha:g} * R_rubric / max_group R_rubric" if rubric else "1"
    if sampler == "step":
        correct = f"(1 - {alpha:g}) + {alpha:g} * R_rubric" if rubric else "1"
        think = "r_think + " if judge else ""
        return (f"step groups (k candidates of one prefix; t = step, B = {budget}; judge = {judge or 'none'}):\n"
                f"  search/open: r = {think}r_action   (invalid turn: r_think = r_action = -1)\n"
                f"  answer:      r = {think}r_answer + 0.1 * (B - t) / B   (the last term only if correct)\n"
                f"  r_answer = -1 wrong | 0 partial | {correct} correct\n"
                "  not answering at t = B: r_answer = r_action = -1\n"
                "  an answer that is not correct: r = the lowest r of its group"
                + ("\n  step_value = rollout: a valid search/open that does not end the episode is valued by the r of"
                   "\n    the last step of one sampled continuation of it (its answer, or the last turn);"
                   "\n    candidates with one outcome (the same turn, or the same documents retrieved or opened)"
                   "\n    share the mean of their values, and a group with one outcome is not played out;"
                   "\n    advantage = r - group mean"
                   if step_value == "rollout" else ""))
    process = (f" + {judge_weight:g} * mean_steps(r_think + r_action | r_think + r_answer + [correct] 0.1 * (B - t) / B)"
               f"   (judge = {judge}, B = {budget})") if judge and judge_weight else ""
    return ("episode groups (G episodes of one task):\n"
            f"  R = C{process}\n"
            f"  C = 0 if the answer is wrong (exact match) else {correct}")


__all__ = ["GroupReward", "answer_score", "reward_formula"]
