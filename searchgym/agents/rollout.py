"""The bridge from a searchgym ``Sampler`` to TRL's ``GRPOTrainer(rollout_func=...)``.

TRL's contract (trl 1.16, ``GRPOTrainer._generate``): the rollout function receives this process's
slice of the generation batch (each dataset prompt already repeated ``num_generations`` times, in
consecutive runs) and the trainer, and returns one completion per prompt entry as a dict with
``prompt_ids``, ``completion_ids`` and ``logprobs`` (lists of per-sample lists). Every other key is
forwarded to the reward functions, except ``env_mask``, which TRL pops and multiplies into the loss
mask (1 = policy token, trained; 0 = environment token, not trained). TRL then computes
group-relative advantages over consecutive runs of ``num_generations`` rewards.

Mapping:
- ``trajectory``: each run of G identical prompts is one task; the sampler's G episodes of it fill
  the run (Search-R1-style groups).
- ``step``: each run of k identical prompts is a *slot* for one (prefix, step) group of k candidate
  turns (SLATE). Episodes are sampled on the batch's tasks until every slot is filled; the groups of
  an episode fill consecutive slots. Groups beyond the slots are dropped (the last steps of the last
  episode); slots that stay empty after every task of the batch was played are filled with padding
  samples whose reward is ``None`` (TRL leaves them out of the group statistics and gives them zero
  advantage) and whose ``env_mask`` is all zero (no loss). ``rollout_padding`` in the metrics counts them.

A sample that finished (an episode that answered; a step that is a well-formed action) ends with the
tokenizer's EOS, masked out of the loss. TRL reads a completion whose last token is not EOS as clipped, so
its ``completions/clipped_ratio`` is the share of episodes that ran out of turns (steps cut off by the
token limit), and ``mask_truncated_completions`` means what it says.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from searchgym.agents.samples import Sampler, TrainingSample
from searchgym.corpora.records import Task

_PROMPT_RE = re.compile(r"^\[task (?P<id>[^\]\s]+)\] ")
_SEARCH_RE = re.compile(r"<search>", re.IGNORECASE)

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
    completion: one agent turn per run of policy tokens, a search per turn that opens a ``<search>``.
    """
    comps = sample.components
    if "steps" in comps and "searches" in comps:
        return EpisodeStats(float(comps["steps"]), float(comps["searches"]))
    segments = policy_segments(sample)
    searches = sum(1 for seg in segments if _SEARCH_RE.search(decode(seg)))
    return EpisodeStats(float(len(segments)), float(searches))


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
    ) -> None:
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
        self.sampler: Sampler | None = None
        self.last_stats: dict[str, float] = {}
        self.last_samples: list[TrainingSample] = []  # the samples of the last call, for reports and viewers
        self.pending_rng_state: dict[str, Any] | None = None  # set on resume by the checkpoints' ResumeCallback

    # TRL calls this
    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, list]:
        if self.sampler is None:
            self.sampler = self.sampler_factory(trainer)
            if self.pending_rng_state is not None:  # a resumed run continues the saved random streams
                from searchgym.agents.checkpoints import apply_rollout_rng_state

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
        self.last_stats = stats
        self.last_samples = [row for row in rows if row is not None]
        return self._pack(rows, stats)

    def _trajectory_rows(self, runs: list[tuple[str, int]]) -> tuple[list[TrainingSample | None], dict[str, float]]:
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

    def _step_rows(self, runs: list[tuple[str, int]]) -> tuple[list[TrainingSample | None], dict[str, float]]:
        slots = [n for _, n in runs]
        task_ids = list(dict.fromkeys(tid for tid, _ in runs))
        groups: list[list[TrainingSample]] = []
        episode_steps: list[float] = []
        episode_searches: list[float] = []
        cursor = 0
        while len(groups) < len(slots) and cursor < len(task_ids):
            # play just enough episodes to fill the remaining slots if each ran its full step budget
            per_episode = max(1, max_groups_hint(self.sampler))
            want = math.ceil((len(slots) - len(groups)) / per_episode)
            batch = [self.tasks_by_id[t] for t in task_ids[cursor : cursor + want]]
            cursor += len(batch)
            produced = group_samples(self.sampler.sample(batch))
            reported = getattr(self.sampler, "last_stats", None) or {}
            episodes = split_episodes(produced, batch)
            for episode in episodes:
                groups.extend(episode)
            if "steps_per_episode" in reported and "searches_per_episode" in reported:
                # the sampler knows which candidate each episode continued from
                n = int(reported.get("episodes", len(episodes)))
                episode_steps.extend([reported["steps_per_episode"]] * n)
                episode_searches.extend([reported["searches_per_episode"]] * n)
            else:  # estimate: steps = groups per episode, searches = expected searching candidates
                for episode in episodes:
                    episode_steps.append(len(episode))
                    episode_searches.append(sum(_chosen_is_search(g, self.decode) for g in episode))
        rows: list[TrainingSample | None] = []
        padding = 0
        for index, n in enumerate(slots):
            if index < len(groups):
                group = groups[index]
                if len(group) < n:
                    raise RuntimeError(f"step sampler returned a group of {len(group)} candidates; need k={n}")
                rows.extend(group[:n])
            else:
                rows.extend([None] * n)
                padding += n
        stats = {
            "steps_per_episode": sum(episode_steps) / max(len(episode_steps), 1),
            "searches_per_episode": sum(episode_searches) / max(len(episode_searches), 1),
            "rollout_padding": padding / max(len(rows), 1),
            "groups_dropped": float(max(0, len(groups) - len(slots))),
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
                if row.finished and self.eos_token_id is not None:
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


def max_groups_hint(sampler: Any) -> int:
    """How many step groups one episode yields at most (the sampler's step budget)."""
    for name in ("max_steps", "max_turns", "budget"):
        value = getattr(sampler, name, None)
        if isinstance(value, int) and value > 0:
            return value
    env = getattr(sampler, "env", None)
    value = getattr(env, "max_turns", None)
    return value if isinstance(value, int) and value > 0 else 1


def split_episodes(groups: list[list[TrainingSample]], tasks: Sequence[Task]) -> list[list[list[TrainingSample]]]:
    """Step groups split into episodes, one per task, by the task id in their ``group_id``.

    Groups whose id names no task of the batch fall into one trailing episode (never dropped).
    """
    by_task: OrderedDict[str, list[list[TrainingSample]]] = OrderedDict((t.id, []) for t in tasks)
    orphans: list[list[TrainingSample]] = []
    ids = sorted(by_task, key=len, reverse=True)  # longest first: "w0-12" must not claim "w0-123"'s groups
    for group in groups:
        gid = group[0].group_id
        owner = next((tid for tid in ids if _id_in(tid, gid)), None)
        (by_task[owner] if owner is not None else orphans).append(group)
    episodes = [eps for eps in by_task.values() if eps]
    if orphans:
        episodes.append(orphans)
    return episodes


def _id_in(task_id: str, group_id: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(task_id)}(?![\w-])", group_id) is not None


def _chosen_is_search(group: list[TrainingSample], decode: Callable[[list[int]], str]) -> float:
    """Fraction of a step group's candidates that search: the expected searches this step adds."""
    flags = []
    for sample in group:
        if "search" in sample.components:
            flags.append(float(sample.components["search"]))
        else:
            text = sample.text or decode(list(sample.completion_ids))
            flags.append(1.0 if _SEARCH_RE.search(text) else 0.0)
    return sum(flags) / max(len(flags), 1)


__all__ = [
    "COMPONENTS_FIELD",
    "EpisodeStats",
    "REWARD_FIELD",
    "STATS_FIELD",
    "SamplerRollout",
    "consecutive_runs",
    "group_samples",
    "policy_segments",
    "split_episodes",
    "task_id_of",
    "task_prompt",
    "trajectory_stats",
]
