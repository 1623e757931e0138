"""The bridge from a searchgym ``Sampler`` to TRL's ``GRPOTrainer(rollout_func=...)``.

Each run of ``num_generations`` identical prompts is one sampler group (a task's episodes, or one
(prefix, step) slot); ``env_mask`` keeps environment tokens out of the loss. See docs/training.md.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from searchgym.corpora.records import Task
from searchgym.grammar import ActionKind, parse_action
from searchgym.train.samplers import step_group_position
from searchgym.train.samples import Sampler, TrainingSample

_PROMPT_RE = re.compile(r"^\[task (?P<id>[^\]\s]+)\] ")

# extra rollout fields forwarded by TRL to reward functions
REWARD_FIELD = "sg_reward"
COMPONENTS_FIELD = "sg_components"
STATS_FIELD = "sg_stats"


def task_prompt(task: Task) -> str:
    """The dataset ``prompt`` of a task: its id (to find it again) and question (for TRL's logs)."""
    if any(ch.isspace() or ch == "]" for ch in task.id):
        raise ValueError(f"task id {task.id!r} contains whitespace or ']' and cannot key a training prompt")
    return f"[task {task.id}] {task.question}"


def task_id_of(prompt: Any) -> str:
    """The task id a training prompt (string or single-message chat) was made from."""
    if isinstance(prompt, list) and prompt and isinstance(prompt[-1], dict):
        prompt = prompt[-1].get("content", "")
    match = _PROMPT_RE.match(prompt) if isinstance(prompt, str) else None
    if match is None:
        raise ValueError(f"training prompt {str(prompt)[:80]!r} was not made by task_prompt()")
    return match.group("id")


def consecutive_runs(prompts: Sequence[Any]) -> list[tuple[str, int]]:
    """``[(task_id, run_length), ...]`` for runs of identical consecutive prompts."""
    runs: list[tuple[str, int]] = []
    for prompt in prompts:
        tid = task_id_of(prompt)
        if runs and runs[-1][0] == tid:
            runs[-1] = (tid, runs[-1][1] + 1)
        else:
            runs.append((tid, 1))
    return runs


def group_samples(samples: Sequence[TrainingSample]) -> list[list[TrainingSample]]:
    """Samples grouped by ``group_id``, groups in order of first appearance."""
    groups: OrderedDict[str, list[TrainingSample]] = OrderedDict()
    for sample in samples:
        groups.setdefault(sample.group_id, []).append(sample)
    return list(groups.values())


@dataclass(frozen=True)
class EpisodeStats:
    """Per-episode counts logged next to the rewards."""

    steps: float
    searches: float


def policy_segments(sample: TrainingSample) -> list[list[int]]:
    """Token ids of each contiguous run of policy tokens (one agent turn each) in a completion."""
    segments: list[list[int]] = []
    previous = 0
    for token, bit in zip(sample.completion_ids, sample.completion_mask):
        if bit:
            if not previous:
                segments.append([])
            segments[-1].append(token)
        previous = bit
    return segments


def trajectory_stats(sample: TrainingSample, decode: Callable[[list[int]], str]) -> EpisodeStats:
    """Steps and searches of a whole-episode sample.

    Samplers may report them as components ``steps`` / ``searches``; otherwise they are read from the
    completion: one agent turn per run of policy tokens, a search per turn the env's parser reads as one.
    """
    comps = sample.components
    if "steps" in comps and "searches" in comps:
        return EpisodeStats(float(comps["steps"]), float(comps["searches"]))
    segments = policy_segments(sample)
    searches = sum(1 for seg in segments if parse_action(decode(seg)).kind == ActionKind.SEARCH)
    return EpisodeStats(float(len(segments)), float(searches))


STEP_ACTIONS = ("search", "open", "answer", "invalid")


def informative(group: Sequence[TrainingSample]) -> bool:
    """Whether a group's scored samples differ in reward, or one carries an advantage other than 0 (a tree
    advantage, ``train.advantages.tree_advantages``, can teach in a group whose rewards are equal)."""
    scored = [s for s in group if s.scored]
    return len({round(s.reward, 9) for s in scored}) > 1 or any(abs(s.advantage) > 1e-9 for s in scored)


def advantage_by_action(samples: Sequence[TrainingSample]) -> dict[str, float]:
    """Mean advantage of the trained step candidates of each action kind (``advantage_search`` ...), for the
    kinds present: where the step signal pushes the policy. A kind drifting positive at every turn shows a
    reward that pays it over the others before the held-out figures do."""
    out: dict[str, float] = {}
    for kind in STEP_ACTIONS:
        values = [s.advantage for s in samples if s.components.get(kind) and s.scored]
        if values:
            out[f"advantage_{kind}"] = sum(values) / len(values)
    return out


class SamplerRollout:
    """A ``rollout_func`` for ``GRPOTrainer`` that draws its samples from a searchgym ``Sampler``.

    ``sampler_factory(trainer)`` builds the sampler once, on the first call, so that the sampler's
    policy wraps the trainer's own (possibly PEFT-wrapped, accelerate-prepared) model.
    """

    def __init__(
        self,
        tasks: Sequence[Task],
        sampler_factory: Callable[[Any], Sampler],
        *,
        mode: str = "trajectory",
        group_size: int,
        decode: Callable[[list[int]], str] | None = None,
        pad_token_id: int = 0,
        eos_token_id: int | None = None,
        groups_per_task: int = 1,
        informative_first: bool = False,
        seed: int = 0,
    ) -> None:
        if groups_per_task < 1:
            raise ValueError(f"groups_per_task must be >= 1, got {groups_per_task}")
        if mode not in ("trajectory", "step"):
            raise ValueError(f"mode must be 'trajectory' or 'step', got {mode!r}")
        self.tasks_by_id: dict[str, Task] = {t.id: t for t in tasks}
        self.sampler_factory = sampler_factory
        self.mode = mode
        self.group_size = group_size
        self._decode_given = decode is not None
        self.decode = decode or (lambda ids: "")  # replaced by the trainer's tokenizer on the first call
        self.pad_token_id = pad_token_id
        self.eos_token_id = eos_token_id
        self.groups_per_task = int(groups_per_task)
        self.informative_first = bool(informative_first)
        self._rng = random.Random(seed)  # step-group selection when the sampler has no rng of its own
        self.sampler: Sampler | None = None
        self.last_stats: dict[str, float] = {}
        self.last_samples: list[TrainingSample] = []  # the samples of the last call, for reports and viewers
        self.generated_tokens = 0  # policy tokens generated by every call so far (token budgets)
        # the sampler's advantage of each row of the last call (0 for padding and unscored rows), in TRL's row order:
        # what ``train.sampler_advantages`` hands to the loss in place of TRL's own
        self.last_advantages: list[float] = []
        self.pending_rng_state: dict[str, Any] | None = None  # set on resume by the checkpoints' ResumeCallback

    # TRL calls this
    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, list]:
        started = time.perf_counter()
        policy = getattr(self.sampler, "policy", None)
        if policy is not None and hasattr(policy, "clear_kv"):
            # KV caches are reused across the turns of one rollout, never across optimizer steps: a prefix
            # cached before a checkpoint would make a resumed run's draws differ (in the last bits)
            policy.clear_kv()
        if self.sampler is None:
            self.sampler = self.sampler_factory(trainer)
            if self.pending_rng_state is not None:  # a resumed run continues the saved random streams
                from searchgym.train.checkpoints import apply_rollout_rng_state

                apply_rollout_rng_state(self.sampler, self.pending_rng_state)
                self.pending_rng_state = None
            if not self._decode_given and hasattr(trainer, "processing_class"):
                tok = getattr(trainer.processing_class, "tokenizer", trainer.processing_class)
                self.decode = lambda ids, _tok=tok: _tok.decode(ids, skip_special_tokens=True)
        runs = consecutive_runs(prompts)
        unknown = [tid for tid, _ in runs if tid not in self.tasks_by_id]
        if unknown:
            raise KeyError(f"rollout got prompts of unknown tasks {unknown[:3]}")
        if self.mode == "trajectory":
            rows, stats = self._trajectory_rows(runs)
        else:
            rows, stats = self._step_rows(runs)
        if len(rows) != len(prompts):  # a bug here would silently misalign rewards and completions
            raise RuntimeError(f"rollout produced {len(rows)} samples for {len(prompts)} prompts")
        reported = getattr(self.sampler, "last_stats", None) or {}
        stats = {**{k: float(v) for k, v in reported.items()}, **stats}  # em, answered, judge cache hit rate ...
        self.generated_tokens += int(reported.get("generated_tokens", 0))
        stats["generated_tokens_total"] = float(self.generated_tokens)
        # generation, env steps, search and scoring: the rest of TRL's step_time is log-probs, loss and backward
        stats["rollout_seconds"] = time.perf_counter() - started
        self.last_stats = stats
        self.last_samples = [row for row in rows if row is not None]
        self.last_advantages = [float(row.advantage) if row is not None and row.scored and row.completion_ids else 0.0
                                for row in rows]
        return self._pack(rows, stats)

    def _trajectory_rows(self, runs: list[tuple[str, int]]) -> tuple[list[TrainingSample | None], dict[str, float]]:
        assert self.sampler is not None, "__call__ builds the sampler first"
        tasks = [self.tasks_by_id[tid] for tid, _ in runs]
        groups = group_samples(self.sampler.sample(tasks))
        if len(groups) != len(tasks):
            raise RuntimeError(f"trajectory sampler returned {len(groups)} groups for {len(tasks)} tasks")
        rows: list[TrainingSample | None] = []
        episode = [trajectory_stats(s, self.decode) for g in groups for s in g]
        for (tid, n), group in zip(runs, groups):
            if len(group) < n:
                raise RuntimeError(
                    f"trajectory sampler returned {len(group)} episodes for task {tid}, the trainer needs {n} "
                    f"(set the sampler's group size to TRL's num_generations)"
                )
            rows.extend(group[:n])  # a group split across processes takes the first n of its episodes
        stats = {
            "steps_per_episode": sum(e.steps for e in episode) / max(len(episode), 1),
            "searches_per_episode": sum(e.searches for e in episode) / max(len(episode), 1),
            "rollout_padding": 0.0,
        }
        return rows, stats

    def _draw_order(self, groups: Sequence[Sequence[TrainingSample]], rng: random.Random) -> list[int]:
        """Indices of ``groups`` in the order they are kept: shuffled, informative ones first when asked."""
        order = list(range(len(groups)))
        rng.shuffle(order)
        if self.informative_first:
            order.sort(key=lambda i: not informative(groups[i]))  # stable: uniform within each kind
        return order

    def _step_rows(self, runs: list[tuple[str, int]]) -> tuple[list[TrainingSample | None], dict[str, float]]:
        """``tasks_per_step`` episodes, ``groups_per_task`` step groups kept per episode.

        TRL hands over ``tasks_per_step * groups_per_task`` runs of k rows; the first ``tasks_per_step``
        distinct tasks are played. Each episode keeps ``groups_per_task`` of its step groups drawn
        uniformly (every step t has the same chance); with ``informative_first`` the draw is
        among the groups whose candidates scored differently first, and groups scored alike only fill what
        is left: their advantages are all 0, so they would take a slot (and dilute the loss's token mean)
        while teaching nothing (DAPO's dynamic sampling, without re-generating). An episode that ended early
        leaves its slots to the other episodes' surplus groups (informative ones first, likewise), and
        only then are rows padded. Groups not kept are counted (``groups_dropped``), as is padding
        (``rollout_padding``) and the kept groups scored alike (``groups_kept_alike``).
        """
        assert self.sampler is not None, "__call__ builds the sampler first"
        slots = [n for _, n in runs]
        n_tasks = max(1, math.ceil(len(slots) / self.groups_per_task))
        distinct = list(dict.fromkeys(tid for tid, _ in runs))
        task_ids = [distinct[i % len(distinct)] for i in range(n_tasks)]
        produced = group_samples(self.sampler.sample([self.tasks_by_id[t] for t in task_ids]))
        rng = getattr(self.sampler, "rng", None) or self._rng
        by_episode: OrderedDict[int, list[list[TrainingSample]]] = OrderedDict()
        for group in produced:
            _, episode, _ = step_group_position(group[0].group_id)
            by_episode.setdefault(episode, []).append(group)
        kept: list[list[TrainingSample]] = []
        surplus: list[list[TrainingSample]] = []
        for groups in by_episode.values():
            order = self._draw_order(groups, rng)
            kept.extend(groups[i] for i in sorted(order[: self.groups_per_task]))
            surplus.extend(groups[i] for i in sorted(order[self.groups_per_task:]))
        free = len(slots) - len(kept)
        if free > 0 and surplus:
            extra = sorted(self._draw_order(surplus, rng)[:free] if self.informative_first
                           else rng.sample(range(len(surplus)), min(free, len(surplus))))  # the draws of earlier runs
            kept.extend(surplus[i] for i in extra)
            dropped = len(surplus) - len(extra)
        else:
            dropped = len(surplus)
        if len(kept) > len(slots):  # more episodes than slots (a batch smaller than groups_per_task)
            dropped += len(kept) - len(slots)
            kept = kept[: len(slots)]
        rows: list[TrainingSample | None] = []
        padding = 0
        for index, n in enumerate(slots):
            if index < len(kept):
                group = kept[index]
                if len(group) != n:
                    raise RuntimeError(f"step sampler returned a group of {len(group)} candidates; TRL needs k={n}")
                rows.extend(group)
            else:
                rows.extend([None] * n)
                padding += n
        reported = getattr(self.sampler, "last_stats", None) or {}
        steps_kept = [float(step_group_position(g[0].group_id)[2]) for g in kept]
        stats = {
            "steps_per_episode": float(reported.get("steps_per_episode", 0.0)),
            "searches_per_episode": float(reported.get("searches_per_episode", 0.0)),
            "rollout_padding": padding / max(len(rows), 1),
            "groups_dropped": float(dropped),
            "groups_kept": float(len(kept)),
            "groups_kept_alike": float(sum(not informative(g) for g in kept)),
            "kept_step_mean": sum(steps_kept) / max(len(steps_kept), 1),
            **advantage_by_action([s for group in kept for s in group]),
        }
        return rows, stats

    def _pack(self, rows: list[TrainingSample | None], stats: Mapping[str, float]) -> dict[str, list]:
        out: dict[str, list] = {
            "prompt_ids": [],
            "completion_ids": [],
            "logprobs": [],
            "env_mask": [],
            REWARD_FIELD: [],
            COMPONENTS_FIELD: [],
            STATS_FIELD: [],
        }
        for row in rows:
            if row is None or not row.completion_ids:
                out["prompt_ids"].append(list(row.prompt_ids) if row is not None and row.prompt_ids else [self.pad_token_id])
                out["completion_ids"].append([self.pad_token_id])
                out["logprobs"].append([0.0])
                out["env_mask"].append([0])
                out[REWARD_FIELD].append(None)
                out[COMPONENTS_FIELD].append({})
            else:
                n = len(row.completion_ids)
                if len(row.completion_mask) != n:
                    raise ValueError(f"sample {row.group_id}: completion_mask length {len(row.completion_mask)} != {n}")
                logprobs = list(row.logprobs) if len(row.logprobs) == n else _spread_logprobs(row)
                ids, mask = list(row.completion_ids), [int(b) for b in row.completion_mask]
                if row.finished and self.eos_token_id is not None and ids[-1] != self.eos_token_id:
                    # TRL counts a completion whose last token is not EOS as clipped (completions/clipped_ratio,
                    # mask_truncated_completions); an untrained EOS marks the samples that did finish
                    ids, mask, logprobs = ids + [self.eos_token_id], mask + [0], logprobs + [0.0]
                out["prompt_ids"].append(list(row.prompt_ids))
                out["completion_ids"].append(ids)
                out["logprobs"].append(logprobs)
                out["env_mask"].append(mask)
                out[REWARD_FIELD].append(float(row.reward) if row.scored else None)
                out[COMPONENTS_FIELD].append(dict(row.components))
            out[STATS_FIELD].append(dict(stats))
        return out


def _spread_logprobs(sample: TrainingSample) -> list[float]:
    """Per-token log-probs aligned to the completion when the sampler kept them for policy tokens only."""
    policy_positions = [i for i, bit in enumerate(sample.completion_mask) if bit]
    out = [0.0] * len(sample.completion_ids)
    if len(sample.logprobs) == len(policy_positions):
        for pos, lp in zip(policy_positions, sample.logprobs):
            out[pos] = float(lp)
    return out


__all__ = [
    "COMPONENTS_FIELD",
    "EpisodeStats",
    "REWARD_FIELD",
    "STATS_FIELD",
    "SamplerRollout",
    "consecutive_runs",
    "group_samples",
    "policy_segments",
    "task_id_of",
    "task_prompt",
    "trajectory_stats",
]
