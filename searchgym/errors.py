"""The base class of every error searchgym raises on purpose.

Each searchgym exception also keeps its builtin base (``RuntimeError``, ``ValueError``...), so an
``except ValueError`` written before this class existed still catches it.
"""

from __future__ import annotations


class SearchgymError(Exception):
    """Base of all searchgym errors: ``except SearchgymError`` catches any of them."""


__all__ = ["SearchgymError"]
