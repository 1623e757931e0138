"""Episode records, kept at this path: they live in :mod:`searchgym.records.episode`."""

from searchgym.records.episode import ANSWER, INVALID, OPEN, SEARCH, STEP_KINDS, Step, StepKind, Trajectory

__all__ = ["ANSWER", "INVALID", "OPEN", "SEARCH", "STEP_KINDS", "Step", "StepKind", "Trajectory"]
