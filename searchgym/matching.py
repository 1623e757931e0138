"""Text matching, kept at this path: it lives in :mod:`searchgym.text` (and ``strip_citations`` in
:mod:`searchgym.grammar`)."""

from searchgym.grammar import strip_citations
from searchgym.text import contains_name, exact_match, f1_score, find_name, normalize_answer, normalize_text

__all__ = ["contains_name", "exact_match", "f1_score", "find_name", "normalize_answer", "normalize_text",
           "strip_citations"]
