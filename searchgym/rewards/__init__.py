"""Rewards: outcome (EM/F1/format), citation rubrics (CaRR) and C-GRPO, and their composition.

Submodules are imported lazily so that ``import searchgym.rewards`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from searchgym.rewards.base import Reward, RewardResult
from searchgym.rewards.specs import available_rewards, load_reward, register_reward

_EXPORTS = {
    "normalize_answer": "outcome", "exact_match": "outcome", "f1_score": "outcome",
    "OutcomeReward": "outcome", "FormatReward": "outcome",
    "Rubric": "rubric", "rubrics_from_task": "rubric", "CitationRubricReward": "rubric",
    "CitationValidityReward": "rubric", "Grounder": "rubric", "GoldGrounder": "rubric", "JudgeGrounder": "rubric",
    "cgrpo_rewards": "cgrpo", "cgrpo_results": "cgrpo",
    "WeightedSum": "compose", "Gated": "compose",
    "StepJudgeReward": "process",  # written by the judges team
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'searchgym.rewards' has no attribute {name!r}")
    return getattr(importlib.import_module(f"searchgym.rewards.{module}"), name)


__all__ = ["Reward", "RewardResult", "available_rewards", "load_reward", "register_reward", *_EXPORTS]
