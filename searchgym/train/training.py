"""``searchgym train``'s end-to-end path: corpus, searcher, reward, model, warm start, sampler, trainer, run.

The parts live in modules of their own and are re-exported here, where the CLI, benchmarks and users
import them: ``trainer`` (TRL's GRPOTrainer with our rollout), ``run`` (train and save), ``budgets``
(stop callbacks), ``reward_setup`` (judge and reward of a config), ``sampler_factory``. See docs/training.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from searchgym.models import load_model_and_tokenizer
from searchgym.train.budgets import generated_token_budget, wall_clock_budget
from searchgym.train.checkpoints import latest_checkpoint
from searchgym.train.config import TrainConfig
from searchgym.train.reward_setup import build_judge, build_reward, describe_reward, resolve_judge_spec
from searchgym.train.run import FINAL_DIR, PLOT_FILE, TrainResult, resolve_resume, run_training, save_final_model
from searchgym.train.sampler_factory import make_sampler_factory
from searchgym.train.trainer import (
    METRICS_FILE,
    VLLM_CPU_ERROR,
    build_trainer,
    grpo_args,
    lora_config,
    num_processes,
    prompt_dataset,
)


def train(config: TrainConfig, *, callbacks: Sequence[Any] = ()) -> TrainResult:
    """``searchgym train``: build everything from the config and run GRPO."""
    from searchgym.corpora import load_taskset
    from searchgym.search import build_searcher
    from searchgym.train.splits import split_tasks

    taskset = load_taskset(config.corpus)
    tasks = split_tasks(taskset.tasks, config.split)
    searcher = build_searcher(config.searcher, taskset.documents)
    reward = build_reward(config, tasks)
    model, tokenizer = load_model_and_tokenizer(config.model, config.model_args)
    if config.warmstart:
        from searchgym.train.warmstart import load_or_warm_start

        model = load_or_warm_start(config, model, tokenizer, tasks, searcher)
    factory = make_sampler_factory(config, tasks, searcher, reward, tokenizer)
    trainer = build_trainer(config, model, tokenizer, tasks, factory, callbacks=callbacks)
    return run_training(trainer, config)


__all__ = [
    "FINAL_DIR",
    "METRICS_FILE",
    "PLOT_FILE",
    "VLLM_CPU_ERROR",
    "TrainResult",
    "build_judge",
    "build_reward",
    "build_trainer",
    "describe_reward",
    "generated_token_budget",
    "grpo_args",
    "latest_checkpoint",
    "load_model_and_tokenizer",
    "lora_config",
    "make_sampler_factory",
    "num_processes",
    "prompt_dataset",
    "resolve_judge_spec",
    "resolve_resume",
    "run_training",
    "save_final_model",
    "train",
    "wall_clock_budget",
]
