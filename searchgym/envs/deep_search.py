"""``DeepSearchEnv``: a multi-turn search episode over one corpus as a text-in, text-out Gymnasium env.

Every ``step`` is one turn, valid or not; only the final turn is rewarded. Search faults never leave
``step`` (the turn becomes an invalid ``search_failed:`` step and the episode unscored). The state is one
immutable ``EpisodeState`` (``snapshot``/``restore``/``fork``). See docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from searchgym.envs.prompts import SYSTEM_PROMPT, format_document, format_error, format_hits, question_prompt
from searchgym.envs.spaces import UnicodeText
from searchgym.grammar import MAX_TURN_CHARS, parse_action
from searchgym.records import ANSWER, INVALID, OPEN, SEARCH, Document, Step, Task, Trajectory
from searchgym.search.base import Searcher
from searchgym.text import exact_match

OBSERVATION_MAX_CHARS = 1_000_000
SEARCH_FAILED = "search_failed"  # Step.error prefix of a turn the searcher failed to answer


def search_failed(trajectory: Trajectory) -> bool:
    """Whether a search or open of this episode failed in the searcher (the episode is unscorable)."""
    return any(s.error is not None and s.error.startswith(SEARCH_FAILED + ":") for s in trajectory.steps)

RewardFn = Callable[[Trajectory], Any]  # -> float or RewardResult


@dataclass(frozen=True, slots=True)
class EpisodeState:
    """Everything an episode is, immutable: what ``snapshot()`` returns and ``restore()`` takes.

    ``messages`` holds ``(role, content)`` pairs so that snapshots can share it without copying.
    """

    trajectory: Trajectory
    messages: tuple[tuple[str, str], ...]
    observation: str
    terminated: bool = False
    truncated: bool = False

    @property
    def turn(self) -> int:
        return len(self.trajectory.steps)


def exact_match_reward(trajectory: Trajectory) -> float:
    """The env's default reward: 1.0 when the final answer matches an accepted answer, else 0.0."""
    return float(exact_match(trajectory.final_answer, trajectory.task.answers))


