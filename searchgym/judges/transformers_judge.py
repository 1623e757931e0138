"""``transformers:<model>``: an in-process Hugging Face chat model as judge, batched.

Default model: SmolLM2-135M-Instruct, offline (``searchgym.models.resolve_model("smollm2")``).
See docs/rewards.md.
"""

from __future__ import annotations

import asyncio
from typing import Any

from searchgym.judges.base import JudgeError
from searchgym.judges.cache import JudgeCache
from searchgym.judges.model import ModelJudge, time_left
from searchgym.models import resolve_model

DEFAULT_MODEL = "smollm2"


def _load(model: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if model in ("smollm2", "SmolLM2-135M-Instruct"):
        path = resolve_model("smollm2")  # a cached checkpoint dequantised once from the shipped GGUF
        return AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path)
    return AutoTokenizer.from_pretrained(model), AutoModelForCausalLM.from_pretrained(model)


class TransformersJudge(ModelJudge):
    """A local HF causal LM as judge; requests are generated in batches of ``batch_size``."""

    name = "transformers"

    def __init__(self, model: str = DEFAULT_MODEL, *, batch_size: int = 8, max_new_tokens: int = 64,
                 cache: JudgeCache | None = None, parse_retries: int = 1, tokenizer=None, hf_model=None,
                 timeout: float | None = None, deadline: float | None = None):
        super().__init__(cache=cache, parse_retries=parse_retries, deadline=deadline)
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout}")
        self.timeout = timeout
        self.model = model
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self._tok: Any = tokenizer  # loaded on first use when None
        self._lm: Any = hf_model

    def _ensure(self):
        if self._lm is None:
            self._tok, self._lm = _load(self.model)
            self._lm.eval()
        if self._tok.pad_token is None:
            self._tok.pad_token = self._tok.eos_token
        self._tok.padding_side = "left"
        return self._tok, self._lm

    def _generate(self, messages: list[list[dict]], sample: bool, max_new_tokens: int | None = None) -> list[str]:
        import torch

        tok, lm = self._ensure()
        out: list[str] = []
        for start in range(0, len(messages), self.batch_size):
            chunk = messages[start:start + self.batch_size]
            texts = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in chunk]
            enc = tok(texts, return_tensors="pt", padding=True)
            max_time = time_left(self.timeout)
            if max_time is not None and max_time <= 0:
                raise JudgeError(f"transformers judge: the call's deadline of {self.deadline}s passed")
            with torch.no_grad():
                gen = lm.generate(**enc, max_new_tokens=max_new_tokens or self.max_new_tokens, do_sample=sample,
                                  temperature=0.7 if sample else None, top_p=None, top_k=None,
                                  pad_token_id=tok.pad_token_id, max_time=max_time)
            out.extend(tok.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True))
        return out

    async def _complete_batch(self, messages: list[list[dict]], attempt: int, on_done) -> None:
        for start in range(0, len(messages), self.batch_size):
            chunk = messages[start:start + self.batch_size]
            try:
                replies = await asyncio.to_thread(self._generate, chunk, attempt > 0)
            except Exception as exc:  # a failed forward pass fails every request of its batch, clearly
                replies = [exc] * len(chunk)
            for j, reply in enumerate(replies):
                on_done(start + j, reply)

    async def complete(self, messages: list[dict], max_tokens: int = 512) -> str:
        """Free-text completion (used for rubric generation)."""
        (reply,) = await asyncio.to_thread(self._generate, [messages], False, max_tokens)
        return reply
