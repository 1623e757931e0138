"""Safe resume: complete checkpoints only, and a resumed run that continues the interrupted one.

``inspect_checkpoint`` accepts a ``checkpoint-N`` directory only when every file it needs is present and
readable; ``ResumeCallback`` saves and restores the rollout's RNG streams and the prompt order, so a
resumed run samples what the uninterrupted one would have. See docs/training.md.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import random
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from searchgym._io import atomic_path

log = logging.getLogger(__name__)

CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
TRAINER_STATE = "trainer_state.json"
OPTIMIZER = "optimizer.pt"
OPTIMIZER_BIN = "optimizer.bin"  # transformers' other name for it
SCHEDULER = "scheduler.pt"
WEIGHT_FILES = ("model.safetensors", "adapter_model.safetensors", "pytorch_model.bin", "adapter_model.bin")
WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
ROLLOUT_RNG = "searchgym_rng.pt"
_RNG_FORMAT = 1


def env_world_size() -> int:
    """Processes in this run: ``WORLD_SIZE`` as set by ``accelerate launch``/``torchrun``; 1 otherwise.

    Read from the environment, as accelerate itself does, rather than through ``PartialState()``: its
    first construction would set up the process (and, under a launcher, ``torch.distributed``) with
    default settings before ``TrainingArguments`` chooses the device, backend and timeout.
    """
    return int(os.environ.get("WORLD_SIZE", "1"))


def trainer_rng_files(world_size: int) -> list[str]:
    """The trainer's RNG files a checkpoint of a ``world_size``-process run holds (transformers' names)."""
    return ["rng_state.pth"] if world_size <= 1 else [f"rng_state_{i}.pth" for i in range(world_size)]


def rollout_rng_file(process_index: int = 0, world_size: int = 1) -> str:
    """The name of one process's rollout RNG file."""
    return ROLLOUT_RNG if world_size <= 1 else f"searchgym_rng_{process_index}.pt"


def checkpoint_step(path: str | Path) -> int | None:
    """N of a ``checkpoint-N`` directory name, else None."""
    match = CHECKPOINT_RE.match(Path(path).name)
    return int(match.group(1)) if match else None


# ---- integrity of single files ------------------------------------------------------------------

def _safetensors_problem(path: Path) -> str | None:
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                return "truncated header"
            (n,) = struct.unpack("<Q", head)
            if n > size - 8 or n > 100_000_000:
                return "header longer than the file"
            header = json.loads(fh.read(n))
    except (OSError, ValueError) as exc:
        return f"unreadable header ({exc})"
    if not isinstance(header, dict):
        return "header is not a JSON object"
    end = max((int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"), default=0)
    if 8 + n + end > size:
        return f"truncated: tensors need {8 + n + end} bytes, file has {size}"
    return None


def _torch_zip_problem(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as zf:
            if not zf.namelist():
                return "empty archive"
    except (OSError, zipfile.BadZipFile) as exc:
        return f"not a readable torch archive ({exc})"
    return None


def _file_problem(path: Path) -> str | None:
    """Why ``path`` is not a usable checkpoint file, or None."""
    if not path.is_file():
        return "missing"
    if path.stat().st_size == 0:
        return "empty"
    if path.suffix == ".safetensors":
        return _safetensors_problem(path)
    if path.suffix in (".pt", ".pth", ".bin"):
        return _torch_zip_problem(path)
    if path.suffix == ".json":
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return f"unreadable JSON ({exc})"
    return None


def _weights_problem(root: Path) -> str | None:
    for name in WEIGHT_INDEXES:
        index = root / name
        if index.exists():
            problem = _file_problem(index)
            if problem:
                return f"{name}: {problem}"
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}).values()))
            for shard in shards:
                if problem := _file_problem(root / shard):
                    return f"{shard}: {problem}"
            return None if shards else f"{name}: lists no shards"
    present = [name for name in WEIGHT_FILES if (root / name).exists()]
    if not present:
        return "no weights (" + " / ".join(WEIGHT_FILES) + ")"
    for name in present:
        if problem := _file_problem(root / name):
            return f"{name}: {problem}"
    return None


# ---- whole checkpoints ------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckpointCheck:
    """What ``inspect_checkpoint`` found: ``problems`` maps a part to why it is unusable."""

    path: Path
    step: int | None
    problems: dict[str, str]

    @property
    def complete(self) -> bool:
        return not self.problems

    @property
    def lacks_only_optimizer(self) -> bool:
        return set(self.problems) == {"optimizer"}

    def describe(self) -> str:
        return "; ".join(f"{part}: {why}" for part, why in self.problems.items()) or "complete"


