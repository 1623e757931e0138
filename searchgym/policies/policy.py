"""The ``Policy`` protocol: what samplers, the CLI and training drive."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

Message = dict[str, str]  # {"role": ..., "content": ...}, the OpenAI / chat-template shape


@dataclass(frozen=True, slots=True)
class Completion:
    """One sampled agent turn. Token ids and log-probs are kept when the policy has them (training)."""

    text: str
    prompt_ids: tuple[int, ...] = ()
    token_ids: tuple[int, ...] = ()
    logprobs: tuple[float, ...] = ()


@runtime_checkable
class Policy(Protocol):
    """Produces the next agent turn for each conversation."""

    def generate(self, conversations: Sequence[Sequence[Message]], n: int = 1) -> list[list[Completion]]:
        """``n`` sampled completions for each conversation, in order."""
        ...
