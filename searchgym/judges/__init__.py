"""Judges: the ``Judge`` protocol and its backends, chosen by a spec string.

``load_judge(spec)`` specs:

* ``"rules"`` -- deterministic lexical judge (``searchgym.judges.rules``).
* ``"gold"`` -- deterministic judge that reads the task's gold hops (``searchgym.judges.gold``).
* ``"openai:<model>@<base_url>"`` (or ``"openai:<model>"`` for the SDK's default endpoint) -- any
  OpenAI-compatible server (``searchgym.judges.openai_judge``).
* ``"transformers"`` / ``"transformers:<model>"`` -- in-process HF model (default SmolLM2-135M-Instruct).
* ``"<name>[:<arg>]"`` -- a backend registered with ``register_judge`` or published in the
  ``searchgym.judges`` entry-point group: the entry point loads a factory called as
  ``factory(arg, **kwargs)`` (``arg`` is None without one) that returns a ``Judge``.

Keyword arguments are passed to the backend (e.g. ``cache=JudgeCache(...)``, ``concurrency=16``).
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any, Callable

from searchgym.judges.base import JudgeError, JudgeRequest, Judgment, Judge

ENTRY_POINT_GROUP = "searchgym.judges"
_REGISTRY: dict[str, Callable[..., Judge]] = {}


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


_BUILTIN = {"rules": _rules, "gold": _gold, "openai": _openai, "transformers": _transformers}


def register_judge(name: str, factory: Callable[..., Judge]) -> None:
    """Register a backend factory ``factory(arg, **kwargs) -> Judge`` under ``name``."""
    _REGISTRY[name] = factory


def available_judges() -> list[str]:
    """Names of built-in, registered and entry-point backends."""
    names = set(_BUILTIN) | set(_REGISTRY) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(names)


def load_judge(spec: str, **kwargs: Any) -> Judge:
    """The judge a spec string names (see the module docstring)."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError("empty judge spec")
    name, sep, arg = spec.strip().partition(":")
    factory = _REGISTRY.get(name) or _BUILTIN.get(name)
    if factory is None:
        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        if not found:
            raise ValueError(f"unknown judge backend {name!r} in spec {spec!r}; available: {available_judges()}")
        factory = found[0].load()
    judge = factory(arg if sep else None, **kwargs)
    if not isinstance(judge, Judge):
        raise TypeError(f"judge backend {name!r} returned {type(judge).__name__}, which is not a Judge")
    return judge


__all__ = ["Judge", "JudgeError", "JudgeRequest", "Judgment", "load_judge", "register_judge",
           "available_judges", "ENTRY_POINT_GROUP"]
