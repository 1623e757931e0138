"""The training configuration: one flat dataclass, loaded from YAML with ``key=value`` overrides.

The dataclass defaults are the embedded defaults (``configs/default.yaml`` mirrors them): synthetic
world, BM25, SmolLM2-135M-Instruct with LoRA, C-GRPO + gold-judge rewards, sized so that a short run
finishes in minutes on a 2-core CPU.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

SAMPLERS = ("trajectory", "step")


@dataclass
class TrainConfig:
    """Everything ``searchgym train`` needs. Field names are the YAML keys and ``--set`` keys."""

    # data, search, environment
    corpus: str = "synthetic:seed=0,passages=200,tasks=64,hops=2"
    split: str = "train"  # all | train | test (deterministic hash split, see agents.splits)
    searcher: str = "bm25"
    max_turns: int = 4
    top_k: int = 3
    passage_chars: int = 200
    # policy
    model: str = "smollm2"
    max_new_tokens: int = 96  # per agent turn (the oracle's cited answers run to 77 tokens: 48 cut 64 of its 211 turns)
    temperature: float = 1.0
    top_p: float = 1.0
    # cold start: clone oracle turns with SFT before GRPO (see agents.warmstart)
    warmstart: bool = True
    warmstart_epochs: float = 2.0
    warmstart_max_rows: int = 512  # oracle turns cloned (every training task of the default world); whole episodes
    warmstart_learning_rate: float = 1e-4
    # sampling: trajectory = G whole episodes per task; step = SLATE truncated step groups of k
    sampler: str = "trajectory"
    group_size: int = 4  # G (trajectory) or k (step): TRL's num_generations
    tasks_per_step: int = 2  # tasks whose rollouts make one optimizer step (per process)
    groups_per_task: int = 2  # step sampler: GRPO groups (steps) kept per task and optimizer step
    continue_temperature: float = 0.7  # step sampler: softmax(advantage / T) picks the continuation
    # rewards (searchgym.rewards.group; `searchgym train --print-config` prints the resulting formula):
    # trajectory groups: R = C-GRPO(EM, R_rubric) + judge_weight * mean SLATE step reward;
    # step groups: SLATE r_think + r_action / r_think + r_answer + budget, C-GRPO on correct answers
    judge: str = "auto"  # auto (gold where every task has gold hops, else rules) | gold | rules | openai:... | none
    judge_weight: float = 0.2  # trajectory groups: weight of the mean step process reward (0: no judge calls)
    citation_rubric: bool = True  # CaRR rubric reward inside C-GRPO (alpha = cgrpo_alpha)
    cgrpo_alpha: float = 0.3
    judge_cache: bool = True  # persistent verdict cache for model judges (under $SEARCHGYM_CACHE)
    judge_on_error: str = "raise"  # raise | skip (a skipped sample is unscored, left out, and counted)
    # optimisation (TRL GRPOConfig pass-through)
    learning_rate: float = 5e-5
    beta: float = 0.0  # KL coefficient; 0 skips the reference model as TRL does
    epsilon: float = 0.2  # PPO-style clipping range
    loss_type: str = "dapo"
    scale_rewards: str = "group"
    max_steps: int = 6
    max_seconds: float | None = None  # stop at the first optimizer step past this wall-clock budget
    max_generated_tokens: int | None = None  # ... or past this many generated policy tokens (equal budgets)
    gradient_accumulation_steps: int = 1
    lora: bool = True
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    seed: int = 0
    # outputs
    output_dir: str = "runs/searchgym"
    save_steps: int = 3
    save_total_limit: int = 2
    logging_steps: int = 1
    resume_from_checkpoint: str | None = None  # a checkpoint dir, or "latest"
    # generation backend (TRL pass-through): vLLM on a GPU, or vLLM's CPU backend (see the README)
    use_vllm: bool = False
    vllm_mode: str = "colocate"
    vllm_gpu_memory_utilization: float = 0.3  # colocate: share of GPU memory (CPU backend: of RAM) for vLLM
    vllm_max_model_length: int | None = None  # context vLLM reserves KV cache for (None: the model's)
    # run reports: episodes/step-N.jsonl at step 1, every N steps and the last (0: never), read by report.html
    log_episodes_every: int = 5
    report_to: tuple[str, ...] = ()  # TRL/transformers integrations, e.g. tensorboard, wandb (none: [])
    # resume: accept a checkpoint without optimizer state (fresh optimizer, schedule continues)
    resume_reset_optimizer: bool = False

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if self.group_size < 2:
            raise ValueError(f"group_size must be at least 2 for group-relative advantages, got {self.group_size}")
        for name in ("max_turns", "tasks_per_step", "groups_per_task", "max_steps", "max_new_tokens",
                     "warmstart_max_rows"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.log_episodes_every < 0:
            raise ValueError(f"log_episodes_every must be 0 (never) or positive, got {self.log_episodes_every}")
        if self.warmstart_epochs <= 0:
            raise ValueError(f"warmstart_epochs must be positive, got {self.warmstart_epochs}")
        if self.vllm_mode not in ("colocate", "server"):
            raise ValueError(f"vllm_mode must be 'colocate' or 'server', got {self.vllm_mode!r}")
        if not 0.0 < self.vllm_gpu_memory_utilization <= 1.0:
            raise ValueError(f"vllm_gpu_memory_utilization must be in (0, 1], got {self.vllm_gpu_memory_utilization}")
        if self.judge_on_error not in ("raise", "skip"):
            raise ValueError(f"judge_on_error must be 'raise' or 'skip', got {self.judge_on_error!r}")
        if not 0.0 <= self.cgrpo_alpha <= 1.0:
            raise ValueError(f"cgrpo_alpha must lie in [0, 1], got {self.cgrpo_alpha}")
        if self.judge_weight < 0:
            raise ValueError(f"judge_weight must be >= 0, got {self.judge_weight}")

    @property
    def groups_per_step(self) -> int:
        """GRPO groups per optimizer step and process: TRL's unique prompts per generation batch."""
        return self.tasks_per_step * (self.groups_per_task if self.sampler == "step" else 1)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def _field_types() -> dict[str, Any]:
    hints = typing.get_type_hints(TrainConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(TrainConfig)}


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """Convert a YAML value or a ``--set`` string to the field's type, with a clear error."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:  # Optional[X] or X | None
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(key, value, inner[0])
    if origin is tuple:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()] if value.strip() else []
        if not isinstance(value, (list, tuple)):
            value = [value]
        return tuple(_coerce(key, v, args[0]) for v in value)
    try:
        if hint is bool:
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered in ("1", "true", "yes", "on"):
                    return True
                if lowered in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if hint is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if hint is float:
            return float(value)
        if hint is str:
            return str(value)
    except (TypeError, ValueError):
        raise ValueError(f"config key {key!r} expects {getattr(hint, '__name__', hint)}, got {value!r}") from None
    return value


def parse_overrides(pairs: Sequence[str]) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``; rejects items without ``=``."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"override {pair!r} is not of the form key=value")
        out[key.strip()] = value.strip()
    return out


# keys of earlier versions, with what replaced them (an old config fails with this, never silently)
REMOVED_KEYS = {
    "rewards": "the reward is fixed per sampler (C-GRPO for trajectory groups, SLATE for step groups): use "
               "citation_rubric, judge, judge_weight and cgrpo_alpha",
    "reward_weights": "use judge_weight (trajectory groups) and cgrpo_alpha",
}


def make_config(values: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None) -> TrainConfig:
    """Build a config from a mapping (YAML) and overrides; unknown keys are an error, not ignored."""
    types = _field_types()
    merged: dict[str, Any] = {}
    for source in (values or {}, overrides or {}):
        for key, value in source.items():
            if key in REMOVED_KEYS:
                raise ValueError(f"config key {key!r} was removed: {REMOVED_KEYS[key]}")
            if key not in types:
                raise ValueError(f"unknown config key {key!r}; known keys: {', '.join(sorted(types))}")
            merged[key] = _coerce(key, value, types[key])
    return TrainConfig(**merged)


def load_config(path: str | Path | None = None, overrides: Sequence[str] | Mapping[str, Any] = ()) -> TrainConfig:
    """Read a YAML config (or only the embedded defaults when ``path`` is None) and apply overrides."""
    import yaml

    values: dict[str, Any] = {}
    if path is not None:
        text = Path(path).read_text(encoding="utf-8")
        loaded = yaml.safe_load(text)
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ValueError(f"config file {path} must hold a mapping of keys to values")
        values = loaded
    extra = overrides if isinstance(overrides, Mapping) else parse_overrides(overrides)
    return make_config(values, extra)


def dump_config(config: TrainConfig, path: str | Path) -> None:
    """Write the config as YAML (the run directory keeps the exact config it ran with)."""
    import yaml

    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")


__all__ = ["SAMPLERS", "TrainConfig", "dump_config", "load_config", "make_config", "parse_overrides"]
