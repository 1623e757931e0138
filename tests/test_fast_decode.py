"""The CPU decode fast path of HFPolicy: one-token attention as grouped matmuls, bf16 weight copies for
autocast, and inverse-CDF sampling; each must leave what the model computes (or samples) unchanged."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tiny_model(tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                         num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=512,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return LlamaForCausalLM(config).eval()


class _Heads(torch.nn.Module):
    num_key_value_groups = 3
    is_causal = True


@pytest.mark.parametrize("mask_kind", ["none", "bool", "float"])
def test_one_token_attention_equals_sdpa(mask_kind):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    from searchgym.policies.fast_decode import decode_attention

    g = torch.Generator().manual_seed(0)
    q = torch.randn(4, 6, 1, 16, generator=g)
    k, v = torch.randn(4, 2, 30, 16, generator=g), torch.randn(4, 2, 30, 16, generator=g)
    mask = None
    if mask_kind != "none":
        keep = torch.ones(4, 1, 1, 30, dtype=torch.bool)
        keep[1, ..., :7] = False  # a left-padded row
        keep[3, ..., :29] = False
        mask = keep if mask_kind == "bool" else torch.zeros(4, 1, 1, 30).masked_fill(~keep, float("-inf"))
    ours, _ = decode_attention(_Heads(), q, k, v, mask, scaling=0.3)
    ref, _ = sdpa_attention_forward(_Heads(), q, k, v, mask, scaling=0.3)
    assert ours.shape == ref.shape == (4, 1, 6, 16)
    assert torch.allclose(ours, ref, atol=1e-5)


def _prefill_and_step(model, ids, mask):
    """Logits of the real tokens of a left-padded prefill, then of one cached decode step."""
    import inspect

    cache_kw = "cache" if "cache" in inspect.signature(type(model).forward).parameters else "past_key_values"
    out = model(input_ids=ids, attention_mask=mask, use_cache=True)
    cache = getattr(out, "cache", None) or out.past_key_values
    nxt = out.logits[:, -1].argmax(-1, keepdim=True)
    step_mask = torch.cat([mask, torch.ones_like(nxt)], 1)
    step = model(input_ids=nxt, attention_mask=step_mask, position_ids=step_mask.sum(1, keepdim=True) - 1,
                 use_cache=True, **{cache_kw: cache})
    return out.logits[mask.bool()].float(), step.logits[:, -1].float()


def test_fast_decode_keeps_the_models_logits_and_undoes_itself(tiny_model):
    from searchgym.policies.fast_decode import DECODE_ATTENTION, Bf16Weights, fast_decode

    ids = torch.randint(5, 1000, (3, 9), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[0, :4] = 0  # left padding
    with torch.inference_mode():
        ref_prefill, ref_step = _prefill_and_step(tiny_model, ids, mask)
        with fast_decode(tiny_model):
            assert tiny_model.config._attn_implementation == DECODE_ATTENTION
            prefill, step = _prefill_and_step(tiny_model, ids, mask)
        assert tiny_model.config._attn_implementation == "sdpa"
        assert torch.allclose(prefill, ref_prefill, atol=1e-5)
        assert torch.allclose(step, ref_step, atol=1e-5)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            plain = tiny_model(input_ids=ids, attention_mask=mask).logits
            with fast_decode(tiny_model, Bf16Weights()):
                copied = tiny_model(input_ids=ids, attention_mask=mask).logits
    # bf16 copies round exactly as autocast's own casts: the prefill (SDPA either way) is bit-identical
    assert torch.equal(plain, copied)
    assert not any("forward" in m.__dict__ for m in tiny_model.modules())


def test_bf16_copies_are_made_once_per_weight_version():
    from searchgym.policies.fast_decode import Bf16Weights

    w, other = torch.nn.Parameter(torch.randn(4, 3)), torch.randn(2)
    store = Bf16Weights()
    first = store.copies([w, other])
    assert first[0].dtype == torch.bfloat16 and torch.equal(first[0], w.detach().bfloat16())
    assert store.copies([w, other])[0] is first[0]  # unchanged weight: the same copy
    with torch.no_grad():
        w.add_(1.0)  # what an optimizer step does
    again = store.copies([w])
    assert again[0] is not first[0] and torch.equal(again[0], w.detach().bfloat16())
    assert len(store._copies) == 1  # tensors no longer asked for are dropped


def test_bf16_decode_matches_an_autocast_forward(tiny_model, tokenizer):
    from searchgym.policies.hf_policy import HFPolicy

    policy = HFPolicy(tiny_model, tokenizer, max_new_tokens=10, temperature=1.0, seed=5, autocast_bf16=True,
                      ignore_stops=True)
    prompts = [[1, 50, 60, 70, 80, 90], [1, 300, 301]]
    for comps in policy.generate_ids(prompts, n=2):
        for c in comps:
            ids = torch.tensor([list(c.prompt_ids) + list(c.token_ids)])
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
                logits = tiny_model(ids).logits[0, len(c.prompt_ids) - 1 : -1].float()
            ref = torch.log_softmax(logits, -1).gather(-1, torch.tensor(c.token_ids)[:, None]).squeeze(-1)
            assert torch.allclose(torch.tensor(c.logprobs), ref, atol=0.02), (c.logprobs, ref)
    assert not any("forward" in m.__dict__ for m in tiny_model.modules())


@pytest.mark.parametrize(("top_p", "expected"), [(1.0, [0.5, 0.3, 0.15, 0.05]), (0.8, [0.625, 0.375, 0.0, 0.0])])
def test_sampling_draws_from_the_distribution_and_respects_top_p(tiny_model, tokenizer, top_p, expected):
    from searchgym.policies.hf_policy import HFPolicy

    policy = HFPolicy(tiny_model, tokenizer, temperature=1.0, top_p=top_p, seed=2)
    logits = torch.tensor([0.5, 0.3, 0.15, 0.05]).log().repeat(40_000, 1)
    tokens, logprobs = policy._sample(logits)
    freq = torch.bincount(tokens, minlength=4).float() / len(tokens)
    assert torch.allclose(freq, torch.tensor(expected), atol=0.01), freq
    assert torch.allclose(logprobs, logits.log_softmax(-1).gather(-1, tokens[:, None]).squeeze(-1))
