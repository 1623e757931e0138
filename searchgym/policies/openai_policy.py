"""``OpenAIPolicy``: any OpenAI-compatible chat-completions server (OpenAI, vLLM, llama.cpp, Ollama), for evaluation.

Uses the official ``openai`` SDK: ``n`` choices per request, action stop sequences (the server drops
the stop string, so it is put back: the env needs the closing tag), SDK timeouts and retries. Log-probs
are not requested: evaluation needs text only, and training goes through ``HFPolicy``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from searchgym.policies.hf_policy import DEFAULT_STOP, cut_at_stop
from searchgym.policies.policy import Completion, Message


class OpenAIPolicy:
    """Chat completions from ``model`` at ``base_url`` (env ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` otherwise)."""

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 max_tokens: int = 256, temperature: float = 0.0, top_p: float = 1.0,
                 stop: Sequence[str] = DEFAULT_STOP, timeout: float = 60.0, max_retries: int = 2,
                 concurrency: int = 8, seed: int | None = None, client: Any = None) -> None:
        if not model:
            raise ValueError("OpenAIPolicy needs a model name")
        from openai import OpenAI

        self.model = model
        self.max_tokens, self.temperature, self.top_p, self.seed = int(max_tokens), float(temperature), float(top_p), seed
        self.stop = list(stop)[:4]  # the OpenAI API accepts at most 4 stop sequences
        self.concurrency = max(1, int(concurrency))
        self.client = client or OpenAI(base_url=base_url, timeout=timeout, max_retries=max_retries,
                                       api_key=api_key or os.environ.get("OPENAI_API_KEY") or "not-needed")

    def generate(self, conversations: Sequence[Sequence[Message]], n: int = 1) -> list[list[Completion]]:
        """``n`` completions per conversation; conversations are sent concurrently."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if len(conversations) <= 1:
            return [self._one(c, n) for c in conversations]
        with ThreadPoolExecutor(min(self.concurrency, len(conversations))) as pool:
            return list(pool.map(lambda c: self._one(c, n), conversations))

    def _one(self, conversation: Sequence[Message], n: int) -> list[Completion]:
        kwargs: dict[str, Any] = dict(model=self.model, messages=list(conversation), n=n, max_tokens=self.max_tokens,
                                      temperature=self.temperature, top_p=self.top_p, stop=self.stop)
        if self.seed is not None:
            kwargs["seed"] = self.seed
        response = self.client.chat.completions.create(**kwargs)
        choices = sorted(response.choices, key=lambda c: c.index)
        texts = [self._restore_stop(c.message.content or "", c.finish_reason) for c in choices]
        if len(texts) < n:
            # some servers (llama.cpp) ignore n: top up with further requests instead of failing the group
            kwargs["n"] = 1
            while len(texts) < n:
                c = self.client.chat.completions.create(**kwargs).choices[0]
                texts.append(self._restore_stop(c.message.content or "", c.finish_reason))
        return [Completion(t) for t in texts[:n]]

    def _restore_stop(self, text: str, finish_reason: str | None) -> str:
        """Servers cut the text BEFORE the stop string: put back the closing tag of the open action."""
        if finish_reason == "stop" and not any(s in text for s in self.stop):
            opened = [(text.rfind(s.replace("</", "<", 1)), s) for s in self.stop]
            at, closing = max(opened)
            if at >= 0:
                text += closing
        return cut_at_stop(text, self.stop)


__all__ = ["OpenAIPolicy"]
