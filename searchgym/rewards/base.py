"""The reward protocol and its result record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from searchgym.records.episode import Trajectory


@dataclass(frozen=True)
class RewardResult:
    """A scalar reward with the named components it was built from.

    ``components`` are numbers for logging (every one is kept through composition); ``details`` is
    free-form explanation, e.g. per-rubric verdicts. ``scored`` is False when a component could not be
    computed (a judge failed under the ``skip`` policy): such a sample must be left out of advantages.
    """

    value: float
    components: Mapping[str, float] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    scored: bool = True


@runtime_checkable
class Reward(Protocol):
    """Maps a finished (or partial) trajectory to a ``RewardResult``."""

    @property
    def name(self) -> str:
        """The reward's name (read-only here, so frozen dataclasses implement it)."""
        ...

    def __call__(self, trajectory: Trajectory) -> RewardResult: ...
