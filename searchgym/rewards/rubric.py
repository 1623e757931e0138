"""Citation-aware rubric reward (CaRR, "Chaining the Evidence", Zhang et al. 2026).

Identify placeholders, ground filled rubrics in valid citations, connect them to ``<E0>`` by BFS, times
citation precision. See docs/rewards.md for the definition and the differences from CaRR's server.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from searchgym.grammar import placeholder, strip_citations
from searchgym.records.corpus import Document, Task
from searchgym.records.episode import OPEN, SEARCH, Trajectory
from searchgym.records.rubric import ANSWER_ENTITY, Rubric, placeholders
from searchgym.rewards.base import RewardResult
from searchgym.text import exact_match, find_name, mask_names, normalize_text

# ---------------------------------------------------------------------------------------------
# rubrics from gold hops


def _assign_placeholders(task: Task) -> list[str]:
    """One placeholder per hop: the answer entity is E0, other distinct entities E1, E2 ... in order."""
    answer_keys = {normalize_text(a) for a in task.answers} - {""}
    seen: dict[str, str] = {}
    out: list[str] = []
    for i, hop in enumerate(task.hops):
        keys = [k for k in (normalize_text(n) for n in hop.names) if k]
        last_of_chain = task.kind == "chain" and i == len(task.hops) - 1
        if last_of_chain or any(k in answer_keys for k in keys):
            out.append(ANSWER_ENTITY)
            continue
        known = next((seen[k] for k in keys if k in seen), None)
        placeholder = known or f"E{len(set(seen.values())) + 1}"
        for k in keys:
            seen.setdefault(k, placeholder)
        out.append(placeholder)
    return out


def _mentions(text: str, names: Sequence[str]) -> bool:
    return find_name(text, names) is not None


def hop_links(task: Task) -> tuple[list[str], list[list[str]]]:
    """Each hop's placeholder and the placeholders its rubric links it to (see ``rubrics_from_task``)."""
    marks = _assign_placeholders(task)
    names = _placeholder_names(task, marks)
    links: list[list[str]] = []
    for i, (hop, mark) in enumerate(zip(task.hops, marks)):
        found: list[str] = []
        if mark != ANSWER_ENTITY and _mentions(hop.question, names[ANSWER_ENTITY]):
            found.append(ANSWER_ENTITY)
        for j in range(i):
            other = marks[j]
            # a hop depends on an earlier hop whose *hidden* entity its question names; entities the
            # task question itself names are given, not evidence (HotpotQA comparison hops embed them)
            if other not in found and other != mark and other != ANSWER_ENTITY and \
                    _mentions(hop.question, names[other]) and not _mentions(task.question, names[other]):
                found.append(other)
        if task.kind == "chain" and i > 0 and not found and marks[i - 1] != mark:
            found.append(marks[i - 1])  # hop questions that do not name their predecessor
        links.append(found)
    if task.kind != "chain":
        for i, mark in enumerate(marks):
            terminal = not any(mark in links[k] for k in range(i + 1, len(marks)))
            if terminal and mark != ANSWER_ENTITY and ANSWER_ENTITY not in links[i]:
                links[i].append(ANSWER_ENTITY)  # a branch ends in the comparison/intersection at the answer
    return marks, links


def _placeholder_names(task: Task, marks: Sequence[str]) -> dict[str, tuple[str, ...]]:
    names: dict[str, tuple[str, ...]] = {ANSWER_ENTITY: tuple(task.answers)}
    for hop, mark in zip(task.hops, marks):
        names[mark] = tuple(dict.fromkeys(names.get(mark, ()) + hop.names))
    return names


