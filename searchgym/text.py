"""Text normalisation and name matching: answers, entity names in agent text, titles in passages.

``normalize_answer`` is SQuAD v1.1's, unchanged; ``normalize_text`` adapts it to free agent text;
``tokens`` reads data-set text. A leaf module: stdlib and ``searchgym.grammar`` only. See docs/architecture.md.
"""

from __future__ import annotations

import html
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence

from searchgym.grammar import strip_citations

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ARTICLE_WORDS = frozenset({"a", "an", "the"})
_ASCII_PUNCT = frozenset(string.punctuation)
_SPECIAL = frozenset({"yes", "no", "noanswer"})
_PAREN = re.compile(r"\s*\([^()]*\)\s*$")
_TOKEN = re.compile(r"\w+")


# --- matching whole tokens -------------------------------------------------------------------------

def contains_tokens(hay: Sequence[str], needle: Sequence[str]) -> bool:
    """Whether ``needle`` occurs in ``hay`` as a contiguous run of whole tokens (tokens hold no spaces)."""
    if not needle:
        return False
    return f" {' '.join(needle)} " in f" {' '.join(hay)} "


# --- agent text and answers --------------------------------------------------------------------------

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
    return contains_tokens(normalize_text(text).split(), normalize_text(name).split())


def find_name(text: str, names: Sequence[str]) -> str | None:
    """The first of ``names`` that ``text`` states as whole tokens (``contains_name``), or None."""
    hay = normalize_text(text).split()
    return next((name for name in names if contains_tokens(hay, normalize_text(name).split())), None)


# capitalised words (names, in English) and numbers (years, counts): the claims a step of reasoning makes
_NAME_LIKE = re.compile(r"\b(?:[A-Z][\w'-]*|\d[\d,.]*\d|\d)")


def name_like_words(text: str) -> list[str]:
    """The capitalised words and numbers of ``text``, in order (candidate entity names and figures)."""
    return _NAME_LIKE.findall(text)


def mask_names(text: str, names: Sequence[str], replacement: str) -> str:
    """``text`` with each of ``names`` (case-insensitive, not inside a longer word) replaced, longest first."""
    for name in sorted((n for n in names if n.strip()), key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", replacement, text, flags=re.IGNORECASE)
    return text


def _aliases(answers: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(answers, str):
        return (answers,)
    out = tuple(answers)
    if not out:
        raise ValueError("no accepted answers to compare against")
    return out


def exact_match(pred: str | None, answers: str | Sequence[str]) -> float:
    """1.0 when the normalised prediction (citations removed) equals any normalised alias, else 0.0."""
    if pred is None:
        return 0.0
    p = normalize_answer(strip_citations(pred))
    return 1.0 if any(p == normalize_answer(a) for a in _aliases(answers)) else 0.0


def _f1(pred: str, gold: str) -> float:
    p, g = normalize_answer(pred), normalize_answer(gold)
    if (p in _SPECIAL or g in _SPECIAL) and p != g:
        return 0.0  # as HotpotQA's evaluation: yes/no/noanswer earn credit only by exact match
    pt, gt = p.split(), g.split()
    common = sum((Counter(pt) & Counter(gt)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pt), common / len(gt)
    return 2 * precision * recall / (precision + recall)


def f1_score(pred: str | None, answers: str | Sequence[str]) -> float:
    """SQuAD token F1 of the prediction (citations removed), the maximum over accepted aliases."""
    if pred is None:
        return 0.0
    pred = strip_citations(pred)
    return max(_f1(pred, a) for a in _aliases(answers))


# --- data-set text: titles and passages --------------------------------------------------------------

def fold_accents(text: str) -> str:
    """``text`` in NFKD with combining marks removed (``Beyoncé`` -> ``Beyonce``)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def clean_title(title: str) -> str:
    """A title as shown to people: HTML entities decoded (HotpotQA keeps ``&amp;``)."""
    return html.unescape(title).strip()


def display_name(title: str) -> str:
    """The entity a Wikipedia title names, without its disambiguator: ``Kiss and Tell (1945 film)``
    -> ``Kiss and Tell``."""
    t = clean_title(title)
    stripped = _PAREN.sub("", t)
    return stripped or t


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens with accents folded and ``&`` read as ``and``."""
    return _TOKEN.findall(fold_accents(html.unescape(text).replace("&", " and ")).lower())


def mentions(text: str, name: str) -> bool:
    """Whether ``text`` names ``name`` (whole words, case/accents/``&`` insensitive)."""
    return contains_tokens(tokens(text), tokens(name))


def mentions_title(text: str, title: str) -> bool:
    """Whether ``text`` names the entity of a title, with or without its disambiguator."""
    return mentions(text, clean_title(title)) or mentions(text, display_name(title))


def same_entity(answer: str, title: str) -> bool:
    """Whether an answer string names the entity of a title: equal after normalisation, or one
    contains the other as whole words when the shorter has at least two words (``Barton Lee
    Hazlewood`` vs ``Lee Hazlewood``)."""
    a = [t for t in tokens(answer) if t not in _ARTICLE_WORDS]
    for form in (clean_title(title), display_name(title)):
        b = [t for t in tokens(form) if t not in _ARTICLE_WORDS]
        if not a or not b:
            continue
        if a == b:
            return True
        short, long_ = (a, b) if len(a) <= len(b) else (b, a)
        if len(short) >= 2 and contains_tokens(long_, short):
            return True
    return False


def is_yes_no(answer: str) -> bool:
    """Whether an answer is a bare yes or no."""
    return answer.strip().lower() in {"yes", "no"}


__all__ = [
    "clean_title", "contains_name", "contains_tokens", "display_name", "exact_match", "f1_score",
    "find_name", "fold_accents", "is_yes_no", "mask_names", "mentions", "mentions_title",
    "name_like_words",
    "normalize_answer", "normalize_text", "same_entity", "tokens",
]
