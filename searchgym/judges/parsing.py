"""Strict parsing of a model judge's reply into ``(score, rationale)``; never guesses a score.

JSON first, then ``score: n`` in free text, then a bare allowed number; anything else raises
``UnparseableJudgment``. See docs/rewards.md.
"""

from __future__ import annotations

import json
import re

from searchgym.errors import SearchgymError

ALLOWED_SCORES = (-1.0, 0.0, 1.0)

# an allowed number written plainly: optional sign, 0 or 1, optional ".0..."; nothing else
_PLAIN = re.compile(r"[+-]?[01](?:\.0+)?")
# ``score`` followed by ``:`` or ``=`` (markdown emphasis and quotes around the key allowed)
_MENTION = re.compile(r"""\bscore\b["'*_\s]*[:=][\s"'*_]*""", re.IGNORECASE)
# the number a mention gives: digits, a decimal part, an exponent -- all captured so none is misread
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?")
# what may follow a clean score: end, newline, punctuation that ends a clause, or a sentence's full stop
_END = re.compile(r"""(?:\s*$|[ \t]*(?:\n|[,;)\]}"'*_|]|\.(?:\s|$)|\s[-–—(]))""")


class UnparseableJudgment(SearchgymError, ValueError):
    """The reply holds no single, exactly stated verdict in {-1, 0, +1}."""


class _FloatLiteral(str):
    """A JSON float kept as its literal text, so ``1e0`` and ``1.0`` can be told apart."""


def _score_value(value: object) -> float | None:
    """The allowed score a JSON value states exactly, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return float(value) if value in (-1, 0, 1) else None
    if isinstance(value, str):  # a _FloatLiteral or a JSON string: the same plain-number rule
        text = value.strip()
        return float(text) if _PLAIN.fullmatch(text) else None
    return None


def _json_objects(text: str):
    decoder = json.JSONDecoder(parse_float=_FloatLiteral, parse_constant=lambda name: name)
    i = text.find("{")
    while i != -1:
        try:
            obj, end = decoder.raw_decode(text, i)
        except (json.JSONDecodeError, RecursionError):
            obj, end = None, i + 1
        if isinstance(obj, dict):
            yield obj
            i = text.find("{", end)  # objects nested in a verdict are part of it, not verdicts
        else:
            i = text.find("{", i + 1)


def _json_verdict(text: str) -> tuple[float, str] | None:
    verdicts: list[tuple[float, str]] = []
    for obj in _json_objects(text):
        key = next((k for k in obj if isinstance(k, str) and k.strip().lower() == "score"), None)
        if key is None:
            continue
        score = _score_value(obj[key])
        if score is None:
            raise UnparseableJudgment(f"JSON verdict with a score outside {{-1, 0, 1}}: {obj[key]!r}")
        rationale = obj.get("rationale", "")
        verdicts.append((score, rationale if isinstance(rationale, str) else json.dumps(rationale)))
    if not verdicts:
        return None
    if len({s for s, _ in verdicts}) > 1:
        raise UnparseableJudgment(f"disagreeing JSON verdicts {[s for s, _ in verdicts]}")
    return verdicts[0]


def _text_verdict(text: str) -> float | None:
    scores: list[float] = []
    for mention in _MENTION.finditer(text):
        number = _NUMBER.match(text, mention.end())
        if number is None:  # "the score: good" states no number, so it cannot be misread
            continue
        literal = number.group(0)
        rest = text[number.end():]
        if not _PLAIN.fullmatch(literal) or not _END.match(rest):
            raise UnparseableJudgment(f"score {text[number.start():number.end() + 12]!r} is not exactly -1, 0 or 1")
        scores.append(float(literal))
    if not scores:
        return None
    if len(set(scores)) > 1:
        raise UnparseableJudgment(f"disagreeing scores {scores} in one reply")
    return scores[0]


def parse_judgment(text: str) -> tuple[float, str]:
    """``(score, rationale)`` of a judge reply (see the module doc); raises ``UnparseableJudgment``."""
    if not isinstance(text, str) or not text.strip():
        raise UnparseableJudgment("empty reply")
    verdict = _json_verdict(text)
    if verdict is not None:
        return verdict
    score = _text_verdict(text)
    if score is None and _PLAIN.fullmatch(text.strip()):
        score = float(text.strip())
    if score is None:
        raise UnparseableJudgment(f"no verdict with a score in {{-1, 0, 1}} in reply {text[:200]!r}")
    return score + 0.0, text.strip()[:500]  # + 0.0 turns -0.0 into 0.0