def rubrics_from_task(task: Task) -> tuple[Rubric, ...]:
    """One rubric per gold hop, grounded exactly by the hop's ``support`` ids.

    Placeholders: the answer entity is ``<E0>`` (for ``chain`` tasks the last hop's entity always
    is); every other distinct hop entity (by normalised name) gets ``<E1>``, ``<E2>`` ... in hop
    order. Hop i's rubric states "``<Ei>`` answers <hop question>" and links ``<Ei>`` to:

    * ``<E0>`` when the hop question names the answer entity;
    * each earlier hop's *hidden* entity that the hop question names (hop questions name the entity
      they start from: "Who founded Korvane Industries?"); entities the task question itself names
      are given, not links;
    * ``chain``: if nothing was found, the previous hop's entity (HotpotQA/MuSiQue-style hop
      questions that do not name it). So chain rubrics form a path that BFS from ``<E0>`` walks back
      hop by hop; a break in it cuts off every earlier hop.
    * ``comparison`` / ``intersection`` (any non-chain kind): a hop that no later hop builds on ends
      a branch, and the branches meet at the answer, so it is also linked to ``<E0>`` (comparison
      sides, intersection constraints: a star of branches around ``<E0>``).

    The rubric text masks the linked entities' names with their placeholders (appending "(given
    <Ej>)" where the question does not name one), e.g. ``"<E2> answers: Where was <E1> born?"``.
    A task without hops has no rubrics.
    """
    marks, links = hop_links(task)
    names = _placeholder_names(task, marks)
    rubrics = []
    for i, (hop, mark) in enumerate(zip(task.hops, marks)):
        question = hop.question
        for other in links[i]:
            question = mask_names(question, names[other], placeholder(other))
        question = mask_names(question, names[mark], placeholder(mark))
        text = f"{placeholder(mark)} answers: {question}"
        missing = [m for m in links[i] if placeholder(m) not in text]
        if missing:
            text += " (" + ", ".join("given " + placeholder(m) for m in missing) + ")"
        used = placeholders(text)
        rubrics.append(Rubric(text=text, support=tuple(hop.support), hop=i,
                              names=tuple((p, names[p]) for p in used if p in names)))
    return tuple(rubrics)


# ---------------------------------------------------------------------------------------------
# grounding


@dataclass(frozen=True, slots=True)
class GroundingQuery:
    """Does ``evidence`` (cited documents the agent saw) fully support ``statement``?"""

    task: Task
    rubric: Rubric
    statement: str
    evidence: tuple[Document, ...]


@dataclass(frozen=True, slots=True)
class Grounding:
    """A verdict; ``doc_ids`` are the evidence documents it rests on."""

    supported: bool
    doc_ids: tuple[str, ...] = ()
    rationale: str = ""


@runtime_checkable
class Grounder(Protocol):
    """Decides, in a batch, whether cited evidence supports filled rubrics."""

    name: str

    def ground(self, queries: Sequence[GroundingQuery]) -> list[Grounding]: ...


@dataclass(frozen=True)
class GoldGrounder:
    """Exact grounding for gold-hop rubrics: supported iff an evidence id is a gold support id."""

    name: str = "gold"

    def ground(self, queries: Sequence[GroundingQuery]) -> list[Grounding]:
        out = []
        for q in queries:
            if not q.rubric.support:
                raise ValueError(f"rubric {q.rubric.text!r} has no gold support ids; ground it with a JudgeGrounder")
            hits = tuple(d.id for d in q.evidence if d.id in q.rubric.support)
            out.append(Grounding(bool(hits), hits, "cited gold evidence" if hits else "no cited document is gold evidence"))
        return out


