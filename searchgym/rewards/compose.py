"""Composition of rewards: weighted sums and gated aggregation.

Every part's components are kept, prefixed by the part's name (``outcome.em``, ``rubric.n_connected``),
and each part's value is a component under its own name. If any evaluated part is unscored
(``scored=False``: a judge failed under the skip policy) the composite is unscored too and its value is
NaN, so that it cannot enter an advantage by accident.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from searchgym.records.episode import Trajectory
from searchgym.rewards.base import Reward, RewardResult


def _check_names(rewards: Sequence[Reward]) -> None:
    names = [r.name for r in rewards]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"reward names must be unique within a composition (they prefix components): {dup}")


def _collect(parts: Sequence[tuple[Reward, RewardResult]]) -> tuple[dict[str, float], dict[str, Any], bool]:
    comps: dict[str, float] = {}
    details: dict[str, Any] = {}
    scored = True
    for reward, res in parts:
        comps[reward.name] = res.value
        comps.update({f"{reward.name}.{k}": v for k, v in res.components.items()})
        details[reward.name] = res.details
        scored = scored and res.scored
    return comps, details, scored


@dataclass
class WeightedSum:
    """value = Σ weight_i · reward_i(trajectory)."""

    terms: Sequence[tuple[Reward, float]]
    name: str = "weighted_sum"

    def __post_init__(self) -> None:
        self.terms = [(r, float(w)) for r, w in self.terms]
        if not self.terms:
            raise ValueError("WeightedSum needs at least one (reward, weight) term")
        _check_names([r for r, _ in self.terms])

    def __call__(self, trajectory: Trajectory) -> RewardResult:
        parts = [(r, r(trajectory)) for r, _ in self.terms]
        comps, details, scored = _collect(parts)
        value = sum(w * res.value for (_, w), (_, res) in zip(self.terms, parts)) if scored else math.nan
        return RewardResult(value, comps, details, scored)


@dataclass
class Gated:
    """Bottom-line checks gate the behaviour reward (SearchLLM's gated aggregation).

    The gate passes when every gate reward's value is at least ``threshold`` (one number, or one per
    gate). Passed: value = the behaviour reward's value. Failed: value = ``fail_value``, and the
    behaviour reward is not evaluated unless ``always_evaluate`` (spares judge calls); its components
    are then still logged but cannot change the value. Components add ``gate_passed`` and, per gate,
    ``<gate>.passed``.
    """

    gates: Sequence[Reward]
    behaviour: Reward
    threshold: float | Sequence[float] = 1.0
    fail_value: float = 0.0
    always_evaluate: bool = False
    name: str = "gated"

    def __post_init__(self) -> None:
        self.gates = list(self.gates)
        if not self.gates:
            raise ValueError("Gated needs at least one gate reward")
        _check_names([*self.gates, self.behaviour])
        if isinstance(self.threshold, (int, float)):
            self._thresholds = [float(self.threshold)] * len(self.gates)
        else:
            self._thresholds = [float(t) for t in self.threshold]
            if len(self._thresholds) != len(self.gates):
                raise ValueError(f"{len(self._thresholds)} thresholds for {len(self.gates)} gates")

    def __call__(self, trajectory: Trajectory) -> RewardResult:
        gate_parts = [(g, g(trajectory)) for g in self.gates]
        gate_scored = all(res.scored for _, res in gate_parts)
        passes = [res.scored and res.value >= t for (_, res), t in zip(gate_parts, self._thresholds)]
        passed = all(passes)
        parts = list(gate_parts)
        if passed or self.always_evaluate:
            parts.append((self.behaviour, self.behaviour(trajectory)))
        comps, details, all_scored = _collect(parts)
        comps["gate_passed"] = float(passed)
        comps.update({f"{g.name}.passed": float(p) for g, p in zip(self.gates, passes)})
        if passed:
            scored = all_scored
            value = parts[-1][1].value if scored else math.nan
        else:
            # a gate that was scored and failed decides the value on its own; if no gate definitely
            # failed but one could not be scored, the outcome is unknown
            definite = any(res.scored and not p for (_, res), p in zip(gate_parts, passes))
            scored = definite or gate_scored
            value = self.fail_value if scored else math.nan
        return RewardResult(value, comps, details, scored)


__all__ = ["Gated", "WeightedSum"]