def inspect_checkpoint(path: str | Path, *, world_size: int | None = None) -> CheckpointCheck:
    """Check every part of a checkpoint directory (see the module doc); never raises for a damaged one."""
    root = Path(path)
    world = world_size or env_world_size()
    step = checkpoint_step(root)
    problems: dict[str, str] = {}
    if not root.is_dir():
        return CheckpointCheck(root, step, {"directory": "missing"})
    if problem := _weights_problem(root):
        problems["weights"] = problem
    state_problem = _file_problem(root / TRAINER_STATE)
    if state_problem is None:
        state = json.loads((root / TRAINER_STATE).read_text(encoding="utf-8"))
        saved = state.get("global_step") if isinstance(state, dict) else None
        if not isinstance(saved, int):
            state_problem = "no global_step"
        elif step is not None and saved != step:
            state_problem = f"global_step {saved} does not match the directory's step {step}"
        step = saved if isinstance(saved, int) else step
    if state_problem:
        problems["trainer_state"] = f"{TRAINER_STATE}: {state_problem}"
    optimizer = OPTIMIZER_BIN if (root / OPTIMIZER_BIN).exists() and not (root / OPTIMIZER).exists() else OPTIMIZER
    for part, name in (("optimizer", optimizer), ("scheduler", SCHEDULER)):
        if problem := _file_problem(root / name):
            problems[part] = f"{name}: {problem}"
    rng = [f"{n}: {p}" for n in trainer_rng_files(world) if (p := _file_problem(root / n))]
    rng += [f"{n}: {p}" for n in (rollout_rng_file(i, world) for i in range(world)) if (p := _file_problem(root / n))]
    if rng:
        problems["rng"] = ", ".join(rng)
    return CheckpointCheck(root, step, problems)


def list_checkpoints(output_dir: str | Path) -> list[Path]:
    """The ``checkpoint-N`` directories of a run, oldest first."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and checkpoint_step(p) is not None]
    return sorted(found, key=lambda p: checkpoint_step(p))  # type: ignore[arg-type, return-value]


def _usable(check: CheckpointCheck, reset_optimizer: bool) -> bool:
    return check.complete or (reset_optimizer and check.lacks_only_optimizer)


def latest_checkpoint(output_dir: str | Path, *, reset_optimizer: bool = False,
                      world_size: int | None = None) -> Path | None:
    """The newest complete ``checkpoint-N`` of ``output_dir`` (None if there is none).

    Every newer, incomplete one is passed over with a warning that says what it lacks (transformers'
    ``get_last_checkpoint`` would return the newest directory even when a crash left it half-written).
    """
    for path in reversed(list_checkpoints(output_dir)):
        check = inspect_checkpoint(path, world_size=world_size)
        if _usable(check, reset_optimizer):
            return path
        log.warning("skipping incomplete checkpoint %s (%s)", path, check.describe())
    return None


# resumed checkpoint per output directory, so that ResumeCallback finds it for any checkpoint path
_RESUMING: dict[str, Path] = {}


def resolve_resume(value: str | os.PathLike | None, output_dir: str | Path, *, reset_optimizer: bool = False,
                   world_size: int | None = None) -> str | None:
    """The checkpoint to resume from: ``None``, ``"latest"`` or a checkpoint directory.

    ``latest`` falls back to the newest complete checkpoint (with a warning naming what it skipped);
    an explicit directory must be complete. A checkpoint without optimizer state is an error unless
    ``reset_optimizer``. Raises ``FileNotFoundError`` / ``ValueError`` with what is missing.
    """
    if value is None or str(value) == "":
        return None
    if str(value) == "latest":
        candidates = list_checkpoints(output_dir)
        if not candidates:
            raise FileNotFoundError(f"resume_from_checkpoint=latest but {output_dir} has no checkpoint-*")
        found = latest_checkpoint(output_dir, reset_optimizer=reset_optimizer, world_size=world_size)
        if found is None:
            checks = [inspect_checkpoint(p, world_size=world_size) for p in candidates]
            hint = (" (set resume_reset_optimizer=true to resume without optimizer state)"
                    if any(c.lacks_only_optimizer for c in checks) else "")
            raise FileNotFoundError(
                f"resume_from_checkpoint=latest but no checkpoint in {output_dir} is complete{hint}: "
                + " | ".join(f"{c.path.name}: {c.describe()}" for c in checks))
        if found != candidates[-1]:
            log.warning("resume_from_checkpoint=latest: resuming from %s, the newest complete checkpoint "
                        "(newer ones are incomplete, see above)", found)
        chosen = found
    else:
        chosen = Path(value)
        check = inspect_checkpoint(chosen, world_size=world_size)
        if "directory" in check.problems:
            raise FileNotFoundError(f"checkpoint {chosen} does not exist")
        if check.lacks_only_optimizer and not reset_optimizer:
            raise ValueError(f"checkpoint {chosen} has no usable optimizer state ({check.problems['optimizer']}); "
                             "set resume_reset_optimizer=true to resume it with a fresh optimizer")
        if not _usable(check, reset_optimizer):
            raise ValueError(f"checkpoint {chosen} is incomplete: {check.describe()}")
    if inspect_checkpoint(chosen, world_size=world_size).lacks_only_optimizer:
        log.warning("resuming from %s without optimizer state: the optimizer starts afresh "
                    "(resume_reset_optimizer=true)", chosen)
    _RESUMING[str(Path(output_dir).resolve())] = chosen
    return str(chosen)


# ---- the rollout's random streams -------------------------------------------------------------------

_COUNTERS = ("_episode", "_round")  # samplers' episode counters: they name the groups


def rollout_rng_state(sampler: Any) -> dict[str, Any]:
    """The sampler's and its policy's random state: ``rng`` (``random.Random`` or a numpy
    ``Generator``), the policy's ``generator`` (``torch.Generator``) and the episode counters."""
    import numpy as np
    import torch

    state: dict[str, Any] = {}
    rng = getattr(sampler, "rng", None)
    if isinstance(rng, random.Random):
        state["sampler_rng"] = ("python", rng.getstate())
    elif isinstance(rng, np.random.Generator):
        state["sampler_rng"] = ("numpy", rng.bit_generator.state)
    counters = {name: getattr(sampler, name) for name in _COUNTERS if isinstance(getattr(sampler, name, None), int)}
    if counters:
        state["counters"] = counters
    generator = getattr(getattr(sampler, "policy", None), "generator", None)
    if isinstance(generator, torch.Generator):
        state["policy_generator"] = generator.get_state()
    return state


