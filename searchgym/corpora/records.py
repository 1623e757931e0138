"""Corpus records, kept at this path: they live in :mod:`searchgym.records.corpus`."""

from searchgym.records.corpus import Document, Hop, Task

__all__ = ["Document", "Hop", "Task"]
