"""``rules``: a deterministic judge without a model, cheap enough for every step of every branch.

Ternary verdicts from token overlap with the question, earlier turns and evidence, so ungrounded
agent text can only lower a score. See docs/rewards.md for the thresholds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from searchgym.grammar import ActionKind, agent_actions, strip_citations, strip_placeholders
from searchgym.judges.base import ANSWER, OPEN, QUERY, SUPPORT, JudgeError, JudgeRequest, Judgment
from searchgym.text import exact_match, f1_score, normalize_text

STOP = frozenset(
    "a an the of in on at to for from by with and or but is are was were be been being it its this that these "
    "those who whom whose which what when where why how did do does done has have had i we you he she they "
    "me my our your his her their them as into than then so if not no yes about also can could would should "
    "will shall may might must there here any all some one let s need find know search answer question".split()
    # discourse words of a plan ("next", "reading the full passage"): they claim no fact
    + "next first then now passage reading read full cut short open look".split()
)
RESTATE_JACCARD = 0.9  # content-token overlap with the question at which a text restates it (rules and gold)
REFERENCE_SEP = " || "
MAX_QUERY_TOKENS = 12  # longer is not a search query (searchability); injected payloads land here


def content_tokens(text: str) -> set[str]:
    """Normalised tokens minus stop words."""
    return {t for t in normalize_text(text).split() if t not in STOP}


def jaccard(a: set[str], b: set[str]) -> float:
    """Jaccard similarity of two token sets (1.0 when both are empty)."""
    return len(a & b) / len(a | b) if a | b else 1.0


class RulesJudge:
    """Deterministic lexical judge (see module docstring); ``name`` is ``"rules"``."""

    name = "rules"
    model = "rules-v1"

    def judge_one(self, r: JudgeRequest) -> Judgment:
        """The verdict on one request."""
        if r.kind == ANSWER:
            return self._answer(r)
        if r.kind == SUPPORT:
            return self._support(r)
        if r.kind == OPEN:
            return self._open(r)
        question = content_tokens(r.question)
        evidence = set().union(*(content_tokens(d.contents) for d in r.evidence)) if r.evidence else set()
        context = set().union(*(content_tokens(c) for c in r.context)) if r.context else set()
        known = question | evidence | context
        target = content_tokens(strip_citations(r.target))
        if r.kind == QUERY:
            return self._query(r, target, question, evidence, known)
        return self._think(target, question, evidence, known)

    def _query(self, r, target, question, evidence, known) -> Judgment:
        if not target:
            return Judgment(-1.0, "empty query")
        earlier = [content_tokens(a.query or "") for a in agent_actions(r.context) if a.kind == ActionKind.SEARCH]
        anchored = target & known
        # a repeat adds no grounded token to some earlier query (padding it with junk does not help)
        repeat = any(anchored <= e for e in earlier) or max((jaccard(target, e) for e in earlier), default=0) >= 0.8
        grounded = len(anchored) / len(target)
        searched = set().union(*earlier) if earlier else set()
        new_info = bool(target & (question | evidence) - searched)
        why = f"grounding={grounded:.2f} repeat={repeat} tokens={len(target)}"
        if repeat or grounded < 0.5 or len(target) > MAX_QUERY_TOKENS:
            return Judgment(-1.0, "repeat, ungrounded or unsearchably long query; " + why)
        if jaccard(target, question) >= RESTATE_JACCARD:
            return Judgment(0.0, "restates the question instead of asking for one missing fact; " + why)
        if new_info:
            return Judgment(1.0, "specific, grounded, new query; " + why)
        return Judgment(0.0, "weak query; " + why)

    def _open(self, r: JudgeRequest) -> Judgment:
        doc_id = r.target.strip()
        shown = {d.id: d for d in r.evidence}
        earlier = {a.doc_id for a in agent_actions(r.context) if a.kind == ActionKind.OPEN}
        if doc_id not in shown and doc_id not in r.seen_ids:
            return Judgment(-1.0, "opens a document that was never shown")
        if doc_id in earlier:
            return Judgment(-1.0, "opens a document it opened before")
        doc = shown.get(doc_id)
        if doc is not None and content_tokens(doc.contents) & content_tokens(r.question):
            return Judgment(1.0, "opens a shown document about the question")
        return Judgment(0.0, "opens a shown document")

    def _think(self, target, question, evidence, known) -> Judgment:
        if not target:
            return Judgment(-1.0, "empty reasoning")
        faithful = len(target & known) / len(target)
        relevant = bool(target & (question | evidence))
        why = f"faithfulness={faithful:.2f} relevant={relevant}"
        if not relevant or faithful < 0.5:
            return Judgment(-1.0, "irrelevant or ungrounded reasoning; " + why)
        if jaccard(target, question) >= RESTATE_JACCARD:
            return Judgment(0.0, "restates the question; " + why)
        if faithful >= 0.75 and len(target) >= 2:
            return Judgment(1.0, "relevant, grounded reasoning; " + why)
        return Judgment(0.0, "partly grounded reasoning; " + why)

    def _answer(self, r: JudgeRequest) -> Judgment:
        if not r.reference or not r.reference.strip():
            raise JudgeError("rules judge: an answer request needs a reference answer")
        golds = [g for g in r.reference.split(REFERENCE_SEP) if g.strip()]
        if exact_match(r.target, golds):
            return Judgment(1.0, "exact match with the reference")
        f1 = f1_score(r.target, golds)
        return Judgment(0.0 if f1 >= 0.5 else -1.0, f"token F1 {f1:.2f} with the reference")

    def _support(self, r: JudgeRequest) -> Judgment:
        target = content_tokens(strip_placeholders(r.target))
        if not r.evidence:
            return Judgment(-1.0, "no evidence")
        if not target:
            return Judgment(-1.0, "empty statement")
        evidence = set().union(*(content_tokens(d.contents) for d in r.evidence))
        share = len(target & evidence) / len(target)
        score = 1.0 if share >= 0.8 else 0.0 if share >= 0.5 else -1.0
        return Judgment(score, f"{share:.2f} of the statement's tokens are in the evidence")

    def judge(self, requests: Sequence[JudgeRequest]) -> list[Judgment]:
        """Verdicts for ``requests``, in order."""
        return [self.judge_one(r) for r in requests]

    async def ajudge(self, requests: Sequence[JudgeRequest]) -> list[Judgment]:
        """Async twin of ``judge`` (the work is CPU-only and fast)."""
        await asyncio.sleep(0)
        return self.judge(requests)
