"""Samplers: turn tasks into scored GRPO groups of ``TrainingSample`` by driving a ``DeepSearchEnv``.

``TrajectorySampler`` (Search-R1: G episodes per task) and ``TruncatedStepSampler`` (SLATE: k candidate
turns per step from a shared prefix). See docs/training.md.
"""

from __future__ import annotations

import dataclasses
import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from searchgym.corpora.records import Task
from searchgym.envs.trajectory import ANSWER, INVALID, OPEN, SEARCH, Trajectory
from searchgym.policies.policy import Completion, Message
from searchgym.rewards.base import RewardResult
from searchgym.rewards.outcome import exact_match
from searchgym.train.advantages import (
    CONTINUATIONS,
    STEP_ADVANTAGES,
    StepGroupValues,
    choose_continuation,
    group_zscore,
    tree_advantages,
)
from searchgym.train.samples import TrainingSample

# ends the group id of a step group's played-out paths (``train_playouts``)
PATHS_SUFFIX = "/paths"
STEP_GROUP = re.compile(rf"#e(?P<episode>\d+)/t(?P<step>\d+)(?:{re.escape(PATHS_SUFFIX)})?$")
# how a step candidate is valued: the judge's verdict on the step itself (SLATE), or the reward of the answer
# that ends one sampled continuation of it (a Monte Carlo value; docs/training.md)
STEP_VALUES = ("judge", "rollout")


# ---------------------------------------------------------------------------------------------
# helpers shared by both samplers

def as_result(value: Any) -> RewardResult:
    """A ``RewardResult`` from whatever a reward callable returned (a float counts as scored)."""
    if isinstance(value, RewardResult):
        return value
    if value is None:
        return RewardResult(float("nan"), scored=False)
    return RewardResult(float(value))


def _without_failed_searches(trajectories: Sequence[Trajectory],
                              score: Callable[[list[Trajectory]], Any]) -> list[RewardResult]:
    """``score`` applied to the trajectories whose search backend never failed; the others are unscored
    (left out of training and of any group statistic) and never sent to a reward or judge."""
    from searchgym.envs.deep_search import SEARCH_FAILED, search_failed

    out: list[RewardResult | None] = [
        RewardResult(float("nan"), details={"reason": SEARCH_FAILED}, scored=False) if search_failed(t) else None
        for t in trajectories]
    todo = [t for t, r in zip(trajectories, out) if r is None]
    results = [as_result(r) for r in score(todo)] if todo else []
    if len(results) != len(todo):
        raise RuntimeError(f"reward returned {len(results)} results for {len(todo)} trajectories")
    scored = iter(results)
    return [r if r is not None else next(scored) for r in out]


def score_all(reward: Callable[[Trajectory], Any], trajectories: Sequence[Trajectory]) -> list[RewardResult]:
    """Per-trajectory scores, in one judge batch when the reward offers ``score_batch``."""
    batch = getattr(reward, "score_batch", None)
    return _without_failed_searches(trajectories, batch if callable(batch) else lambda todo: [reward(t) for t in todo])


def score_group(reward: Any, trajectories: Sequence[Trajectory], kind: str) -> list[RewardResult]:
    """One group's scores: ``reward.score_steps`` / ``score_episodes`` (``kind``) when it has them, so
    that the group is scored on one scale; a plain per-trajectory reward otherwise."""
    method = getattr(reward, "score_steps" if kind == "step" else "score_episodes", None)
    if not callable(method):
        return score_all(reward, trajectories)
    return _without_failed_searches(trajectories, method)


