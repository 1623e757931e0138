"""Text matching (a leaf): SQuAD answer normalisation, exact match and F1, whole-token name matching.

``exact_match`` and ``f1_score`` compare a prediction, its ``[doc_id]`` citations removed
(``strip_citations``), with every accepted alias (see :mod:`searchgym.rewards.outcome`).

``normalize_answer`` is the SQuAD v1.1 evaluation normalisation, unchanged, so exact match and F1 are
comparable with published numbers (Search-R1 uses the same): lower case, drop ASCII punctuation, drop
the articles a/an/the, collapse white space.

``normalize_text`` adapts it for *matching names inside free text*: Unicode NFKC first, and every
punctuation character (ASCII or Unicode: curly quotes, non-breaking hyphens, markdown, tags) becomes a
space instead of vanishing, so a name glued to markup (``<answer>Osteria</answer>``, ``**Ricky
Glenn**``) still stands as its own tokens; both the name and the text go through it, so
"Hork-Bajir" matches "Hork‑Bajir" (a non-breaking hyphen) as "hork bajir".
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from typing import Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ASCII_PUNCT = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _ASCII_PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _is_punct(ch: str) -> bool:
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def normalize_text(text: str) -> str:
    """NFKC, lower case, punctuation (any script) to spaces, no articles, single spaces (name matching)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if _is_punct(ch) else ch for ch in text)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def contains_name(text: str, name: str) -> bool:
    """Whether ``name`` occurs in ``text`` as whole tokens after ``normalize_text`` on both.

    "Paris" is in "born in Paris, France" but not in "a Parisian". A name that normalises to nothing
    (e.g. "The") never matches.
    """
    needle = normalize_text(name)
    if not needle:
        return False
    return f" {needle} " in f" {normalize_text(text)} "


def find_name(text: str, names: tuple[str, ...] | list[str]) -> str | None:
    """The first of ``names`` that ``text`` states as whole tokens, or None."""
    haystack = f" {normalize_text(text)} "
    for name in names:
        needle = normalize_text(name)
        if needle and f" {needle} " in haystack:
            return name
    return None


# A bracketed token without spaces: the env's citation form ``[doc_id]`` (also ``[[4](url)]``-style
# markdown citations of CaRR's browser agent).
_CITATION = re.compile(r"\[\[[^\[\]]*\]\([^()\s]*\)\]|\[[^\[\]\s]{1,128}\]")
_SPECIAL = {"yes", "no", "noanswer"}


def strip_citations(text: str) -> str:
    """``text`` without ``[doc_id]`` citation markers."""
    return _CITATION.sub(" ", text)


def _aliases(answers: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(answers, str):
        return (answers,)
    out = tuple(answers)
    if not out:
        raise ValueError("no accepted answers to compare against")
    return out


def exact_match(pred: str | None, answers: str | Sequence[str]) -> float:
    """1.0 when the normalised prediction equals any normalised alias, else 0.0."""
    if pred is None:
        return 0.0
    p = normalize_answer(strip_citations(pred))
    return 1.0 if any(p == normalize_answer(a) for a in _aliases(answers)) else 0.0


def _f1(pred: str, gold: str) -> float:
    p, g = normalize_answer(pred), normalize_answer(gold)
    if (p in _SPECIAL or g in _SPECIAL) and p != g:
        return 0.0
    pt, gt = p.split(), g.split()
    common = sum((Counter(pt) & Counter(gt)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pt), common / len(gt)
    return 2 * precision * recall / (precision + recall)


def f1_score(pred: str | None, answers: str | Sequence[str]) -> float:
    """SQuAD token F1 of the prediction, the maximum over accepted aliases."""
    if pred is None:
        return 0.0
    pred = strip_citations(pred)
    return max(_f1(pred, a) for a in _aliases(answers))


__all__ = ["contains_name", "exact_match", "f1_score", "find_name", "normalize_answer", "normalize_text",
           "strip_citations"]
