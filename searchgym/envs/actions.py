"""The env's action grammar; it lives in ``searchgym.grammar`` (re-exported here for old imports)."""

from __future__ import annotations

from searchgym.grammar import (
    ACTION_TAGS,
    CITATION,
    MAX_ANSWER_CHARS,
    MAX_DOC_ID_CHARS,
    MAX_QUERY_CHARS,
    MAX_TURN_CHARS,
    Action,
    ActionKind,
    citations_in,
    parse_action,
)

__all__ = [
    "ACTION_TAGS",
    "CITATION",
    "MAX_ANSWER_CHARS",
    "MAX_DOC_ID_CHARS",
    "MAX_QUERY_CHARS",
    "MAX_TURN_CHARS",
    "Action",
    "ActionKind",
    "citations_in",
    "parse_action",
]
