"""The training configuration, parsed by TRL's ``TrlParser``.

``searchgym train --config x.yaml --max_steps 20``: the YAML replaces the defaults and flags replace both.
The keys are the fields of :class:`SearchgymArgs` (searchgym's own) and of TRL's ``GRPOConfig`` and
``ModelConfig``; :data:`TRL_DEFAULTS` holds searchgym's values for the TRL fields it relies on.
"""

from __future__ import annotations

import argparse
import difflib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args, get_type_hints

# trl exports these lazily (its _LazyModule); pyright only sees the submodules that define them
from trl import GRPOConfig, ModelConfig, TrlParser  # pyright: ignore[reportPrivateImportUsage]

from searchgym.corpora.spec import DEFAULT_CORPUS
from searchgym.errors import SearchgymError
from searchgym.search.specs import SEARCHER_HELP
from searchgym.train.advantage_weights import check_negative_advantage_weight

SAMPLERS = ("trajectory", "step")


@dataclass
class SearchgymArgs:
    """searchgym's own ``train`` arguments (TRL's ``GRPOConfig`` and ``ModelConfig`` hold the rest)."""

    # data, search, environment
    corpus: str = field(default=DEFAULT_CORPUS,
                        metadata={"help": "corpus spec: synthetic:..., hotpotqa:..., a local JSONL, ..."})
    split: Literal["all", "train", "test"] = field(
        default="train", metadata={"help": "tasks trained on: the deterministic hash split of train.splits"})
    searcher: str = field(default="bm25", metadata={"help": SEARCHER_HELP})
    max_turns: int = field(default=4, metadata={"help": "agent turns per episode (the SLATE budget B)"})
    top_k: int = field(default=3, metadata={"help": "search hits shown per search (TRL's sampling top_k is unused)"})
    passage_chars: int = field(default=200, metadata={"help": "characters of each passage shown to the agent"})
    # policy
    model: str = field(default="smollm2", metadata={"help": "policy model: smollm2 (offline default), an HF id or a path"})
    max_new_tokens: int = field(default=96, metadata={
        "help": "tokens per agent turn (the oracle's cited answers run to 77 tokens; with use_vllm also TRL's "
                "max_completion_length)"})
    lookup_tokens: int = field(default=4, metadata={
        "help": "HFPolicy on CPU: draft up to this many tokens a row from the row's own context and verify them in "
                "one forward (prompt lookup with speculative sampling's acceptance: the same distribution of turns). "
                "Drafts only while a forward holds few tokens, where they are nearly free: 1.24x generated "
                "tokens/s at 8 episodes, level at 16 (2 cores, bf16; docs/training.md). 0: one token a forward"})
    # cold start: clone oracle turns with SFT before GRPO (see train.warmstart)
    warmstart: bool = field(default=True, metadata={"help": "clone oracle turns with SFT before GRPO"})
    warmstart_epochs: float = field(default=2.0, metadata={"help": "warm start: SFT epochs"})
    warmstart_max_rows: int = field(default=512, metadata={
        "help": "warm start: oracle turns cloned (whole episodes, so a few more may be kept); 512 covers every "
                "training task of the default world"})
    warmstart_learning_rate: float = field(default=1e-4, metadata={"help": "warm start: SFT learning rate"})
    warmstart_frozen_fraction: float = field(default=0.0, metadata={
        "help": "warm start: the embeddings and this share of the decoder layers, from the bottom, stay frozen "
                "during SFT (0.5: 15 of SmolLM2-135M's 30, so the backward pass stops half-way: 1.7x faster on "
                "CPU; level after 12 GRPO steps, worse after 24: docs/training.md); 0 (default) trains every "
                "weight. GRPO trains them all either way"})
    # sampling
    sampler: Literal["trajectory", "step"] = field(default="trajectory", metadata={
        "help": "trajectory: G whole episodes per task; step: SLATE truncated step groups of k"})
    group_size: int = field(default=4, metadata={"help": "G (trajectory) or k (step); sets TRL's num_generations"})
    tasks_per_step: int = field(default=2, metadata={
        "help": "tasks whose rollouts make one optimizer step (per process); with group_size and groups_per_task "
                "it sets TRL's per_device_train_batch_size"})
    groups_per_task: int = field(default=2, metadata={
        "help": "step sampler: GRPO groups (steps) kept per task and optimizer step"})
    informative_groups_first: bool = field(default=False, metadata={
        "help": "step sampler: of an episode's step groups, keep those whose candidates scored differently "
                "before those scored alike (which teach nothing). Off by default: it made the step arm worse "
                "(bench_learning seed 1, unseen world 0.356 -> 0.225; README); false draws every step uniformly"})
    negative_advantage_weight: float = field(default=0.0, metadata={
        "help": "multiplies negative advantages in the loss: 0 (default) learns from each group's better-than-"
                "average samples only; 1 is plain GRPO, which collapsed warm starts under full fine-tuning "
                "(train.advantage_weights, docs/training.md)"})
    continue_temperature: float = field(default=0.7, metadata={
        "help": "step sampler: softmax(advantage / T) picks the continuation"})
    step_value: Literal["judge", "rollout"] = field(default="judge", metadata={
        "help": "step sampler: how a candidate step is valued. judge (SLATE): the judge's verdict on the step; "
                "rollout: the step reward of the answer that ends one sampled continuation of it (searches "
                "and opens are paid by what they lead to; more tokens per group; docs/training.md)"})
    step_redraws: int = field(default=0, metadata={
        "help": "step sampler, rollout value: a step group whose values cannot differ (its k candidates reach one "
                "outcome, or all end the episode with one value: nothing to learn) is drawn again up to this many "
                "times, and the first draw whose values can differ is kept (dynamic sampling per step group; the "
                "extra candidates count as generated tokens). 0 (default): never; 3 made seed 1 read less "
                "(README)"})
    train_playouts: bool = field(default=False, metadata={
        "help": "step sampler, rollout value: also train the turns the play-outs generate, as a second GRPO group "
                "per played-out step group (its k paths from the shared prefix, each valued by its own end; the "
                "candidates stay credited by the step group). The tokens are paid for either way; off (default) "
                "spends them on values only (docs/training.md)"})
    step_advantage: Literal["sibling", "tree"] = field(default="sibling", metadata={
        "help": "step sampler, rollout value: sibling (SLATE): a candidate's value minus its group's mean; tree "
                "(TreeRL): plus its value minus the mean reward of the episode's finished paths, a candidate that "
                "was not played out taking the value of the next step group; the loss then takes the sampler's "
                "advantages (train.sampler_advantages; docs/training.md)"})
    # rewards (searchgym.rewards.group; --print-config prints the formula)
    judge: str = field(default="auto", metadata={
        "help": "process judge: auto (gold where every task has gold hops, else rules) | gold | rules | "
                "openai:... | none"})
    judge_weight: float = field(default=0.0, metadata={
        "help": "trajectory groups: weight of the mean SLATE step reward (0, the default: no judge calls; the "
                "measured arm b, trajectory + C-GRPO, trains without it)"})
    citation_rubric: bool = field(default=True, metadata={"help": "CaRR citation-rubric reward inside C-GRPO"})
    cgrpo_alpha: float = field(default=0.3, metadata={"help": "C-GRPO's alpha: weight of the rubric reward"})
    judge_cache: bool = field(default=True, metadata={
        "help": "persistent verdict cache for model judges (under $SEARCHGYM_CACHE)"})
    judge_on_error: Literal["raise", "skip"] = field(default="raise", metadata={
        "help": "a judge failure raises, or skips the sample (left out of the loss and counted)"})
    skip_empty_steps: bool = field(default=True, metadata={
        "help": "skip work without gradient: the forward of zero-advantage rows (same loss) and the optimizer "
                "step of a batch with no gradient, where Adam's momentum would still move every weight "
                "(train.empty_steps)"})
    micro_batch_size: int = field(default=1, metadata={
        "help": "rows per forward/backward of the loss: an optimizer step's rows are split into micro-batches "
                "of at most this size (the same DAPO update; activation memory grows with it, ~1.2 GB per "
                "1,000-token row for SmolLM2 on CPU). 1 computes no padding and runs SDPA's causal path: "
                "the default run's update takes 23-26 s instead of 29-35 s with 2 (2 CPU cores)"})
    # budgets
    max_seconds: float | None = field(default=None, metadata={
        "help": "stop at the first optimizer step past this wall-clock budget"})
    max_generated_tokens: int | None = field(default=None, metadata={
        "help": "stop at the first optimizer step past this many generated policy tokens"})
    # run reports and resuming
    log_episodes_every: int = field(default=5, metadata={
        "help": "write episodes/step-N.jsonl at step 1, every N steps and the last (0: never)"})
    resume_reset_optimizer: bool = field(default=False, metadata={
        "help": "resume from a checkpoint without optimizer state (fresh optimizer, schedule continues)"})

    def __post_init__(self) -> None:
        hints = get_type_hints(SearchgymArgs)
        for f in fields(self):
            choices = get_args(hints[f.name]) if getattr(hints[f.name], "__origin__", None) is Literal else ()
            if choices and getattr(self, f.name) not in choices:
                raise ValueError(f"{f.name} must be one of {choices}, got {getattr(self, f.name)!r}")
        if self.group_size < 2:
            raise ValueError(f"group_size must be at least 2 for group-relative advantages, got {self.group_size}")
        for name in ("max_turns", "tasks_per_step", "groups_per_task", "max_new_tokens", "warmstart_max_rows",
                     "micro_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        from searchgym.policies.fast_decode import MAX_DECODE_QUERY

        if not 0 <= self.lookup_tokens < MAX_DECODE_QUERY:
            raise ValueError(f"lookup_tokens must lie in 0..{MAX_DECODE_QUERY - 1}, got {self.lookup_tokens}")
        if not 0.0 <= self.warmstart_frozen_fraction < 1.0:
            raise ValueError(f"warmstart_frozen_fraction must lie in [0, 1), got {self.warmstart_frozen_fraction}")
        if self.log_episodes_every < 0:
            raise ValueError(f"log_episodes_every must be 0 (never) or positive, got {self.log_episodes_every}")
        if self.warmstart_epochs <= 0:
            raise ValueError(f"warmstart_epochs must be positive, got {self.warmstart_epochs}")
        if not 0.0 <= self.cgrpo_alpha <= 1.0:
            raise ValueError(f"cgrpo_alpha must lie in [0, 1], got {self.cgrpo_alpha}")
        if self.judge_weight < 0:
            raise ValueError(f"judge_weight must be >= 0, got {self.judge_weight}")
        check_negative_advantage_weight(self.negative_advantage_weight)
        if self.step_redraws < 0:
            raise ValueError(f"step_redraws must be 0 (never) or positive, got {self.step_redraws}")
        if self.step_redraws and (self.sampler != "step" or self.step_value != "rollout"):
            raise ValueError("step_redraws draws step groups again under step_value='rollout' (only there does a group "
                             f"with one outcome surely teach nothing); sampler is {self.sampler!r}, step_value "
                             f"{self.step_value!r}")
        if self.train_playouts and (self.sampler != "step" or self.step_value != "rollout"):
            raise ValueError("train_playouts trains the play-outs of step_value='rollout' (nothing else plays out); "
                             f"sampler is {self.sampler!r}, step_value {self.step_value!r}")
        if self.step_advantage == "tree" and (self.sampler != "step" or self.step_value != "rollout"
                                              or self.train_playouts):
            raise ValueError("step_advantage='tree' backs rollout values up a step episode's groups: it needs "
                             f"sampler='step', step_value='rollout' and no train_playouts; sampler is "
                             f"{self.sampler!r}, step_value {self.step_value!r}, train_playouts {self.train_playouts}")
        if self.step_value != "judge" and self.sampler != "step":
            raise ValueError(f"step_value={self.step_value!r} values the step sampler's candidates; "
                             f"sampler is {self.sampler!r}")

    @property
    def groups_per_step(self) -> int:
        """GRPO groups per optimizer step and process: TRL's unique prompts per generation batch."""
        return self.tasks_per_step * (self.groups_per_task if self.sampler == "step" else 1)


@dataclass
class SearchgymGRPOConfig(GRPOConfig):
    """TRL's ``GRPOConfig`` with its sampling ``top_k`` left out of parsing (``top_k`` is searchgym's search hits)
    and ``scale_rewards`` that also takes ``auto``, resolved before TRL sees it (:func:`resolved_scale_rewards`)."""

    top_k: int = field(default=0, init=False)
    scale_rewards: str = field(default="auto", metadata={
        "help": "how TRL scales a group's centred rewards into advantages: group (divided by the group's std), "
                "batch, none, or auto (the default): none for step groups valued by rollouts (their values are "
                "meant on the reward's scale; docs/training.md), group otherwise"})


# searchgym's values for TRL's fields: these keys are shown in configs/default.yaml and --print-config
TRL_DEFAULTS: dict[str, Any] = {
    # GRPO (TRL's GRPOConfig)
    # full fine-tuning at 2e-5, constant: bench_learning's trajectory arms at negative_advantage_weight 0
    # (README); LoRA q/k/v/o at 5e-5 over 6 steps left the quickstart's held-out EM where it was
    "learning_rate": 2e-5,
    "lr_scheduler_type": "constant",
    "beta": 0.0,  # KL coefficient; 0 skips the reference model
    "epsilon": 0.2,
    "loss_type": "dapo",
    "scale_rewards": "auto",  # resolved per sampler: resolved_scale_rewards
    "temperature": 1.0,
    "top_p": 1.0,
    "max_steps": 12,  # about the 15k generated tokens bench_learning --quick gives an arm
    "seed": 0,
    "output_dir": "runs/searchgym",
    "save_strategy": "steps",
    "save_steps": 4,
    "save_total_limit": 2,
    "logging_steps": 1,
    "resume_from_checkpoint": None,  # a checkpoint dir, or "latest"
    "report_to": [],
    "use_vllm": False,
    "vllm_mode": "colocate",
    "vllm_gpu_memory_utilization": 0.3,
    "vllm_max_model_length": None,
    "disable_tqdm": False,
    "dataloader_num_workers": 0,
    "ddp_find_unused_parameters": False,
    # for models this small the memory it saves is nothing and its second forward is a third of the step
    "activation_checkpointing": False,
    # LoRA (TRL's ModelConfig)
    "use_peft": False,
    "lora_r": 8,
    "lora_alpha": 16,
    "lora_dropout": 0.0,
    "lora_target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
}

# keys of earlier versions, with what replaced them (an old config fails with this, never silently)
REMOVED_KEYS = {
    "rewards": "the reward is fixed per sampler (C-GRPO for trajectory groups, SLATE for step groups): use "
               "citation_rubric, judge, judge_weight and cgrpo_alpha",
    "reward_weights": "use judge_weight (trajectory groups) and cgrpo_alpha",
}
# keys of earlier versions read under their new name for one release, with a DeprecationWarning
RENAMED_KEYS = {"lora": "use_peft"}
# ModelConfig fields searchgym does not read: setting one is an error, not a silent no-op
UNSUPPORTED_KEYS = {
    "model_name_or_path": "searchgym loads the policy from `model` (smollm2, an HF id or a path)",
    "model_revision": "give `model` a local path or an HF id",
    "load_in_8bit": "quantized policies are not supported",
    "load_in_4bit": "quantized policies are not supported",
    "bnb_4bit_quant_type": "quantized policies are not supported",
    "use_bnb_nested_quant": "quantized policies are not supported",
    "bnb_4bit_quant_storage": "quantized policies are not supported",
}


class ConfigError(SearchgymError, ValueError):
    """A bad ``train`` configuration: unknown key, wrong type or value, or a key searchgym sets itself."""


# TRL keys searchgym sets itself (see derived_values), with what they follow from
DERIVED_FROM = {
    "num_generations": "group_size",
    "per_device_train_batch_size": "micro_batch_size (and the rows of a step)",
    "gradient_accumulation_steps": "tasks_per_step, groups_per_task, group_size and micro_batch_size",
    "steps_per_generation": "tasks_per_step, groups_per_task, group_size and micro_batch_size",
    "generation_kwargs": "the action grammar (use_vllm)",
    "max_completion_length": "max_new_tokens (use_vllm)",
}


SCALE_REWARDS = ("auto", "group", "batch", "none")


def resolved_scale_rewards(scale_rewards: Any, sampler: str, step_value: str) -> str:
    """TRL's ``scale_rewards`` for a config: ``auto`` is ``none`` for step groups valued by rollouts, whose values
    are meant on the reward's scale (docs/training.md), and ``group`` otherwise; TRL's booleans are its names."""
    value = ("group" if scale_rewards else "none") if isinstance(scale_rewards, bool) else scale_rewards
    if value not in SCALE_REWARDS:
        raise ConfigError(f"scale_rewards must be one of {', '.join(SCALE_REWARDS)}, got {scale_rewards!r}")
    if value == "auto":
        return "none" if sampler == "step" and step_value == "rollout" else "group"
    return value


def derived_values(args: Any) -> dict[str, Any]:
    """The TRL settings that follow from searchgym's: each process gets ``groups_per_step`` whole groups
    of ``group_size`` rows per optimizer step, so no group is split across processes."""
    groups_per_step = args.tasks_per_step * (args.groups_per_task if args.sampler == "step" else 1)
    rows = groups_per_step * args.group_size
    # one generation round per optimizer step, its rows scored in micro-batches (DAPO's token-level
    # normalisation spans the whole accumulated batch, so the update is the same as one big batch)
    micro = max(d for d in range(1, min(args.micro_batch_size, rows) + 1) if rows % d == 0)
    out: dict[str, Any] = {
        "num_generations": args.group_size,
        "per_device_train_batch_size": micro,
        "gradient_accumulation_steps": rows // micro,
        "steps_per_generation": rows // micro,
    }
    if args.use_vllm:
        from searchgym.policies.hf_policy import DEFAULT_STOP

        # vLLM stops at the end of an action, as HFPolicy does; VLLMPolicy cuts the tokens to match
        out["generation_kwargs"] = {"stop": list(DEFAULT_STOP), "include_stop_str_in_output": True}
        out["max_completion_length"] = args.max_new_tokens  # vLLM's per-turn token limit
    return out


class _Derived:
    def __repr__(self) -> str:
        return "derived"


_DERIVED = _Derived()  # the parser default of a derived key: any other value was set by the user


def _machine_defaults() -> dict[str, Any]:
    import torch

    on_gpu = torch.cuda.is_available()
    # on CPU bf16 autocast is opt-in (--bf16 true): 1.7x faster forward and backward on a CPU with native
    # bf16 (measured), but it changes the numerics that the seeded-resume and merge checks pin down
    return {"use_cpu": not on_gpu, "bf16": bool(torch.cuda.is_bf16_supported()) if on_gpu else False}


def _suggest(key: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _as_default(value: Any) -> Any:
    """A YAML or Python value as an argparse default: scalars as text, so argparse's own type conversion
    checks them exactly as it checks a flag; lists stay lists."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


class SearchgymParser(TrlParser):
    """``TrlParser`` over :class:`SearchgymArgs`, TRL's ``GRPOConfig`` and ``ModelConfig`` with searchgym's defaults.

    Errors raise :class:`ConfigError` instead of exiting; ``-h`` still prints the help and exits.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("prog", "searchgym train")
        kwargs.setdefault("allow_abbrev", False)  # a typo must not prefix-match one of TRL's many flags
        # DataClassType is a NewType over Any in transformers, so no class type-checks as one
        super().__init__((SearchgymArgs, SearchgymGRPOConfig, ModelConfig), **kwargs)  # pyright: ignore[reportArgumentType]
        self.set_defaults(**{k: _as_default(v) for k, v in {**TRL_DEFAULTS, **_machine_defaults()}.items()})
        # the defaults as parsed values (argparse converts text defaults only while parsing)
        self._initial_defaults = vars(argparse.ArgumentParser.parse_known_args(self, [])[0])
        self.set_defaults(**{key: _DERIVED for key in DERIVED_FROM})  # so that a flag setting one is seen
        self._dataclass_keys = [f.name for dtype in self.dataclass_types for f in fields(dtype) if f.init]
        self.values: dict[str, Any] = {}

    def error(self, message: str):  # argparse's documented override point; the default exits
        raise ConfigError(message)

    def check_key(self, key: str) -> str:
        """The key a config key names now (renamed keys warn); removed, unknown and derived keys are errors."""
        if key in REMOVED_KEYS:
            raise ConfigError(f"config key {key!r} was removed: {REMOVED_KEYS[key]}")
        if key in RENAMED_KEYS:
            warnings.warn(f"config key {key!r} is now {RENAMED_KEYS[key]!r}; the old name goes in the next release",
                          DeprecationWarning, stacklevel=4)
            key = RENAMED_KEYS[key]
        if key in DERIVED_FROM:
            raise ConfigError(f"{key} is set by searchgym from {DERIVED_FROM[key]}; set those instead")
        if key in UNSUPPORTED_KEYS:
            raise ConfigError(f"{key} is not read by searchgym train: {UNSUPPORTED_KEYS[key]}")
        if key not in self._dataclass_keys:
            raise ConfigError(f"unknown config key {key!r}{_suggest(key, self._dataclass_keys)} "
                              "(searchgym train --help lists every key)")
        return key

    def set_defaults_with_config(self, **kwargs: Any) -> list[str]:
        """YAML (or Python) values as defaults; unlike ``TrlParser``, a bad key is an error right here."""
        values = {}
        for key, value in kwargs.items():
            values[self.check_key(key)] = _as_default(value)
        return super().set_defaults_with_config(**values)

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        """argparse's parse, then the derived TRL settings (:func:`derived_values`) before the dataclasses exist."""
        ns, extras = super().parse_known_args(args, namespace)
        for key, why in DERIVED_FROM.items():
            if getattr(ns, key) is not _DERIVED:
                raise ConfigError(f"{key} is set by searchgym from {why}; set those instead")
        for key, why in UNSUPPORTED_KEYS.items():
            if getattr(ns, key) != self._initial_defaults[key]:
                raise ConfigError(f"{key} is not read by searchgym train: {why}")
        for key, why in REMOVED_KEYS.items():  # reward_weights is a TRL key too, but searchgym has one reward
            if hasattr(ns, key) and getattr(ns, key) != self._initial_defaults[key]:
                raise ConfigError(f"--{key} was removed: {why}")
        if ns.vllm_mode not in ("colocate", "server"):
            raise ConfigError(f"vllm_mode must be 'colocate' or 'server', got {ns.vllm_mode!r}")
        if not 0.0 < ns.vllm_gpu_memory_utilization <= 1.0:
            raise ConfigError(f"vllm_gpu_memory_utilization must be in (0, 1], got {ns.vllm_gpu_memory_utilization}")
        scale_rewards = resolved_scale_rewards(ns.scale_rewards, ns.sampler, ns.step_value)  # a bad value fails here
        derived = derived_values(ns)
        for key in DERIVED_FROM:
            setattr(ns, key, derived.get(key, self._initial_defaults[key]))
        # searchgym's keys, then the TRL keys it sets, then any other TRL key given a value of its own
        shown = [f.name for f in fields(SearchgymArgs)] + list(TRL_DEFAULTS)
        changed = [k for k in self._dataclass_keys if k not in shown and k not in DERIVED_FROM
                   and getattr(ns, k) != self._initial_defaults[k]]
        self.values = {key: getattr(ns, key) for key in shown + changed}
        ns.scale_rewards = scale_rewards  # what TRL gets; values keep what was asked ("auto" included)
        return ns, extras

    def parse_config(self, args: Sequence[str] | None = None) -> tuple[TrainConfig, argparse.Namespace | None]:
        """``TrlParser.parse_args_and_config`` into a :class:`TrainConfig`, plus the namespace of any extra
        (non-dataclass) arguments added to this parser, e.g. ``--print-config``."""
        *outputs, remaining = self.parse_args_and_config(list(args or ()), return_remaining_strings=True)
        if remaining:
            flag = remaining[0]
            key = flag.lstrip("-").split("=", 1)[0].replace("-", "_")
            if key in REMOVED_KEYS:
                raise ConfigError(f"{flag} was removed: {REMOVED_KEYS[key]}")
            if key in RENAMED_KEYS:
                raise ConfigError(f"{flag} is now --{RENAMED_KEYS[key]}")
            flags = [s for a in self._actions for s in a.option_strings if s.startswith("--")]
            raise ConfigError(f"unknown argument {flag!r}{_suggest(flag.split('=', 1)[0], flags)}")
        script_args, training_args, model_args = outputs[:3]
        extra = outputs[3] if len(outputs) > 3 else None
        return TrainConfig._from_parsed(self.values, (script_args, training_args, model_args)), extra


@dataclass(frozen=True, init=False)
class TrainConfig:
    """What ``searchgym train`` runs with: :class:`SearchgymArgs`, TRL's ``GRPOConfig`` and ``ModelConfig``.

    ``TrainConfig(**keys)`` is the defaults with those keys (parsed exactly as YAML values are);
    ``config.key`` reads a key from whichever part holds it; ``dataclasses.replace(config, key=...)`` or
    :meth:`replace` makes a changed copy.
    """

    values: Mapping[str, Any]  # the flat keys: searchgym's, the TRL ones it sets, and any others changed

    def __init__(self, values: Mapping[str, Any] | None = None, **changes: Any) -> None:
        parser = SearchgymParser()
        parser.set_defaults_with_config(**{**(values or {}), **changes})
        parsed, _ = parser.parse_config([])
        object.__setattr__(self, "values", parsed.values)
        object.__setattr__(self, "_parts", parsed._parts)

    @classmethod
    def _from_parsed(cls, values: Mapping[str, Any], parts: tuple[Any, Any, Any]) -> TrainConfig:
        config = object.__new__(cls)
        object.__setattr__(config, "values", dict(values))
        object.__setattr__(config, "_parts", parts)
        return config

    @property
    def script_args(self) -> SearchgymArgs:
        """searchgym's own arguments."""
        return self._parts[0]

    @property
    def training_args(self) -> GRPOConfig:
        """TRL's ``GRPOConfig`` for the trainer, with the derived batch layout."""
        return self._parts[1]

    @property
    def model_args(self) -> ModelConfig:
        """TRL's ``ModelConfig`` (LoRA, dtype, attention implementation)."""
        return self._parts[2]

    def __getattr__(self, name: str) -> Any:
        parts = self.__dict__.get("_parts")
        if name.startswith("_") or parts is None:
            raise AttributeError(name)
        if name in RENAMED_KEYS:
            warnings.warn(f"config.{name} is now config.{RENAMED_KEYS[name]}", DeprecationWarning, stacklevel=2)
            name = RENAMED_KEYS[name]
        if name == "scale_rewards":  # as asked ("auto" included); training_args holds what TRL was given
            return self.values[name]
        for part in parts:
            if hasattr(part, name):
                return getattr(part, name)
        raise AttributeError(f"TrainConfig has no key {name!r}{_suggest(name, list(self.values))}")

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some keys changed (derived TRL settings follow)."""
        return TrainConfig(self.values, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The flat keys as plain YAML-safe values (``configs/default.yaml`` for the defaults)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.values.items()}


def make_parser(**kwargs: Any) -> SearchgymParser:
    """The ``searchgym train`` parser (extra plain arguments may be added to it)."""
    return SearchgymParser(**kwargs)


def parse_config(args: Sequence[str] = (), values: Mapping[str, Any] | None = None) -> TrainConfig:
    """A config from command-line style ``args`` (``--config x.yaml --max_steps 20``) over ``values``."""
    parser = make_parser()
    if values:
        parser.set_defaults_with_config(**values)
    return parser.parse_config(args)[0]


def set_flags(pairs: Sequence[str]) -> list[str]:
    """Deprecated ``--set key=value`` pairs as the flags that replace them (``--key value``)."""
    out: list[str] = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {pair!r} is not of the form key=value")
        key = RENAMED_KEYS.get(key, key)
        # the old comma lists (lora_target_modules=q_proj,v_proj) are now several values
        parts = [v.strip() for v in value.split(",") if v.strip()] if "," in value else [value.strip()]
        out += [f"--{key}", *parts]
    return out


def translate_set_args(argv: Sequence[str]) -> list[str]:
    """``argv`` with each deprecated ``--set key=value`` turned into ``--key value`` (with a DeprecationWarning)."""
    out: list[str] = []
    pairs: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg == "--set":
            pairs.append(next(it, ""))
        elif arg.startswith("--set="):
            pairs.append(arg[len("--set="):])
        else:
            out.append(arg)
    if pairs:
        flags = set_flags(pairs)
        warnings.warn(f"--set key=value is deprecated and goes in the next release; use {' '.join(flags)}",
                      DeprecationWarning, stacklevel=2)
        out += flags  # after the other flags: as before, --set wins over them
    return out


def load_config(path: str | Path | None = None, overrides: Sequence[str] | Mapping[str, Any] = ()) -> TrainConfig:
    """A YAML config (or the defaults when ``path`` is None) with overrides: a mapping of keys, or
    (deprecated) ``key=value`` strings."""
    if isinstance(overrides, Mapping):
        args, values = [], dict(overrides)
    else:
        if overrides:
            warnings.warn("key=value overrides are deprecated; pass a mapping or use parse_config(['--key', 'value'])",
                          DeprecationWarning, stacklevel=2)
        args, values = set_flags(overrides), {}
    if path is not None:
        args = ["--config", str(path), *args]
    parser = make_parser()
    parsed, _ = parser.parse_config(args)
    return parsed.replace(**values) if values else parsed


def make_config(values: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None) -> TrainConfig:
    """A config from a mapping (YAML) and overrides; unknown keys are an error, not ignored."""
    return TrainConfig({**(values or {}), **(overrides or {})})


def parse_overrides(pairs: Sequence[str]) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``; rejects items without ``=``."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {pair!r} is not of the form key=value")
        out[key.strip()] = value.strip()
    return out


DEFAULT_YAML_HEADER = """\
# searchgym train: the embedded defaults (tests/test_training.py checks this file against them; regenerate it
# with `python -m searchgym.train.config > configs/default.yaml`).
# Synthetic world, BM25, SmolLM2-135M-Instruct (resolved offline), warm start, then full fine-tuning with
# trajectory groups and C-GRPO (EM + citation rubric), negative advantages weighted 0: bench_learning's arm b.
# Sized so that a run finishes in about 20 minutes on a 2-core CPU.
# Keys are searchgym's (SearchgymArgs) and TRL's (GRPOConfig, ModelConfig); every other TRL key works too.
# Override any key on the command line: searchgym train --config configs/default.yaml --sampler step --max_steps 20
"""


def config_yaml(config: TrainConfig) -> str:
    """The config as YAML text."""
    import yaml

    return yaml.safe_dump(config.to_dict(), sort_keys=False)


def dump_config(config: TrainConfig, path: str | Path) -> None:
    """Write the config as YAML (the run directory keeps the exact config it ran with)."""
    Path(path).write_text(config_yaml(config), encoding="utf-8")


__all__ = [
    "REMOVED_KEYS",
    "RENAMED_KEYS",
    "SAMPLERS",
    "SCALE_REWARDS",
    "TRL_DEFAULTS",
    "ConfigError",
    "SearchgymArgs",
    "SearchgymParser",
    "TrainConfig",
    "config_yaml",
    "dump_config",
    "load_config",
    "make_config",
    "make_parser",
    "parse_config",
    "parse_overrides",
    "resolved_scale_rewards",
    "translate_set_args",
]


if __name__ == "__main__":
    print(DEFAULT_YAML_HEADER + config_yaml(TrainConfig()), end="")
