"""Reward specs: ``load_reward(spec, **kwargs)`` over the registry of trajectory rewards.

``em``/``f1``, ``format``, ``rubric[:...]``, ``citation_validity[:...]`` or a registered reward.
See docs/rewards.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from searchgym.registry import Registry, SpecError
from searchgym.rewards.base import Reward

REWARDS: Registry[Reward] = Registry("reward", "searchgym.rewards")


def register_reward(name: str, factory: Callable[..., Reward], **grammar: Any) -> None:
    """Register ``factory(arg, **options, **kwargs) -> Reward`` under ``name``."""
    REWARDS.register(name, factory, **grammar)


def available_rewards() -> list[str]:
    """Names of built-in, registered and entry-point rewards."""
    return REWARDS.names()


def _flag(key: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SpecError(f"reward option {key}={raw!r}: expected true or false")


def _outcome(metric: str) -> Callable[..., Reward]:
    def build(arg: str | None, **kwargs: Any) -> Reward:
        from searchgym.rewards.outcome import OutcomeReward

        return OutcomeReward(metric, **kwargs)

    return build


def _format(arg: str | None, mode: str = "binary", **kwargs: Any) -> Reward:
    from searchgym.rewards.outcome import FormatReward

    return FormatReward(mode, **kwargs)


def _rubric(arg: str | None, scope: str = "trajectory", precision: str = "true", answer_match: str = "exact",
            judge: str | None = None, **kwargs: Any) -> Reward:
    from searchgym.rewards.rubric import CitationRubricReward, JudgeGrounder

    if judge is not None:
        from searchgym.judges import load_judge

        kwargs.setdefault("grounder", JudgeGrounder(load_judge(judge)))
    return CitationRubricReward(scope=scope, citation_precision=_flag("precision", precision),
                                answer_match=answer_match, **kwargs)


def _validity(arg: str | None, require_citation: str = "true", scope: str = "trajectory", **kwargs: Any) -> Reward:
    from searchgym.rewards.rubric import CitationValidityReward

    return CitationValidityReward(_flag("require_citation", require_citation), scope, **kwargs)


REWARDS.register("em", _outcome("em"), aliases=("exact_match", "outcome"), arg="none")
REWARDS.register("f1", _outcome("f1"), arg="none")
REWARDS.register("format", _format, options=("mode",), arg="none")
REWARDS.register("rubric", _rubric, options=("scope", "precision", "answer_match"), rest_option="judge", arg="none")
REWARDS.register("citation_validity", _validity, options=("require_citation", "scope"), arg="none")


def load_reward(spec: str, **kwargs: Any) -> Reward:
    """The reward a spec string names (see the module doc); keywords go to its constructor."""
    reward = REWARDS.build(spec, **kwargs)
    if not callable(reward):
        raise TypeError(f"reward {spec!r} built a {type(reward).__name__}, which is not callable")
    return reward


__all__ = ["REWARDS", "available_rewards", "load_reward", "register_reward"]