def apply_rollout_rng_state(sampler: Any, state: dict[str, Any]) -> None:
    """Put a :func:`rollout_rng_state` back; a stream the new sampler lacks is an error (a changed setup)."""
    import torch

    if "sampler_rng" in state:
        kind, value = state["sampler_rng"]
        rng = getattr(sampler, "rng", None)
        if rng is None:
            raise ValueError("the checkpoint has a sampler random state but the resumed sampler has no rng")
        if kind == "python":
            rng.setstate(_as_tuples(value))
        else:
            rng.bit_generator.state = value
    for name, value in state.get("counters", {}).items():
        setattr(sampler, name, int(value))
    if "policy_generator" in state:
        generator = getattr(getattr(sampler, "policy", None), "generator", None)
        if not isinstance(generator, torch.Generator):
            raise ValueError("the checkpoint has a policy random state but the resumed policy has no torch.Generator")
        generator.set_state(state["policy_generator"])


def _as_tuples(value: Any) -> Any:
    # random.Random.setstate needs tuples; a round trip through torch.save may give lists
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def save_rollout_rng(path: str | Path, rollout: Any, global_step: int) -> None:
    """Write the rollout's random state atomically (a torn file is never mistaken for one)."""
    import torch

    sampler = getattr(rollout, "sampler", None)
    if sampler is not None:
        streams = rollout_rng_state(sampler)
    else:  # no rollout ran yet (or it is still to be restored): keep what is pending
        streams = getattr(rollout, "pending_rng_state", None) or {}
    with atomic_path(path) as tmp:
        torch.save({"format": _RNG_FORMAT, "global_step": int(global_step), "streams": streams,
                    "generated_tokens": int(getattr(rollout, "generated_tokens", 0))}, tmp)


def load_rollout_rng(path: str | Path) -> dict[str, Any]:
    """The ``streams`` of a rollout RNG file, checked."""
    import torch

    data = torch.load(path, weights_only=True)
    if not isinstance(data, dict) or data.get("format") != _RNG_FORMAT:
        raise ValueError(f"{path} is not a searchgym rollout RNG file (format {_RNG_FORMAT})")
    return data


def replay_prompt_order(train_dataloader: Any, epochs: int) -> bool:
    """Re-draw the ``epochs`` shuffles TRL's ``RepeatSampler`` made before a resumed epoch, so the
    resumed epoch gets the interrupted run's prompt order. False when there is no such sampler."""
    import torch

    sampler = _find_repeat_sampler(train_dataloader)
    if sampler is None or not getattr(sampler, "shuffle", False):
        return False
    if sampler.seed is None:
        log.warning("the prompt sampler has no seed: a resumed run cannot replay its prompt order")
        return False
    sampler.generator.manual_seed(sampler.seed)
    for _ in range(epochs):  # RepeatSampler.__iter__ draws exactly one permutation per epoch
        torch.randperm(sampler.num_samples, generator=sampler.generator)
    return True


