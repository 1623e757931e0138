"""Samplers: turn tasks into scored GRPO groups of ``TrainingSample`` by driving a ``DeepSearchEnv``.

* ``TrajectorySampler`` (Search-R1 style): G full episodes per task form one group. A sample's
  completion is everything after the first prompt (system + question): agent turns (mask 1, the
  policy's own token ids and log-probs) and the environment's observations with the chat-template
  glue between turns (mask 0). The tokens are those of the chat template rendered over the env's
  ``messages``, i.e. what the model saw at each turn.
* ``TruncatedStepSampler`` (SLATE, Samarinas et al. 2026): at each step t (at most ``max_steps`` = T)
  of an episode, k candidate next turns are sampled from the shared prefix (encoded once by
  ``HFPolicy``), each played on its own ``env.fork()`` and scored by a process reward on the forked
  trajectory whose last step is the candidate (answer steps by ``outcome_reward`` when given); the k
  form one group with advantages z-scored within it; the episode then continues from one candidate
  (``continuation``: ``softmax`` of advantage / 0.7 as in the paper, ``greedy`` or ``uniform``).

Both fill ``reward`` (the reward's value) AND ``advantage`` (the group z-score of ``advantages.py``);
TRL's GRPOTrainer recomputes the same z-score from ``reward`` (with ``scale_rewards="group"``), so a
trainer may use either. Unscored samples (``RewardResult.scored`` False) keep ``scored=False``,
advantage 0, and are counted in ``last_stats["unscored"]``. Every call sets ``last_stats``
(steps/searches per episode, EM, generated tokens per sample) and ``last_trajectories``.
"""

from __future__ import annotations

import math
import random
from typing import Any, Callable, Sequence

from searchgym.agents.advantages import CONTINUATIONS, choose_continuation, group_zscore
from searchgym.agents.policy import Completion, Message
from searchgym.agents.samples import TrainingSample
from searchgym.corpora.records import Task
from searchgym.envs.trajectory import ANSWER, SEARCH, Trajectory
from searchgym.rewards.base import RewardResult


# ---------------------------------------------------------------------------------------------
# helpers shared by both samplers

def as_result(value: Any) -> RewardResult:
    """A ``RewardResult`` from whatever a reward callable returned (a float counts as scored)."""
    if isinstance(value, RewardResult):
        return value
    if value is None:
        return RewardResult(float("nan"), scored=False)
    return RewardResult(float(value))


def score_all(reward: Callable[[Trajectory], Any], trajectories: Sequence[Trajectory]) -> list[RewardResult]:
    """Scores, in one judge batch when the reward offers ``score_batch`` (``StepJudgeReward`` does)."""
    if not trajectories:
        return []
    from searchgym.envs.deep_search import SEARCH_FAILED, search_failed

    # an episode whose search backend failed is left out of training, and never sent to a judge
    out = [RewardResult(float("nan"), details={"reason": SEARCH_FAILED}, scored=False) if search_failed(t) else None
           for t in trajectories]
    todo = [t for t, r in zip(trajectories, out) if r is None]
    batch = getattr(reward, "score_batch", None)
    raw = iter((batch(todo) if callable(batch) else [reward(t) for t in todo]) if todo else [])
    return [r if r is not None else as_result(next(raw)) for r in out]


def _exact_match(trajectory: Trajectory) -> float:
    from searchgym.rewards.outcome import exact_match

    answer = trajectory.final_answer
    return float(exact_match(answer, trajectory.task.answers)) if answer is not None else 0.0


