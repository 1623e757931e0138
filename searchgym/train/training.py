"""GRPO training of search agents through TRL's ``GRPOTrainer``.

searchgym supplies the ``rollout_func`` (a sampler), the ``env_mask`` and one reward function; advantages,
KL, clipping, LoRA, checkpoints, multi-process and vLLM are TRL's. See docs/training.md.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from searchgym.corpora.records import Task
from searchgym.train import checkpoints
from searchgym.train.config import TrainConfig, dump_config
from searchgym.train.empty_steps import install_signal_only_loss, skip_empty_steps_callback
from searchgym.train.episode_log import make_episode_log_callback
from searchgym.train.metrics import make_metrics_callback, make_reward_func, plot_reward_curve, read_jsonl
from searchgym.train.rollout import SamplerRollout, task_prompt
from searchgym.train.samples import Sampler

METRICS_FILE = "metrics.jsonl"
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


def num_processes() -> int:
    """World size under ``accelerate launch``/``torchrun``; 1 otherwise."""
    return int(os.environ.get("WORLD_SIZE", "1"))


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
        seed=config.seed,
    )
    metrics_path = Path(args.output_dir) / METRICS_FILE
    if config.max_seconds:
        callbacks = [*callbacks, wall_clock_budget(config.max_seconds)]
    if config.max_generated_tokens:
        callbacks = [*callbacks, generated_token_budget(rollout, config.max_generated_tokens)]
    callbacks = [*callbacks, make_episode_log_callback(rollout, args.output_dir, config.log_episodes_every)]
    skip_empty = skip_empty_steps_callback() if config.skip_empty_steps else None
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


def wall_clock_budget(seconds: float):
    """A ``TrainerCallback`` that stops training at the first optimizer step past ``seconds`` of wall clock."""
    from transformers import TrainerCallback

    class WallClockBudget(TrainerCallback):
        def __init__(self) -> None:
            self.start: float | None = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if self.start is not None and time.perf_counter() - self.start >= seconds:
                control.should_training_stop = True
                control.should_save = True  # keep the last step's checkpoint
            return control

    return WallClockBudget()


def generated_token_budget(rollout: SamplerRollout, tokens: int):
    """A ``TrainerCallback`` that stops training at the first optimizer step past ``tokens`` generated policy
    tokens (comparisons of samplers at an equal generation budget)."""
    from transformers import TrainerCallback

    class GeneratedTokenBudget(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if rollout.generated_tokens >= tokens:
                control.should_training_stop = True
                control.should_save = True
            return control

    return GeneratedTokenBudget()


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest complete ``checkpoint-N`` directory under ``output_dir`` (see ``train.checkpoints``)."""
    return checkpoints.latest_checkpoint(output_dir)


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


# ---------------------------------------------------------------------------------------------
# the end-to-end path of `searchgym train`: corpus, searcher, env, rewards, policy, sampler