def _find_repeat_sampler(obj: Any, depth: int = 0) -> Any:
    try:
        from trl.trainer.utils import RepeatSampler
    except ImportError:  # pragma: no cover - TRL is a dependency of training
        return None
    if isinstance(obj, RepeatSampler):
        return obj
    if obj is None or depth > 4:
        return None
    for name in ("batch_sampler", "sampler", "base_dataloader", "dataloader"):
        inner = getattr(obj, name, None)
        if inner is not None and inner is not obj:
            found = _find_repeat_sampler(inner, depth + 1)
            if found is not None:
                return found
    return None


@functools.cache
def _make_resume_callback_class():
    from transformers import TrainerCallback

    class ResumeCallback(TrainerCallback):
        """Saves the rollout's random state with each checkpoint and restores everything a resumed
        run needs beyond what the trainer restores (see the module doc)."""

        def __init__(self, rollout: Any) -> None:
            self.rollout = rollout
            self.resumed_from: Path | None = None

        def _checkpoint_of(self, args: Any, step: int) -> Path | None:
            registered = _RESUMING.get(str(Path(args.output_dir).resolve()))
            candidates = [registered] if registered is not None else []
            candidates.append(Path(args.output_dir) / f"checkpoint-{step}")
            for path in candidates:
                try:
                    state = json.loads((path / TRAINER_STATE).read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                if state.get("global_step") == step:
                    return path
            return None

        def on_train_begin(self, args, state, control, train_dataloader=None, optimizer=None, lr_scheduler=None,
                           **kwargs):
            if state.global_step <= 0:
                return
            path = self._checkpoint_of(args, state.global_step)
            if path is None:
                log.warning("resumed at step %d but its checkpoint directory was not found: the sampler's and "
                            "policy's random streams start afresh", state.global_step)
                return
            self.resumed_from = path
            rng_path = path / rollout_rng_file(args.process_index, args.world_size)
            if rng_path.is_file():
                saved = load_rollout_rng(rng_path)
                streams = saved["streams"]
                # a generated-token budget (max_generated_tokens) goes on from where it was
                self.rollout.generated_tokens = int(saved.get("generated_tokens", 0))
                if getattr(self.rollout, "sampler", None) is not None:
                    apply_rollout_rng_state(self.rollout.sampler, streams)
                else:  # the sampler is built on the first rollout call, which applies it
                    self.rollout.pending_rng_state = streams
            else:
                log.warning("%s has no %s: the sampler's and policy's random streams start afresh",
                            path, rng_path.name)
            if train_dataloader is not None:
                per_epoch = max(len(train_dataloader) // args.gradient_accumulation_steps
                                + int(len(train_dataloader) % args.gradient_accumulation_steps > 0), 1)
                replay_prompt_order(train_dataloader, state.global_step // per_epoch)
            has_optimizer = (path / OPTIMIZER).is_file() or (path / OPTIMIZER_BIN).is_file()
            if not has_optimizer and (path / SCHEDULER).is_file() and lr_scheduler is not None:
                _continue_schedule(path / SCHEDULER, lr_scheduler, optimizer)

        def on_save(self, args, state, control, **kwargs):
            assert args.output_dir is not None, "the Trainer saves checkpoints under args.output_dir"
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            folder.mkdir(parents=True, exist_ok=True)
            save_rollout_rng(folder / rollout_rng_file(args.process_index, args.world_size), self.rollout,
                             state.global_step)

    return ResumeCallback


def _continue_schedule(path: Path, lr_scheduler: Any, optimizer: Any) -> None:
    """Fresh optimizer, same schedule: the transformers trainer loads the scheduler only together with
    the optimizer, so a reset optimizer would otherwise restart the learning-rate schedule at step 0."""
    import torch

    lr_scheduler.load_state_dict(torch.load(path, weights_only=True))
    if optimizer is not None:
        for group, lr in zip(optimizer.param_groups, lr_scheduler.get_last_lr()):
            group["lr"] = lr
    log.warning("optimizer state reset; the learning-rate schedule continues from %s", path.parent.name)


def make_resume_callback(rollout: Any):
    """A ``ResumeCallback`` (``TrainerCallback``) that checkpoints ``rollout``'s random state and
    restores it, the prompt order and, without optimizer state, the LR schedule on resume."""
    return _make_resume_callback_class()(rollout)


__all__ = [
    "CheckpointCheck",
    "apply_rollout_rng_state",
    "checkpoint_step",
    "env_world_size",
    "inspect_checkpoint",
    "latest_checkpoint",
    "list_checkpoints",
    "load_rollout_rng",
    "make_resume_callback",
    "replay_prompt_order",
    "resolve_resume",
    "rollout_rng_state",
    "save_rollout_rng",
]
