"""resolve_model: the shipped SmolLM2 GGUF becomes a loadable HF checkpoint once, then is reused."""

from __future__ import annotations

import time

import pytest

from searchgym.models import resolve_model, smollm2_gguf


@pytest.fixture(scope="session")
def smollm2_dir():
    return resolve_model("smollm2")  # dequantises once per cache (tens of seconds), instant afterwards


def test_smollm2_checkpoint_is_loadable_and_reused(smollm2_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert smollm2_gguf().is_file()
    weights = next(smollm2_dir.glob("*.safetensors"))
    stamp = weights.stat().st_mtime_ns
    t0 = time.perf_counter()
    again = resolve_model("SmolLM2")
    assert again == smollm2_dir and time.perf_counter() - t0 < 1.0
    assert weights.stat().st_mtime_ns == stamp  # not rewritten
    tok = AutoTokenizer.from_pretrained(str(smollm2_dir))
    model = AutoModelForCausalLM.from_pretrained(str(smollm2_dir), dtype=torch.float32)
    assert model.config.num_hidden_layers == 30 and tok.chat_template
    ids = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                  add_generation_prompt=True, return_tensors="pt", return_dict=True)["input_ids"]
    out = model.generate(ids, max_new_tokens=8, do_sample=False)
    assert "Paris" in tok.decode(out[0, ids.shape[1]:])  # real weights, not a random init
    assert not list(smollm2_dir.parent.glob(f".{smollm2_dir.name}.*"))  # no temp dirs left behind


def test_resolve_paths_and_ids(tmp_path, smollm2_dir):
    assert resolve_model(str(smollm2_dir)) == smollm2_dir
    assert str(resolve_model("HuggingFaceTB/SmolLM2-360M-Instruct")) == "HuggingFaceTB/SmolLM2-360M-Instruct"
    with pytest.raises(ValueError, match="config.json"):
        resolve_model(str(tmp_path))
    with pytest.raises(ValueError):
        resolve_model("  ")
