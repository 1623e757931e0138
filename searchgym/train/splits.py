"""Deterministic train/test splits of a task list (data sets without their own split)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from searchgym.corpora.records import Task

SPLITS = ("all", "train", "test")
TEST_FRACTION_DENOMINATOR = 5  # one task in five is held out


def _bucket(task_id: str) -> int:
    # a content hash, not hash(): stable across processes and Python versions
    return int.from_bytes(hashlib.sha1(task_id.encode("utf-8")).digest()[:4], "big") % TEST_FRACTION_DENOMINATOR


def split_tasks(tasks: Sequence[Task], split: str = "all", limit: int | None = None) -> list[Task]:
    """``all``, ``train`` (4/5) or ``test`` (1/5) by a hash of the task id, in input order, at most ``limit``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if split == "all":
        chosen = list(tasks)
    elif split == "test":
        chosen = [t for t in tasks if _bucket(t.id) == 0]
    else:
        chosen = [t for t in tasks if _bucket(t.id) != 0]
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit must be positive, got {limit}")
        chosen = chosen[:limit]
    return chosen


__all__ = ["SPLITS", "split_tasks"]
