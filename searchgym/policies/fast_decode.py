"""Fast one-token decode steps for ``HFPolicy`` on CPU, with the numerics of the plain forward.

Two costs dominate a decode step of a small model on CPU once the matmuls are cheap (docs/training.md,
"HFPolicy"): PyTorch's CPU flash-attention kernel, which takes ~10x longer for one query token than
two small matmuls (2.8 ms vs 0.3 ms a layer for 8 rows x 700 keys in bf16), and, under bf16 autocast,
casting every Linear weight to bf16 again at every token (autocast caches casts only for weights that
require grad, not for a LoRA model's frozen base). :func:`fast_decode` fixes both for the duration of
a generation call: one-token attention runs as grouped float32 matmuls (longer queries go to SDPA
unchanged), and the Linear layers read bf16 copies made once per weight version; the copies round
exactly as autocast would, so sampling under it is unchanged.

Two smaller costs go the same way (measured at batch 8, 700 cached tokens, SmolLM2 with LoRA on q/k/v/o:
63.5 -> 53.0 ms a step, bit-identical logits): ``transformers``' DynamicLayer concatenates every layer's
whole key/value cache at each token (a 6.5 MB copy per layer there), which :func:`preallocate` replaces
with writes into buffers sized for the whole generation, and PEFT's LoRA forward goes through six
modules per wrapped Linear, which :func:`fast_decode` replaces by the same three products in one function.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

DECODE_ATTENTION = "searchgym_decode"


# the longest query decode_attention computes itself: a decode step (1) or, inside ``verifying()``, a draft being
# checked (prompt lookup: a few tokens against a long cache, where SDPA's CPU kernel is as slow as for one)
MAX_DECODE_QUERY = 16
_VERIFYING = contextvars.ContextVar("searchgym_verifying", default=False)


@contextmanager
def verifying() -> Iterator[None]:
    """Within the block, :func:`decode_attention` also computes queries of up to ``MAX_DECODE_QUERY`` tokens that
    come with a mask (a drafted continuation being verified); prefill keeps SDPA's kernel and numerics."""
    token = _VERIFYING.set(True)
    try:
        yield
    finally:
        _VERIFYING.reset(token)


def decode_attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, dropout: float = 0.0,
                     scaling: float | None = None, **kwargs: Any) -> tuple[Any, None]:
    """Attention for one query token, or a few under a mask (a draft being verified), on CPU as grouped matmuls
    in float32; anything else goes to SDPA.

    Query head ``h`` reads key/value head ``h // groups`` (transformers' ``repeat_kv`` order), so the
    heads of a group are stacked as rows against their shared keys instead of repeating the keys.
    """
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    mask = attention_mask
    length = query.shape[2]
    plain = (query.device.type == "cpu" and not dropout
             and kwargs.get("softcap") is None and kwargs.get("position_bias") is None
             and not kwargs.get("output_attentions")
             and (mask is None or (mask.dim() == 4 and mask.shape[1] == 1))
             and query.shape[1] % key.shape[1] == 0
             # several query tokens need their causal mask spelled out (SDPA builds it when there is none)
             and (length == 1 or (length <= MAX_DECODE_QUERY and mask is not None and _VERIFYING.get())))
    if not plain:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    rows, heads, _, dim = query.shape
    kv_heads = key.shape[1]
    groups = heads // kv_heads
    scale = scaling if scaling is not None else dim**-0.5
    with torch.autocast("cpu", enabled=False):
        # (rows, kv_heads, groups * length, dim): a group's heads, each with its query tokens, against shared keys
        q = query.reshape(rows, kv_heads, groups * length, dim).float()
        scores = torch.matmul(q, key.float().transpose(-1, -2)) * scale  # (rows, kv_heads, groups*length, keys)
        if mask is not None:
            keys = scores.shape[-1]
            mask = mask[:, :, -length:, -keys:].unsqueeze(2)  # (rows, 1, 1, length, keys): the same for every head
            scores = scores.view(rows, kv_heads, groups, length, keys)
            scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask.float()
            scores = scores.view(rows, kv_heads, groups * length, keys)
        probs = torch.softmax(scores, dim=-1)
        if length > 1:  # a left-padding query sees no key: zeros, as SDPA gives, not NaNs that 0 x NaN would spread
            probs = probs.nan_to_num_(0.0)
        # as SDPA's CPU kernel does: probabilities in the values' dtype, accumulated in float32
        out = torch.matmul(probs.to(value.dtype), value)
    return out.reshape(rows, heads, length, dim).transpose(1, 2).to(query.dtype), None


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

    if DECODE_ATTENTION not in AttentionInterface._global_mapping:
        AttentionInterface.register(DECODE_ATTENTION, decode_attention)
        AttentionMaskInterface.register(DECODE_ATTENTION, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])


