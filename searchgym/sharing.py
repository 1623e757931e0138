"""``SharedOnCopy``: read-only or thread-safe objects that copies share instead of duplicating (a leaf)."""

from __future__ import annotations

from typing import Any


class SharedOnCopy:
    """Mixin: ``copy.copy`` and ``copy.deepcopy`` return the object itself.

    ``gym.make`` records its keyword arguments in ``env.spec`` and deep-copies them on ``spec.make()``,
    ``make_vec`` and whenever a wrapper reads ``spec``. A searcher holding a JVM or an index, a judge
    holding a model or a connection, a corpus of millions of passages, a frozen record: each is safe to
    share (immutable, or thread-safe), and copying it would cost memory or fail. A searcher, corpus or
    reward of your own passed to ``gym.make`` should derive from this mixin (or define ``__deepcopy__``).
    """

    __slots__ = ()

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return self


__all__ = ["SharedOnCopy"]
