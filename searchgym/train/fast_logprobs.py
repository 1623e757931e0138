"""A faster exact per-token log-prob path for TRL's ``GRPOTrainer`` and ``SFTTrainer`` on CPU.

:func:`install_compact_lm_head` feeds TRL's chunked log-prob kernel only the labelled positions on CPU,
as TRL's own CUDA path does; every other call goes to TRL's forward unchanged. See docs/training.md.
"""

from __future__ import annotations

import functools
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
        full_mask = labels[:, 1:] != -100
        labels = _trim_padding(args, kwargs, labels)
        hidden = self.base_model(*args, **kwargs).last_hidden_state[:, :-1]
        labels = labels[:, 1:]
        mask = labels != -100
        lm_head = self.get_output_embeddings()
        context = nullcontext()
        if cast_fp32:
            hidden, context = hidden.float(), torch.autocast("cpu", enabled=False)
        with context:
            if lm_head.bias is None and set(outputs) <= set(_ROW_OUTPUTS):
                per_token = _row_log_probs(hidden[mask], lm_head.weight, labels[mask], temperature, outputs)
            else:
                per_token = ChunkedLogProbFunction.apply(hidden[mask], lm_head.weight, lm_head.bias, labels[mask],
                                                         temperature, chunk_size, None, 1.0, outputs)
        # masked_scatter keeps an all-masked batch connected to the graph (a zero, not a backward error)
        log_probs, entropy, log_sum_sq_probs, mean_logits, is_top1 = (
            None if x is None else x.new_zeros(full_mask.shape).masked_scatter(full_mask, x) for x in per_token)
        assert log_probs is not None, "ChunkedLogProbFunction always returns the log-probabilities"
        loss = -log_probs.sum() / (mask.sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch)
        return FusedCausalLMOutput(loss=loss, log_probs=log_probs, entropy=entropy,
                                   log_sum_sq_probs=log_sum_sq_probs, mean_logits=mean_logits, is_top1=is_top1,
                                   label_mask=full_mask, aux_loss=None)

    forward._searchgym_compact = True  # type: ignore[attr-defined]
    return forward


def _trim_padding(args: tuple, kwargs: dict, labels: Any) -> Any:
    """Drop the columns that are padding in every row (``input_ids``/``attention_mask`` in ``kwargs`` are
    replaced); returns the labels cut alike. Padded keys are masked and RoPE sees only relative positions,
    so the other positions' hidden states do not change (exactly in float32; under bf16 autocast the
    rotated queries and keys round differently, to bf16's precision); a micro-batch of one row then runs
    with no mask at all, on SDPA's causal path, which skips the upper triangle."""
    ids, attention = kwargs.get("input_ids"), kwargs.get("attention_mask")
    given = {key for key, value in kwargs.items() if value is not None}
    if (args or ids is None or attention is None or attention.dim() != 2
            or given - {"input_ids", "attention_mask", "use_cache", "output_attentions", "output_hidden_states",
                        "return_dict"}):
        return labels  # position ids, embeddings, images...: columns are not just tokens
    columns = attention.bool().any(0).nonzero().flatten()
    if columns.numel() == 0:
        return labels
    first, last = int(columns[0]), int(columns[-1]) + 1
    if first > 0 and bool((labels[:, first] != -100).any()):  # its prediction would need a dropped column
        first = 0
    if first == 0 and last == ids.shape[1]:
        return labels
    kwargs["input_ids"], kwargs["attention_mask"] = ids[:, first:last], attention[:, first:last]
    return labels[:, first:last]


# what row_log_probs_function computes, in ChunkedLogProbFunction's output order (its other outputs are None)
_ROW_OUTPUTS = ("log_probs", "entropy", "is_top1")
_TOKEN_CHUNK = 128  # rows of logits alive at once: 128 x 49k float32 = 25 MB (fastest on 2 cores)


def _row_log_probs(hidden: Any, weight: Any, targets: Any, temperature: float, outputs: tuple[str, ...]) -> tuple:
    log_probs, entropy, is_top1 = row_log_probs_function().apply(hidden, weight, targets, temperature,
                                                                "entropy" in outputs, "is_top1" in outputs)
    return log_probs, entropy, None, None, is_top1


