"""Training: the trajectory and truncated step-level (SLATE) samplers, advantages, the TRL rollout
function and GRPO training, the warm start, the ``TrlParser`` config, checkpoints and resume, metrics,
episode logs and the HTML view of runs.

Heavy modules (torch, transformers, trl) load only when their classes are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from searchgym._lazy import lazy_exports
from searchgym.train.samples import Sampler, TrainingSample

if TYPE_CHECKING:
    from searchgym.train.samplers import TrajectorySampler, TruncatedStepSampler

_LAZY = {
    "TrajectorySampler": "searchgym.train.samplers",
    "TruncatedStepSampler": "searchgym.train.samplers",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = ["Sampler", "TrainingSample", "TrajectorySampler", "TruncatedStepSampler"]
