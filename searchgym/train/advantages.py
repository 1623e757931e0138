"""Group-relative advantages and the SLATE continuation choice.

``group_zscore``: ``(r - mean) / (std + eps)`` over the SCORED members of one group (population std,
as GRPO/TRL). Unscored members (a judge failed under ``on_error="skip"``) get advantage 0 and do not
enter the mean or std; a group with fewer than two scored members gives all zeros (no signal).
``tree_advantages``: TreeRL's sibling + root advantages over one episode's rollout-valued step groups.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

EPS = 1e-6
CONTINUATIONS = ("softmax", "greedy", "uniform")
# how a rollout-valued step candidate's advantage is formed: against its siblings only (SLATE), or against its
# siblings and the episode's whole tree (TreeRL: Hou et al. 2025, "TreeRL: LLM Reinforcement Learning with On-Policy
# Tree Search"); docs/training.md
STEP_ADVANTAGES = ("sibling", "tree")


def group_zscore(rewards: Sequence[float], scored: Sequence[bool] | None = None, eps: float = EPS,
                 scale: bool = True) -> list[float]:
    """Z-scores of ``rewards`` within one group, leaving out unscored members (advantage 0)."""
    scored = [True] * len(rewards) if scored is None else list(scored)
    if len(scored) != len(rewards):
        raise ValueError(f"{len(rewards)} rewards but {len(scored)} scored flags")
    values = [float(r) for r, s in zip(rewards, scored) if s]
    if any(math.isnan(v) for v in values):
        raise ValueError("a scored reward is NaN: mark it scored=False instead")
    if len(values) < 2:
        return [0.0] * len(rewards)
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    denom = (std + eps) if scale else 1.0
    return [(float(r) - mean) / denom if s else 0.0 for r, s in zip(rewards, scored)]


def softmax(values: Sequence[float], temperature: float = 1.0) -> list[float]:
    """Numerically stable softmax of ``values / temperature``."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    top = max(values)
    exps = [math.exp((v - top) / temperature) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


def choose_continuation(advantages: Sequence[float], rng: random.Random, how: str = "softmax",
                        temperature: float = 0.7, eligible: Sequence[bool] | None = None) -> int:
    """Index of the candidate the episode continues from.

    ``softmax``: drawn with probability softmax(advantage / temperature) (SLATE, temperature 0.7);
    ``greedy``: the best advantage (first on ties); ``uniform``: uniformly at random. ``eligible``
    restricts the choice (e.g. to scored candidates) when any candidate is eligible.
    """
    if not advantages:
        raise ValueError("no candidates to choose from")
    idx = list(range(len(advantages)))
    if eligible is not None and any(eligible):
        idx = [i for i in idx if eligible[i]]
    if how == "greedy":
        return max(idx, key=lambda i: (advantages[i], -i))
    if how == "uniform":
        return rng.choice(idx)
    if how == "softmax":
        probs = softmax([advantages[i] for i in idx], temperature)
        return rng.choices(idx, weights=probs, k=1)[0]
    raise ValueError(f"unknown continuation {how!r}; choose from {', '.join(CONTINUATIONS)}")


@dataclass
class StepGroupValues:
    """One step group of an episode's tree, for :func:`tree_advantages`: each candidate's value, whether it is
    scored, and whether that value is a leaf's (the reward of a finished path: an answer, an invalid turn, a
    played-out candidate) or must be backed up from the next step group (a candidate of a one-outcome group that
    was not played out: the episode went on from it, or from a copy of it)."""

    values: list[float]
    scored: list[bool]
    leaf: list[bool]


@dataclass
class TreeAdvantages:
    """What :func:`tree_advantages` computes, per group and candidate (``root``: ``V_root``, NaN without leaves)."""

    values: list[list[float]]
    scored: list[list[bool]]
    advantages: list[list[float]]
    root: float


def _scored_mean(values: Sequence[float], scored: Sequence[bool]) -> float | None:
    own = [v for v, s in zip(values, scored) if s]
    return sum(own) / len(own) if own else None


def tree_advantages(groups: Sequence[StepGroupValues]) -> TreeAdvantages:
    """TreeRL's advantages over one episode's step groups, in turn order.

    A non-leaf candidate takes the value of the state it led to: the mean of the next group's scored values
    (backed up from the last group; unscored when there is none, or when the candidate itself was unscored).
    ``V_root`` is the mean reward over the tree's scored leaves, a whole-episode baseline for the task. A scored
    candidate's advantage is ``(v - mean of its group's scored values) + (v - V_root)``: the first term is SLATE's
    comparison of siblings (``group_zscore``, unscaled), the second gives a one-outcome group, whose siblings cannot
    differ, the signal of where it led (the trajectory baseline's credit, on the spine's steps). Unscored candidates
    get 0 and enter no mean."""
    for g in groups:
        if not len(g.values) == len(g.scored) == len(g.leaf):
            raise ValueError(f"a step group has {len(g.values)} values, {len(g.scored)} scored flags and "
                             f"{len(g.leaf)} leaf flags")
    values = [list(map(float, g.values)) for g in groups]
    scored = [list(g.scored) for g in groups]
    following: float | None = None
    for t in range(len(groups) - 1, -1, -1):
        for j, leaf in enumerate(groups[t].leaf):
            if not leaf:
                scored[t][j] = scored[t][j] and following is not None
                values[t][j] = following if following is not None and scored[t][j] else float("nan")
        following = _scored_mean(values[t], scored[t])
    leaf_flags = [[leaf and s for leaf, s in zip(g.leaf, ss)] for g, ss in zip(groups, scored)]
    root = _scored_mean([v for vs in values for v in vs], [f for fs in leaf_flags for f in fs])
    if root is None:
        return TreeAdvantages(values, scored, [[0.0] * len(vs) for vs in values], float("nan"))
    advantages = []
    for vs, ss in zip(values, scored):
        siblings = group_zscore(vs, ss, scale=False)
        advantages.append([a + (v - root) if s else 0.0 for v, s, a in zip(vs, ss, siblings)])
    return TreeAdvantages(values, scored, advantages, root)


__all__ = ["CONTINUATIONS", "EPS", "STEP_ADVANTAGES", "StepGroupValues", "TreeAdvantages", "choose_continuation",
           "group_zscore", "softmax", "tree_advantages"]
