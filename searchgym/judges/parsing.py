"""Robust parsing of a model judge's reply into ``(score, rationale)``; never guesses a score."""

from __future__ import annotations

import json
import re

_SCORE_PATTERN = re.compile(r'"?score"?\s*[:=]\s*"?([+-]?\d+(?:\.\d+)?)', re.IGNORECASE)


class UnparseableJudgment(ValueError):
    """The reply holds no valid verdict (no JSON object with an allowed score, no score pattern)."""


def _valid(score: object) -> float | None:
    if isinstance(score, bool):
        return None
    if isinstance(score, str):
        try:
            score = float(score.strip())
        except ValueError:
            return None
    if isinstance(score, (int, float)) and float(score) in (-1.0, 0.0, 1.0):
        return float(score)
    return None


def _json_objects(text: str):
    decoder = json.JSONDecoder()
    i = text.find("{")
    while i != -1:
        try:
            obj, _ = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict):
            yield obj
        i = text.find("{", i + 1)


def parse_judgment(text: str) -> tuple[float, str]:
    """The first valid JSON verdict in ``text``, else a ``score: n`` pattern; raises UnparseableJudgment."""
    if not isinstance(text, str) or not text.strip():
        raise UnparseableJudgment("empty reply")
    for obj in _json_objects(text):
        score = _valid(obj.get("score"))
        if score is not None:
            return score, str(obj.get("rationale", ""))
    match = _SCORE_PATTERN.search(text)
    if match and (score := _valid(match.group(1))) is not None:
        return score, text.strip()[:500]
    raise UnparseableJudgment(f"no verdict with score in {{-1, 0, 1}} in reply {text[:200]!r}")
