"""Answer normalisation and name matching, kept at this path: they live in :mod:`searchgym.matching`."""

from searchgym.matching import contains_name, find_name, normalize_answer, normalize_text

__all__ = ["contains_name", "find_name", "normalize_answer", "normalize_text"]
