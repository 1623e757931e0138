"""``UnicodeText``: a ``gymnasium.spaces.Text`` whose members are any string within the length bounds.

``Text`` checks membership against an explicit character set; all of Unicode (1.1M code points) as
a set and index dict would cost seconds and ~100 MB per space. Agent text and corpus passages can hold
any code point, so membership here checks only the type and length; ``sample()`` draws from a
printable subset (ASCII, whitespace, the grammar's brackets and a few non-Latin letters).
"""

from __future__ import annotations

import string
from typing import Any

from gymnasium.spaces import Text

SAMPLE_CHARSET = string.ascii_letters + string.digits + string.punctuation + " \n\téüßøçñ中文日本語Ωπ—…"


class UnicodeText(Text):
    """Any ``str`` of ``min_length``..``max_length`` characters (any code point) is a member."""

    def __init__(self, max_length: int, *, min_length: int = 0, seed: Any = None) -> None:
        super().__init__(max_length, min_length=min_length, charset=SAMPLE_CHARSET, seed=seed)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    @property
    def is_np_flattenable(self) -> bool:
        # flattening maps characters to charset indices, which arbitrary Unicode does not have
        return False

    def __repr__(self) -> str:
        return f"UnicodeText({self.min_length}, {self.max_length})"

    def __eq__(self, other: object, /) -> bool:
        return isinstance(other, UnicodeText) and (self.min_length, self.max_length) == (other.min_length,
                                                                                         other.max_length)


__all__ = ["SAMPLE_CHARSET", "UnicodeText"]
