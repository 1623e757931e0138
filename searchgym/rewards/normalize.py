"""Answer normalisation and name matching; they live in ``searchgym.text`` (re-exported here for old imports)."""

from __future__ import annotations

from searchgym.text import contains_name, find_name, normalize_answer, normalize_text

__all__ = ["contains_name", "find_name", "normalize_answer", "normalize_text"]
