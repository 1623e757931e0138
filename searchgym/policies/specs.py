"""Policy specs: ``load_policy(spec)`` over the registry of policies.

``oracle`` | ``openai:<model>@<base_url>`` | ``hf:<model id or path>`` | a bare model id or path
(``smollm2``, ``Qwen/Qwen2.5-0.5B-Instruct``), which means ``hf:``. Other policies register with
``register_policy`` or the ``searchgym.policies`` entry-point group; a factory is called as
``factory(arg, tasks=, searcher=, max_new_tokens=, temperature=, seed=)``, plus ``bf16=True`` when bf16 autocast
is asked for (only then, so factories written before it keep working).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from searchgym.registry import Registry, SpecError

POLICY_HELP = "oracle | smollm2 | hf:<model id or path> | openai:<model>@<base_url>"
POLICIES: Registry[Any] = Registry("policy", "searchgym.policies", fallback="hf", hint=f"; use {POLICY_HELP}")


def register_policy(name: str, factory: Callable[..., Any], **grammar: Any) -> None:
    """Register ``factory(arg, tasks=, searcher=, max_new_tokens=, temperature=, seed=) -> Policy``."""
    POLICIES.register(name, factory, **grammar)


def available_policies() -> list[str]:
    """Names of built-in, registered and entry-point policies (any other name is an HF model)."""
    return POLICIES.names()


def parse_policy_spec(spec: str) -> tuple[str, str, str | None]:
    """``(name, model, base_url)``: a clear error for a malformed spec, before anything is loaded."""
    parsed = POLICIES.parse(spec)
    model, _, base_url = (parsed.arg or "").partition("@") if parsed.name == "openai" else (parsed.arg or "", "", "")
    if parsed.name == "openai" and not model:
        raise SpecError(f"policy {spec!r}: expected openai:<model>@<base_url>")
    if parsed.name == "hf" and not model:
        raise SpecError(f"policy {spec!r}: expected hf:<model id or path>")
    return parsed.name, model, base_url or None


def _oracle(arg: str | None, *, tasks: Any = None, searcher: Any = None, **_: Any) -> Any:
    from searchgym.policies.oracle import OraclePolicy

    return OraclePolicy(tasks, searcher=searcher)


def _openai(arg: str | None, *, max_new_tokens: int = 64, temperature: float = 0.0, **_: Any) -> Any:
    from searchgym.policies.openai_policy import OpenAIPolicy

    model, _sep, base_url = (arg or "").partition("@")
    return OpenAIPolicy(model, base_url=base_url or None, max_tokens=max_new_tokens, temperature=temperature)


def _hf(arg: str | None, *, max_new_tokens: int = 64, temperature: float = 0.0, seed: int = 0, bf16: bool = False,
        **_: Any) -> Any:
    from searchgym.policies.hf_policy import HFPolicy

    assert arg is not None, "registered with arg='required'"
    return HFPolicy.from_pretrained(arg, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed,
                                    autocast_bf16=bf16)


POLICIES.register("oracle", _oracle, arg="none")
POLICIES.register("openai", _openai, arg="required")
POLICIES.register("hf", _hf, arg="required")


def load_policy(spec: str, *, tasks: Any = None, searcher: Any = None, max_new_tokens: int = 64,
                temperature: float = 0.0, seed: int = 0, bf16: bool = False) -> Any:
    """A ``Policy`` from a spec string (see the module doc); ``SpecError`` for a malformed one. ``bf16`` asks a
    local model for bf16 autocast (float32 weights, bf16 arithmetic); the oracle and remote models have no
    arithmetic here to change and ignore it."""
    parse_policy_spec(spec)
    return POLICIES.build(spec, tasks=tasks, searcher=searcher, max_new_tokens=max_new_tokens,
                          temperature=temperature, seed=seed, **({"bf16": True} if bf16 else {}))


__all__ = ["POLICIES", "POLICY_HELP", "available_policies", "load_policy", "parse_policy_spec", "register_policy"]
