"""``VLLMPolicy``: the samplers' policy on the vLLM engine that TRL's ``GRPOTrainer`` runs (``use_vllm``).

TRL keeps the engine's weights in step; this adapter only generates, with ``HFPolicy``'s conventions.
Only ``vllm_mode="colocate"`` (or ``server`` with one process) is supported. See docs/training.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from searchgym.policies.hf_policy import DEFAULT_STOP, chat_prompt_ids
from searchgym.policies.policy import Completion, Message


class VLLMPolicy:
    """Sampling through ``trainer.vllm_generation`` (see the module doc)."""

    def __init__(self, trainer: Any, tokenizer: Any, *, stop: Sequence[str] = DEFAULT_STOP) -> None:
        if getattr(trainer, "vllm_generation", None) is None:
            raise ValueError("VLLMPolicy needs a GRPOTrainer built with use_vllm=True")
        self.trainer, self.tokenizer, self.stop = trainer, tokenizer, tuple(stop)
        self.generated_tokens = 0

    def prompt_ids(self, conversation: Sequence[Message]) -> list[int]:
        """Token ids of the conversation with the chat template and the assistant generation prompt."""
        return chat_prompt_ids(self.tokenizer, conversation)

    def generate(self, conversations: Sequence[Sequence[Message]], n: int = 1) -> list[list[Completion]]:
        """``n`` sampled completions (next agent turn) for each conversation, in order."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if not conversations:
            return []
        return self.generate_ids([self.prompt_ids(c) for c in conversations], n)

    def generate_ids(self, prompts: Sequence[Sequence[int]], n: int = 1) -> list[list[Completion]]:
        """``n`` completions for each tokenised prompt (the samplers' token-exact multi-turn path)."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if not prompts:
            return []
        prompts = [list(p) for p in prompts]
        repeated = [p for p in prompts for _ in range(n)]
        _, completion_ids, logprobs, _ = self.trainer.vllm_generation.generate(
            prompts=repeated, images=None, num_generations=n)
        if len(completion_ids) != len(repeated):
            raise RuntimeError(f"vLLM returned {len(completion_ids)} completions for {len(repeated)} requests")
        logprobs = logprobs if logprobs is not None else [None] * len(repeated)
        rows = [self._completion(p, ids, lps) for p, ids, lps in zip(repeated, completion_ids, logprobs)]
        return [rows[i * n : (i + 1) * n] for i in range(len(prompts))]

    def _completion(self, prompt: Sequence[int], ids: Sequence[int], logprobs: Any) -> Completion:
        ids = list(ids)
        # vLLM gives the sampled token's log-prob first in each position's list
        lps = [float(lp[0]) if isinstance(lp, (list, tuple)) else float(lp) for lp in logprobs] if logprobs else []
        keep = stop_token_count(self.tokenizer, ids, self.stop)
        ids, lps = ids[:keep], lps[:keep]
        self.generated_tokens += len(ids)
        text = self.tokenizer.decode(ids, skip_special_tokens=True)  # the text of exactly the ids trained on
        return Completion(text=text, prompt_ids=tuple(prompt), token_ids=tuple(ids), logprobs=tuple(lps))


def stop_token_count(tokenizer: Any, ids: Sequence[int], stops: Sequence[str]) -> int:
    """How many of ``ids`` to keep: up to the token that completes the first stop string (all if none)."""
    if not any(s in tokenizer.decode(list(ids), skip_special_tokens=True) for s in stops):
        return len(ids)
    lo, hi = 1, len(ids)  # a decoded prefix only grows, so the first prefix holding a stop is a boundary
    while lo < hi:
        mid = (lo + hi) // 2
        if any(s in tokenizer.decode(list(ids[:mid]), skip_special_tokens=True) for s in stops):
            hi = mid
        else:
            lo = mid + 1
    return lo


__all__ = ["VLLMPolicy", "stop_token_count"]
