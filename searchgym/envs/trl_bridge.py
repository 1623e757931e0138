"""``DeepSearchEnv`` as tool methods for ``GRPOTrainer(environment_factory=...)`` (trl >= 1.x).

For tool-calling models; the text-action path through ``rollout_func`` remains the main training path.
See docs/training.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from searchgym.corpora.records import Task
from searchgym.grammar import ActionKind, action_text

TOOL_INSTRUCTIONS = (
    "Answer the question by searching the corpus with the `search` tool, reading documents with the `open` "
    "tool, and finishing with the `answer` tool. Cite the documents that support each fact as [doc_id] in "
    "your answer."
)


class DeepSearchToolEnv:
    """One ``DeepSearchEnv`` episode per rollout, driven through the tools ``search``, ``open``, ``answer``.

    ``env_factory()`` builds the underlying env (each instance owns one; the searcher is shared).
    ``reward`` (a searchgym ``Reward``) scores the trajectory in ``get_reward``; without one the
    env's own step rewards are summed.
    """

    def __init__(self, env_factory: Callable[[], Any], reward: Any | None = None) -> None:
        self._env = env_factory()
        self._reward = reward
        self._done = True
        self._env_reward = 0.0
        self._started = False

    # --- TRL hooks -------------------------------------------------------------------------
    def reset(self, **row: Any) -> str:
        """Start the episode of the row's task (column ``task_id``; otherwise the env picks one)."""
        task_id = row.get("task_id")
        options = {"task_id": task_id} if task_id else None
        self._env.reset(options=options)
        self._done = False
        self._env_reward = 0.0
        self._started = True
        return "\n\n" + TOOL_INSTRUCTIONS

    def get_reward(self) -> float:
        """The rollout's reward: the configured reward on the trajectory, else the env's step rewards."""
        if not self._started:
            raise RuntimeError("get_reward() before reset()")
        if self._reward is not None:
            return float(self._reward(self._env.trajectory).value)
        return float(self._env_reward)

    # --- tools (public methods: TRL exposes each one to the model) ---------------------------
    def search(self, query: str) -> str:
        """Search the corpus and return the best matching passages with their document ids.

        Args:
            query: A short keyword query about one fact.

        Returns:
            The top passages, each with its document id.
        """
        return self._act(ActionKind.SEARCH, query)

    def open(self, doc_id: str) -> str:
        """Open one document by id and return its full text.

        Args:
            doc_id: The id of a document returned by search.

        Returns:
            The document text.
        """
        return self._act(ActionKind.OPEN, doc_id)

    def answer(self, text: str) -> str:
        """Give the final answer, citing supporting documents as [doc_id]. Ends the episode.

        Args:
            text: The final answer with citations, e.g. "Paris [w0-12]".

        Returns:
            A confirmation that the episode is over.
        """
        return self._act(ActionKind.ANSWER, text)

    # --- helpers (private: not tools) ---------------------------------------------------------
    def _act(self, kind: ActionKind, argument: Any) -> str:
        if not self._started:
            raise RuntimeError("a tool was called before reset()")
        if self._done:
            return "The episode is over; no more tool calls are accepted."
        # tool arguments come from the model: action_text drops any action tag in them, so an argument
        # can neither forge a second action nor close this one early
        text = action_text(kind, str(argument if argument is not None else ""))
        observation, reward, terminated, truncated, _info = self._env.step(text)
        self._env_reward += float(reward or 0.0)
        self._done = bool(terminated or truncated)
        return str(observation)

    @property
    def trajectory(self):
        """The episode so far (``searchgym.envs.trajectory.Trajectory``)."""
        return self._env.trajectory

    @property
    def done(self) -> bool:
        return self._done


def tool_env_factory(tasks: Sequence[Task], searcher: Any, reward: Any | None = None, **env_kwargs: Any):
    """A zero-argument factory for ``GRPOTrainer(environment_factory=...)`` over tasks and a searcher."""

    def factory() -> DeepSearchToolEnv:
        from searchgym.envs import DeepSearchEnv

        return DeepSearchToolEnv(lambda: DeepSearchEnv(tasks, searcher, **env_kwargs), reward=reward)

    return factory


def tool_dataset(tasks: Sequence[Task]):
    """A conversational dataset for the bridge: the question as the user turn, ``task_id`` for ``reset``."""
    from datasets import Dataset

    return Dataset.from_dict(
        {"prompt": [[{"role": "user", "content": t.question}] for t in tasks], "task_id": [t.id for t in tasks]}
    )


def use_chatml_tool_template(tokenizer: Any) -> Any:
    """Give a ChatML tokenizer (SmolLM2) TRL's Qwen2.5 tool-calling template, which TRL can parse."""
    from trl.chat_template_utils import qwen2_5_chat_template

    for token in ("<|im_start|>", "<|im_end|>"):
        if tokenizer.convert_tokens_to_ids(token) in (None, tokenizer.unk_token_id):
            raise ValueError(f"tokenizer has no {token} token: not a ChatML tokenizer")
    tokenizer.chat_template = qwen2_5_chat_template
    return tokenizer


def tool_schemas(env: DeepSearchToolEnv) -> list[dict]:
    """The JSON schemas transformers (hence TRL) derives from the tool methods' signatures and docstrings."""
    from transformers.utils import get_json_schema  # pyright: ignore[reportPrivateImportUsage]  (a lazy export)

    return [get_json_schema(getattr(env, name)) for name in ("search", "open", "answer")]


__all__ = [
    "DeepSearchToolEnv",
    "TOOL_INSTRUCTIONS",
    "tool_dataset",
    "tool_env_factory",
    "tool_schemas",
    "use_chatml_tool_template",
]