def load_model_and_tokenizer(spec: str, model_args: Any = None):
    """A causal LM and its tokenizer from ``smollm2`` (offline default), an HF id or a local path; with
    TRL's ``ModelConfig``, in its ``dtype`` and ``attn_implementation`` (default: float32)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from searchgym.models import resolve_model

    dtype = getattr(model_args, "dtype", None) or "float32"
    kwargs: dict[str, Any] = {"dtype": dtype if dtype == "auto" else getattr(torch, dtype)}
    if getattr(model_args, "attn_implementation", None):
        kwargs["attn_implementation"] = model_args.attn_implementation
    path = resolve_model(spec)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    model = AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
    return model, tokenizer


def resolve_judge_spec(config: TrainConfig, tasks: Sequence[Task]) -> str | None:
    """The judge spec a config means: ``auto`` is ``gold`` when every task has gold hops, else ``rules``;
    ``none`` is no judge."""
    spec = config.judge.strip()
    if spec == "none":
        return None
    if spec == "auto":
        return "gold" if tasks and all(t.hops for t in tasks) else "rules"
    if spec == "gold" and any(not t.hops for t in tasks):
        raise ValueError("judge=gold needs gold hops on every task; this data set has tasks without them "
                         "(use judge=rules or an openai:... judge)")
    return spec


def build_judge(config: TrainConfig, tasks: Sequence[Task]):
    """The process judge of a config (``None`` for ``judge: none``), with the persistent cache for model
    judges when ``judge_cache`` is on."""
    from searchgym.judges import load_judge

    spec = resolve_judge_spec(config, tasks)
    if spec is None:
        return None
    if config.judge_cache and spec.split(":", 1)[0] not in ("rules", "gold"):
        from searchgym.judges.cache import JudgeCache

        return load_judge(spec, cache=JudgeCache())
    return load_judge(spec)


def build_reward(config: TrainConfig, tasks: Sequence[Task] = ()):
    """The training reward (``searchgym.rewards.group.GroupReward``): C-GRPO for episode groups, SLATE
    for step groups, with the config's judge, citation rubric, alpha and budget B = ``max_turns``."""
    from searchgym.rewards.group import GroupReward
    from searchgym.rewards.rubric import CitationRubricReward

    hopless = [t.id for t in tasks if not t.hops]
    if config.citation_rubric and hopless:
        # a task without gold hops has no rubric: scoring its R_rubric 0 would be a silent wrong value
        raise ValueError(f"citation_rubric needs gold hops, and {len(hopless)} tasks have none (e.g. {hopless[0]!r}); "
                         "set citation_rubric=false for question/answer-only data")
    return GroupReward(judge=build_judge(config, tasks), budget=config.max_turns,
                       rubric=CitationRubricReward(scope="final") if config.citation_rubric else None,
                       alpha=config.cgrpo_alpha,
                       judge_weight=config.judge_weight, on_error=config.judge_on_error)


def describe_reward(config: TrainConfig, tasks: Sequence[Task] = ()) -> str:
    """The reward formula a config trains with, as text (shown by ``searchgym train --print-config``)."""
    from searchgym.rewards.group import reward_formula

    judge = resolve_judge_spec(config, tasks) if tasks or config.judge != "auto" else "auto (gold if hops, else rules)"
    return reward_formula(config.sampler, judge=judge, rubric=config.citation_rubric, alpha=config.cgrpo_alpha,
                          judge_weight=config.judge_weight, budget=config.max_turns)


def make_sampler_factory(config: TrainConfig, tasks: Sequence[Task], searcher: Any, reward: Any, tokenizer: Any):
    """``trainer -> Sampler``: the configured sampler over a fresh env, driving the trainer's model."""

    def factory(trainer: Any) -> Sampler:
        from searchgym.envs import DeepSearchEnv
        from searchgym.policies.hf_policy import HFPolicy
        from searchgym.train.samplers import TrajectorySampler, TruncatedStepSampler

        if config.use_vllm:
            from searchgym.policies.vllm_policy import VLLMPolicy

            policy = VLLMPolicy(trainer, tokenizer)  # TRL's engine; sampling settings come from config.training_args
        else:
            model = trainer.accelerator.unwrap_model(trainer.model)
            # sample with the numerics the trainer scores with (bf16 autocast where the config turned it on)
            policy = HFPolicy(model, tokenizer, max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                              top_p=config.top_p, seed=config.seed + trainer.accelerator.process_index,
                              autocast_bf16=bool(trainer.args.bf16))
        # the sampler scores every group once; the env itself scores nothing
        env = DeepSearchEnv(tasks, searcher, max_turns=config.max_turns, top_k=config.top_k,
                            passage_chars=config.passage_chars, reward=None)
        if config.sampler == "trajectory":
            return TrajectorySampler(env, policy, reward, group_size=config.group_size, tokenizer=tokenizer)
        return TruncatedStepSampler(env, policy, reward, k=config.group_size, max_steps=config.max_turns,
                                    temperature=config.continue_temperature, tokenizer=tokenizer,
                                    seed=config.seed + trainer.accelerator.process_index)

    return factory


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
    "TrainResult",
    "build_judge",
    "build_reward",
    "describe_reward",
    "resolve_judge_spec",
    "build_trainer",
    "grpo_args",
    "latest_checkpoint",
    "load_model_and_tokenizer",
    "lora_config",
    "make_sampler_factory",
    "prompt_dataset",
    "resolve_resume",
    "run_training",
    "train",
    "wall_clock_budget",
]
