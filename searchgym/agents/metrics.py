"""Training metrics: the TRL reward function that reads sampler rewards, a JSONL log and the reward plot."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Callable, Sequence

from searchgym.agents.rollout import COMPONENTS_FIELD, REWARD_FIELD, STATS_FIELD


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
    """Append one JSON line and flush it to disk, so a crash loses at most the line being written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a JSONL file; a torn last line (crash mid-write) is skipped."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def make_metrics_callback(path: str | Path):
    """A ``TrainerCallback`` that appends every training log (one per logging step) to ``path``."""
    from transformers import TrainerCallback

    class JsonlMetricsCallback(TrainerCallback):
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
    png_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = png_path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, png_path)
    return png_path


__all__ = [
    "append_jsonl",
    "component_means",
    "make_metrics_callback",
    "make_reward_func",
    "plot_reward_curve",
    "read_jsonl",
]
