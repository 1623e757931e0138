"""Group-relative advantages and the SLATE continuation choice.

``group_zscore``: ``(r - mean) / (std + eps)`` over the SCORED members of one group (population std,
as GRPO/TRL). Unscored members (a judge failed under ``on_error="skip"``) get advantage 0 and do not
enter the mean or std; a group with fewer than two scored members gives all zeros (no signal).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

EPS = 1e-6
CONTINUATIONS = ("softmax", "greedy", "uniform")


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


__all__ = ["CONTINUATIONS", "EPS", "choose_continuation", "group_zscore", "softmax"]