@dataclass(frozen=True)
class JudgeGrounder:
    """Grounding by a ``searchgym.judges.base.Judge``: one ``support`` request per rubric.

    Supported iff the judge's score exceeds ``threshold`` (judges score in [-1, 1]). The evidence is
    the full text of the cited, seen documents. ``JudgeError`` propagates (the reward decides).
    """

    judge: Any
    threshold: float = 0.0
    principles: tuple[str, ...] = ()
    name: str = "judge"

    def ground(self, queries: Sequence[GroundingQuery]) -> list[Grounding]:
        from searchgym.judges.base import SUPPORT, JudgeRequest

        asked = [i for i, q in enumerate(queries) if q.evidence]
        requests = [JudgeRequest(kind=SUPPORT, question=queries[i].task.question, target=queries[i].statement,
                                 evidence=queries[i].evidence, principles=self.principles) for i in asked]
        verdicts = self.judge.judge(requests) if requests else []
        if len(verdicts) != len(requests):
            from searchgym.judges.base import JudgeError

            raise JudgeError(f"judge {getattr(self.judge, 'name', '?')} returned {len(verdicts)} verdicts for {len(requests)} requests")
        out = [Grounding(False, (), "no evidence")] * len(queries)
        for i, v in zip(asked, verdicts):
            ok = v.score > self.threshold
            out[i] = Grounding(ok, tuple(d.id for d in queries[i].evidence) if ok else (), v.rationale)
        return out


# ---------------------------------------------------------------------------------------------
# what the agent stated and cited


def agent_text(trajectory: Trajectory, scope: str = "trajectory") -> str:
    """The agent's own words: every turn's ``Step.text`` (or only the final turn's)."""
    steps = trajectory.steps if scope == "trajectory" else trajectory.steps[-1:]
    return "\n".join(s.text for s in steps)


def first_seen(trajectory: Trajectory) -> dict[str, int]:
    """For every seen document, the index of the turn whose observation first showed it.

    A document in ``trajectory.seen`` that no turn accounts for (shown by other means) maps to -1:
    seen from the start.
    """
    out: dict[str, int] = {}
    for i, step in enumerate(trajectory.steps):
        ids = step.hits if step.kind == SEARCH else (step.doc_id,) if step.kind == OPEN and step.doc_id else ()
        for doc_id in ids:
            out.setdefault(doc_id, i)
    seen = trajectory.seen_ids
    return {d: out.get(d, -1) for d in seen}


def check_citations(trajectory: Trajectory, scope: str = "trajectory") -> tuple[tuple[str, ...], dict[str, str]]:
    """Valid cited ids (seen, and seen before the citing turn), in order, and rejected ones with why."""
    when = first_seen(trajectory)
    start = 0 if scope == "trajectory" else max(len(trajectory.steps) - 1, 0)
    valid: dict[str, None] = {}
    rejected: dict[str, str] = {}
    for i in range(start, len(trajectory.steps)):
        for doc_id in trajectory.steps[i].citations:
            if doc_id not in when:
                rejected.setdefault(doc_id, "not seen in this episode")
            elif when[doc_id] >= i:
                rejected.setdefault(doc_id, f"cited at turn {i} before it was shown (turn {when[doc_id]})")
            else:
                valid[doc_id] = None
    for doc_id in valid:
        rejected.pop(doc_id, None)  # cited again later, once seen
    return tuple(valid), rejected


# ---------------------------------------------------------------------------------------------
# the reward


def connected_rubrics(entities: Sequence[Sequence[str]], supported: Sequence[bool]) -> set[int]:
    """Indices of supported rubrics reachable from ``<E0>`` through shared placeholders (BFS)."""
    by_entity: dict[str, list[int]] = {}
    for i, (ents, ok) in enumerate(zip(entities, supported)):
        if ok:
            for e in ents:
                by_entity.setdefault(e, []).append(i)
    reached_entities = {ANSWER_ENTITY}
    reached: set[int] = set()
    queue = deque([ANSWER_ENTITY])
    while queue:
        for i in by_entity.get(queue.popleft(), ()):
            if i in reached:
                continue
            reached.add(i)
            for e in entities[i]:
                if e not in reached_entities:
                    reached_entities.add(e)
                    queue.append(e)
    return reached


