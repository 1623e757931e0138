"""``WorldConfig``: the few knobs of a synthetic world, checked up front with clear errors."""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("chain", "comparison", "intersection")
MIN_PASSAGES = 60
MAX_HOPS = 5


@dataclass(frozen=True)
class WorldConfig:
    """Size and shape of a synthetic world; the same config always gives the same world."""

    seed: int = 0
    num_passages: int = 1000
    num_tasks: int = 200
    hops: tuple[int, ...] = (2, 3, 4)
    kinds: tuple[str, ...] = KINDS
    # share of tasks that are comparisons and intersections when those kinds are enabled
    comparison_share: float = 0.2
    intersection_share: float = 0.2
    # 0..2 passing mentions of other (often similarly named) entities per passage
    distractors: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "hops", tuple(self.hops))
        object.__setattr__(self, "kinds", tuple(self.kinds))
        for key in ("seed", "num_passages", "num_tasks"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"WorldConfig.{key} must be an integer, got {value!r}")
        if self.seed < 0:
            raise ValueError(f"WorldConfig.seed must not be negative, got {self.seed}")
        if self.num_passages < MIN_PASSAGES:
            raise ValueError(
                f"WorldConfig.num_passages={self.num_passages} is too small: a world needs at least "
                f"{MIN_PASSAGES} passages to hold every kind of entity"
            )
        if self.num_tasks < 0:
            raise ValueError(f"WorldConfig.num_tasks must not be negative, got {self.num_tasks}")
        if self.num_tasks > self.num_passages:
            raise ValueError(
                f"WorldConfig.num_tasks={self.num_tasks} exceeds num_passages={self.num_passages}: "
                f"use at least as many passages as tasks so that questions stay distinct"
            )
        if not self.hops or any(not isinstance(h, int) or not 1 <= h <= MAX_HOPS for h in self.hops):
            raise ValueError(f"WorldConfig.hops={self.hops!r}: each hop count must be an integer from 1 to {MAX_HOPS}")
        if not self.kinds or any(k not in KINDS for k in self.kinds):
            raise ValueError(f"WorldConfig.kinds={self.kinds!r}: choose from {', '.join(KINDS)}")
        if 1 in self.hops and "chain" not in self.kinds:
            raise ValueError("WorldConfig: 1-hop tasks can only be chains; add 'chain' to kinds or drop hop count 1")
        for key in ("comparison_share", "intersection_share"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ValueError(f"WorldConfig.{key} must lie in [0, 1]")
        if self.comparison_share + self.intersection_share > 1.0:
            raise ValueError("WorldConfig.comparison_share + intersection_share must not exceed 1")
