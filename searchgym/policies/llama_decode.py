"""One decode step of a Llama-family model without transformers' per-call machinery, for ``HFPolicy`` on CPU.

On two CPU cores a one-token forward of SmolLM2-135M costs ~46 ms at batch 1 and ~60 ms at batch 8, of
which the weight reads are ~13 ms: the rest is the cost of calling ~300 modules and building the masks,
position embeddings and cache bookkeeping around them, once per generated token. :func:`llama_decode_step`
runs the same tensor operations in the same order (so the logits are bit-identical, a test checks it):
the decoder layers' norms, projections (their possibly patched forwards, LoRA included), rotary embedding,
cache update and attention, called directly. It applies only to a plain ``LlamaForCausalLM`` (optionally
inside a PEFT wrapper) on CPU within :func:`~searchgym.policies.fast_decode.fast_decode` (SDPA swapped for
its one-token attention), with no hooks, default RoPE and SiLU; :func:`supports` says so.
"""

from __future__ import annotations

from typing import Any

from searchgym.policies.fast_decode import DECODE_ATTENTION, decode_attention


def _base(model: Any) -> Any:
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def supports(model: Any) -> bool:
    """Whether :func:`llama_decode_step` reproduces ``model``'s own one-token forward (ask within ``fast_decode``)."""
    base = _base(model)
    if type(base).__name__ != "LlamaForCausalLM" or type(base).__module__ != \
            "transformers.models.llama.modeling_llama":
        return False
    config = base.config
    rope = (getattr(config, "rope_parameters", None) or {}).get("rope_type", "default")
    if rope != "default" or getattr(config, "hidden_act", None) != "silu" or getattr(config, "pretraining_tp", 1) > 1:
        return False
    if next(base.parameters()).device.type != "cpu" or config._attn_implementation != DECODE_ATTENTION:
        return False
    return not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def _call(module: Any) -> Any:
    """The module's forward, skipping ``nn.Module.__call__`` (no hooks: :func:`supports` checked)."""
    return module.__dict__.get("forward") or module.forward


def llama_decode_step(model: Any, tokens: Any, positions: Any, mask: Any, cache: Any) -> Any:
    """Float32 logits (rows, vocab) of one new token per row.

    ``tokens`` and ``positions`` are (rows, 1); ``mask`` (rows, cached + 1) marks the columns each row
    attends to, the new token's last; ``cache`` is the model's cache, updated in place. Run it in the
    context the model's forward would run in (inference mode, autocast, :func:`fast_decode`).
    """
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    base = _base(model)
    inner = base.model
    x = _call(inner.embed_tokens)(tokens)
    cos, sin = _call(inner.rotary_emb)(x, positions)
    keep = mask.bool()[:, None, None, :]
    rows = tokens.shape[0]
    for i, layer in enumerate(inner.layers[: base.config.num_hidden_layers]):
        attn, mlp = layer.self_attn, layer.mlp
        h = _call(layer.input_layernorm)(x)
        shape = (rows, 1, -1, attn.head_dim)
        q = _call(attn.q_proj)(h).view(shape).transpose(1, 2)
        k = _call(attn.k_proj)(h).view(shape).transpose(1, 2)
        v = _call(attn.v_proj)(h).view(shape).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        k, v = cache.layers[i].update(k, v)
        out, _ = decode_attention(attn, q, k, v, keep, dropout=0.0, scaling=attn.scaling)
        x = x + _call(attn.o_proj)(out.reshape(rows, 1, -1).contiguous())
        h = _call(layer.post_attention_layernorm)(x)
        x = x + _call(mlp.down_proj)(_call(mlp.act_fn)(_call(mlp.gate_proj)(h)) * _call(mlp.up_proj)(h))
    x = _call(inner.norm)(x)
    return _call(base.lm_head)(x[:, -1:, :])[:, -1, :].float()


__all__ = ["llama_decode_step", "supports"]
