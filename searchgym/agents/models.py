"""Model resolution, kept at this path: it lives in :mod:`searchgym.models` (judges use it too)."""

from searchgym.models import DEFAULT_MODEL, SMOLLM2_ALIASES, cache_root, dequantise_smollm2, resolve_model, smollm2_gguf

__all__ = ["DEFAULT_MODEL", "SMOLLM2_ALIASES", "cache_root", "dequantise_smollm2", "resolve_model", "smollm2_gguf"]
