"""``gold``: a deterministic, privileged judge for data with gold hops (no model).

It reads the task's gold hops and the step's effect (``JudgeRequest.outcome``), so it MEASURES A STEP'S
EFFECT, unlike model judges; without a task it raises ``JudgeError``. See docs/rewards.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from searchgym.corpora.records import Task
from searchgym.grammar import ActionKind, agent_actions, strip_citations
from searchgym.judges.base import ANSWER, OPEN, QUERY, SUPPORT, JudgeError, JudgeRequest, Judgment
from searchgym.text import exact_match, f1_score, find_name, name_like_words, normalize_text

_YES_NO = {"yes", "no"}


def _content(text: str) -> set[str]:
    from searchgym.judges.rules import content_tokens

    return content_tokens(text)


def restates(text: str, question: str) -> bool:
    """Whether ``text`` says little more than the question itself (content-token Jaccard >= 0.9)."""
    from searchgym.judges.rules import RESTATE_JACCARD, jaccard

    tokens = _content(text)
    return bool(tokens) and jaccard(tokens, _content(question)) >= RESTATE_JACCARD


def _earlier(context: Sequence[str], kind: ActionKind) -> list[str]:
    """Queries (or opened ids) of the earlier agent turns, parsed by the env's own grammar."""
    return [a.argument for a in agent_actions(context) if a.kind == kind and a.argument]


def _facts_already_shown(r: JudgeRequest, task: Task) -> bool:
    """Whether every gold hop the opened document supports had its answer stated in an earlier turn or
    observation (a search snippet that was not cut short)."""
    hops = [h for h in task.hops if r.target in h.support]
    shown = "\n".join(r.context)
    return bool(hops) and all(find_name(shown, (h.answer, *h.aliases)) is not None for h in hops)


class GoldJudge:
    """Judges steps against a task's gold hops (see the module doc); ``name`` is ``"gold"``."""

    name = "gold"
    model = "gold-v1"

    def judge_one(self, r: JudgeRequest) -> Judgment:
        """The verdict on one request."""
        if r.kind == ANSWER:
            return self._answer(r)
        if r.kind == SUPPORT:
            raise JudgeError("gold judge: 'support' requests need a model or rules judge (no gold hop to check)")
        task = r.task
        if task is None or not task.hops:
            raise JudgeError(f"gold judge: a '{r.kind}' request needs the task with its gold hops (request.task)")
        if r.kind in (QUERY, OPEN):
            return self._gain(r, task)
        return self._think(r, task)

    def _gain(self, r: JudgeRequest, task: Task) -> Judgment:
        if not r.target.strip():
            return Judgment(-1.0, "empty action")
        if r.kind == QUERY:
            key = normalize_text(r.target)
            if any(normalize_text(q) == key for q in _earlier(r.context, ActionKind.SEARCH)):
                return Judgment(-1.0, "repeats an earlier query")
        elif r.target in _earlier(r.context, ActionKind.OPEN):
            return Judgment(-1.0, "opens a document it opened before")
        gold = set(task.support_ids)
        if r.kind == OPEN:  # an open brings the document's full text into view, beyond its search snippet
            if r.target not in gold or not r.outcome:
                return Judgment(-1.0, "opens no gold evidence")
            if _facts_already_shown(r, task):
                # reading in full a passage whose fact the agent already saw gains nothing; scored +1 it tied
                # with the search for the next hop, and SLATE training drifted to search, open, answer
                return Judgment(0.0, f"opens {r.target}, whose gold fact it had already seen")
            return Judgment(1.0, f"opens gold evidence {r.target} in full")
        shown_gold = [i for i in r.outcome if i in gold]
        new = [i for i in shown_gold if i not in r.seen_ids]
        if r.context and restates(r.target, task.question):  # after the first turn: decompose, don't restate
            return Judgment(0.0 if new else -1.0, "restates the question instead of asking for the missing fact")
        if new:
            return Judgment(1.0, f"brings unseen gold evidence into view: {', '.join(new)}")
        if shown_gold:
            return Judgment(0.0, "shows only gold evidence seen before")
        return Judgment(-1.0, "shows no gold evidence")

    def _think(self, r: JudgeRequest, task: Task) -> Judgment:
        text = strip_citations(r.target)
        if not _content(text):
            return Judgment(-1.0, "empty reasoning")
        if restates(text, task.question):
            return Judgment(-1.0, "restates the question")
        uncovered, hidden = entity_status(task, r.seen_ids)
        named_hidden = [n for n in hidden if find_name(text, (n,))]
        if named_hidden:
            return Judgment(-1.0, f"names {named_hidden[0]!r}, which the evidence seen so far does not show")
        unknown = unsupported_names(text, r)
        if unknown:
            return Judgment(-1.0, f"names {unknown[0]!r}, found neither in the question nor in anything shown")
        off_path = off_path_names(text, task, uncovered)
        if off_path:
            return Judgment(0.0, f"names {off_path[0]!r}, an entity off the gold path")
        if any(find_name(text, (n,)) for n in uncovered):
            return Judgment(1.0, "builds on an entity the search uncovered")
        if _content(text) & _content(task.question):
            return Judgment(1.0, "plans from the question")
        return Judgment(0.0, "neither about the question nor about what was found")

    def _answer(self, r: JudgeRequest) -> Judgment:
        golds = [g for g in (r.reference or "").split(" || ") if g.strip()]
        if not golds and r.task is not None:
            golds = list(r.task.answers)
        if not golds:
            raise JudgeError("gold judge: an answer request needs a reference answer or the task")
        if exact_match(r.target, golds):
            return Judgment(1.0, "exact match with the gold answer")
        f1 = f1_score(r.target, golds)
        return Judgment(0.0 if f1 >= 0.5 else -1.0, f"token F1 {f1:.2f} with the gold answer")

    def judge(self, requests: Sequence[JudgeRequest]) -> list[Judgment]:
        """Verdicts for ``requests``, in order."""
        return [self.judge_one(r) for r in requests]

    async def ajudge(self, requests: Sequence[JudgeRequest]) -> list[Judgment]:
        """Async twin of ``judge`` (the work is CPU-only and fast)."""
        await asyncio.sleep(0)
        return self.judge(requests)




