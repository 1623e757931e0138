"""Rewards: outcome (EM/F1/format), citation rubrics (CaRR) and C-GRPO, and their composition.

Submodules are imported lazily so that ``import searchgym.rewards`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from searchgym._lazy import lazy_exports
from searchgym.rewards.base import Reward, RewardResult
from searchgym.rewards.specs import available_rewards, load_reward, register_reward

if TYPE_CHECKING:
    from searchgym.rewards.cgrpo import cgrpo_results, cgrpo_rewards
    from searchgym.rewards.compose import Gated, WeightedSum
    from searchgym.rewards.outcome import FormatReward, OutcomeReward, exact_match, f1_score, normalize_answer
    from searchgym.rewards.process import StepJudgeReward
    from searchgym.rewards.rubric import (
        CitationRubricReward,
        CitationValidityReward,
        GoldGrounder,
        Grounder,
        JudgeGrounder,
        Rubric,
        rubrics_from_task,
    )

_LAZY = {
    "normalize_answer": "searchgym.rewards.outcome",
    "exact_match": "searchgym.rewards.outcome",
    "f1_score": "searchgym.rewards.outcome",
    "OutcomeReward": "searchgym.rewards.outcome",
    "FormatReward": "searchgym.rewards.outcome",
    "Rubric": "searchgym.rewards.rubric",
    "rubrics_from_task": "searchgym.rewards.rubric",
    "CitationRubricReward": "searchgym.rewards.rubric",
    "CitationValidityReward": "searchgym.rewards.rubric",
    "Grounder": "searchgym.rewards.rubric",
    "GoldGrounder": "searchgym.rewards.rubric",
    "JudgeGrounder": "searchgym.rewards.rubric",
    "cgrpo_rewards": "searchgym.rewards.cgrpo",
    "cgrpo_results": "searchgym.rewards.cgrpo",
    "WeightedSum": "searchgym.rewards.compose",
    "Gated": "searchgym.rewards.compose",
    "StepJudgeReward": "searchgym.rewards.process",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = ["CitationRubricReward", "CitationValidityReward", "FormatReward", "Gated", "GoldGrounder",
           "Grounder", "JudgeGrounder", "OutcomeReward", "Reward", "RewardResult", "Rubric", "StepJudgeReward",
           "WeightedSum", "available_rewards", "cgrpo_results", "cgrpo_rewards", "exact_match", "f1_score",
           "load_reward", "normalize_answer", "register_reward", "rubrics_from_task"]
