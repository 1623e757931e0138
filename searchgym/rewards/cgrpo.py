"""C-GRPO: CaRR's combination of the outcome reward and the rubric reward over a group of rollouts.

``R_i = 0`` for a wrong answer, else ``(1 - α) + α · r_i / max_j r_j`` (α = 0.3; the α term is 0 when the max is 0),
as the paper writes it. See docs/rewards.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from searchgym.rewards.base import RewardResult

DEFAULT_ALPHA = 0.3


def _correct(value: float | bool, threshold: float | None) -> bool:
    if threshold is not None:
        return float(value) >= threshold
    if value in (0, 1):  # True/False, 0/1, 0.0/1.0
        return bool(value)
    raise ValueError(f"C-GRPO needs binary outcomes (0/1); got {value!r}. Pass threshold= to binarise a graded outcome")


def cgrpo_rewards(outcomes: Sequence[float | bool], rubric_scores: Sequence[float], alpha: float = DEFAULT_ALPHA,
                  *, threshold: float | None = None) -> list[float]:
    """C-GRPO rewards for one group (formula in the module doc).

    ``outcomes`` are 0/1 (or graded values with ``threshold``: correct iff value >= threshold);
    ``rubric_scores`` are R_rubric in [0, 1]. NaN rubric scores (unscored samples) are left out of the
    max and give NaN rewards.
    """
    if len(outcomes) != len(rubric_scores):
        raise ValueError(f"{len(outcomes)} outcomes but {len(rubric_scores)} rubric scores")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    for r in rubric_scores:
        if not math.isnan(r) and not 0.0 <= r <= 1.0:
            raise ValueError(f"rubric scores must lie in [0, 1], got {r}")
    scored = [r for r in rubric_scores if not math.isnan(r)]
    top = max(scored, default=0.0)
    out = []
    for o, r in zip(outcomes, rubric_scores):
        if math.isnan(r):
            out.append(math.nan)
        elif not _correct(o, threshold):
            out.append(0.0)
        else:
            out.append((1.0 - alpha) + alpha * (r / top if top > 0 else 0.0))
    return out


def cgrpo_results(outcomes: Sequence[RewardResult], rubrics: Sequence[RewardResult], alpha: float = DEFAULT_ALPHA,
                  *, threshold: float | None = None) -> list[RewardResult]:
    """``cgrpo_rewards`` over reward results, keeping every component (``outcome.*``, ``rubric.*``) and
    the group max; a sample with an unscored part is ``scored=False`` with value NaN."""
    if len(outcomes) != len(rubrics):
        raise ValueError(f"{len(outcomes)} outcome results but {len(rubrics)} rubric results")
    rs = [r.value if (r.scored and o.scored) else math.nan for o, r in zip(outcomes, rubrics)]
    os_ = [o.value if o.scored else 0.0 for o in outcomes]
    values = cgrpo_rewards(os_, rs, alpha, threshold=threshold)
    top = max((r for r in rs if not math.isnan(r)), default=0.0)
    out = []
    for o, r, v in zip(outcomes, rubrics, values):
        comps = {"cgrpo": v, "outcome": o.value, "rubric": r.value, "rubric_group_max": top, "alpha": alpha,
                 **{f"outcome.{k}": x for k, x in o.components.items()},
                 **{f"rubric.{k}": x for k, x in r.components.items()}}
        out.append(RewardResult(v, comps, {"outcome": o.details, "rubric": r.details}, scored=o.scored and r.scored))
    return out


__all__ = ["DEFAULT_ALPHA", "cgrpo_results", "cgrpo_rewards"]
