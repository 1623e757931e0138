"""``OraclePolicy``: a scripted agent that knows the answer and follows a task's gold hops, using only
what the env shows it (stateless: it replays the conversation). Its solve rate measures how hard a
corpus and a searcher make the gold evidence to reach; its solved episodes are the warm start's
demonstrations. See docs/training.md ("The oracle").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from searchgym.corpora.records import Document, Hop, Task
from searchgym.envs.actions import parse_action
from searchgym.envs.prompts import parse_hits, question_from_prompt
from searchgym.policies.policy import Completion, Message

GIVE_UP = "unknown"


def _visible(hop: Hop, text: str) -> bool:
    low = text.lower()
    return any(name.lower() in low for name in hop.names if name.strip())


@dataclass
class _Progress:
    hop: int = 0
    attempt: int = 0  # failed searches for the current hop
    found: list[str] = field(default_factory=list)  # support id per solved hop
    pending_open: str | None = None
    shown: dict[str, str] = field(default_factory=dict)  # every doc shown so far -> the text shown
    opened: set[str] = field(default_factory=set)
    unreadable: set[str] = field(default_factory=set)  # opens that failed: not retried


_SLUG_SUFFIX = re.compile(r"-\d+$")
_WHICH_PERSON = re.compile(r"^\s*which person\s+(.+?)\??\s*$", re.IGNORECASE)


def first_clause(question: str) -> str | None:
    """The first constraint of an intersection question ("Which person directed a film produced by X and
    attended Y?" -> "directed a film produced by X"), or ``None`` for another shape of question.

    An intersection's first gold hop names a work the question never mentions ("Who directed the film
    Z?"); searching for it would teach a cloned model to invent titles, so the oracle searches the clause."""
    match = _WHICH_PERSON.match(question)
    if match is None:
        return None
    clause = re.split(r",\s+|\s+and\s+", match.group(1), maxsplit=1)[0].strip()
    return clause or None


class OraclePolicy:
    """Follows the gold hops of the task whose question opens the conversation (see module doc)."""

    def __init__(self, tasks: Sequence[Task] | Any, searcher: Any = None, *,
                 documents: Sequence[Document] | None = None) -> None:
        if documents is None:
            documents = getattr(tasks, "documents", None)  # a TaskSet carries its corpus
        tasks = getattr(tasks, "tasks", tasks)
        self._by_question: dict[str, Task] = {}
        for task in tasks:
            self._by_question.setdefault(task.question.strip(), task)
        self._searcher = searcher
        self._titles: dict[str, str] = {}
        if documents is not None:
            support = {d for t in tasks for d in t.support_ids}
            self._titles = {d.id: d.title for d in documents if d.id in support}

    def task_for(self, conversation: Sequence[Message]) -> Task | None:
        """The task whose question is the first user message of ``conversation``."""
        first = next((m["content"] for m in conversation if m.get("role") == "user"), None)
        if first is None:
            return None
        return self._by_question.get(question_from_prompt(first).strip())

    def generate(self, conversations: Sequence[Sequence[Message]], n: int = 1) -> list[list[Completion]]:
        """The oracle's next turn for each conversation (deterministic: ``n`` identical copies)."""
        return [[Completion(text)] * n for text in (self.next_turn(c) for c in conversations)]

    def title(self, doc_id: str) -> str | None:
        """The title of a gold document (see the module doc for where it comes from)."""
        if doc_id in self._titles:
            return self._titles[doc_id] or None
        title = None
        if self._searcher is not None:
            try:
                doc = self._searcher.doc(doc_id)
            except Exception:  # a remote searcher may be down or fail: fall back to the id
                doc = None
            title = doc.title if doc is not None else None
        if not title and re.search(r"[A-Za-z]{3}", doc_id) and not re.fullmatch(r"w\d+-\d+", doc_id):
            title = _SLUG_SUFFIX.sub("", doc_id).replace("_", " ")
        self._titles[doc_id] = title or ""
        return title or None

    def queries(self, hop: Hop) -> list[str]:
        """The searches tried for a hop, in order: its question, then retries built from the title of
        its supporting document (or, without a title, the question with the hop's entity)."""
        plan = [hop.question]
        title = next((t for t in (self.title(d) for d in hop.support) if t), None)
        if title:
            plan += [title, f"{title} {hop.question}", f"{title} {hop.answer}"]
        else:
            plan.append(f"{hop.question} {hop.answer}")
        return list(dict.fromkeys(q.strip() for q in plan if q.strip()))

    def next_turn(self, conversation: Sequence[Message]) -> str:
        task = self.task_for(conversation)
        if task is None:
            return f"I do not know this question. <answer>{GIVE_UP}</answer>"
        if not task.hops:
            return f"This task has no gold hops to follow. <answer>{GIVE_UP}</answer>"
        progress = self._replay(task, conversation)
        if progress.pending_open is not None:
            # the reasoning names what it reads: a judge can tell it is about the question
            title = self.title(progress.pending_open) or progress.pending_open
            return f"The passage on {title} is cut short; reading it in full. <open>{progress.pending_open}</open>"
        if progress.hop < len(task.hops):
            hop = task.hops[progress.hop]
            plan = self.queries(hop)
            clause = first_clause(task.question) if task.kind == "intersection" and progress.hop == 0 else None
            if clause is not None:
                plan = [clause, *plan]
            if progress.attempt >= len(plan):
                return f"No result supports: {hop.question} <answer>{GIVE_UP}</answer>"
            query = plan[progress.attempt]
            if clause is not None and progress.attempt == 0:
                return f"Next: who {clause}? <search>{query}</search>"
            # the reasoning restates the last fact found, with its citation: the next query is built from
            # it, so a model cloning these turns learns to carry the entity over from the observation
            found = ""
            if progress.hop:
                last = task.hops[progress.hop - 1]
                found = f"{last.question} {last.answer} [{progress.found[-1]}]. "
            why = "Next" if progress.attempt == 0 else "Not found yet; searching by the page title"
            return f"{found}{why}: {hop.question} <search>{query}</search>"
        # the facts alone, not their questions too: with them a two-hop answer turn took 98 tokens, past the
        # 96 that bench_learning generates per turn, and the cloned model's answers were cut off (answered 0.23)
        facts = " ".join(f"{h.answer} [{doc_id}]." for h, doc_id in zip(task.hops, progress.found))
        cites = " ".join(f"[{doc_id}]" for doc_id in dict.fromkeys(progress.found))
        return f"<think>{facts}</think> <answer>{task.answer} {cites}</answer>"

    @staticmethod
    def _advance(task: Task, progress: _Progress) -> None:
        """Solve the following hops whose support an earlier observation already showed."""
        while progress.hop < len(task.hops) and progress.pending_open is None:
            hop = task.hops[progress.hop]
            support = next((d for d in hop.support if d in progress.shown and d not in progress.unreadable), None)
            if support is None:
                return
            if support in progress.opened or _visible(hop, progress.shown[support]):
                progress.found.append(support)
                progress.hop += 1
                progress.attempt = 0
            else:
                progress.pending_open = support

    def _replay(self, task: Task, conversation: Sequence[Message]) -> _Progress:
        progress = _Progress()
        turns = [m for m in conversation if m.get("role") in ("assistant", "user")]
        # pairs of (assistant turn, the observation that answered it)
        for i, message in enumerate(turns):
            if message["role"] != "assistant" or i + 1 >= len(turns):
                continue
            action, observation = parse_action(message["content"]), turns[i + 1]["content"]
            shown = {doc_id: text for doc_id, _title, text in parse_hits(observation)}
            if action.kind == "open" and action.doc_id in shown:
                progress.opened.add(action.doc_id)
                progress.shown[action.doc_id] = shown[action.doc_id]
            else:
                for doc_id, text in shown.items():
                    progress.shown.setdefault(doc_id, text)
            if progress.hop >= len(task.hops):
                continue
            if action.kind == "search":
                hop = task.hops[progress.hop]
                if not any(d in shown for d in hop.support):
                    progress.attempt += 1
            elif action.kind == "open" and action.doc_id is not None and action.doc_id == progress.pending_open:
                progress.pending_open = None
                if action.doc_id not in shown:  # the open failed: search again
                    progress.unreadable.add(action.doc_id)
                    progress.attempt += 1
            self._advance(task, progress)
        return progress


__all__ = ["GIVE_UP", "OraclePolicy", "first_clause"]
