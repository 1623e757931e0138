"""Weight a GRPO batch's negative advantages before TRL's loss.

GRPO pushes a worse-than-average sample down as hard as it pushes a better one up. On a near-deterministic
warm-started policy that push has nowhere sensible to go: lowering the answer a wrong episode gave (a year,
say) raises whatever else the softmax holds: held-out episodes answered "In which year ...?" with a place,
and on another seed every answer ran on with repeated citations until the turn's token limit (held-out EM
0.629 -> 0.000; docs/learning.md). ``negative_advantage_weight`` scales those
advantages: 1 is GRPO, 0 learns from the better-than-average samples of each group only (positive-sample
reinforcement, as in Zhu et al. 2025, "The Surprising Effectiveness of Negative Reinforcement in LLM
Reasoning": it sharpens pass@1, the greedy figure evaluated here, at the cost of diversity).
"""

from __future__ import annotations

import functools
from typing import Any


def check_negative_advantage_weight(weight: float) -> None:
    """Raise ``ValueError`` unless ``weight`` lies in [0, 1] (0: positive samples only; 1: GRPO)."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"negative_advantage_weight must lie in [0, 1], got {weight}")


def weigh_negative_advantages(advantages: Any, weight: float) -> Any:
    """``advantages`` with every negative entry multiplied by ``weight`` (positives and zeros unchanged)."""
    return advantages.where(advantages >= 0, advantages * weight)


def install_negative_advantage_weight(trainer: Any, weight: float) -> bool:
    """Make ``trainer`` (a ``GRPOTrainer``) scale negative advantages by ``weight`` in its loss; ``True`` when
    installed (``weight == 1`` is GRPO and installs nothing). Install it after the signal-only loss
    (``train.empty_steps``): wrapped around it, that loss sees the weighted advantages and leaves the rows
    weighted to 0 out of the forward."""
    check_negative_advantage_weight(weight)
    if weight == 1.0:
        return False
    compute = trainer._compute_loss
    if getattr(compute, "_searchgym_negative_weight", None) is not None:
        raise RuntimeError("negative advantages are already weighted on this trainer")

    @functools.wraps(compute)
    def compute_loss(model: Any, inputs: dict[str, Any]):
        inputs = {**inputs, "advantages": weigh_negative_advantages(inputs["advantages"], weight)}
        return compute(model, inputs)

    compute_loss._searchgym_negative_weight = weight  # type: ignore[attr-defined]
    trainer._compute_loss = compute_loss
    return True


__all__ = ["check_negative_advantage_weight", "install_negative_advantage_weight", "weigh_negative_advantages"]
