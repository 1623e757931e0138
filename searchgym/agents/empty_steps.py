"""Skip optimizer steps that carry no gradient (every group of the batch scored alike).

With ``beta = 0`` a GRPO batch whose groups all have one reward has zero advantage everywhere, so its loss
and gradient are exactly zero. Adam would still move every weight on such a step, by its momentum at close
to full step size; on a near-deterministic warm-started policy, where most CPU-sized batches are like this,
that drift broke the action grammar within a few steps (README, "Does GRPO make a better agent?").
"""

from __future__ import annotations

import functools
from typing import Any


def has_gradient(parameters: Any) -> bool:
    """Whether any parameter holds a non-zero gradient."""
    return any(p.grad is not None and bool(p.grad.any()) for p in parameters)


def skip_empty_steps_callback():
    """A ``TrainerCallback`` that turns the optimizer step of a zero-gradient batch into a no-op (weights,
    Adam moments and step count untouched) and logs ``skipped_steps``, the running count.

    Set its ``trainer`` attribute once the trainer exists: transformers hands callbacks no optimizer, so the
    guard wraps ``trainer.optimizer`` (the accelerate-prepared one) when training begins.
    """
    from transformers import TrainerCallback

    class SkipEmptySteps(TrainerCallback):
        def __init__(self) -> None:
            self.skipped = 0
            self.trainer: Any = None

        def on_train_begin(self, args, state, control, **kwargs):
            optimizer = getattr(self.trainer, "optimizer", None)
            if optimizer is None:
                raise RuntimeError("SkipEmptySteps needs its trainer attribute set before training")
            if getattr(optimizer, "_searchgym_skips_empty", False):
                return
            step = optimizer.step
            params = [p for group in optimizer.param_groups for p in group["params"]]

            @functools.wraps(step)  # keeps the lr scheduler's marker on the step it wrapped
            def guarded_step(*a: Any, **kw: Any):
                if not has_gradient(params):
                    self.skipped += 1
                    return None
                return step(*a, **kw)

            optimizer.step = guarded_step
            optimizer._searchgym_skips_empty = True

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs is not None and "loss" in logs:
                logs["skipped_steps"] = float(self.skipped)

    return SkipEmptySteps()


__all__ = ["has_gradient", "skip_empty_steps_callback"]
