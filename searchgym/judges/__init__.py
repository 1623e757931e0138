"""Judges: the ``Judge`` protocol and its backends, chosen by a spec string.

``load_judge(spec, **kwargs)``: ``rules``, ``gold``, ``openai:<model>@<base_url>``, ``transformers[:<model>]``
or a registered backend. See docs/rewards.md.
"""

from __future__ import annotations

from searchgym.judges.base import Judge, JudgeError, JudgeRequest, Judgment
from searchgym.judges.specs import ENTRY_POINT_GROUP, available_judges, load_judge, register_judge

__all__ = ["Judge", "JudgeError", "JudgeRequest", "Judgment", "load_judge", "register_judge",
           "available_judges", "ENTRY_POINT_GROUP"]