def pool_identical(results: Sequence[RewardResult], keys: Sequence[Any]) -> list[RewardResult]:
    """Candidates with the same outcome (equal ``keys``: the same turn, or searches or opens that showed the same
    documents, ``outcome_key``) share one value: the mean over their scored members.

    A rollout value is one sampled continuation; such candidates differ only in that luck, and scored
    apart the luckier copy drew a positive advantage for the very tokens the other drew a negative one for
    (with negative advantages weighted 0, the warm start's own turn was reinforced by chance). The shift
    is kept as the component ``r_pool``, so a value is still the sum of its ``r_`` components."""
    if len(results) != len(keys):
        raise ValueError(f"{len(results)} results but {len(keys)} keys")
    members: dict[Any, list[float]] = {}
    for res, key in zip(results, keys):
        if res.scored:
            members.setdefault(key, []).append(res.value)
    out = []
    for res, key in zip(results, keys):
        values = members.get(key, [])
        if not res.scored or len(values) < 2:
            out.append(res)
            continue
        mean = sum(values) / len(values)
        comps = {**res.components, "r_pool": mean - res.value, "pooled": float(len(values))}
        out.append(RewardResult(mean, comps, res.details, scored=True))
    return out


def outcome_key(fork: Any, turn: Sequence[int] | str) -> tuple[Any, ...]:
    """What a candidate's rollout value depends on: for a valid search or open that did not end the episode, the
    documents it showed (two queries that retrieve the same hits lead to the same evidence, and differ only in
    the query's wording); for any other turn, the turn itself (``turn``: its token ids, or its text)."""
    steps = fork.trajectory.steps
    if steps and not fork.done:
        step = steps[-1]
        if step.kind == SEARCH:
            return (SEARCH, step.hits)
        if step.kind == OPEN:
            return (OPEN, step.doc_id)
    return ("turn", tuple(turn) if not isinstance(turn, str) else turn)


def _trained_reward(result: RewardResult) -> float:
    """A step sample's ``reward`` field: the value when scored, 0 for an unscored one (left out of advantages)."""
    return float(result.value) if result.scored and not math.isnan(result.value) else 0.0


def _em(trajectory: Trajectory) -> float:
    answer = trajectory.final_answer
    return float(exact_match(answer, trajectory.task.answers)) if answer is not None else 0.0


