"""Skip the work of a GRPO step that carries no gradient.

With ``beta = 0`` a row whose group scored alike has zero advantage, so its loss and gradient are exactly
zero. Two things still cost or harm: TRL runs the forward and backward of such rows (most of a CPU step on
a near-deterministic warm-started policy), and Adam moves every weight on a step whose batch has no
gradient at all, by its momentum at close to full step size (on a warm start that drift broke the action
grammar within a few steps: docs/learning.md).
"""

from __future__ import annotations

import functools
from typing import Any

# loss types whose per-token loss is zero at zero advantage and whose normalizer is the whole generation
# batch's token count (num_items_in_batch), so leaving such rows out of a micro-batch changes nothing
_BATCH_NORMALIZED_LOSSES = ("dapo",)
_COMPLETION_KEYS = ("completion_ids", "completion_mask", "old_per_token_logps", "sampling_per_token_logps",
                    "ref_per_token_logps", "tool_mask", "importance_sampling_ratio")


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


def rows_with_signal(inputs: dict[str, Any], *, keep_one: bool = False) -> dict[str, Any] | None:
    """The micro-batch ``inputs`` of TRL's loss without its zero-advantage rows and without the completion
    columns that are padding in every kept row; ``None`` when no row is left (``keep_one`` keeps the first
    row instead, for processes that must run a forward)."""
    import torch

    advantages = inputs["advantages"]
    rows = advantages.size(0)
    keep = advantages.reshape(rows, -1).ne(0).any(dim=1)
    if not bool(keep.any()):
        if not keep_one:
            return None
        keep[0] = True
    mask = inputs["completion_mask"][keep]
    if "tool_mask" in inputs:
        mask = mask * inputs["tool_mask"][keep]
    used = mask.ne(0).any(dim=0).nonzero()
    width = int(used.max()) + 1 if used.numel() else 1
    full_width = inputs["completion_ids"].size(1)
    out: dict[str, Any] = {}
    for key, value in inputs.items():
        if torch.is_tensor(value) and value.dim() > 0 and value.size(0) == rows:
            value = value[keep]
            if key in _COMPLETION_KEYS and value.dim() > 1 and value.size(1) == full_width:
                value = value[:, :width]
        out[key] = value
    return out


def install_signal_only_loss(trainer: Any) -> bool:
    """Make ``trainer`` (a ``GRPOTrainer``) compute its loss on rows with a non-zero advantage only; ``True``
    when installed. The loss and gradient are the same; TRL's per-micro-batch logs (entropy, clip ratios)
    then cover the rows that were trained. Left alone where zero-advantage rows do contribute: a KL term
    (``beta > 0``), an entropy bonus or mask, an auxiliary loss, or a loss normalized per micro-batch."""
    import torch

    if (trainer.beta != 0.0 or trainer.loss_type not in _BATCH_NORMALIZED_LOSSES
            or trainer.top_entropy_quantile < 1.0 or getattr(trainer, "_entropy_bonus_enabled", False)
            or getattr(trainer, "aux_loss_enabled", False)):
        return False
    compute = trainer._compute_loss
    if getattr(compute, "_searchgym_signal_only", False):
        return True
    # under DDP every process must run a forward and backward, or the gradient all-reduce waits forever
    keep_one = trainer.accelerator.num_processes > 1

    @functools.wraps(compute)
    def compute_loss(model: Any, inputs: dict[str, Any]):
        kept = rows_with_signal(inputs, keep_one=keep_one)
        if kept is None:
            return torch.zeros((), device=inputs["advantages"].device, requires_grad=True)
        return compute(model, kept)

    compute_loss._searchgym_signal_only = True  # type: ignore[attr-defined]
    trainer._compute_loss = compute_loss
    return True


__all__ = ["has_gradient", "install_signal_only_loss", "rows_with_signal", "skip_empty_steps_callback"]
