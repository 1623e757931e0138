"""A faster exact per-token log-prob path for TRL's ``GRPOTrainer`` and ``SFTTrainer`` on CPU.

:func:`install_compact_lm_head` feeds TRL's chunked log-prob kernel only the labelled positions on CPU,
as TRL's own CUDA path does; every other call goes to TRL's forward unchanged. See docs/training.md.
"""

from __future__ import annotations

import types
from contextlib import nullcontext
from typing import Any

# config attributes TRL reads to scale or soft-cap the logits; a model with any of them keeps TRL's path
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier",
                     "logits_scaling")


def _plain_logits(model: Any) -> bool:
    config = model.config.get_text_config()
    return all(getattr(config, name, None) in (None, 1.0) for name in _LOGIT_TRANSFORMS) and not getattr(
        config, "output_router_logits", False)


def install_compact_lm_head(trainer: Any, outputs: tuple[str, ...] = ("log_probs", "entropy")) -> bool:
    """Make ``trainer``'s fused LM head score only labelled positions on CPU; ``True`` when installed.

    Call it after ``GRPOTrainer.__init__`` or ``SFTTrainer.__init__`` (which install TRL's fused head),
    with the per-token ``outputs`` that trainer reads from the policy (SFT also reads ``is_top1``). It
    patches the policy and, when there is one, the reference model. Models TRL did not patch, or whose
    logits it transforms, are left alone (``False``).
    """
    from trl.trainer.utils import _CHUNKED_LOGPROB_CHUNK_SIZE

    installed = False
    for model in (trainer.model, getattr(trainer, "ref_model", None)):
        if model is None:
            continue
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        trl_forward = base.__dict__.get("forward")  # TRL sets the fused forward on the instance
        if trl_forward is None or not _plain_logits(base) or getattr(trl_forward, "_searchgym_compact", False):
            continue
        base.forward = types.MethodType(
            _compact_forward(trl_forward, float(getattr(trainer, "temperature", 1.0)),
                             bool(getattr(trainer.args, "cast_lm_head_to_fp32", False)),
                             _CHUNKED_LOGPROB_CHUNK_SIZE, outputs if model is trainer.model else ("log_probs",)),
            base)
        installed = True
    return installed


def _compact_forward(trl_forward: Any, temperature: float, cast_fp32: bool, chunk_size: int,
                     outputs: tuple[str, ...]):
    import torch
    from trl.kernels import ChunkedLogProbFunction
    from trl.trainer.utils import FusedCausalLMOutput

    def forward(self, *args, fused_lm_head=False, labels=None, shift_labels=None, num_items_in_batch=None,
                **kwargs):
        device = next(self.parameters()).device
        if (not fused_lm_head or labels is None or shift_labels is not None or device.type != "cpu"
                or kwargs.get("output_router_logits")):
            return trl_forward(*args, fused_lm_head=fused_lm_head, labels=labels, shift_labels=shift_labels,
                               num_items_in_batch=num_items_in_batch, **kwargs)
        kwargs["use_cache"] = False
        hidden = self.base_model(*args, **kwargs).last_hidden_state[:, :-1]
        labels = labels[:, 1:]
        mask = labels != -100
        lm_head = self.get_output_embeddings()
        context = nullcontext()
        if cast_fp32:
            hidden, context = hidden.float(), torch.autocast("cpu", enabled=False)
        with context:
            per_token = ChunkedLogProbFunction.apply(hidden[mask], lm_head.weight, lm_head.bias, labels[mask],
                                                     temperature, chunk_size, None, 1.0, outputs)
        # masked_scatter keeps an all-masked batch connected to the graph (a zero, not a backward error)
        log_probs, entropy, log_sum_sq_probs, mean_logits, is_top1 = (
            None if x is None else x.new_zeros(mask.shape).masked_scatter(mask, x) for x in per_token)
        assert log_probs is not None, "ChunkedLogProbFunction always returns the log-probabilities"
        loss = -log_probs.sum() / (mask.sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch)
        return FusedCausalLMOutput(loss=loss, log_probs=log_probs, entropy=entropy,
                                   log_sum_sq_probs=log_sum_sq_probs, mean_logits=mean_logits, is_top1=is_top1,
                                   label_mask=mask, aux_loss=None)

    forward._searchgym_compact = True  # type: ignore[attr-defined]
    return forward


__all__ = ["install_compact_lm_head"]
