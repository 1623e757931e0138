"""Training metrics: the TRL reward function that reads sampler rewards, a JSONL log and the reward plot."""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from searchgym._io import atomic_path, iter_jsonl, write_jsonl
from searchgym.train.rollout import COMPONENTS_FIELD, REWARD_FIELD, STATS_FIELD

log = logging.getLogger(__name__)


def make_reward_func() -> Callable[..., list[float | None]]:
    """A TRL reward function returning each sample's sampler reward (``None`` = unscored).

    It also logs, through TRL's ``log_metric``, the batch mean of every reward component (EM among
    them) and the episode statistics of the rollout, so they land in ``log_history`` and the JSONL log.
    """

    def searchgym(prompts: Sequence[Any], completions: Sequence[Any], log_metric=None, **kwargs: Any) -> list[float | None]:
        rewards = kwargs.get(REWARD_FIELD)
        if rewards is None:
            raise ValueError(
                f"no {REWARD_FIELD!r} field reached the reward function: train with SamplerRollout as rollout_func"
            )
        if log_metric is not None:
            for name, value in component_means(kwargs.get(COMPONENTS_FIELD) or []).items():
                log_metric(f"components/{name}", value)
            stats = [s for s in (kwargs.get(STATS_FIELD) or []) if s]
            if stats:
                for key in stats[0]:
                    log_metric(f"episodes/{key}", float(stats[0][key]))
        return [None if r is None or (isinstance(r, float) and math.isnan(r)) else float(r) for r in rewards]

    return searchgym


def component_means(components: Sequence[dict[str, float]]) -> dict[str, float]:
    """Mean of each named component over the samples that have it."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for comp in components:
        for key, value in (comp or {}).items():
            try:
                v = float(value)
            except (TypeError, ValueError):
                continue
            if math.isnan(v):
                continue
            sums[key] = sums.get(key, 0.0) + v
            counts[key] = counts.get(key, 0) + 1
    return {k: sums[k] / counts[k] for k in sorted(sums)}


def append_jsonl(path: str | Path, record: dict[str, Any]) -> None:
    """Append one JSON line and flush it to disk, so a crash loses at most the line being written.

    A torn last line left by an earlier crash is repaired first (``repair_jsonl``), so it can never
    swallow the record appended after it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    repair_jsonl(path)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def repair_jsonl(path: str | Path) -> bool:
    """Make ``path`` end with a complete line: a torn last line (a crash mid-write) is cut off, or
    ended with a newline when it is a whole record. Returns True when the file was changed."""
    path = Path(path)
    if not path.is_file():
        return False
    with path.open("rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return False
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return False
        tail_start = max(0, size - (1 << 20))  # records are small; a torn line is shorter than 1 MiB
        fh.seek(tail_start)
        tail = fh.read()
        cut = tail.rfind(b"\n")
        fragment = tail[cut + 1:]
        try:
            json.loads(fragment.decode("utf-8"))
            fh.seek(0, os.SEEK_END)
            fh.write(b"\n")  # a whole record that only lacked its newline
        except (UnicodeDecodeError, ValueError):
            fh.truncate(tail_start + cut + 1 if cut >= 0 else 0)
            log.warning("%s: cut a torn last line of %d bytes (a crash while writing it)", path, len(fragment))
        fh.flush()
        os.fsync(fh.fileno())
    return True


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a JSONL file; a torn line is skipped, and a record glued to a torn line is kept."""
    return [value for _, value in iter_jsonl(path, tolerant=True) if isinstance(value, dict)]


def dedupe_by_step(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per (step, kind of record): the last one, i.e. the run that the training continued.

    Records of one step with different keys (a step's metrics and the end-of-training summary) are
    different kinds and are both kept.
    """
    last: dict[tuple, int] = {}
    for i, record in enumerate(records):
        last[(record.get("step"), frozenset(record))] = i
    keep = sorted(last.values())
    return [records[i] for i in keep]


def resume_metrics(path: str | Path, global_step: int) -> int:
    """Prepare a metrics JSONL for a run that (re)starts at ``global_step``: repair a torn line, keep
    each step's record once, and move the records of later steps -- which will be run and logged
    again -- to ``<name>.dropped.jsonl``. Returns how many records were moved or merged."""
    path = Path(path)
    if not path.is_file():
        return 0
    repair_jsonl(path)
    records = read_jsonl(path)
    is_later = [not isinstance(r.get("step"), (int, float)) or r["step"] > global_step for r in records]
    later = [r for r, drop in zip(records, is_later) if drop]
    kept = dedupe_by_step([r for r, drop in zip(records, is_later) if not drop])
    removed = len(records) - len(kept)
    raw_lines = sum(1 for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip())
    if removed == 0 and raw_lines == len(records):
        return 0
    if later:
        dropped = path.with_name(path.stem + ".dropped.jsonl")
        with dropped.open("a", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r, sort_keys=True) + "\n" for r in later)
    write_jsonl(path, kept, sort_keys=True, ensure_ascii=True)
    log.warning("%s: resuming at step %d: %d records of later steps moved to %s, %d duplicates merged",
                path, global_step, len(later), path.stem + ".dropped.jsonl", removed - len(later))
    return removed


def make_metrics_callback(path: str | Path):
    """A ``TrainerCallback`` that appends every training log (one per logging step) to ``path``.

    At the start of training (a resume included) the file is prepared with ``resume_metrics``, so a
    step re-run after a resume is logged once.
    """
    from transformers import TrainerCallback

    class JsonlMetricsCallback(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                resume_metrics(path, state.global_step)

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D401 (TRL hook)
            if not state.is_world_process_zero or not logs:
                return
            record = {"step": state.global_step, "epoch": state.epoch}
            record.update({k: v for k, v in logs.items() if isinstance(v, (int, float, str, bool))})
            append_jsonl(path, record)

    return JsonlMetricsCallback()


def plot_reward_curve(records: Sequence[dict[str, Any]], png_path: str | Path, title: str = "reward") -> Path:
    """Plot reward (and EM, when logged) against the optimizer step; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in records if "reward" in r]
    if not rows:
        raise ValueError("no logged reward to plot")
    steps = [r["step"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, [r["reward"] for r in rows], marker="o", label="reward")
    em_key = next((k for k in rows[-1] if k.startswith("components/") and k.split("/")[-1].split(".")[-1] == "em"),
                  None)
    if em_key:
        ax.plot(steps, [r.get(em_key, float("nan")) for r in rows], marker="s", label="EM")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("mean over batch")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    png_path = Path(png_path)
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return png_path


__all__ = [
    "append_jsonl",
    "component_means",
    "dedupe_by_step",
    "make_metrics_callback",
    "make_reward_func",
    "plot_reward_curve",
    "read_jsonl",
    "repair_jsonl",
    "resume_metrics",
]
