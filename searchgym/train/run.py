"""One training run: train, then save the final model, the metrics, the reward plot and the config."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from searchgym.train import checkpoints
from searchgym.train.config import TrainConfig, dump_config
from searchgym.train.metrics import plot_reward_curve, read_jsonl
from searchgym.train.trainer import METRICS_FILE

PLOT_FILE = "reward_curve.png"
FINAL_DIR = "final"


@dataclass(frozen=True)
class TrainResult:
    """Where a run left its outputs, and its logged history."""

    output_dir: Path
    final_model_dir: Path
    metrics_path: Path
    plot_path: Path | None
    log_history: list[dict[str, Any]]
    seconds: float


def resolve_resume(config: TrainConfig) -> str | None:
    """``resume_from_checkpoint``: ``latest`` picks the newest complete checkpoint of the output dir."""
    return checkpoints.resolve_resume(config.resume_from_checkpoint, config.output_dir,
                                      reset_optimizer=config.resume_reset_optimizer)


def save_final_model(trainer: Any, final_dir: Path) -> None:
    """Save a plain transformers checkpoint (LoRA merged into a copy) that ``hf:<final_dir>`` loads.

    With LoRA the adapter alone is kept too, in ``<final_dir>/adapter``.
    """
    import copy
    import shutil

    if trainer.is_world_process_zero() and final_dir.exists():
        shutil.rmtree(final_dir)  # a resumed run replaces, never mixes with, an older final model
    trainer.accelerator.wait_for_everyone()
    model = trainer.accelerator.unwrap_model(trainer.model)
    if hasattr(model, "merge_and_unload"):
        trainer.save_model(str(final_dir / "adapter"))  # collective under accelerate: every rank calls it
        if trainer.is_world_process_zero():
            merged = copy.deepcopy(model).merge_and_unload()
            merged.save_pretrained(str(final_dir))
    else:
        trainer.save_model(str(final_dir))
    if trainer.is_world_process_zero():
        trainer.processing_class.save_pretrained(str(final_dir))


def run_training(trainer: Any, config: TrainConfig) -> TrainResult:
    """Train, then save the final model, the metrics JSONL, the reward plot and the config."""
    start = time.perf_counter()
    out = Path(trainer.args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if trainer.is_world_process_zero():
        dump_config(config, out / "config.yaml")
    trainer.train(resume_from_checkpoint=resolve_resume(config))
    final_dir = out / FINAL_DIR
    metrics_path = out / METRICS_FILE
    plot_path = None
    save_final_model(trainer, final_dir)
    if trainer.is_world_process_zero():
        records = read_jsonl(metrics_path) if metrics_path.exists() else []
        if any("reward" in r for r in records):
            plot_path = plot_reward_curve(records, out / PLOT_FILE, title=f"GRPO reward ({config.sampler} sampler)")
        (out / "log_history.json").write_text(json.dumps(trainer.state.log_history, indent=1), encoding="utf-8")
    return TrainResult(
        output_dir=out,
        final_model_dir=final_dir,
        metrics_path=metrics_path,
        plot_path=plot_path,
        log_history=list(trainer.state.log_history),
        seconds=time.perf_counter() - start,
    )
