"""The training reward a config means: its judge (``auto``, ``gold``, ``rules``, a model), citation rubric and formula."""

from __future__ import annotations

from collections.abc import Sequence

from searchgym.corpora.records import Task
from searchgym.train.config import TrainConfig


def resolve_judge_spec(config: TrainConfig, tasks: Sequence[Task]) -> str | None:
    """The judge spec a config means: ``auto`` is ``gold`` when every task has gold hops, else ``rules``;
    ``none`` is no judge."""
    spec = config.judge.strip()
    if spec == "none":
        return None
    if spec == "auto":
        return "gold" if tasks and all(t.hops for t in tasks) else "rules"
    if spec == "gold" and any(not t.hops for t in tasks):
        raise ValueError("judge=gold needs gold hops on every task; this data set has tasks without them "
                         "(use judge=rules or an openai:... judge)")
    return spec


def build_judge(config: TrainConfig, tasks: Sequence[Task]):
    """The process judge of a config (``None`` for ``judge: none``), with the persistent cache for model
    judges when ``judge_cache`` is on."""
    from searchgym.judges import load_judge

    spec = resolve_judge_spec(config, tasks)
    if spec is None:
        return None
    if config.judge_cache and spec.split(":", 1)[0] not in ("rules", "gold"):
        from searchgym.judges.cache import JudgeCache

        return load_judge(spec, cache=JudgeCache())
    return load_judge(spec)


def build_reward(config: TrainConfig, tasks: Sequence[Task] = ()):
    """The training reward (``searchgym.rewards.group.GroupReward``): C-GRPO for episode groups, SLATE
    for step groups, with the config's judge, citation rubric, alpha and budget B = ``max_turns``."""
    from searchgym.rewards.group import GroupReward
    from searchgym.rewards.rubric import CitationRubricReward

    hopless = [t.id for t in tasks if not t.hops]
    if config.citation_rubric and hopless:
        # a task without gold hops has no rubric: scoring its R_rubric 0 would be a silent wrong value
        raise ValueError(f"citation_rubric needs gold hops, and {len(hopless)} tasks have none (e.g. {hopless[0]!r}); "
                         "set citation_rubric=false for question/answer-only data")
    return GroupReward(judge=build_judge(config, tasks), budget=config.max_turns,
                       rubric=CitationRubricReward(scope="final") if config.citation_rubric else None,
                       alpha=config.cgrpo_alpha,
                       judge_weight=config.judge_weight, on_error=config.judge_on_error)


def describe_reward(config: TrainConfig, tasks: Sequence[Task] = ()) -> str:
    """The reward formula a config trains with, as text (shown by ``searchgym train --print-config``)."""
    from searchgym.rewards.group import reward_formula

    judge = resolve_judge_spec(config, tasks) if tasks or config.judge != "auto" else "auto (gold if hops, else rules)"
    return reward_formula(config.sampler, judge=judge, rubric=config.citation_rubric, alpha=config.cgrpo_alpha,
                          judge_weight=config.judge_weight, budget=config.max_turns, step_value=config.step_value)
