"""Train on the sampler's own advantages instead of those TRL computes from the rewards.

TRL centres each run of ``num_generations`` rewards on its mean, which removes anything a group's members share.
A tree advantage (``train.advantages.tree_advantages``) is exactly such a shared part: how far the state a group
led to stands above the episode's root value. Under ``step_advantage: tree`` the loss therefore takes the
advantages the sampler computed (``SamplerRollout.last_advantages``, in TRL's row order); TRL's rewards stay what
it logs.
"""

from __future__ import annotations

import functools
from typing import Any


def install_sampler_advantages(trainer: Any, rollout: Any) -> None:
    """Make ``trainer`` (a ``GRPOTrainer`` whose ``rollout_func`` is ``rollout``) hand the sampler's advantages to
    its loss. Raises ``RuntimeError`` if the rollout's rows do not match the batch TRL scored."""
    generate = trainer._generate_and_score_completions
    if getattr(generate, "_searchgym_sampler_advantages", False):
        raise RuntimeError("the sampler's advantages are already installed on this trainer")

    @functools.wraps(generate)
    def generate_and_score(inputs: Any) -> dict[str, Any]:
        import torch

        out = generate(inputs)
        theirs = out["advantages"]
        ours = rollout.last_advantages
        if len(ours) != theirs.shape[0]:
            raise RuntimeError(f"the rollout gave {len(ours)} advantages for a batch of {theirs.shape[0]} rows")
        out["advantages"] = torch.tensor(ours, dtype=theirs.dtype, device=theirs.device)
        return out

    generate_and_score._searchgym_sampler_advantages = True  # type: ignore[attr-defined]
    trainer._generate_and_score_completions = generate_and_score


__all__ = ["install_sampler_advantages"]
