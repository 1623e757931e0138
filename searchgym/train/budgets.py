"""Callbacks that stop training at a budget: wall-clock seconds, or generated policy tokens (equal-cost comparisons)."""

from __future__ import annotations

import time
from typing import Any


def wall_clock_budget(seconds: float):
    """A ``TrainerCallback`` that stops training at the first optimizer step past ``seconds`` of wall clock."""
    from transformers import TrainerCallback

    class WallClockBudget(TrainerCallback):
        def __init__(self) -> None:
            self.start: float | None = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if self.start is not None and time.perf_counter() - self.start >= seconds:
                control.should_training_stop = True
                control.should_save = True  # keep the last step's checkpoint
            return control

    return WallClockBudget()


def generated_token_budget(rollout: Any, tokens: int):
    """A ``TrainerCallback`` that stops training at the first optimizer step past ``tokens`` generated policy
    tokens (comparisons of samplers at an equal generation budget); ``rollout`` is the
    trainer's :class:`~searchgym.train.rollout.SamplerRollout`, which counts them."""
    from transformers import TrainerCallback

    class GeneratedTokenBudget(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if rollout.generated_tokens >= tokens:
                control.should_training_stop = True
                control.should_save = True
            return control

    return GeneratedTokenBudget()
