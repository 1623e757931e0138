"""TRL's ``GRPOTrainer`` built for searchgym: the sampler as ``rollout_func``, one reward function, our callbacks.

Advantages, KL, clipping, LoRA, checkpoints, multi-process and vLLM are TRL's. See docs/training.md.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from searchgym.corpora.records import Task
from searchgym.train import checkpoints
from searchgym.train.budgets import generated_token_budget, wall_clock_budget
from searchgym.train.config import TrainConfig
from searchgym.train.empty_steps import install_signal_only_loss, skip_empty_steps_callback
from searchgym.train.episode_log import make_episode_log_callback
from searchgym.train.metrics import make_metrics_callback, make_reward_func
from searchgym.train.rollout import SamplerRollout, task_prompt
from searchgym.train.samples import Sampler

METRICS_FILE = "metrics.jsonl"
REFERENCE_DIR = "reference_model"  # <output_dir>/reference_model: the policy GRPO starts from, for the KL term


def num_processes() -> int:
    """World size under ``accelerate launch``/``torchrun``; 1 otherwise."""
    return int(os.environ.get("WORLD_SIZE", "1"))


class CountedNoneRewards(logging.Filter):
    """Drops TRL's warning for a row whose rewards are all None, which dumps the row's whole kwargs.

    searchgym's rollout gives None on purpose to padding rows (an episode that ended before its step groups
    filled its slots) and to samples a judge could not score, and counts both itself
    (``episodes/rollout_padding``, ``episodes/unscored``); TRL leaves such rows out of the loss either way."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "All reward functions returned None" not in record.getMessage()


def quiet_counted_none_rewards() -> None:
    """Installs ``CountedNoneRewards`` on TRL's GRPO logger (once)."""
    log = logging.getLogger("trl.trainer.grpo_trainer")
    if not any(isinstance(f, CountedNoneRewards) for f in log.filters):
        log.addFilter(CountedNoneRewards())


VLLM_CPU_ERROR = (
    "use_vllm needs a GPU: vLLM's CPU backend prepacks its weights for oneDNN and cannot reload them in place, so "
    "TRL could not sync the policy into vLLM after an optimizer step and every rollout after the first step would "
    "come from stale weights. On CPU leave use_vllm=false (searchgym generates with the trained model itself)."
)


def grpo_args(config: TrainConfig, *, world_size: int | None = None, vllm_on_cpu: bool = False, **overrides: Any):
    """The ``GRPOConfig`` of a searchgym config (``config.training_args``; ``overrides`` change keys first),
    after the checks that need the machine: ``use_vllm`` needs a GPU (``vllm_on_cpu`` admits vLLM's CPU
    backend for checks, see :func:`build_trainer`), and server mode cannot serve several processes."""
    import torch

    if overrides:
        config = config.replace(**overrides)
    world_size = world_size or num_processes()
    if config.use_vllm:
        if not torch.cuda.is_available() and not vllm_on_cpu:
            raise ValueError(VLLM_CPU_ERROR)
        if config.vllm_mode == "server" and world_size > 1:
            raise ValueError("use_vllm with vllm_mode=server gathers prompts across processes on every call, which "
                             "multi-turn episodes cannot keep in step; use vllm_mode=colocate with several processes")
    return config.training_args


def _snapshot_reference(model: Any, tokenizer: Any, output_dir: Path) -> Path:
    """The policy as GRPO starts from it, saved once under ``output_dir`` for TRL's reference model.

    TRL reloads the reference from ``model.config._name_or_path``: for a warm-started model that is the
    base model it was fine-tuned from (the KL term would pull GRPO back past the warm start), and for the
    offline SmolLM2 GGUF it is a folder ``from_pretrained`` cannot read without ``gguf_file``. A resumed
    run finds the snapshot of its first start and keeps it: its anchor does not move with the checkpoints."""
    import shutil

    target = output_dir / REFERENCE_DIR
    if (target / "config.json").is_file():
        return target
    partial = output_dir / f"{REFERENCE_DIR}.partial-{os.getpid()}"  # one per process under accelerate
    model.save_pretrained(str(partial))
    tokenizer.save_pretrained(str(partial))
    try:
        partial.replace(target)  # atomic: a crash mid-save never leaves a half reference to be reused
    except OSError:
        if not (target / "config.json").is_file():
            raise
        shutil.rmtree(partial, ignore_errors=True)  # another process saved the same start first
    return target


@contextmanager
def _loaded_from(model: Any, path: Path | None) -> Iterator[None]:
    """While the block runs, ``model`` names ``path`` as where it was loaded from (TRL builds its reference
    model from that name); its own name is back afterwards. ``None``: nothing changes."""
    if path is None:
        yield
        return
    original = model.config._name_or_path
    model.config._name_or_path = str(path)
    try:
        yield
    finally:
        model.config._name_or_path = original


