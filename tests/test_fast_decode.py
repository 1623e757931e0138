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


@pytest.mark.parametrize("mask_kind", ["bool", "float"])
def test_a_few_query_tokens_against_a_cache_equal_sdpa_while_verifying(mask_kind):
    """A drafted continuation being checked: 5 query tokens, causal among themselves, after 25 cached keys, with
    left padding and masked-out columns in the cache (a rejected draft's)."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    from searchgym.policies.fast_decode import decode_attention, verifying

    g = torch.Generator().manual_seed(0)
    q = torch.randn(4, 6, 5, 16, generator=g)
    k, v = torch.randn(4, 2, 30, 16, generator=g), torch.randn(4, 2, 30, 16, generator=g)
    keep = torch.ones(4, 1, 5, 30, dtype=torch.bool)
    keep[..., 25:] = torch.tril(torch.ones(5, 5, dtype=torch.bool))  # causal within the draft
    keep[1, ..., :7] = False  # a left-padded row
    keep[2, ..., 20:23] = False  # columns of a rejected draft
    mask = keep if mask_kind == "bool" else torch.zeros(4, 1, 5, 30).masked_fill(~keep, float("-inf"))
    ref, _ = sdpa_attention_forward(_Heads(), q, k, v, mask, scaling=0.3)
    with verifying():
        ours, _ = decode_attention(_Heads(), q, k, v, mask, scaling=0.3)
    assert ours.shape == ref.shape == (4, 5, 6, 16)
    assert torch.allclose(ours, ref, atol=1e-5)
    outside, _ = decode_attention(_Heads(), q, k, v, mask, scaling=0.3)  # prefill and the like: SDPA's own result
    assert torch.equal(outside, ref)


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


def _decode_steps(model, ids, steps, *, capacity=None):
    """Greedy logits of ``steps`` cached one-token steps after a prefill, optionally on preallocated buffers."""
    import inspect

    from searchgym.policies.fast_decode import preallocate

    cache_kw = "cache" if "cache" in inspect.signature(type(model).forward).parameters else "past_key_values"
    out = model(input_ids=ids, use_cache=True)
    cache = getattr(out, "cache", None) or out.past_key_values
    if capacity is not None:
        cache = preallocate(cache, capacity)
    logits = [out.logits[:, -1]]
    for _ in range(steps):
        out = model(input_ids=logits[-1].argmax(-1, keepdim=True), use_cache=True, **{cache_kw: cache})
        logits.append(out.logits[:, -1])
    return torch.stack(logits), cache


@pytest.mark.parametrize("capacity", [20, 9])  # room for every token; too little, so the buffers must grow
def test_preallocated_cache_decodes_exactly_like_the_dynamic_cache(tiny_model, capacity):
    from searchgym.policies.fast_decode import PreallocatedLayer

    ids = torch.randint(5, 1000, (3, 7), generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        ref, ref_cache = _decode_steps(tiny_model, ids, 8)
        ours, cache = _decode_steps(tiny_model, ids, 8, capacity=capacity)
    assert all(type(layer) is PreallocatedLayer for layer in cache.layers)
    assert torch.equal(ours, ref)
    assert cache.get_seq_length() == ref_cache.get_seq_length() == 15
    for mine, theirs in zip(cache.layers, ref_cache.layers):
        assert torch.equal(mine.keys, theirs.keys) and torch.equal(mine.values, theirs.values)
    # dropping and repeating rows, as HFPolicy does when episodes end or branch, keeps them in step
    pick = torch.tensor([2, 0])
    cache.batch_select_indices(pick)
    ref_cache.batch_select_indices(pick)
    cache.batch_repeat_interleave(2)
    ref_cache.batch_repeat_interleave(2)
    nxt = torch.tensor([[11], [11], [12], [12]])
    with torch.inference_mode():
        a = tiny_model(input_ids=nxt, cache=cache, use_cache=True).logits
        b = tiny_model(input_ids=nxt, cache=ref_cache, use_cache=True).logits
    assert torch.equal(a, b) and cache.get_seq_length() == 16


def test_preallocate_leaves_other_caches_alone():
    from transformers import DynamicCache

    from searchgym.policies.fast_decode import preallocate

    empty = DynamicCache()
    assert preallocate(empty, 10) is empty and not empty.layers
    assert preallocate(None, 10) is None


@pytest.fixture()
def lora_model(tiny_model):
    import copy

    peft = pytest.importorskip("peft")
    model = peft.get_peft_model(copy.deepcopy(tiny_model),
                                peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "o_proj"]))
    with torch.no_grad():  # B starts at zero, which would hide a wrong LoRA product
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.2, generator=torch.Generator().manual_seed(len(name)))
    return model.eval()


@pytest.mark.parametrize("bf16", [False, True])
def test_lean_lora_forward_is_bit_identical_to_peft(lora_model, bf16):
    from searchgym.policies.fast_decode import Bf16Weights, fast_decode

    ids = torch.randint(5, 1000, (2, 8), generator=torch.Generator().manual_seed(4))
    lora_layers = [m for m in lora_model.modules() if type(m).__name__ == "Linear" and hasattr(m, "lora_A")]
    assert len(lora_layers) == 6
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        ref = lora_model(input_ids=ids).logits
        with lora_model.disable_adapter():
            no_lora = lora_model(input_ids=ids).logits
        with fast_decode(lora_model, Bf16Weights() if bf16 else None):
            assert all("forward" in m.__dict__ for m in lora_layers)
            ours = lora_model(input_ids=ids).logits
    assert not torch.equal(ref, no_lora)  # the adapters matter here
    assert torch.equal(ours, ref)
    assert not any("forward" in m.__dict__ for m in lora_model.modules())


def test_lean_lora_skips_layers_it_cannot_reproduce(lora_model):
    from searchgym.policies.fast_decode import fast_decode

    q_proj = lora_model.base_model.model.model.layers[0].self_attn.q_proj
    q_proj.lora_dropout["default"] = torch.nn.Dropout(0.5)
    q_proj.lora_dropout["default"].train()
    q_proj.train()  # dropout active: PEFT's own forward must run
    merged = lora_model.base_model.model.model.layers[1].self_attn.v_proj
    merged.merge()
    with fast_decode(lora_model):
        assert "forward" not in q_proj.__dict__ and "forward" not in merged.__dict__
        assert "forward" in lora_model.base_model.model.model.layers[1].self_attn.q_proj.__dict__

