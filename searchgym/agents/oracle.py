"""``OraclePolicy``: a scripted agent that follows a task's gold hops, using only what the env shows it.

For each hop it searches the hop's sub-question (which names the previous hop's entity), looks for a
supporting document among the results, opens it when the hop's entity is not visible in the
truncated passage, and finally answers citing the support documents it found. It knows the gold
decomposition but never uses a document id it has not been shown: when no support document of a hop
comes up in the top-k results it gives up (answers "unknown"), so its solve rate measures the
retrieval difficulty of a corpus and searcher.

The policy is stateless: each call replays the conversation (the env's ``messages``) to know where
it stands, so it works with any sampler and with forked envs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from searchgym.agents.policy import Completion, Message
from searchgym.corpora.records import Hop, Task
from searchgym.envs.actions import parse_action
from searchgym.envs.prompts import parse_hits, question_from_prompt

GIVE_UP = "unknown"


def _visible(hop: Hop, text: str) -> bool:
    low = text.lower()
    return any(name.lower() in low for name in hop.names)


@dataclass
class _Progress:
    hop: int = 0
    found: tuple[str, ...] = ()  # support id per solved hop
    pending_open: str | None = None
    stuck: bool = False
    titles: dict[str, str] = field(default_factory=dict)  # titles of the documents shown


class OraclePolicy:
    """Follows the gold hops of the task whose question opens the conversation (see module doc)."""

    def __init__(self, tasks: Sequence[Task]) -> None:
        tasks = getattr(tasks, "tasks", tasks)
        self._by_question: dict[str, Task] = {}
        for task in tasks:
            self._by_question.setdefault(task.question.strip(), task)

    def task_for(self, conversation: Sequence[Message]) -> Task | None:
        """The task whose question is the first user message of ``conversation``."""
        first = next((m["content"] for m in conversation if m.get("role") == "user"), None)
        if first is None:
            return None
        return self._by_question.get(question_from_prompt(first).strip())

    def generate(self, conversations: Sequence[Sequence[Message]], n: int = 1) -> list[list[Completion]]:
        """The oracle's next turn for each conversation (deterministic: ``n`` identical copies)."""
        return [[Completion(text)] * n for text in (self.next_turn(c) for c in conversations)]

    def next_turn(self, conversation: Sequence[Message]) -> str:
        task = self.task_for(conversation)
        if task is None:
            return f"I do not know this question. <answer>{GIVE_UP}</answer>"
        if not task.hops:
            return f"This task has no gold hops to follow. <answer>{GIVE_UP}</answer>"
        progress = self._replay(task, conversation)
        if progress.stuck:
            hop = task.hops[progress.hop]
            return f"No result supports: {hop.question} <answer>{GIVE_UP}</answer>"
        if progress.pending_open is not None:
            title = progress.titles.get(progress.pending_open) or progress.pending_open
            return f"The passage on {title} is cut short; reading it in full. <open>{progress.pending_open}</open>"
        if progress.hop < len(task.hops):
            return f"Next: {task.hops[progress.hop].question} <search>{task.hops[progress.hop].question}</search>"
        facts = " ".join(f"{h.answer} [{doc_id}]." for h, doc_id in zip(task.hops, progress.found))
        cites = " ".join(f"[{doc_id}]" for doc_id in dict.fromkeys(progress.found))
        return f"<think>{facts}</think> <answer>{task.answer} {cites}</answer>"

    @staticmethod
    def _replay(task: Task, conversation: Sequence[Message]) -> _Progress:
        progress = _Progress()
        turns = [m for m in conversation if m.get("role") in ("assistant", "user")]
        # pairs of (assistant turn, the observation that answered it)
        for i, message in enumerate(turns):
            if message["role"] != "assistant" or i + 1 >= len(turns) or progress.hop >= len(task.hops):
                continue
            action, observation = parse_action(message["content"]), turns[i + 1]["content"]
            hop = task.hops[progress.hop]
            hits = parse_hits(observation)
            shown = {doc_id: text for doc_id, _title, text in hits}
            progress.titles.update((doc_id, title) for doc_id, title, _text in hits)
            if action.kind == "search":
                support = next((d for d in hop.support if d in shown), None)
                if support is None:
                    progress.stuck = True
                elif _visible(hop, shown[support]):
                    progress.found += (support,)
                    progress.hop += 1
                else:
                    progress.pending_open = support
            elif action.kind == "open" and action.doc_id == progress.pending_open:
                progress.pending_open = None
                if action.doc_id in shown:
                    progress.found += (action.doc_id,)
                    progress.hop += 1
                else:
                    progress.stuck = True
        return progress


__all__ = ["GIVE_UP", "OraclePolicy"]
