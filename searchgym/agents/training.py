"""GRPO training of search agents through TRL's ``GRPOTrainer``.

How the pieces meet (trl 1.16):
- ``rollout_func`` = :class:`searchgym.agents.rollout.SamplerRollout`, which runs a searchgym sampler
  (``TrajectorySampler`` or ``TruncatedStepSampler``) with a policy wrapping the trainer's own model.
- Environment tokens are masked out of the loss with TRL's own ``env_mask`` rollout field (TRL
  multiplies it into the completion mask; no trainer subclass is needed).
- Group-relative advantages are TRL's: ``num_generations`` = G (episodes per task) or k (candidates
  per step); the rollout lays each sampler group out as one run of ``num_generations`` rows.
- Rewards: one TRL reward function returns the sampler's reward per sample; its components, EM and
  episode statistics are logged through TRL's ``log_metric`` into ``log_history`` and a JSONL file.
- KL (``beta``), clipping (``epsilon``), loss type, LoRA (``peft_config``), checkpoints and resuming
  (``resume_from_checkpoint``), ``accelerate`` multi-process and ``use_vllm`` are TRL's.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from searchgym.agents.config import TrainConfig, dump_config
from searchgym.agents.metrics import make_metrics_callback, make_reward_func, plot_reward_curve, read_jsonl
from searchgym.agents.rollout import SamplerRollout, task_prompt
from searchgym.agents.samples import Sampler
from searchgym.corpora.records import Task

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
    """The ``GRPOConfig`` for a searchgym config.

    One generation round per optimizer step: each process receives ``groups_per_step`` whole groups
    (``group_size`` rows each), so no group is split across processes. ``use_vllm`` needs a GPU;
    ``vllm_on_cpu`` admits vLLM's CPU backend for checks (see :func:`build_trainer`).
    """
    import torch
    from trl import GRPOConfig

    world_size = world_size or num_processes()
    per_device = config.groups_per_step * config.group_size
    on_gpu = torch.cuda.is_available()
    kwargs: dict[str, Any] = dict(
        output_dir=config.output_dir,
        num_generations=config.group_size,
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        steps_per_generation=config.gradient_accumulation_steps,
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        beta=config.beta,
        epsilon=config.epsilon,
        loss_type=config.loss_type,
        scale_rewards=config.scale_rewards,
        temperature=config.temperature,
        top_p=config.top_p,
        seed=config.seed,
        logging_steps=config.logging_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        report_to=[],
        bf16=on_gpu and torch.cuda.is_bf16_supported(),
        use_cpu=not on_gpu,
        use_vllm=config.use_vllm,
        vllm_mode=config.vllm_mode,
        disable_tqdm=False,
        dataloader_num_workers=0,
        ddp_find_unused_parameters=False,
    )
    if config.use_vllm:
        if not on_gpu and not vllm_on_cpu:
            raise ValueError(VLLM_CPU_ERROR)
        if config.vllm_mode == "server" and world_size > 1:
            raise ValueError("use_vllm with vllm_mode=server gathers prompts across processes on every call, which "
                             "multi-turn episodes cannot keep in step; use vllm_mode=colocate with several processes")
        from searchgym.agents.hf_policy import DEFAULT_STOP

        # vLLM stops at the end of an action, as HFPolicy does; VLLMPolicy cuts the tokens to match
        kwargs["generation_kwargs"] = {"stop": list(DEFAULT_STOP), "include_stop_str_in_output": True}
        kwargs["max_completion_length"] = config.max_new_tokens  # vLLM's per-turn token limit
        kwargs["vllm_gpu_memory_utilization"] = config.vllm_gpu_memory_utilization
        kwargs["vllm_max_model_length"] = config.vllm_max_model_length
    kwargs.update(overrides)
    return GRPOConfig(**kwargs)


def lora_config(config: TrainConfig):
    """PEFT ``LoraConfig`` for the config, or ``None`` for full fine-tuning."""
    if not config.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.lora_target_modules),
        task_type="CAUSAL_LM",
    )


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
    ``config.lora`` is set. Metrics go to ``<output_dir>/metrics.jsonl``. ``grpo_overrides`` go to
    :func:`grpo_args`. ``vllm_on_cpu=True`` runs ``use_vllm`` on vLLM's CPU backend for checks: it
    cannot sync weights, so only the rollouts before the first optimizer step are exact and a later
    sync raises.
    """
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is "experimental" in TRL 1.x
    from trl import GRPOTrainer

    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    args = grpo_args(config, vllm_on_cpu=vllm_on_cpu, **grpo_overrides)
    rollout = SamplerRollout(
        tasks,
        sampler_factory,
        mode=config.sampler,
        group_size=config.group_size,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    metrics_path = Path(args.output_dir) / METRICS_FILE
    if config.max_seconds:
        callbacks = [*callbacks, wall_clock_budget(config.max_seconds)]
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[make_reward_func()],
        args=args,
        train_dataset=prompt_dataset(tasks),
        processing_class=tokenizer,
        peft_config=lora_config(config),
        rollout_func=rollout,
        callbacks=[make_metrics_callback(metrics_path), *callbacks],
    )
    trainer.searchgym_rollout = rollout
    from searchgym.agents.fast_logprobs import install_compact_lm_head

    install_compact_lm_head(trainer)  # CPU: TRL's fused LM head scores only completion positions
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


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest ``checkpoint-N`` directory under ``output_dir``."""
    root = Path(output_dir)
    if not root.is_dir():
        return None
    checkpoints = [p for p in root.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return max(checkpoints, key=lambda p: int(p.name.split("-")[-1]), default=None)


def resolve_resume(config: TrainConfig) -> str | None:
    """``resume_from_checkpoint``: ``latest`` picks the newest checkpoint of the output dir."""
    value = config.resume_from_checkpoint
    if not value:
        return None
    if value == "latest":
        found = latest_checkpoint(config.output_dir)
        if found is None:
            raise FileNotFoundError(f"resume_from_checkpoint=latest but {config.output_dir} has no checkpoint-*")
        return str(found)
    if not Path(value).is_dir():
        raise FileNotFoundError(f"checkpoint {value} does not exist")
    return value


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


def load_model_and_tokenizer(spec: str):
    """A causal LM and its tokenizer from ``smollm2`` (offline default), an HF id or a local path."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from searchgym.agents.models import resolve_model

    path = resolve_model(spec)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    return model, tokenizer