class Bf16Weights:
    """bf16 copies of a model's Linear weights and biases, each made once per version of its tensor."""

    def __init__(self) -> None:
        self._copies: dict[int, tuple[tuple, Any]] = {}

    def copies(self, tensors: list[Any]) -> list[Any]:
        """A bf16 copy of each float32 tensor, reused while the tensor is unchanged; drops the rest."""
        import torch

        kept: dict[int, tuple[tuple, Any]] = {}
        out = []
        for t in tensors:
            stamp = (t.data_ptr(), t._version, tuple(t.shape), str(t.device))
            old = self._copies.get(id(t))
            copy = old[1] if old is not None and old[0] == stamp else t.detach().to(torch.bfloat16)
            kept[id(t)] = (stamp, copy)
            out.append(copy)
        self._copies = kept
        return out


@contextmanager
def fast_decode(model: Any, weights: Bf16Weights | None = None) -> Iterator[None]:
    """Within the block, one-token attention on CPU uses :func:`decode_attention` (for models on SDPA),
    and, given ``weights``, plain ``nn.Linear`` layers with float32 weights compute with bf16 copies
    (for bf16 autocast, whose casts they equal). Both are undone on exit."""
    import torch

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config: Any = getattr(base, "config", None)
    swap_attention = (getattr(config, "_attn_implementation", None) == "sdpa"
                      and next(base.parameters()).device.type == "cpu")
    patched: list[Any] = []
    # a forward already set on the instance (accelerate's hooks) is left alone
    loras = [(m, a) for m in model.modules() if "forward" not in m.__dict__
             for a in [_plain_lora_adapter(m)] if a is not None]
    if weights is not None:
        linears = [m for m in model.modules() if type(m) is torch.nn.Linear and "forward" not in m.__dict__
                   and m.weight.dtype == torch.float32]
        tensors = [t for m in linears for t in (m.weight, m.bias) if t is not None]
        copies = iter(weights.copies(tensors))
        for m in linears:
            w = next(copies)
            b = next(copies) if m.bias is not None else None
            m.forward = _linear_with(w, b)
            patched.append(m)
    for m, adapter in loras:  # their Linear parts read the bf16 copies set above, when there are copies
        m.forward = _lora_with(m.base_layer, m.lora_A[adapter], m.lora_B[adapter], m.scaling[adapter],
                               m.cast_input_dtype_enabled)
        patched.append(m)
    if swap_attention:
        _register()
        config._attn_implementation = DECODE_ATTENTION
    try:
        yield
    finally:
        if swap_attention:
            config._attn_implementation = "sdpa"
        for m in patched:
            del m.forward


def _linear_with(weight: Any, bias: Any) -> Any:
    import torch.nn.functional as F

    def forward(x: Any) -> Any:
        return F.linear(x, weight, bias)

    return forward


def _plain_lora_adapter(module: Any) -> str | None:
    """The one active adapter of an unmerged, vanilla PEFT ``lora.Linear`` in eval mode (no DoRA, no
    LoRA bias, no dropout), whose forward is ``base(x) + B(A(x)) * scaling``; None for anything else."""
    try:
        from peft.tuners.lora.layer import Linear as LoraLinear
    except ImportError:
        return None
    import torch

    if type(module) is not LoraLinear or module.merged or module.disable_adapters or module.training:
        return None
    adapters = list(module.active_adapters)
    if len(adapters) != 1 or adapters[0] not in module.lora_A or adapters[0] in module.lora_variant:
        return None
    adapter = adapters[0]
    parts = (module.base_layer, module.lora_A[adapter], module.lora_B[adapter])
    if any(type(p) is not torch.nn.Linear for p in parts) or module.lora_bias.get(adapter, False):
        return None
    return adapter


