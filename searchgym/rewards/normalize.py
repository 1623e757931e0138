"""Answer normalisation (SQuAD's) and whole-token name matching built on it.

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


__all__ = ["contains_name", "find_name", "normalize_answer", "normalize_text"]