REWARD_NAMES = ("outcome", "f1", "format", "search_r1", "rubric", "citation_validity", "judge")


class EpisodeJudgeReward:
    """A judge process reward for whole episodes: the mean SLATE step reward over every step.

    ``StepJudgeReward`` scores the last step of a trajectory (what the step sampler needs); a whole
    episode is scored by judging each of its prefixes in one batch. Unscored steps (judge failure
    under ``skip``) make the episode unscored; no score is invented.
    """

    name = "judge"

    def __init__(self, step_reward: Any) -> None:
        self.step_reward = step_reward

    def __call__(self, trajectory: Any):
        import math

        from searchgym.rewards.base import RewardResult

        if not trajectory.steps:
            return RewardResult(0.0, {"steps": 0.0}, {"reason": "no steps"})
        results = self.step_reward.score_batch(prefixes(trajectory))
        if not all(r.scored for r in results):
            return RewardResult(math.nan, {}, {"reason": "a step could not be judged"}, scored=False)
        values = [r.value for r in results]
        comps: dict[str, float] = {}
        for r in results:
            for key, value in r.components.items():
                comps[key] = comps.get(key, 0.0) + value / len(results)
        comps["steps"] = float(len(results))
        return RewardResult(sum(values) / len(values), comps, {"step_values": values})


def prefixes(trajectory: Any) -> list[Any]:
    """Each prefix of a trajectory (steps[:1], steps[:2], ...) with the documents seen by then."""
    from searchgym.envs.trajectory import Trajectory

    docs = trajectory.seen_by_id
    out, current = [], Trajectory(trajectory.task)
    for step in trajectory.steps:
        shown = [*step.hits, *([step.doc_id] if step.doc_id else [])]
        current = current.extend(step, tuple(docs[i] for i in shown if i in docs))
        out.append(current)
    return out


def make_reward_part(name: str, judge_spec: str = "rules"):
    """One named searchgym reward (see ``REWARD_NAMES``)."""
    from searchgym.rewards import outcome, rubric

    if name == "outcome":
        return outcome.OutcomeReward(metric="em")
    if name == "f1":
        return outcome.OutcomeReward(metric="f1", name="f1")
    if name == "format":
        return outcome.FormatReward()
    if name == "search_r1":
        return outcome.FormatReward(mode="search_r1", name="search_r1")
    if name == "rubric":
        return rubric.CitationRubricReward()
    if name == "citation_validity":
        return rubric.CitationValidityReward()
    if name == "judge":
        from searchgym.judges import load_judge
        from searchgym.rewards.process import StepJudgeReward

        return EpisodeJudgeReward(StepJudgeReward(load_judge(judge_spec)))
    raise ValueError(f"unknown reward {name!r}; choose from {', '.join(REWARD_NAMES)}")


