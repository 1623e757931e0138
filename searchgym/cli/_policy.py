"""The ``--policy`` spec of ``searchgym play`` and ``searchgym eval``: one parser, one loader."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

POLICY_HELP = "oracle | smollm2 | hf:<model id or path> | openai:<model>@<base_url>"


def parse_policy_spec(spec: str) -> tuple[str, str, str | None]:
    """``(kind, model, base_url)`` with kind in oracle | openai | hf; a clear error for a malformed spec."""
    if spec == "oracle":
        return "oracle", "", None
    if spec.startswith("openai:"):
        model, _, base_url = spec[len("openai:"):].partition("@")
        if not model:
            raise ValueError(f"policy {spec!r}: expected openai:<model>@<base_url>")
        return "openai", model, base_url or None
    name = spec.removeprefix("hf:")
    if not name:
        raise ValueError(f"policy {spec!r}: expected hf:<model id or path>")
    return "hf", name, None


def load_policy(spec: str, *, tasks: Sequence[Any] = (), searcher: Any = None, max_new_tokens: int = 64,
                temperature: float = 0.0, seed: int = 0):
    """A ``Policy`` from a spec string (see ``POLICY_HELP``); the oracle follows the gold hops of ``tasks``."""
    kind, model, base_url = parse_policy_spec(spec)
    if kind == "oracle":
        from searchgym.agents.oracle import OraclePolicy

        return OraclePolicy(tasks, searcher=searcher)
    if kind == "openai":
        from searchgym.agents.openai_policy import OpenAIPolicy

        return OpenAIPolicy(model, base_url=base_url, max_tokens=max_new_tokens, temperature=temperature)
    from searchgym.agents.hf_policy import HFPolicy

    return HFPolicy.from_pretrained(model, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed)