class TurnEncoder:
    """Token ids of chat turns with the chat template, split into policy and environment spans."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        eos = getattr(tokenizer, "eos_token_id", None)
        self.eos_id: int | None = eos if isinstance(eos, int) else None
        self.eos_text: str = getattr(tokenizer, "eos_token", None) or ""

    def render(self, messages: Sequence[Message], generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=generation_prompt)

    def ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []

    def prompt(self, messages: Sequence[Message]) -> list[int]:
        """The first prompt (system + question) with the assistant generation prompt."""
        return self.ids(self.render(messages, True))

    def glue(self, messages: Sequence[Message], turn_ids: Sequence[int]) -> list[int]:
        """Ids between an agent turn and the next generation prompt: the end of the turn, the environment's
        reply and the template around it. ``messages`` ends with ``[assistant turn, user reply]``;
        ``turn_ids`` are the turn's tokens (when they end with EOS, the template's EOS is not repeated)."""
        if len(messages) < 2 or messages[-2]["role"] != "assistant":
            raise ValueError("glue() needs messages that end with an assistant turn and the environment's reply")
        before = self.render(messages[:-2], True) + messages[-2]["content"]
        after = self.render(messages, True)
        if not after.startswith(before):
            raise ValueError("the chat template does not render an assistant turn verbatim after the "
                             "generation prompt; cannot split policy and environment tokens")
        text = after[len(before):]
        if turn_ids and self.eos_id is not None and turn_ids[-1] == self.eos_id and self.eos_text \
                and text.startswith(self.eos_text):
            text = text[len(self.eos_text):]
        return self.ids(text)


@dataclass
class EpisodeTokens:
    """The token ids of one episode so far: the first prompt, then turns (mask 1) and glue (mask 0)."""

    prompt: list[int]
    ids: list[int] = field(default_factory=list)
    mask: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)

    @property
    def context(self) -> list[int]:
        """What the next turn is generated from."""
        return self.prompt + self.ids

    def add(self, ids: Sequence[int], logprobs: Sequence[float], trained: bool) -> None:
        self.ids += list(ids)
        self.mask += [int(trained)] * len(ids)
        self.logprobs += list(logprobs) if len(logprobs) == len(ids) else [0.0] * len(ids)

    def copy(self) -> EpisodeTokens:
        return EpisodeTokens(list(self.prompt), list(self.ids), list(self.mask), list(self.logprobs))


def _tokenizer_of(policy: Any, tokenizer: Any) -> Any:
    return tokenizer if tokenizer is not None else getattr(policy, "tokenizer", None)


def _turn_ids(comp: Completion, encoder: TurnEncoder | None) -> tuple[list[int], list[float]]:
    """The turn's trained ids and their log-probs (the policy's own; tokenised text otherwise)."""
    if comp.token_ids:
        ids = list(comp.token_ids)
        return ids, list(comp.logprobs) if len(comp.logprobs) == len(ids) else [0.0] * len(ids)
    if encoder is None:
        return [], []
    ids = encoder.ids(comp.text)
    if not ids and encoder.eos_id is not None:
        ids = [encoder.eos_id]  # an empty turn is an EOS the policy produced: it is trained like any token
    return ids, [0.0] * len(ids)


def _generate(policy: Any, contexts: Sequence[EpisodeTokens] | None, conversations: Sequence[Sequence[Message]],
              n: int) -> list[list[Completion]]:
    """Next turns: from the exact token ids when both the policy and the episodes have them."""
    if contexts is not None and callable(getattr(policy, "generate_ids", None)):
        return policy.generate_ids([c.context for c in contexts], n)
    return policy.generate(conversations, n=n)


def _play_to_end(policy: Any, encoder: TurnEncoder | None, envs: Sequence[Any],
                 tokens: Sequence[EpisodeTokens] | None, trained: bool) -> int:
    """Plays every env of ``envs`` to its end, one sampled turn per live env and one batched policy call per
    turn, appending each turn (mask ``trained``) and the env's reply (mask 0) to its ``tokens``; returns the
    policy tokens generated."""
    generated = 0
    while True:
        active = [i for i, e in enumerate(envs) if not e.done]
        if not active:
            return generated
        outs = _generate(policy, [tokens[i] for i in active] if tokens is not None else None,
                         [envs[i].messages for i in active], 1)
        for i, out in zip(active, outs):
            comp = out[0]
            envs[i].step(comp.text)
            ids, logps = _turn_ids(comp, encoder)
            generated += len(ids)
            if tokens is not None and encoder is not None:  # tokens are kept iff there is an encoder
                tokens[i].add(ids, logps, trained=trained)
                if not envs[i].done:
                    tokens[i].add(encoder.glue(envs[i].messages, ids), (), trained=False)


def _reward_metrics(reward: Any) -> dict[str, float]:
    metrics: Callable[[], Mapping[str, float]] | None = getattr(reward, "metrics", None)
    return dict(metrics()) if callable(metrics) else {}


def _summary(episodes: Sequence[Trajectory], samples: Sequence[TrainingSample], generated: int,
             groups: int) -> dict[str, float]:
    n = max(len(episodes), 1)
    return {
        "episodes": float(len(episodes)),
        "groups": float(groups),
        "samples": float(len(samples)),
        "steps_per_episode": sum(len(t.steps) for t in episodes) / n,
        "searches_per_episode": sum(t.num_searches for t in episodes) / n,
        "invalid_per_episode": sum(t.num_invalid for t in episodes) / n,
        "em": sum(_em(t) for t in episodes) / n,
        "answered": sum(t.final_answer is not None for t in episodes) / n,
        "generated_tokens": float(generated),
        "generated_tokens_per_sample": generated / max(len(samples), 1),
        "unscored": float(sum(not s.scored for s in samples)),
    }


# ---------------------------------------------------------------------------------------------

class TrajectorySampler:
    """G full episodes per task, one GRPO group per task (see the module doc)."""

    def __init__(self, env: Any, policy: Any, reward: Any, group_size: int = 4, *,
                 tokenizer: Any = None, scale_advantages: bool = True) -> None:
        if group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}")
        self.env, self.policy, self.reward, self.group_size = env, policy, reward, int(group_size)
        tok = _tokenizer_of(policy, tokenizer)
        self.encoder = TurnEncoder(tok) if tok is not None else None
        self.scale_advantages = scale_advantages
        self.last_stats: dict[str, float] = {}
        self.last_trajectories: list[Trajectory] = []
        self._round = 0

    def sample(self, tasks: Sequence[Task]) -> list[TrainingSample]:
        """``group_size`` samples per task, groups in task order; group id ``"<task id>#r<round>"``."""
        envs = []
        for task in tasks:
            self.env.reset(options={"task": task})
            envs.extend(self.env.fork() for _ in range(self.group_size))
        tokens = [EpisodeTokens(self.encoder.prompt(e.messages)) for e in envs] if self.encoder is not None else None
        generated = _play_to_end(self.policy, self.encoder, envs, tokens, trained=True)
        trajectories = [e.trajectory for e in envs]
        samples: list[TrainingSample] = []
        for g, task in enumerate(tasks):
            span = range(g * self.group_size, (g + 1) * self.group_size)
            results = score_group(self.reward, [trajectories[i] for i in span], "episode")
            adv = group_zscore([r.value for r in results], [r.scored for r in results], scale=self.scale_advantages)
            for i, res, a in zip(span, results, adv):
                samples.append(self._sample(f"{task.id}#r{self._round}", trajectories[i],
                                            tokens[i] if tokens is not None else None, res, a))
        self._round += 1
        self.last_trajectories = trajectories
        self.last_stats = _summary(trajectories, samples, generated, len(tasks)) | _reward_metrics(self.reward)
        return samples

    def _sample(self, group_id: str, traj: Trajectory, tokens: EpisodeTokens | None, result: RewardResult,
                advantage: float) -> TrainingSample:
        components = dict(result.components)
        components.update(steps=float(len(traj.steps)), searches=float(traj.num_searches), em=_em(traj))
        text = "".join(s.text for s in traj.steps)
        reward = float(result.value) if result.scored else 0.0
        if tokens is None:
            return TrainingSample(group_id, (), (), (), (), reward, float(advantage), components, result.scored, text,
                                  finished=traj.final_answer is not None)
        return TrainingSample(group_id, tuple(tokens.prompt), tuple(tokens.ids), tuple(tokens.mask),
                              tuple(tokens.logprobs), reward, float(advantage), components, result.scored, text,
                              finished=traj.final_answer is not None)


def _continues(fork: Any) -> bool:
    """Whether a candidate is played on under rollout values: a valid step that did not end the episode."""
    return not fork.done and bool(fork.trajectory.steps) and fork.trajectory.steps[-1].kind != INVALID


# one episode's step group as drawn: (episode index, candidates, a fork stepped with each, (token ids, logprobs) of each)
_Draw = tuple[int, list[Completion], list[Any], list[tuple[list[int], list[float]]]]


class TruncatedStepSampler:
    """SLATE truncated step-level sampling: one GRPO group of k candidates per (prefix, step).

    ``value="judge"`` scores each candidate by its own step reward (SLATE); ``"rollout"`` plays each search or
    open on to the end once and scores it by the reward of where it led (``STEP_VALUES``; docs/training.md), with
    ``redraws`` draws a group whose values cannot differ again (dynamic sampling per step group), and with
    ``train_playouts`` also trains the turns its play-outs generated, as a second group: the k paths from the
    group's prefix. ``advantage="tree"`` (rollout values only) compares each candidate with its siblings and with
    the episode's whole tree (TreeRL, ``tree_advantages``), so a group whose candidates reach one outcome still
    carries the signal of where the episode went from it."""

    def __init__(self, env: Any, policy: Any, reward: Any, k: int = 5, max_steps: int = 4, *,
                 continuation: str = "softmax", temperature: float = 0.7, tokenizer: Any = None, seed: int = 0,
                 scale_advantages: bool | None = None, value: str = "judge", redraws: int = 0,
                 train_playouts: bool = False, advantage: str = "sibling") -> None:
        if k < 1 or max_steps < 1:
            raise ValueError(f"need k >= 1 and max_steps >= 1, got k={k}, max_steps={max_steps}")
        if redraws < 0:
            raise ValueError(f"redraws must be >= 0, got {redraws}")
        if redraws and value != "rollout":
            # only rollout values are pooled by outcome, so only there is a one-outcome group sure to teach nothing
            raise ValueError(f"redraws need value='rollout' (a one-outcome group's judge verdicts may differ), "
                             f"got {value!r}")
        if train_playouts and value != "rollout":
            raise ValueError(f"train_playouts needs value='rollout' (judge values play nothing out), got {value!r}")
        if continuation not in CONTINUATIONS:
            raise ValueError(f"continuation must be one of {CONTINUATIONS}, got {continuation!r}")
        if value not in STEP_VALUES:
            raise ValueError(f"value must be one of {STEP_VALUES}, got {value!r}")
        if advantage not in STEP_ADVANTAGES:
            raise ValueError(f"advantage must be one of {STEP_ADVANTAGES}, got {advantage!r}")
        if advantage == "tree" and (value != "rollout" or train_playouts):
            raise ValueError("advantage='tree' backs rollout values up an episode's step groups: it needs "
                             f"value='rollout' and no train_playouts, got value={value!r}, "
                             f"train_playouts={train_playouts}")
        self.advantage = advantage
        self.env, self.policy, self.reward = env, policy, reward
        self.value = value
        self.k, self.max_steps, self.redraws = int(k), int(max_steps), int(redraws)
        self.train_playouts = bool(train_playouts)
        self.continuation, self.temperature = continuation, float(temperature)
        tok = _tokenizer_of(policy, tokenizer)
        self.encoder = TurnEncoder(tok) if tok is not None else None
        self.rng = random.Random(seed)
        # divided by the group's std for judge verdicts (SLATE); rollout values stay on the reward's scale (see
        # sample()); the trainer passes what TRL's scale_rewards does, so the two agree
        self.scale_advantages = value == "judge" if scale_advantages is None else bool(scale_advantages)
        self.last_stats: dict[str, float] = {}
        self.last_trajectories: list[Trajectory] = []
        self._episode = 0

    def sample(self, tasks: Sequence[Task]) -> list[TrainingSample]:
        """Up to ``max_steps`` groups of k per task, episode by episode in task order; group id
        ``"<task id>#e<episode>/t<step>"``, and with ``train_playouts`` after each played-out group the group of its
        paths, ``"<task id>#e<episode>/t<step>/paths"``. Episodes of the batch advance in lock-step (one policy
        call per step for all of them)."""
        episodes = []
        for task in tasks:
            self.env.reset(options={"task": task})
            env = self.env.fork()
            tokens = EpisodeTokens(self.encoder.prompt(env.messages)) if self.encoder is not None else None
            episodes.append((task, env, self._episode, tokens))
            self._episode += 1
        per_episode: list[list[TrainingSample]] = [[] for _ in episodes]
        # per episode, each step group's first sample index and values, for advantage="tree"
        tree: list[list[tuple[int, StepGroupValues]]] = [[] for _ in episodes]
        generated = redrawn_groups = path_groups = 0
        for t in range(self.max_steps):
            active = [i for i, (_, env, _, _) in enumerate(episodes) if not env.done]
            if not active:
                break
            staged, spent = self._draw(episodes, active)
            generated += spent
            keys = [self._outcomes(entry) for entry in staged]
            # the pooled results of groups that need no play-out, scored once while deciding on a redraw
            settled: list[list[RewardResult] | None] = [None] * len(staged)
            # a group whose values are equal whatever its play-outs draw teaches nothing (zero advantages): draw it
            # again, and keep the first draw whose values can differ, or the last (DAPO's dynamic sampling, per step
            # group: a move the policy rarely takes, such as opening the page, gets more chances to be compared)
            pending = list(range(len(staged))) if self.redraws else []
            for attempt in range(self.redraws + 1):
                again = []
                for n in pending:
                    equal, settled[n] = self._equal_values(staged[n], keys[n])
                    if equal:
                        again.append(n)
                if not again or attempt == self.redraws:
                    break
                redrawn, spent = self._draw(episodes, [staged[n][0] for n in again])
                generated += spent
                redrawn_groups += len(again)
                for n, entry in zip(again, redrawn):
                    staged[n], keys[n] = entry, self._outcomes(entry)
                pending = again
            valued: list[list[Trajectory]] = [[f.trajectory for f in forks] for _, _, forks, _ in staged]
            path_tokens: list[list[EpisodeTokens | None] | None] = [None] * len(staged)
            if self.value == "rollout":
                # a group whose candidates all reach one outcome gets equal values whatever its play-outs draw (they
                # are pooled below): zero advantages, so its play-outs would only spend the token budget
                varied = [n for n in range(len(staged)) if len(set(keys[n])) > 1]
                items = []
                for n in varied:
                    i, _, forks, turns = staged[n]
                    items += [(fork, ids, episodes[i][3]) for fork, (ids, _) in zip(forks, turns)]
                ends, ends_tokens, spent = self._play_out(items)
                generated += spent
                for m, n in enumerate(varied):
                    valued[n] = ends[m * self.k:(m + 1) * self.k]
                    group_tokens = ends_tokens[m * self.k:(m + 1) * self.k] if ends_tokens is not None else []
                    if self.train_playouts and any(e is not None for e in group_tokens):  # something played out
                        path_tokens[n] = group_tokens
            for (i, cands, forks, turns), paths, group_keys, done, group_path_tokens in zip(
                    staged, valued, keys, settled, path_tokens):
                task, env, ep, tokens = episodes[i]
                results = own = done if done is not None else score_group(self.reward, paths, "step")
                if self.value == "rollout" and done is None:
                    results = pool_identical(results, group_keys)
                # rollout values are mean-centred only by default (TRL's scale_rewards "auto" agrees): divided by their
                # std, the 0.025 the early-answer bonus puts between two right answers became a full-size advantage
                adv = group_zscore([r.value for r in results], [r.scored for r in results], scale=self.scale_advantages)
                chosen = choose_continuation(adv, self.rng, self.continuation, self.temperature,
                                             eligible=[r.scored for r in results])
                prompt = tuple(tokens.context) if tokens is not None else ()
                if self.advantage == "tree":
                    played = done is not None or len(set(group_keys)) > 1  # every value is a finished path's
                    tree[i].append((len(per_episode[i]), StepGroupValues(
                        [r.value for r in results], [r.scored for r in results],
                        [played or not _continues(f) for f in forks])))
                for j, (comp, fork, (ids, logps), res, a) in enumerate(zip(cands, forks, turns, results, adv)):
                    per_episode[i].append(self._sample(f"{task.id}#e{ep}/t{t}", prompt, comp.text, ids, logps,
                                                       fork, res, a, t, j == chosen, paths[j], len(set(group_keys))))
                if group_path_tokens is not None and tokens is not None:
                    per_episode[i].extend(self._path_samples(f"{task.id}#e{ep}/t{t}{PATHS_SUFFIX}", tokens, forks,
                                                             turns, paths, group_path_tokens, own))
                    path_groups += 1
                env.restore(forks[chosen].snapshot())
                if tokens is not None and self.encoder is not None:  # tokens are kept iff there is an encoder
                    ids, logps = turns[chosen]
                    tokens.add(ids, logps, trained=True)
                    if not env.done:
                        tokens.add(self.encoder.glue(env.messages, ids), (), trained=False)
        for samples_of, groups in zip(per_episode, tree):
            if groups:
                self._tree_advantages(samples_of, groups)
        samples = [s for group in per_episode for s in group]
        trajectories = [env.trajectory for _, env, _, _ in episodes]
        self.last_trajectories = trajectories
        step_groups = len(samples) // self.k - path_groups
        self.last_stats = _summary(trajectories, samples, generated, step_groups) | _reward_metrics(self.reward)
        if self.redraws:
            self.last_stats["redrawn_groups"] = float(redrawn_groups)
        if self.train_playouts:
            self.last_stats["path_groups"] = float(path_groups)
        return samples

    def _tree_advantages(self, samples: list[TrainingSample], groups: Sequence[tuple[int, StepGroupValues]]) -> None:
        """Replaces the advantages of one episode's step samples (in place) by ``tree_advantages``; a backed-up
        candidate's ``reward`` becomes its backed-up value (component ``r_backup``: the shift from its own score)."""
        tree = tree_advantages([g for _, g in groups])
        for (start, group), vs, ss, adv in zip(groups, tree.values, tree.scored, tree.advantages):
            for j in range(len(vs)):
                old = samples[start + j]
                components = {**old.components, "v_root": tree.root}
                reward = old.reward
                if not group.leaf[j]:
                    reward = vs[j] if ss[j] else 0.0
                    components["r_backup"] = reward - old.reward
                samples[start + j] = dataclasses.replace(old, reward=reward, advantage=float(adv[j]), scored=ss[j],
                                                         components=components)

    def _draw(self, episodes: Sequence[tuple[Task, Any, int, Any]], active: Sequence[int]
              ) -> tuple[list[_Draw], int]:
        """k candidate turns for each active episode (one policy call), each stepped on a fork of its own, and the
        policy tokens they cost."""
        contexts = [episodes[i][3] for i in active] if self.encoder is not None else None
        outs = _generate(self.policy, contexts, [episodes[i][1].messages for i in active], self.k)
        staged, spent = [], 0
        for i, cands in zip(active, outs):
            env = episodes[i][1]
            forks, turns = [], []
            for comp in cands:
                fork = env.fork()
                fork.step(comp.text)
                forks.append(fork)
                turns.append(_turn_ids(comp, self.encoder))
                spent += len(turns[-1][0])
            staged.append((i, list(cands), forks, turns))
        return staged, spent

    def _equal_values(self, entry: _Draw, keys: list[tuple[Any, ...]]) -> tuple[bool, list[RewardResult] | None]:
        """Whether the group's rollout values are equal whatever its play-outs draw, and, when none of its candidates
        is played out, their pooled results (scored here, once). Only called when redraws are on."""
        if len(set(keys)) == 1:  # one outcome: pooled into one value
            return True, None
        forks = entry[2]
        if any(_continues(fork) for fork in forks):
            return False, None
        results = pool_identical(score_group(self.reward, [f.trajectory for f in forks], "step"), keys)
        return len({r.value for r in results if r.scored}) <= 1, results

    @staticmethod
    def _outcomes(entry: _Draw) -> list[tuple[Any, ...]]:
        _, cands, forks, turns = entry
        return [outcome_key(f, ids or comp.text) for f, comp, (ids, _) in zip(forks, cands, turns)]

    def _play_out(self, items: Sequence[tuple[Any, Sequence[int], EpisodeTokens | None]]
                  ) -> tuple[list[Trajectory], list[EpisodeTokens | None] | None, int]:
        """Each candidate's path to the end of its episode; its tokens (the prefix's, then the candidate and the
        play-out, whose turns are trained iff ``train_playouts``; ``None`` for a candidate not played on), or no list
        where there are no tokens; and the policy tokens that cost.

        ``items`` are ``(candidate fork, the candidate's token ids, the prefix's tokens)``. A candidate that
        ended the episode or was invalid is its own end (an invalid turn keeps its own penalty rather than
        borrowing the luck of what follows it); every other one is continued on a fork of its own, one
        sampled turn at a time, all of them batched in one policy call per turn."""
        ends = [fork.trajectory for fork, _, _ in items]
        live = [n for n, (fork, _, _) in enumerate(items) if _continues(fork)]
        paths = [items[n][0].fork() for n in live]
        tokens: list[EpisodeTokens] | None = None
        if self.encoder is not None and all(items[n][2] is not None for n in live):
            tokens = []
            for n in live:
                fork, ids, prefix = items[n]
                assert prefix is not None
                path_tokens = prefix.copy()
                path_tokens.add(ids, (), trained=False)
                path_tokens.add(self.encoder.glue(fork.messages, ids), (), trained=False)
                tokens.append(path_tokens)
        spent = _play_to_end(self.policy, self.encoder, paths, tokens, trained=self.train_playouts)
        for n, path in zip(live, paths):
            ends[n] = path.trajectory
        if tokens is None:
            return ends, None, spent
        ends_tokens: list[EpisodeTokens | None] = [None] * len(items)
        for n, path_tokens in zip(live, tokens):
            ends_tokens[n] = path_tokens
        return ends, ends_tokens, spent

    def _path_samples(self, group_id: str, prefix: EpisodeTokens, forks: Sequence[Any],
                      turns: Sequence[tuple[list[int], list[float]]], paths: Sequence[Trajectory],
                      ends_tokens: Sequence[EpisodeTokens | None], results: Sequence[RewardResult]
                      ) -> list[TrainingSample]:
        """The group of one step group's k paths from its prefix (``train_playouts``). A row is the candidate, left
        untrained (the step group credits it, with pooled values), then the turns its play-out generated, trained and
        valued by the reward of that path's own end, not pooled: between two paths of one outcome only the play-out's
        turns differ. A candidate not played on (an answer, an invalid turn) keeps its place and value in the group,
        with nothing to train."""
        adv = group_zscore([r.value for r in results], [r.scored for r in results], scale=self.scale_advantages)
        start = len(prefix.ids)
        out = []
        for fork, (turn, turn_logps), path, end, res, a in zip(forks, turns, paths, ends_tokens, results, adv):
            if end is not None:
                ids, mask, logps = end.ids[start:], end.mask[start:], end.logprobs[start:]
            else:
                ids, mask, logps = list(turn), [0] * len(turn), list(turn_logps)
            em = _em(path)
            components = dict(res.components)
            components.update(playout=1.0, played_out=float(len(path.steps) - len(fork.trajectory.steps)), path_em=em,
                              em=em)
            text = "".join(s.text for s in path.steps[len(fork.trajectory.steps) - 1:])  # the candidate on
            out.append(TrainingSample(group_id, tuple(prefix.context), tuple(ids), tuple(mask), tuple(logps),
                                      _trained_reward(res), float(a), components, res.scored, text,
                                      finished=path.final_answer is not None))
        return out

    def _sample(self, group_id: str, prompt: tuple[int, ...], text: str, ids: list[int], logps: list[float],
                fork: Any, result: RewardResult, advantage: float, t: int, chosen: bool,
                path: Trajectory | None = None, outcomes: int = 0) -> TrainingSample:
        step = fork.trajectory.steps[-1]
        components = dict(result.components)
        components.update(step=float(t), search=float(step.kind == SEARCH), answer=float(step.kind == ANSWER),
                          open=float(step.kind == OPEN), invalid=float(step.kind == INVALID),
                          chosen=float(chosen), em=_em(fork.trajectory))
        if self.value == "rollout" and path is not None:
            components.update(played_out=float(len(path.steps) - len(fork.trajectory.steps)), path_em=_em(path),
                              outcomes=float(outcomes))
        return TrainingSample(group_id, prompt, tuple(ids), (1,) * len(ids), tuple(logps), _trained_reward(result),
                              float(advantage), components, result.scored, text, finished=step.valid)


def step_group_position(group_id: str) -> tuple[str, int, int]:
    """``(task id, episode, step)`` of a ``TruncatedStepSampler`` group id."""
    match = STEP_GROUP.search(group_id)
    if match is None:
        raise ValueError(f"{group_id!r} is not a step group id ('<task id>#e<episode>/t<step>')")
    return group_id[: match.start()], int(match["episode"]), int(match["step"])


__all__ = ["PATHS_SUFFIX", "STEP_VALUES", "EpisodeTokens", "TrajectorySampler", "TruncatedStepSampler", "TurnEncoder",
           "as_result", "outcome_key", "pool_identical", "score_all", "score_group", "step_group_position"]