class DeepSearchEnv(gym.Env[str, str]):
    """Answer ``tasks`` by searching with ``searcher``; see the module doc for turns and rewards.

    ``reset(options={"task_id": ...})`` or ``{"task_index": i}`` picks a task; otherwise the task is
    drawn with the seeded ``np_random``.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(self, tasks: Sequence[Task] | Any, searcher: Searcher, max_turns: int = 8, top_k: int = 5,
                 passage_chars: int = 400, doc_chars: int = 4000, reward: RewardFn | None = exact_match_reward,
                 system_prompt: str = SYSTEM_PROMPT, render_mode: str | None = None) -> None:
        tasks = getattr(tasks, "tasks", tasks)  # a TaskSet works too
        if len(tasks) == 0:
            raise ValueError("DeepSearchEnv needs at least one task")
        for name, value in (("max_turns", max_turns), ("top_k", top_k), ("passage_chars", passage_chars),
                            ("doc_chars", doc_chars)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"DeepSearchEnv: {name} must be a positive integer, got {value!r}")
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode {render_mode!r} is not supported; use 'ansi' or None")
        self.tasks = tasks
        self.searcher = searcher
        self.max_turns, self.top_k = int(max_turns), int(top_k)
        self.passage_chars, self.doc_chars = int(passage_chars), int(doc_chars)
        self.reward_fn = reward
        self.system_prompt = system_prompt
        self.render_mode = render_mode
        self.observation_space = UnicodeText(OBSERVATION_MAX_CHARS)
        self.action_space = UnicodeText(MAX_TURN_CHARS)
        self._task_index: dict[str, int] | None = None  # built on first lookup by id, shared by forks
        self._state: EpisodeState | None = None
        self._rng_state: Mapping[str, Any] | None = None  # a fork's pending copy of its source's RNG

    # --- Gymnasium API -------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start an episode: the task prompt as observation and the info dict."""
        super().reset(seed=seed)
        if seed is not None:
            self._rng_state = None
        task = self._pick_task(options or {})
        prompt = question_prompt(task.question)
        self._state = EpisodeState(Trajectory(task), (("system", self.system_prompt), ("user", prompt)), prompt)
        return prompt, self._info(None)

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Run one agent turn; never raises on agent text (malformed turns get a correction)."""
        state = self._state
        if state is None:
            raise RuntimeError("DeepSearchEnv.step() called before reset()")
        if state.terminated or state.truncated:
            return "The episode is over; call reset() to start a new one.", 0.0, state.terminated, state.truncated, \
                self._info(None)
        text = action if isinstance(action, str) else ""
        parsed = parse_action(action)
        step, seen = self._run(parsed, text[:MAX_TURN_CHARS], state)
        trajectory = state.trajectory.extend(step, seen)
        terminated = step.kind == ANSWER
        truncated = not terminated and len(trajectory.steps) >= self.max_turns
        observation = step.observation
        messages = state.messages + (("assistant", step.text),)
        if not terminated:
            messages += (("user", observation),)
        self._state = EpisodeState(trajectory, messages, observation, terminated, truncated)
        info = self._info(None if _is_fault(step) else step.error)
        reward = 0.0
        if terminated or truncated:
            reward = self._score(trajectory, info)
        return observation, reward, terminated, truncated, info

    def render(self) -> str | None:
        """The transcript so far (``render_mode="ansi"``)."""
        if self.render_mode != "ansi" or self._state is None:
            return None
        return "\n\n".join(f"[{role}]\n{content}" for role, content in self._state.messages)

    # --- branching -----------------------------------------------------------------------------
    def snapshot(self) -> EpisodeState:
        """The current episode state (immutable; cheap)."""
        if self._state is None:
            raise RuntimeError("DeepSearchEnv.snapshot() called before reset()")
        return self._state

    def restore(self, state: EpisodeState) -> None:
        """Return to a state from ``snapshot()`` of this env or of one forked from the same source."""
        if not isinstance(state, EpisodeState):
            raise TypeError(f"restore() takes an EpisodeState from snapshot(), got {type(state).__name__}")
        self._state = state

    def fork(self) -> DeepSearchEnv:
        """An independent env at the same state, sharing the read-only searcher and tasks."""
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        if self._np_random is not None:
            # the twin continues the task stream from the same position; copying a Generator costs
            # ~40-100 us, so only its state (a small dict) is taken now and rebuilt on first use
            twin._np_random = None
            twin._rng_state = self._np_random.bit_generator.state
        return twin

    @property
    def np_random(self) -> np.random.Generator:
        if self._np_random is None and self._rng_state is not None:
            bit_generator = getattr(np.random, self._rng_state["bit_generator"])()
            bit_generator.state = self._rng_state
            self._np_random, self._rng_state = np.random.Generator(bit_generator), None
        return super().np_random

    @np_random.setter
    def np_random(self, value: np.random.Generator) -> None:
        self._rng_state = None
        gym.Env.np_random.__set__(self, value)

    # --- views ---------------------------------------------------------------------------------
    @property
    def trajectory(self) -> Trajectory:
        if self._state is None:
            raise RuntimeError("no episode yet: call reset() first")
        return self._state.trajectory

    @property
    def task(self) -> Task:
        return self.trajectory.task

    @property
    def messages(self) -> list[dict[str, str]]:
        """The chat so far (system, question, then assistant / user-observation turns), as fresh dicts."""
        if self._state is None:
            raise RuntimeError("no episode yet: call reset() first")
        return [{"role": role, "content": content} for role, content in self._state.messages]

    @property
    def turn(self) -> int:
        return 0 if self._state is None else self._state.turn

    @property
    def done(self) -> bool:
        return self._state is not None and (self._state.terminated or self._state.truncated)

    # --- internals -----------------------------------------------------------------------------
    def _pick_task(self, options: dict[str, Any]) -> Task:
        if options.get("task") is not None:
            if not isinstance(options["task"], Task):
                raise TypeError("options['task'] must be a Task")
            return options["task"]
        if options.get("task_id") is not None:
            if self._task_index is None:
                self._task_index = {t.id: i for i, t in enumerate(self.tasks)}
            index = self._task_index.get(options["task_id"])
            if index is None:
                raise ValueError(f"reset(options={{'task_id': {options['task_id']!r}}}): no such task")
            return self.tasks[index]
        if options.get("task_index") is not None:
            index = options["task_index"]
            if not isinstance(index, (int, np.integer)) or not -len(self.tasks) <= index < len(self.tasks):
                raise ValueError(f"task_index {index!r} is out of range for {len(self.tasks)} tasks")
            return self.tasks[int(index)]
        return self.tasks[int(self.np_random.integers(len(self.tasks)))]

    def _run(self, parsed, text: str, state: EpisodeState) -> tuple[Step, tuple[Document, ...]]:
        turns_left = self.max_turns - state.turn - 1
        if parsed.kind == SEARCH:
            try:
                hits = list(self.searcher.search(parsed.query, self.top_k))[: self.top_k]
                docs = tuple(Document(h.doc_id, h.title, h.text) for h in hits)
                obs = format_hits(parsed.query, hits, self.passage_chars)
            except Exception as exc:  # noqa: BLE001  (a backend fault is an observation, never a crash)
                return self._fault(text, "search", exc, turns_left), ()
            return Step(text, SEARCH, query=parsed.query, citations=parsed.citations, observation=self._clip(obs),
                        hits=tuple(h.doc_id for h in hits), reasoning=parsed.reasoning), docs
        if parsed.kind == OPEN:
            try:
                doc = self.searcher.doc(parsed.doc_id)
                if doc is not None and not isinstance(doc, Document):
                    raise TypeError(f"searcher.doc returned {type(doc).__name__}, not a Document")
            except Exception as exc:  # noqa: BLE001
                return self._fault(text, "open", exc, turns_left, doc_id=parsed.doc_id), ()
            if doc is None:
                error = f"unknown document id {parsed.doc_id!r}: open an id shown in search results"
                return Step(text, INVALID, doc_id=parsed.doc_id, observation=format_error(error, turns_left),
                            error=error, reasoning=parsed.reasoning), ()
            return Step(text, OPEN, doc_id=parsed.doc_id, citations=parsed.citations,
                        observation=self._clip(format_document(doc, self.doc_chars)), reasoning=parsed.reasoning), (doc,)
        if parsed.kind == ANSWER:
            return Step(text, ANSWER, answer=parsed.answer, citations=parsed.citations,
                        observation="Answer received. The episode is over.", reasoning=parsed.reasoning), ()
        return Step(text, INVALID, observation=format_error(parsed.error, turns_left), error=parsed.error,
                    reasoning=parsed.reasoning), ()

    def _fault(self, text: str, action: str, exc: Exception, turns_left: int, doc_id: str | None = None) -> Step:
        detail = f"{type(exc).__name__}: {str(exc)[:300]}"
        observation = (f"The {action} failed because the search service had an error ({detail}). "
                       f"Try again. {turns_left} turn(s) left.")
        return Step(text, INVALID, doc_id=doc_id, observation=self._clip(observation),
                    error=f"{SEARCH_FAILED}: {action}: {detail}")

    @staticmethod
    def _clip(observation: str) -> str:
        return observation[:OBSERVATION_MAX_CHARS]

    def _info(self, parse_error: str | None) -> dict[str, Any]:
        state = self._state
        if state is None:
            raise RuntimeError("no episode yet: call reset() first")
        trajectory = state.trajectory
        seen = trajectory.seen_ids
        cited = trajectory.cited_ids
        return {
            "task": trajectory.task,
            "trajectory": trajectory,
            "retrieved_ids": trajectory.retrieved_ids,
            "opened_ids": trajectory.opened_ids,
            "cited_ids": cited,
            "unseen_citations": tuple(c for c in cited if c not in seen),
            "messages": [{"role": role, "content": content} for role, content in state.messages],
            "parse_error": parse_error,
            "turn": state.turn,
            "search_errors": [s.error for s in trajectory.steps if _is_fault(s)],
            "unscored_reason": SEARCH_FAILED if search_failed(trajectory) else None,
        }

    def _score(self, trajectory: Trajectory, info: dict[str, Any]) -> float:
        if info["unscored_reason"] is not None:  # a reward over a search outage would be noise
            info["reward_scored"] = False
            return 0.0
        if self.reward_fn is None:  # the caller scores (a sampler scores its groups once)
            return 0.0
        result = self.reward_fn(trajectory)
        if isinstance(result, (int, float, np.integer, np.floating)):
            return float(result)
        info["reward_components"] = dict(getattr(result, "components", {}) or {})
        info["reward_scored"] = bool(getattr(result, "scored", True))
        return float(result.value)


def _is_fault(step: Step) -> bool:
    return step.error is not None and step.error.startswith(SEARCH_FAILED + ":")


__all__ = ["DeepSearchEnv", "EpisodeState", "OBSERVATION_MAX_CHARS", "SEARCH_FAILED", "search_failed"]