def unsupported_names(text: str, r: JudgeRequest) -> list[str]:
    """Capitalised words (names, in English) and numbers of ``text`` that the question, the earlier turns
    and the evidence never state: a claim about an entity nothing shown so far backs."""
    from searchgym.judges.rules import STOP

    known = _content(r.question)
    for part in (*r.context, *(d.contents for d in r.evidence)):
        known |= _content(part)
    out = []
    for word in name_like_words(text):
        tokens = _content(word)
        if tokens and not tokens <= known and not tokens <= STOP:
            out.append(word)
    return out


def off_path_names(text: str, task: Task, uncovered: Sequence[str]) -> list[str]:
    """Capitalised words and numbers of ``text`` that neither the question nor an uncovered gold entity
    contains."""
    from searchgym.judges.rules import STOP

    allowed = _content(task.question) | STOP
    for name in uncovered:
        allowed |= _content(name)
    return [w for w in name_like_words(text) if _content(w) and not _content(w) <= allowed]


def entity_status(task: Task, seen_ids: frozenset[str] | set[str]) -> tuple[list[str], list[str]]:
    """(uncovered, hidden) entity names of a task given the ids seen so far (see the module doc).

    Names the question itself states, and yes/no answers, are neither: they are given, not found.
    """
    def given(name: str) -> bool:
        return normalize_text(name) in _YES_NO or find_name(task.question, (name,)) is not None

    uncovered: list[str] = []
    hidden: list[str] = []
    for hop in task.hops:
        bucket = uncovered if any(s in seen_ids for s in hop.support) else hidden
        bucket.extend(n for n in hop.names if not given(n))
    uncovered_set = set(uncovered)
    answer_found = any(normalize_text(a) in {normalize_text(u) for u in uncovered_set} for a in task.answers)
    if not answer_found:
        hidden.extend(a for a in task.answers if not given(a))
    hidden = [n for n in dict.fromkeys(hidden) if n not in uncovered_set]
    return list(dict.fromkeys(uncovered)), hidden


__all__ = ["GoldJudge", "entity_status", "restates"]