def build_reward(config: TrainConfig):
    """The config's reward: ``WeightedSum`` of the named parts (weights default to 1 each).

    Every part's value and components are logged (``WeightedSum`` keeps them, prefixed by part name).
    """
    from searchgym.rewards.compose import WeightedSum

    if not config.rewards:
        raise ValueError("config.rewards is empty: name at least one reward")
    weights = config.reward_weights or (1.0,) * len(config.rewards)
    return WeightedSum([(make_reward_part(n, config.judge), w) for n, w in zip(config.rewards, weights)])


def step_rewards(config: TrainConfig):
    """(process reward, outcome reward) for the step sampler: the SLATE judge step reward, and the
    weighted sum of the config's other rewards for answer steps (``None`` when there are none)."""
    from searchgym.judges import load_judge
    from searchgym.rewards.compose import WeightedSum
    from searchgym.rewards.process import StepJudgeReward

    weights = config.reward_weights or (1.0,) * len(config.rewards)
    others = [(make_reward_part(n, config.judge), w) for n, w in zip(config.rewards, weights) if n != "judge"]
    return StepJudgeReward(load_judge(config.judge), budget=config.max_turns), (WeightedSum(others) if others else None)


def make_sampler_factory(config: TrainConfig, tasks: Sequence[Task], searcher: Any, reward: Any, tokenizer: Any):
    """``trainer -> Sampler``: the configured sampler over a fresh env, driving the trainer's model."""

    def factory(trainer: Any) -> Sampler:
        from searchgym.agents.hf_policy import HFPolicy
        from searchgym.agents.samplers import TrajectorySampler, TruncatedStepSampler
        from searchgym.envs import DeepSearchEnv

        if config.use_vllm:
            from searchgym.agents.vllm_policy import VLLMPolicy

            policy = VLLMPolicy(trainer, tokenizer)  # TRL's engine; sampling settings come from grpo_args
        else:
            model = trainer.accelerator.unwrap_model(trainer.model)
            policy = HFPolicy(model, tokenizer, max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                              top_p=config.top_p, seed=config.seed + trainer.accelerator.process_index)
        env = DeepSearchEnv(tasks, searcher, max_turns=config.max_turns, top_k=config.top_k,
                            passage_chars=config.passage_chars, reward=reward)
        if config.sampler == "trajectory":
            return TrajectorySampler(env, policy, reward, group_size=config.group_size, tokenizer=tokenizer)
        # SLATE: the judge scores each candidate step; answer steps also get the non-judge (outcome) parts
        step_reward, outcome = step_rewards(config)
        return TruncatedStepSampler(env, policy, step_reward, k=config.group_size, max_steps=config.max_turns,
                                    outcome_reward=outcome, temperature=config.continue_temperature,
                                    tokenizer=tokenizer, seed=config.seed + trainer.accelerator.process_index)

    return factory


def train(config: TrainConfig, *, callbacks: Sequence[Any] = ()) -> TrainResult:
    """``searchgym train``: build everything from the config and run GRPO."""
    from searchgym.corpora import load_taskset
    from searchgym.search import build_searcher

    from searchgym.agents.splits import split_tasks

    taskset = load_taskset(config.corpus)
    tasks = split_tasks(taskset.tasks, config.split)
    searcher = build_searcher(config.searcher, taskset.documents)
    reward = build_reward(config)
    model, tokenizer = load_model_and_tokenizer(config.model)
    if config.warmstart:
        from searchgym.agents.warmstart import load_or_warm_start

        model = load_or_warm_start(config, model, tokenizer, tasks, searcher)
    factory = make_sampler_factory(config, tasks, searcher, reward, tokenizer)
    trainer = build_trainer(config, model, tokenizer, tasks, factory, callbacks=callbacks)
    return run_training(trainer, config)


__all__ = [
    "TrainResult",
    "REWARD_NAMES",
    "build_reward",
    "make_reward_part",
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