def entity_names(task: Task, rubrics: Sequence[Rubric]) -> dict[str, tuple[str, ...]]:
    """Accepted names per placeholder, merged over the rubrics; ``<E0>`` always accepts the answers."""
    names: dict[str, tuple[str, ...]] = {ANSWER_ENTITY: tuple(task.answers)}
    for r in rubrics:
        for key, forms in r.names:
            names[key] = tuple(dict.fromkeys(names.get(key, ()) + forms))
    return names


def identify(trajectory: Trajectory, names: Mapping[str, Sequence[str]], *, scope: str = "trajectory",
             answer_match: str = "exact") -> dict[str, str | None]:
    """The agent's name for each placeholder, or None where it never named it (see module doc)."""
    # citations go first: "[w0-1950]" must not name the year 1950. Normalised once (idempotent).
    text = normalize_text(strip_citations(agent_text(trajectory, scope)))
    final = trajectory.final_answer
    out: dict[str, str | None] = {}
    for key, forms in names.items():
        forms = tuple(forms)
        if key == ANSWER_ENTITY:
            if final is None:
                out[key] = None
            elif answer_match == "exact":
                out[key] = strip_citations(final).strip() if exact_match(final, forms) else None
            else:
                out[key] = find_name(strip_citations(final), forms)
        else:
            out[key] = find_name(text, forms)
    return out


RubricSource = Callable[[Task], Sequence[Rubric]]


