"""Judge specs: ``load_judge(spec, **kwargs)`` over the registry of judge backends.

See docs/rewards.md (Judges) for the specs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from searchgym.judges.base import Judge
from searchgym.registry import Registry

ENTRY_POINT_GROUP = "searchgym.judges"
JUDGES: Registry[Judge] = Registry("judge", ENTRY_POINT_GROUP)


def _rules(arg: str | None, **kwargs: Any) -> Judge:
    from searchgym.judges.rules import RulesJudge

    if arg or kwargs:
        raise ValueError("the rules judge takes no model or options")
    return RulesJudge()


def _gold(arg: str | None, **kwargs: Any) -> Judge:
    from searchgym.judges.gold import GoldJudge

    if arg or kwargs:
        raise ValueError("the gold judge takes no model or options")
    return GoldJudge()


def _openai(arg: str | None, **kwargs: Any) -> Judge:
    from searchgym.judges.openai_judge import OpenAIJudge

    if not arg:
        raise ValueError("openai judge spec needs a model: 'openai:<model>@<base_url>'")
    model, _, base_url = arg.partition("@")
    if not model:
        raise ValueError(f"openai judge spec {arg!r} has no model name")
    return OpenAIJudge(model, base_url or None, **kwargs)


def _transformers(arg: str | None, **kwargs: Any) -> Judge:
    from searchgym.judges.transformers_judge import DEFAULT_MODEL, TransformersJudge

    return TransformersJudge(arg or DEFAULT_MODEL, **kwargs)


JUDGES.register("rules", _rules)
JUDGES.register("gold", _gold)
JUDGES.register("openai", _openai)
JUDGES.register("transformers", _transformers)


def register_judge(name: str, factory: Callable[..., Judge]) -> None:
    """Register a backend factory ``factory(arg, **kwargs) -> Judge`` under ``name``."""
    JUDGES.register(name, factory)


def available_judges() -> list[str]:
    """Names of built-in, registered and entry-point backends."""
    return JUDGES.names()


def load_judge(spec: str, **kwargs: Any) -> Judge:
    """The judge a spec string names (see the module docstring)."""
    parsed = JUDGES.parse(spec)
    judge = JUDGES.build(parsed, **kwargs)
    if not isinstance(judge, Judge):
        raise TypeError(f"judge backend {parsed.name!r} returned {type(judge).__name__}, which is not a Judge")
    return judge


__all__ = ["ENTRY_POINT_GROUP", "JUDGES", "available_judges", "load_judge", "register_judge"]