class ChatEncoder:
    """Tokenises a conversation with the chat template, split into policy and environment spans."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def render(self, messages: Sequence[Message], generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=generation_prompt)

    def ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []

    def prompt(self, messages: Sequence[Message]) -> list[int]:
        return self.ids(self.render(messages, True))

    def episode(self, messages: Sequence[Message], completions: Sequence[Completion | None]
                ) -> tuple[list[int], list[int], list[int], list[float]]:
        """``(prompt_ids, completion_ids, mask, logprobs)`` of a whole episode.

        ``completions[i]`` is the policy output behind the i-th assistant message: its token ids and
        log-probs are used for that turn (the tokens the policy really produced); without them the
        turn's text is tokenised and its log-probs are 0.
        """
        turns = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
        if len(turns) != len(completions):
            raise ValueError(f"{len(turns)} assistant turns but {len(completions)} completions")
        first = turns[0] if turns else len(messages)
        before = self.render(messages[:first], True)
        prompt_ids = self.ids(before)
        ids: list[int] = []
        mask: list[int] = []
        logps: list[float] = []
        for n, (i, comp) in enumerate(zip(turns, completions)):
            content = messages[i]["content"]
            if comp is not None and comp.token_ids:
                own = list(comp.token_ids)
                lp = list(comp.logprobs) if len(comp.logprobs) == len(own) else [0.0] * len(own)
            else:
                own = self.ids(content)
                lp = [0.0] * len(own)
            ids += own
            mask += [1] * len(own)
            logps += lp
            nxt = turns[n + 1] if n + 1 < len(turns) else None
            after = self.render(messages[:nxt], True) if nxt is not None else self.render(messages, False)
            if not after.startswith(before + content):
                raise ValueError("the chat template does not render an assistant turn verbatim after the "
                                 "generation prompt; cannot split policy and environment tokens")
            env = self.ids(after[len(before) + len(content):])
            ids += env
            mask += [0] * len(env)
            logps += [0.0] * len(env)
            before = after
        return prompt_ids, ids, mask, logps


def _tokenizer_of(policy: Any, tokenizer: Any) -> Any:
    return tokenizer if tokenizer is not None else getattr(policy, "tokenizer", None)


def _count_tokens(comp: Completion, encoder: ChatEncoder | None) -> int:
    if comp.token_ids:
        return len(comp.token_ids)
    return len(encoder.ids(comp.text)) if encoder is not None else 0


def _summary(episodes: Sequence[Trajectory], samples: Sequence[TrainingSample], generated: int,
             groups: int) -> dict[str, float]:
    n = max(len(episodes), 1)
    return {
        "episodes": float(len(episodes)),
        "groups": float(groups),
        "samples": float(len(samples)),
        "steps_per_episode": sum(len(t.steps) for t in episodes) / n,
        "searches_per_episode": sum(t.num_searches for t in episodes) / n,
        "em": sum(_exact_match(t) for t in episodes) / n,
        "answered": sum(t.final_answer is not None for t in episodes) / n,
        "generated_tokens": float(generated),
        "generated_tokens_per_sample": generated / max(len(samples), 1),
        "unscored": float(sum(not s.scored for s in samples)),
    }


# ---------------------------------------------------------------------------------------------

class TrajectorySampler:
    """G full episodes per task, one GRPO group per task (see the module doc)."""

    def __init__(self, env: Any, policy: Any, reward: Callable[[Trajectory], Any], group_size: int = 4, *,
                 tokenizer: Any = None, scale_advantages: bool = True) -> None:
        if group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}")
        self.env, self.policy, self.reward, self.group_size = env, policy, reward, int(group_size)
        tok = _tokenizer_of(policy, tokenizer)
        self.encoder = ChatEncoder(tok) if tok is not None else None
        self.scale_advantages = scale_advantages
        self.last_stats: dict[str, float] = {}
        self.last_trajectories: list[Trajectory] = []
        self._round = 0

    def sample(self, tasks: Sequence[Task]) -> list[TrainingSample]:
        """``group_size`` samples per task, groups in task order; group id ``"<task id>#r<round>"``."""
        envs, owners = [], []
        for task in tasks:
            self.env.reset(options={"task": task})
            for _ in range(self.group_size):
                envs.append(self.env.fork())
                owners.append(task)
        turns: list[list[Completion]] = [[] for _ in envs]
        generated = 0
        while True:
            active = [i for i, e in enumerate(envs) if not e.done]
            if not active:
                break
            outs = self.policy.generate([envs[i].messages for i in active], n=1)
            for i, out in zip(active, outs):
                comp = out[0]
                generated += _count_tokens(comp, self.encoder)
                turns[i].append(comp)
                envs[i].step(comp.text)
        trajectories = [e.trajectory for e in envs]
        results = score_all(self.reward, trajectories)
        samples: list[TrainingSample] = []
        for g, task in enumerate(tasks):
            span = range(g * self.group_size, (g + 1) * self.group_size)
            res = [results[i] for i in span]
            adv = group_zscore([r.value for r in res], [r.scored for r in res], scale=self.scale_advantages)
            for a, i in zip(adv, span):
                samples.append(self._sample(f"{task.id}#r{self._round}", envs[i], turns[i], results[i], a))
        self._round += 1
        self.last_trajectories = trajectories
        self.last_stats = _summary(trajectories, samples, generated, len(tasks))
        return samples

    def _sample(self, group_id: str, env: Any, turns: list[Completion], result: RewardResult,
                advantage: float) -> TrainingSample:
        traj = env.trajectory
        prompt, ids, mask, logps = (self.encoder.episode(env.messages, turns) if self.encoder is not None
                                    else ((), (), (), ()))
        components = dict(result.components)
        components.update(steps=float(len(traj.steps)), searches=float(traj.num_searches), em=_exact_match(traj))
        return TrainingSample(group_id, tuple(prompt), tuple(ids), tuple(mask), tuple(logps),
                              float(result.value) if result.scored else 0.0, float(advantage), components,
                              result.scored, "".join(c.text for c in turns), finished=traj.final_answer is not None)


class TruncatedStepSampler:
    """SLATE truncated step-level sampling: one GRPO group of k candidates per (prefix, step)."""

    def __init__(self, env: Any, policy: Any, reward: Callable[[Trajectory], Any], k: int = 5, max_steps: int = 4, *,
                 outcome_reward: Callable[[Trajectory], Any] | None = None, continuation: str = "softmax",
                 temperature: float = 0.7, tokenizer: Any = None, seed: int = 0,
                 scale_advantages: bool = True) -> None:
        if k < 1 or max_steps < 1:
            raise ValueError(f"need k >= 1 and max_steps >= 1, got k={k}, max_steps={max_steps}")
        if continuation not in CONTINUATIONS:
            raise ValueError(f"continuation must be one of {CONTINUATIONS}, got {continuation!r}")
        self.env, self.policy, self.reward = env, policy, reward
        self.k, self.max_steps = int(k), int(max_steps)
        self.outcome_reward = outcome_reward
        self.continuation, self.temperature = continuation, float(temperature)
        tok = _tokenizer_of(policy, tokenizer)
        self.encoder = ChatEncoder(tok) if tok is not None else None
        self.rng = random.Random(seed)
        self.scale_advantages = scale_advantages
        self.last_stats: dict[str, float] = {}
        self.last_trajectories: list[Trajectory] = []
        self._episode = 0

    def sample(self, tasks: Sequence[Task]) -> list[TrainingSample]:
        """Up to ``max_steps`` groups of k per task, episode by episode in task order; group id
        ``"<task id>#e<episode>/t<step>"``. Episodes of the batch advance in lock-step (one policy
        call per step for all of them)."""
        episodes = []
        for task in tasks:
            self.env.reset(options={"task": task})
            episodes.append((task, self.env.fork(), self._episode))
            self._episode += 1
        per_episode: list[list[TrainingSample]] = [[] for _ in episodes]
        generated = 0
        for t in range(self.max_steps):
            active = [i for i, (_, env, _) in enumerate(episodes) if not env.done]
            if not active:
                break
            prefixes = [episodes[i][1].messages for i in active]
            outs = self.policy.generate(prefixes, n=self.k)
            for i, prefix, cands in zip(active, prefixes, outs):
                task, env, ep = episodes[i]
                forks = []
                for comp in cands:
                    fork = env.fork()
                    fork.step(comp.text)
                    forks.append(fork)
                    generated += _count_tokens(comp, self.encoder)
                results = self._score(forks)
                adv = group_zscore([r.value for r in results], [r.scored for r in results],
                                   scale=self.scale_advantages)
                chosen = choose_continuation(adv, self.rng, self.continuation, self.temperature,
                                             eligible=[r.scored for r in results])
                prompt = self._prompt(prefix, cands)
                for j, (comp, fork, res, a) in enumerate(zip(cands, forks, results, adv)):
                    per_episode[i].append(self._sample(f"{task.id}#e{ep}/t{t}", prompt, comp, fork, res, a,
                                                       t, j == chosen))
                env.restore(forks[chosen].snapshot())
        samples = [s for group in per_episode for s in group]
        trajectories = [env.trajectory for _, env, _ in episodes]
        self.last_trajectories = trajectories
        self.last_stats = _summary(trajectories, samples, generated, len(samples) // self.k)
        return samples

    def _score(self, forks: Sequence[Any]) -> list[RewardResult]:
        trajs = [f.trajectory for f in forks]
        if self.outcome_reward is None:
            return score_all(self.reward, trajs)
        terminal = [i for i, t in enumerate(trajs) if t.steps and t.steps[-1].kind == ANSWER]
        rest = [i for i in range(len(trajs)) if i not in terminal]
        out: list[RewardResult | None] = [None] * len(trajs)
        for idx, res in zip(terminal, score_all(self.outcome_reward, [trajs[i] for i in terminal])):
            out[idx] = res
        for idx, res in zip(rest, score_all(self.reward, [trajs[i] for i in rest])):
            out[idx] = res
        return out  # type: ignore[return-value]

    def _prompt(self, prefix: Sequence[Message], cands: Sequence[Completion]) -> tuple[int, ...]:
        if cands and cands[0].prompt_ids:
            return tuple(cands[0].prompt_ids)
        return tuple(self.encoder.prompt(prefix)) if self.encoder is not None else ()

    def _sample(self, group_id: str, prompt: tuple[int, ...], comp: Completion, fork: Any, result: RewardResult,
                advantage: float, t: int, chosen: bool) -> TrainingSample:
        step = fork.trajectory.steps[-1]
        if comp.token_ids:
            ids = tuple(comp.token_ids)
            logps = tuple(comp.logprobs) if len(comp.logprobs) == len(ids) else (0.0,) * len(ids)
        elif self.encoder is not None:
            ids = tuple(self.encoder.ids(comp.text))
            logps = (0.0,) * len(ids)
        else:
            ids, logps = (), ()
        components = dict(result.components)
        components.update(step=float(t), search=float(step.kind == SEARCH), answer=float(step.kind == ANSWER),
                          chosen=float(chosen), em=_exact_match(fork.trajectory))
        reward = float(result.value) if result.scored and not math.isnan(result.value) else 0.0
        return TrainingSample(group_id, prompt, ids, (1,) * len(ids), logps, reward, float(advantage), components,
                              result.scored, comp.text, finished=step.valid)


__all__ = ["ChatEncoder", "TrajectorySampler", "TruncatedStepSampler", "as_result", "score_all"]
