"""The rubric record: one single-hop statement over entity placeholders (``<E0>`` is the answer)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from searchgym.grammar import fill_placeholders, is_placeholder_key, placeholders_in

ANSWER_ENTITY = "E0"


def placeholders(text: str) -> tuple[str, ...]:
    """The placeholders (``"E0"``, ``"E1"`` ...) a rubric text uses, unique, in numeric order."""
    return placeholders_in(text)


@dataclass(frozen=True, slots=True)
class Rubric:
    """One single-hop statement over entity placeholders.

    ``support``: gold evidence ids (exact grounding); empty means a ``Grounder`` must judge it.
    ``names``: accepted surface forms per placeholder, as ``(("E1", ("Ada Lovelace", ...)), ...)``;
    ``<E0>`` defaults to the task's answers. ``hop``: index of the gold hop it came from, if any.
    """

    text: str
    support: tuple[str, ...] = ()
    names: tuple[tuple[str, tuple[str, ...]], ...] = ()
    hop: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip():
            raise ValueError("a rubric needs a non-empty statement")
        object.__setattr__(self, "support", tuple(self.support))
        object.__setattr__(self, "names", tuple((str(k), (v,) if isinstance(v, str) else tuple(v)) for k, v in self.names))
        for key, forms in self.names:
            if not is_placeholder_key(key):
                raise ValueError(f"rubric names: {key!r} is not a placeholder like 'E1'")
            if not all(isinstance(f, str) for f in forms):
                raise ValueError(f"rubric names for {key}: every name must be a string")

    @property
    def entities(self) -> tuple[str, ...]:
        return placeholders(self.text)

    def names_of(self, placeholder: str) -> tuple[str, ...]:
        return next((forms for key, forms in self.names if key == placeholder), ())

    def fill(self, values: Mapping[str, str | None]) -> str:
        """The statement with each identified placeholder replaced by the agent's name for it."""
        return fill_placeholders(self.text, {k: v for k, v in values.items() if v})


__all__ = ["ANSWER_ENTITY", "Rubric", "placeholders"]
