"""``HFPolicy``: a transformers causal LM as a search agent, with token ids and log-probs for training.

Decoding is a small loop of our own rather than ``model.generate`` because training needs three
things ``generate`` does not give together: (1) the prompt of a group encoded ONCE and its KV cache
shared by the ``n`` branches (``DynamicCache.batch_repeat_interleave``), (2) per-token log-probs of
the sampled tokens under the sampling distribution (logits / temperature, as TRL scores them), and
(3) stopping each row at the end of an action (``</search>``, ``</open>``, ``</answer>``).

Conventions: ``Completion.text`` is cut right after the first stop string; ``token_ids`` run up to
and including the token that completed it (a token may carry a few characters past the stop; they
are dropped from the text only). ``logprobs[i]`` is ``log p(token_ids[i])`` under
``softmax(logits / temperature)`` (plain logits when ``temperature == 0``, i.e. greedy).
Batches are left-padded. Sampling draws from one seeded ``torch.Generator``: the same seed and the
same calls give the same completions.
"""

from __future__ import annotations

import inspect
from typing import Any, Sequence

from searchgym.agents.policy import Completion, Message

DEFAULT_STOP = ("</search>", "</open>", "</answer>")


class HFPolicy:
    """Batched sampling from a causal LM with its chat template (see the module doc)."""

    def __init__(self, model: Any, tokenizer: Any, *, max_new_tokens: int = 128, temperature: float = 1.0,
                 top_p: float = 1.0, stop: Sequence[str] = DEFAULT_STOP, seed: int | None = 0,
                 batch_size: int = 16, shared_prefix: bool = True) -> None:
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if temperature < 0 or not 0 < top_p <= 1:
            raise ValueError(f"need temperature >= 0 and 0 < top_p <= 1, got {temperature}, {top_p}")
        import torch

        self.model, self.tokenizer = model, tokenizer
        self.max_new_tokens, self.temperature, self.top_p = int(max_new_tokens), float(temperature), float(top_p)
        self.stop = tuple(stop)
        self.batch_size = max(1, int(batch_size))
        self.shared_prefix = shared_prefix  # False re-encodes the prompt for every branch (benchmark baseline)
        self.device = next(model.parameters()).device
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(0 if seed is None else int(seed))
        self._stop_window = max((len(tokenizer.encode(s, add_special_tokens=False)) for s in self.stop), default=1) + 2
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        eos = getattr(model.generation_config, "eos_token_id", None) if hasattr(model, "generation_config") else None
        eos = eos if eos is not None else tokenizer.eos_token_id
        self.eos_ids = frozenset(eos if isinstance(eos, (list, tuple)) else [eos]) - {None}
        self.generated_tokens = 0  # running count, for budgets and benchmarks
        # transformers >= 5.2x renamed ``past_key_values`` to ``cache``; use whichever the model takes
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        self._cache_kw = "cache" if "cache" in inspect.signature(type(base).forward).parameters else "past_key_values"

    @classmethod
    def from_pretrained(cls, name_or_path: str = "smollm2", **kwargs: Any) -> "HFPolicy":
        """Load a model (``"smollm2"``, HF id or path, via ``resolve_model``) in float32 on CPU."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from searchgym.agents.models import resolve_model

        path = str(resolve_model(name_or_path))
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        model.eval()
        return cls(model, tokenizer, **kwargs)

    # ------------------------------------------------------------------------------------------
    def prompt_ids(self, conversation: Sequence[Message]) -> list[int]:
        """Token ids of the conversation with the chat template and the assistant generation prompt."""
        return chat_prompt_ids(self.tokenizer, conversation)

    def generate(self, conversations: Sequence[Sequence[Message]], n: int = 1) -> list[list[Completion]]:
        """``n`` sampled completions (next agent turn) for each conversation, in order."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        prompts = [self.prompt_ids(c) for c in conversations]
        out: list[list[Completion]] = []
        per_call = max(1, self.batch_size // n)  # rows per forward = prompts x n
        for start in range(0, len(prompts), per_call):
            out.extend(self.generate_ids(prompts[start : start + per_call], n))
        return out

    def generate_ids(self, prompts: Sequence[Sequence[int]], n: int = 1) -> list[list[Completion]]:
        """``n`` completions for each tokenised prompt; one forward over the prompts, then branching."""
        import torch

        if not prompts or any(len(p) == 0 for p in prompts):
            raise ValueError("every prompt needs at least one token")
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                rows = self._decode(prompts, n)
        finally:
            if was_training:
                self.model.train()
        return [rows[i * n : (i + 1) * n] for i in range(len(prompts))]

    # ------------------------------------------------------------------------------------------
    def _decode(self, prompts: Sequence[Sequence[int]], n: int) -> list[Completion]:
        import torch

        dev = self.device
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long, device=dev)
        mask = torch.zeros((len(prompts), width), dtype=torch.long, device=dev)
        for i, p in enumerate(prompts):
            ids[i, width - len(p):] = torch.tensor(list(p), dtype=torch.long, device=dev)
            mask[i, width - len(p):] = 1
        if not self.shared_prefix and n > 1:  # baseline: every branch encodes its own copy of the prompt
            ids, mask = ids.repeat_interleave(n, 0), mask.repeat_interleave(n, 0)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True)
        cache, logits = _cache_of(out), out.logits[:, -1, :].float()
        if self.shared_prefix and n > 1:  # the k branches share the one encoded prefix
            cache.batch_repeat_interleave(n)
            logits, mask, positions = (t.repeat_interleave(n, 0) for t in (logits, mask, positions))
        rows = logits.shape[0]
        last_pos = positions[:, -1]
        tokens: list[list[int]] = [[] for _ in range(rows)]
        logps: list[list[float]] = [[] for _ in range(rows)]
        texts: list[str | None] = [None] * rows
        alive = torch.ones(rows, dtype=torch.bool, device=dev)
        for _ in range(self.max_new_tokens):
            nxt, lp = self._sample(logits)
            for r in alive.nonzero().flatten().tolist():
                tok = int(nxt[r])
                if tok in self.eos_ids:
                    alive[r] = False
                    continue
                tokens[r].append(tok)
                logps[r].append(float(lp[r]))
                tail = self.tokenizer.decode(tokens[r][-self._stop_window:], skip_special_tokens=False)
                if any(s in tail for s in self.stop):
                    alive[r] = False
            if not bool(alive.any()):
                break
            nxt = torch.where(alive, nxt, torch.full_like(nxt, self.pad_id))
            mask = torch.cat([mask, torch.ones((rows, 1), dtype=mask.dtype, device=dev)], dim=1)
            last_pos = last_pos + 1
            out = self.model(input_ids=nxt[:, None], attention_mask=mask, position_ids=last_pos[:, None],
                             use_cache=True, **{self._cache_kw: cache})
            cache, logits = _cache_of(out), out.logits[:, -1, :].float()
        results = []
        for r in range(rows):
            text = self.tokenizer.decode(tokens[r], skip_special_tokens=True)
            texts[r] = cut_at_stop(text, self.stop)
            self.generated_tokens += len(tokens[r])
            results.append(Completion(texts[r], tuple(prompts[r // n]), tuple(tokens[r]), tuple(logps[r])))
        return results

    def _sample(self, logits: Any) -> tuple[Any, Any]:
        import torch

        if self.temperature == 0:
            logp = torch.log_softmax(logits, dim=-1)
            nxt = logits.argmax(dim=-1)
            return nxt, logp.gather(-1, nxt[:, None]).squeeze(-1)
        logp = torch.log_softmax(logits / self.temperature, dim=-1)
        probs = logp.exp()
        if self.top_p < 1.0:
            sorted_p, order = probs.sort(dim=-1, descending=True)
            keep = sorted_p.cumsum(-1) - sorted_p < self.top_p  # always keeps the most likely token
            sorted_p = sorted_p * keep
            probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
        nxt = torch.multinomial(probs, 1, generator=self.generator).squeeze(-1)
        return nxt, logp.gather(-1, nxt[:, None]).squeeze(-1)


def _cache_of(output: Any) -> Any:
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def chat_prompt_ids(tokenizer: Any, conversation: Sequence[Message]) -> list[int]:
    """Token ids of a conversation with the chat template and the assistant generation prompt."""
    text = tokenizer.apply_chat_template(list(conversation), tokenize=False, add_generation_prompt=True)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """``text`` up to and including the earliest stop string (unchanged when none occurs)."""
    ends = [text.find(s) + len(s) for s in stops if s in text]
    return text[: min(ends)] if ends else text


__all__ = ["DEFAULT_STOP", "HFPolicy", "chat_prompt_ids", "cut_at_stop"]