def _lora_with(base: Any, lora_a: Any, lora_b: Any, scaling: float, cast_input: bool) -> Any:
    """PEFT's vanilla LoRA forward, op for op (so bit-identical), without its module calls."""

    def forward(x: Any) -> Any:
        result = base(x)
        if cast_input and x.dtype != lora_a.weight.dtype:
            x = x.to(lora_a.weight.dtype)
        return (result + lora_b(lora_a(x)) * scaling).to(result.dtype)

    return forward


def preallocate(cache: Any, capacity: int) -> Any:
    """Give each plain ``DynamicLayer`` of ``cache`` buffers for ``capacity`` tokens, so that decoding writes
    each new token in place instead of concatenating the whole cache; other caches are returned as they are."""
    from transformers.cache_utils import DynamicLayer

    layers = getattr(cache, "layers", None)
    if layers and all(type(layer) is DynamicLayer and layer.is_initialized for layer in layers):
        layer_class = _preallocated_layer_class()
        cache.layers = [layer_class.of(layer, capacity) for layer in layers]
    return cache


@functools.cache
def _preallocated_layer_class() -> Any:
    from transformers.cache_utils import DynamicLayer

    class PreallocatedLayer(DynamicLayer):
        """A DynamicLayer whose keys and values are views of buffers with room to grow: ``update`` copies the
        new tokens in (growing the buffers by doubling when full) instead of concatenating."""

        @classmethod
        def of(cls, layer: Any, capacity: int) -> Any:
            new = cls()
            new.device, new.is_initialized = layer.device, True
            keys, values = layer.keys, layer.values
            new.length = keys.shape[-2]
            new._keys = keys.new_empty((*keys.shape[:2], max(capacity, new.length), keys.shape[-1]))
            new._values = values.new_empty((*values.shape[:2], max(capacity, new.length), values.shape[-1]))
            new._keys[..., : new.length, :] = keys
            new._values[..., : new.length, :] = values
            new._expose()
            return new

        def _expose(self) -> None:
            self.keys = self._keys[..., : self.length, :]
            self.values = self._values[..., : self.length, :]

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            import torch

            end = self.length + key_states.shape[-2]
            if end > self._keys.shape[-2]:
                grow = max(end, 2 * self._keys.shape[-2]) - self._keys.shape[-2]
                pad = (*self._keys.shape[:2], grow)
                self._keys = torch.cat([self._keys, self._keys.new_empty((*pad, self._keys.shape[-1]))], -2)
                self._values = torch.cat([self._values, self._values.new_empty((*pad, self._values.shape[-1]))], -2)
            self._keys[..., self.length : end, :] = key_states
            self._values[..., self.length : end, :] = value_states
            self.length = end
            self._expose()
            return self.keys, self.values

        def get_seq_length(self) -> int:
            return self.length

        def crop(self, tokens_to_remove: int) -> None:
            if tokens_to_remove > 0:
                raise ValueError("crop takes a negative count of tokens to remove")
            self.length = max(0, self.length + tokens_to_remove)
            self._expose()

        def batch_repeat_interleave(self, repeats: int) -> None:
            self._keys = self._keys.repeat_interleave(repeats, dim=0)
            self._values = self._values.repeat_interleave(repeats, dim=0)
            self._expose()

        def batch_select_indices(self, indices: Any) -> None:
            self._keys, self._values = self._keys[indices, ...], self._values[indices, ...]
            self._expose()

    return PreallocatedLayer


def __getattr__(name: str) -> Any:  # the class subclasses transformers', imported only when first used
    if name == "PreallocatedLayer":
        return _preallocated_layer_class()
    raise AttributeError(name)


__all__ = ["DECODE_ATTENTION", "MAX_DECODE_QUERY", "Bf16Weights", "decode_attention", "fast_decode", "preallocate",
           "verifying"]
