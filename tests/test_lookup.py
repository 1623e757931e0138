"""searchgym.policies.lookup: the drafts HFPolicy verifies come from the latest earlier occurrence of the longest
recurring suffix, and growing the sequence keeps the index exact."""

from __future__ import annotations

import random

import pytest

from searchgym.policies.lookup import LookupIndex


def _scan(sequence, length, max_ngram):
    """The definition, by brute force: the latest earlier occurrence of the longest recurring suffix."""
    for n in range(min(max_ngram, len(sequence) - 1), 0, -1):
        pattern = sequence[-n:]
        for start in range(len(sequence) - n - 1, -1, -1):
            if sequence[start:start + n] == pattern:
                return sequence[start + n:start + n + length]
    return []


def test_a_draft_follows_the_latest_occurrence_of_the_longest_recurring_suffix():
    #                       0  1  2  3  4  5  6  7  8  9  10
    index = LookupIndex([7, 1, 2, 9, 4, 1, 2, 3, 5, 1, 2], max_ngram=3)
    assert index.draft(2) == [3, 5]  # "1 2" last seen at 5-6, not at 1-2
    assert LookupIndex([5, 8, 1, 2]).draft(3) == []  # nothing recurs
    assert LookupIndex([4, 6, 4]).draft(5) == [6, 4]  # a draft stops at the end of what is known
    assert LookupIndex([3, 3]).draft(0) == []
    with pytest.raises(ValueError):
        LookupIndex([1], max_ngram=0)


def test_an_extended_index_drafts_as_a_fresh_scan_would():
    rng = random.Random(0)
    for _ in range(200):
        sequence = [rng.randrange(5) for _ in range(rng.randrange(1, 40))]
        split = rng.randrange(1, len(sequence) + 1)
        index = LookupIndex(sequence[:split], max_ngram=3)
        branch = index.copy()
        for token in sequence[split:]:
            index.extend([token])
        branch.extend(sequence[split:])
        for length in (1, 4):
            assert index.draft(length) == branch.draft(length) == _scan(sequence, length, 3)
    original = LookupIndex([1, 2, 3, 1, 2])
    copy = original.copy()
    copy.extend([9, 1, 2])
    assert original.draft(1) == [3] and copy.draft(1) == [9]  # a copy grows on its own