def lora_config(config: TrainConfig):
    """PEFT ``LoraConfig`` for the config (TRL's ``get_peft_config``), or ``None`` for full fine-tuning."""
    from trl import get_peft_config  # pyright: ignore[reportPrivateImportUsage]  (trl exports it lazily)

    return get_peft_config(config.model_args)


def prompt_dataset(tasks: Sequence[Task]):
    """The ``datasets.Dataset`` TRL iterates: one row per task, keyed by :func:`task_prompt`."""
    from datasets import Dataset

    if not tasks:
        raise ValueError("no training tasks")
    return Dataset.from_dict({"prompt": [task_prompt(t) for t in tasks]})


def build_trainer(
    config: TrainConfig,
    model: Any,
    tokenizer: Any,
    tasks: Sequence[Task],
    sampler_factory: Callable[[Any], Sampler],
    *,
    callbacks: Sequence[Any] = (),
    vllm_on_cpu: bool = False,
    **grpo_overrides: Any,
):
    """A ready ``GRPOTrainer`` whose rollouts come from ``sampler_factory(trainer)``.

    ``model`` is a transformers causal LM (or a path TRL can load); LoRA is applied by TRL when
    ``config.use_peft`` is set. Metrics go to ``<output_dir>/metrics.jsonl``. ``grpo_overrides`` go to
    :func:`grpo_args`. ``vllm_on_cpu=True`` runs ``use_vllm`` on vLLM's CPU backend for checks: it
    cannot sync weights, so only the rollouts before the first optimizer step are exact and a later
    sync raises.
    """
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is "experimental" in TRL 1.x
    from trl import GRPOTrainer  # pyright: ignore[reportPrivateImportUsage]  (trl exports it lazily)

    quiet_counted_none_rewards()

    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    args = grpo_args(config, vllm_on_cpu=vllm_on_cpu, **grpo_overrides)
    assert args.output_dir is not None, "grpo_args always sets output_dir"
    rollout = SamplerRollout(
        tasks,
        sampler_factory,
        mode=config.sampler,
        group_size=config.group_size,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        groups_per_task=config.groups_per_task,
        informative_first=config.informative_groups_first,
        seed=config.seed,
    )
    metrics_path = Path(args.output_dir) / METRICS_FILE
    if config.max_seconds:
        callbacks = [*callbacks, wall_clock_budget(config.max_seconds)]
    if config.max_generated_tokens:
        callbacks = [*callbacks, generated_token_budget(rollout, config.max_generated_tokens)]
    callbacks = [*callbacks, make_episode_log_callback(rollout, args.output_dir, config.log_episodes_every)]
    skip_empty = skip_empty_steps_callback() if config.skip_empty_steps else None
    # a KL term under full fine-tuning (with LoRA TRL's reference is the base with its adapters off); a model
    # given as a path is TRL's to load, policy and reference alike
    reference = None
    if args.beta != 0.0 and not config.use_peft and hasattr(model, "save_pretrained"):
        reference = _snapshot_reference(model, tokenizer, Path(args.output_dir))
    with _loaded_from(model, reference):
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=[make_reward_func()],
            args=args,
            train_dataset=prompt_dataset(tasks),
            processing_class=tokenizer,
            peft_config=lora_config(config),
            rollout_func=rollout,
            # first, so that its skipped_steps is in the logs the metrics callback writes
            callbacks=[*([skip_empty] if skip_empty else []), make_metrics_callback(metrics_path),
                       checkpoints.make_resume_callback(rollout), *callbacks],
        )
    if skip_empty is not None:
        skip_empty.trainer = trainer
    trainer.searchgym_rollout = rollout  # pyright: ignore[reportAttributeAccessIssue]  (ours, on TRL's trainer)
    from searchgym.train.fast_logprobs import install_compact_lm_head

    install_compact_lm_head(trainer)  # CPU: TRL's fused LM head scores only completion positions
    if config.skip_empty_steps:
        install_signal_only_loss(trainer)  # the same gradient without the forward of zero-advantage rows
    from searchgym.train.advantage_weights import install_negative_advantage_weight

    # around the signal-only loss, which then sees the weighted advantages: rows weighted to 0 skip the forward
    install_negative_advantage_weight(trainer, config.negative_advantage_weight)
    if config.step_advantage == "tree":
        from searchgym.train.sampler_advantages import install_sampler_advantages

        install_sampler_advantages(trainer, rollout)  # TRL's centring would remove the tree's shared part
    if vllm_on_cpu and config.use_vllm and getattr(trainer, "vllm_generation", None) is not None:
        _sync_only_before_the_first_update(trainer)
    return trainer


def _sync_only_before_the_first_update(trainer: Any) -> None:
    """vLLM's CPU backend cannot reload weights; before the first optimizer step it already holds the
    checkpoint the trainer loaded, so that sync is skipped, and any later one is a clear error."""

    def sync_weights() -> None:
        if trainer.state.global_step > 0:
            raise RuntimeError(VLLM_CPU_ERROR)

    trainer.vllm_generation.sync_weights = sync_weights
