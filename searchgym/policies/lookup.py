"""Prompt-lookup drafts: guesses of a sequence's next tokens copied from its own context, for ``HFPolicy`` to verify.

A search agent copies a lot: a query restates the reasoning just written, an answer names what an observation
showed, a citation repeats a document id. The tokens that followed the latest earlier occurrence of the
sequence's last few tokens are a free guess of what comes next (Saxena's prompt lookup decoding; the draft
model of speculative decoding replaced by a lookup), and one forward over the guess checks all of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class LookupIndex:
    """The n-grams (n = 1 .. ``max_ngram``) of one growing token sequence, each mapped to where its latest
    occurrence ended, so that :meth:`draft` is a dictionary lookup instead of a scan of the context."""

    __slots__ = ("ids", "max_ngram", "_ends", "_indexed")

    def __init__(self, ids: Sequence[int], max_ngram: int = 3) -> None:
        if max_ngram < 1:
            raise ValueError(f"max_ngram must be >= 1, got {max_ngram}")
        self.ids = [int(t) for t in ids]
        self.max_ngram = int(max_ngram)
        self._ends: dict[tuple[int, ...], int] = {}
        self._indexed = 0  # n-grams ending before this position are indexed
        self._index()

    def _index(self) -> None:
        # the n-grams ending at the very end are left out: they are what draft() looks up, and would find themselves
        ids, ends = self.ids, self._ends
        for end in range(self._indexed + 1, len(ids)):
            for n in range(1, min(self.max_ngram, end) + 1):
                ends[tuple(ids[end - n:end])] = end
        self._indexed = max(self._indexed, len(ids) - 1)

    def extend(self, tokens: Iterable[int]) -> None:
        """Append tokens (sampled or accepted) to the sequence."""
        self.ids.extend(int(t) for t in tokens)
        self._index()

    def draft(self, length: int) -> list[int]:
        """Up to ``length`` tokens that followed the latest earlier occurrence of the longest suffix of the
        sequence (``max_ngram`` tokens down to one) seen before; empty when none recurs."""
        if length < 1:
            return []
        ids = self.ids
        for n in range(min(self.max_ngram, len(ids)), 0, -1):
            end = self._ends.get(tuple(ids[len(ids) - n:]))
            if end is not None:
                return ids[end:end + length]
        return []

    def copy(self) -> LookupIndex:
        """An independent index of the same sequence (branches of one prompt start from one index)."""
        new = LookupIndex.__new__(LookupIndex)
        new.ids, new.max_ngram = list(self.ids), self.max_ngram
        new._ends, new._indexed = dict(self._ends), self._indexed
        return new


__all__ = ["LookupIndex"]
