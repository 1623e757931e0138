"""Citation-aware rubric reward (CaRR, "Chaining the Evidence", Zhang et al. 2026).

Identify placeholders, ground filled rubrics in valid citations, connect them to ``<E0>`` by BFS, times
citation precision. See docs/rewards.md for the definition and the differences from CaRR's server.

One module per step: ``generation`` (rubrics from gold hops), ``citations`` (what the agent cited, and
when), ``identify`` (its name for each placeholder), ``grounding`` (gold or judge verdicts), ``connect``
(BFS from ``<E0>``) and ``reward`` (``CitationRubricReward``, ``CitationValidityReward``).
"""

from __future__ import annotations

from searchgym.records.rubric import ANSWER_ENTITY, Rubric, placeholders
from searchgym.rewards.rubric.citations import agent_text, check_citations, first_seen
from searchgym.rewards.rubric.connect import connected_rubrics
from searchgym.rewards.rubric.generation import hop_links, rubrics_from_task
from searchgym.rewards.rubric.grounding import GoldGrounder, Grounder, Grounding, GroundingQuery, JudgeGrounder
from searchgym.rewards.rubric.identify import entity_names, identify
from searchgym.rewards.rubric.reward import CitationRubricReward, CitationValidityReward, RubricSource

__all__ = [
    "ANSWER_ENTITY", "CitationRubricReward", "CitationValidityReward", "GoldGrounder", "Grounder", "Grounding",
    "GroundingQuery", "JudgeGrounder", "Rubric", "agent_text", "check_citations", "connected_rubrics",
    "RubricSource", "entity_names", "first_seen", "hop_links", "identify", "placeholders", "rubrics_from_task",
]