@functools.cache
def row_log_probs_function() -> Any:
    """The autograd function (built on first use, so that importing this module does not import torch)."""
    import torch

    class _RowLogProbs(torch.autograd.Function):
        """Per-token log-probs of ``hidden @ weight.T / temperature`` (and entropies, is-top-1), whole
        vocabulary rows a token chunk at a time; backward recomputes each chunk's logits.

        The same values as TRL's ``ChunkedLogProbFunction`` (logits in the autocast dtype, softmax and
        gradients accumulated in float32), without its CPU cost: it folds every vocabulary tile with a
        dozen elementwise torch passes and runs its gradient GEMMs in float32, 4.5 s where this takes 1 s
        for 1,320 tokens of SmolLM2 on 2 cores.
        """

        @staticmethod
        def forward(ctx: Any, hidden: Any, weight: Any, targets: Any, temperature: float, want_entropy: bool,
                    want_top1: bool) -> tuple:
            dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else hidden.dtype
            w = weight.to(dtype)
            n = hidden.shape[0]
            log_z = hidden.new_empty(n, dtype=torch.float32)
            log_probs = hidden.new_empty(n, dtype=torch.float32)
            entropy = hidden.new_empty(n, dtype=torch.float32) if want_entropy else None
            is_top1 = torch.zeros(n, dtype=torch.bool, device=hidden.device) if want_top1 else None
            with torch.autocast("cpu", enabled=False):
                for lo in range(0, n, _TOKEN_CHUNK):
                    hi = min(lo + _TOKEN_CHUNK, n)
                    z = _logits(hidden[lo:hi], w, dtype, temperature)
                    log_z[lo:hi] = torch.logsumexp(z, dim=-1)
                    log_probs[lo:hi] = z.gather(-1, targets[lo:hi, None]).squeeze(-1) - log_z[lo:hi]
                    if is_top1 is not None:  # the first maximum, as argmax (and TRL) count a tie
                        is_top1[lo:hi] = z.argmax(-1) == targets[lo:hi]
                    if entropy is not None:
                        log_p = z.sub_(log_z[lo:hi, None])
                        entropy[lo:hi] = -log_p.exp().mul_(log_p).sum(-1)
            ctx.save_for_backward(hidden, weight, targets, log_z, log_z if entropy is None else entropy)
            ctx.dtype, ctx.temperature = dtype, temperature
            if is_top1 is not None:
                ctx.mark_non_differentiable(is_top1)
            ctx.set_materialize_grads(False)
            return log_probs, entropy, is_top1

        @staticmethod
        def backward(ctx: Any, grad_log_probs: Any, grad_entropy: Any, _grad_top1: Any) -> tuple:
            hidden, weight, targets, log_z, entropy = ctx.saved_tensors
            need_hidden, need_weight = ctx.needs_input_grad[:2]
            dtype, temperature = ctx.dtype, ctx.temperature
            w_low = weight.to(dtype)
            w = w_low.float()  # the forward's rounding, multiplied in float32 as TRL's kernel does
            grad_hidden = torch.zeros(hidden.shape, dtype=torch.float32) if need_hidden else None
            grad_weight = torch.zeros(weight.shape, dtype=torch.float32) if need_weight else None
            n = hidden.shape[0]
            for lo in range(0, n, _TOKEN_CHUNK):
                hi = min(lo + _TOKEN_CHUNK, n)
                log_p = _logits(hidden[lo:hi], w_low, dtype, temperature).sub_(log_z[lo:hi, None])
                if grad_entropy is None:
                    assert grad_log_probs is not None  # autograd calls backward only when some output has a gradient
                    grad = log_p.exp_()  # p, in place
                    grad.mul_(-grad_log_probs[lo:hi, None].float())
                else:  # d H / dz_j = -p_j (log p_j + H)
                    p = log_p.exp()
                    grad = p * (log_p + entropy[lo:hi, None]) * -grad_entropy[lo:hi, None].float()
                    if grad_log_probs is not None:
                        grad -= p * grad_log_probs[lo:hi, None].float()
                if grad_log_probs is not None:  # d log p_t / dz_j = 1[j = t] - p_j
                    grad.scatter_add_(-1, targets[lo:hi, None], grad_log_probs[lo:hi, None].float())
                if temperature != 1.0:
                    grad.div_(temperature)
                if dtype != torch.float32:  # the gradient tile is rounded to the compute dtype, as in TRL
                    grad = grad.to(dtype).float()
                if grad_hidden is not None:
                    torch.mm(grad, w, out=grad_hidden[lo:hi])
                if grad_weight is not None:
                    grad_weight.addmm_(grad.t(), hidden[lo:hi].to(dtype).float())
            return (None if grad_hidden is None else grad_hidden.to(hidden.dtype),
                    None if grad_weight is None else grad_weight.to(weight.dtype), None, None, None, None)

    def _logits(hidden: Any, weight: Any, dtype: Any, temperature: float) -> Any:
        z = torch.mm(hidden.to(dtype), weight.t()).float()
        return z if temperature == 1.0 else z.div_(temperature)

    return _RowLogProbs


__all__ = ["install_compact_lm_head"]