@dataclass
class CitationRubricReward:
    """CaRR's rubric reward R_rubric (see module doc) with per-rubric details.

    ``rubrics``: where a task's rubrics come from (default ``rubrics_from_task``; a judge-backed
    generator can be plugged in). ``grounder``: for rubrics without gold support ids (required only
    when such rubrics occur). ``on_judge_error``: ``"raise"`` or ``"skip"`` (the result is then
    ``scored=False`` with value NaN; no score is invented).
    """

    rubrics: RubricSource = rubrics_from_task
    grounder: Grounder | None = None
    scope: str = "trajectory"
    citation_precision: bool = True
    answer_match: str = "exact"
    on_judge_error: str = "raise"
    name: str = "rubric"
    _gold: GoldGrounder = field(default_factory=GoldGrounder, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.scope not in ("trajectory", "final"):
            raise ValueError(f"scope must be 'trajectory' or 'final', got {self.scope!r}")
        if self.answer_match not in ("exact", "contains"):
            raise ValueError(f"answer_match must be 'exact' or 'contains', got {self.answer_match!r}")
        if self.on_judge_error not in ("raise", "skip"):
            raise ValueError(f"on_judge_error must be 'raise' or 'skip', got {self.on_judge_error!r}")

    def __call__(self, trajectory: Trajectory) -> RewardResult:
        task = trajectory.task
        rubrics = tuple(self.rubrics(task))
        valid, rejected = check_citations(trajectory, self.scope)
        citations = {"valid": list(valid), "rejected": rejected}
        if not rubrics:
            comps = {"rubric": 0.0, "n_rubrics": 0.0, "n_identified": 0.0, "n_supported": 0.0, "n_connected": 0.0,
                     "n_citations_valid": float(len(valid)), "n_citations_rejected": float(len(rejected))}
            return RewardResult(0.0, comps, {"reason": "no rubrics for this task", "citations": citations})
        unsupported = [r.text for r in rubrics if not r.support]
        if unsupported and self.grounder is None:
            # checked up front so the error does not depend on what the agent happened to do
            raise ValueError(f"task {task.id!r}: rubric(s) {unsupported} have no gold support ids and no grounder was "
                             "given; pass CitationRubricReward(grounder=JudgeGrounder(judge))")
        names = entity_names(task, rubrics)
        values = identify(trajectory, names, scope=self.scope, answer_match=self.answer_match)
        docs = trajectory.seen_by_id
        evidence = tuple(docs[d] for d in valid)

        rows: list[dict[str, Any]] = []
        gold_q: list[tuple[int, GroundingQuery]] = []
        judge_q: list[tuple[int, GroundingQuery]] = []
        for i, r in enumerate(rubrics):
            ents = r.entities
            ident = {e: values.get(e) for e in ents}
            row = {"index": i, "hop": r.hop, "rubric": r.text, "entities": list(ents), "identified": ident,
                   "all_identified": all(ident.values()), "filled": r.fill(values), "supported": False,
                   "grounded_by": [], "connected": False, "score": 0, "reason": ""}
            rows.append(row)
            if not row["all_identified"]:
                row["reason"] = "not identified: " + ", ".join(placeholder(e) for e, v in ident.items() if not v)
            elif not evidence:
                row["reason"] = "no valid citation"
            else:
                q = GroundingQuery(task, r, row["filled"], evidence)
                (gold_q if r.support else judge_q).append((i, q))

        verdicts = list(zip([i for i, _ in gold_q], self._gold.ground([q for _, q in gold_q])))
        if judge_q:
            from searchgym.judges.base import JudgeError

            try:
                verdicts += list(zip([i for i, _ in judge_q], self.grounder.ground([q for _, q in judge_q])))  # type: ignore[union-attr]
            except JudgeError as exc:
                if self.on_judge_error == "raise":
                    raise
                return RewardResult(math.nan, {"n_rubrics": float(len(rubrics))},
                                    {"reason": f"judge failed: {exc}", "rubrics": rows, "citations": citations}, scored=False)
        for i, g in verdicts:
            rows[i]["supported"] = g.supported
            rows[i]["grounded_by"] = list(g.doc_ids)
            rows[i]["reason"] = g.rationale

        reached = connected_rubrics([r.entities for r in rubrics], [row["supported"] for row in rows])
        for i in reached:
            rows[i]["connected"] = True
            rows[i]["score"] = 1
        for row in rows:
            if row["supported"] and not row["connected"]:
                row["reason"] = "supported but not connected to <E0>"
        n = len(rubrics)
        coverage = len(reached) / n
        # citation precision: cited documents that ground no supported rubric dilute the reward, so citing
        # everything seen never pays (an unseen or too-early citation counts against it too)
        grounding = {d for r in rubrics for d in r.support} | {d for row in rows if row["supported"]
                                                                for d in row["grounded_by"]}
        cited = len(valid) + len(rejected)
        precision = sum(1 for d in valid if d in grounding) / cited if cited else 0.0
        value = coverage * precision if self.citation_precision else coverage
        comps = {"rubric": value, "coverage": coverage, "citation_precision": precision, "n_rubrics": float(n),
                 "n_identified": float(sum(1 for row in rows if row["all_identified"])),
                 "n_supported": float(sum(1 for row in rows if row["supported"])),
                 "n_connected": float(len(reached)),
                 "n_citations_valid": float(len(valid)), "n_citations_rejected": float(len(rejected))}
        return RewardResult(value, comps, {"rubrics": rows, "entities": values, "citations": citations})


@dataclass(frozen=True)
class CitationValidityReward:
    """A bottom-line check: 1.0 when every citation is valid (seen before it was cited) and, with
    ``require_citation``, there is at least one; else 0.0. Meant as a ``Gated`` gate."""

    require_citation: bool = True
    scope: str = "trajectory"
    name: str = "citation_validity"

    def __call__(self, trajectory: Trajectory) -> RewardResult:
        valid, rejected = check_citations(trajectory, self.scope)
        ok = not rejected and (bool(valid) or not self.require_citation)
        comps = {"n_valid": float(len(valid)), "n_rejected": float(len(rejected))}
        return RewardResult(float(ok), comps, {"valid": list(valid), "rejected": rejected})


__all__ = [
    "ANSWER_ENTITY", "CitationRubricReward", "CitationValidityReward", "GoldGrounder", "Grounder", "Grounding",
    "GroundingQuery", "JudgeGrounder", "Rubric", "agent_text", "check_citations", "connected_rubrics",
    "entity_names", "first_seen", "hop_links", "identify", "placeholders", "rubrics_from_task",
]
