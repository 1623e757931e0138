"""HotpotQA (Yang et al., 2018) as a ``TaskSet``.

Reads the published ``hotpot_*_v1.json`` files and the Hub rows through one :func:`hotpotqa_from_rows`.
HotpotQA has no decomposition: hops are a documented approximation from the two supporting
paragraphs. See docs/datasets.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from searchgym.corpora.building import DocumentPool, hop_templates_entry, tasks_from_rows
from searchgym.corpora.fields import facts_of, paragraphs_of
from searchgym.corpora.reading import CorpusFormatError, read_records, record_error
from searchgym.corpora.records import Hop, Task
from searchgym.corpora.taskset import TaskSet
from searchgym.text import clean_title, display_name, is_yes_no, mentions, mentions_title, same_entity

SOURCE = "hotpotqa"


def load_hotpotqa(path: str | os.PathLike[str], *, limit: int | None = None) -> TaskSet:
    """Load a HotpotQA file (JSON array or JSON lines, optionally gzipped)."""
    return hotpotqa_from_rows(read_records(path), limit=limit, origin=str(path))


def hotpotqa_from_rows(
    rows: Iterable[Mapping[str, Any]], *, limit: int | None = None, origin: str = "hotpotqa rows"
) -> TaskSet:
    """Map HotpotQA rows (file records or ``datasets`` rows) to a ``TaskSet``."""
    return tasks_from_rows(rows, lambda row, index, pool: task_from_row(row, index, pool, origin),
                           source=SOURCE, origin=origin, limit=limit)


def _field(row: Mapping[str, Any], index: int, origin: str, *names: str) -> Any:
    for name in names:
        if name in row and row[name] is not None:
            return row[name]
    raise record_error(origin, index, row, f"missing field {names[0]!r}")


def task_from_row(row: Mapping[str, Any], index: int, pool: DocumentPool, origin: str) -> Task:
    """One HotpotQA-layout record as a ``Task``; its paragraphs go into ``pool``."""
    if not isinstance(row, Mapping):
        raise record_error(origin, index, row, "expected a JSON object")
    task_id = str(_field(row, index, origin, "_id", "id"))
    question = str(_field(row, index, origin, "question")).strip()
    answer = str(_field(row, index, origin, "answer")).strip()
    if not question:
        raise record_error(origin, index, row, "empty question")
    if not answer:
        raise record_error(origin, index, row, "empty answer (an unlabelled test split cannot be loaded)")
    try:
        paragraphs = paragraphs_of(_field(row, index, origin, "context"))
        facts = facts_of(_field(row, index, origin, "supporting_facts"))
    except ValueError as exc:
        raise record_error(origin, index, row, str(exc)) from None
    if not facts:
        raise record_error(origin, index, row, "no supporting facts")

    ids: dict[str, str] = {}
    texts: dict[str, str] = {}
    for title, sentences in paragraphs:
        text = "".join(sentences).strip()
        # a title repeated inside one record keeps its first paragraph as the one facts point to
        ids.setdefault(title, pool.add(title, text))
        texts.setdefault(title, text)

    support_titles = list(dict.fromkeys(t for t, _ in facts))
    missing = [t for t in support_titles if t not in ids]
    if missing:
        raise record_error(
            origin, index, row,
            f"supporting paragraph(s) {missing} not in the record's context "
            "(fullwiki files do not hold the gold paragraphs; use the distractor setting)",
        )

    qtype = str(row.get("type") or "")
    # Some records typed "bridge" are comparisons ("Who is older, Annie Morton or Terry
    # Richardson?"): the question names both entities and the answer is one of them or yes/no.
    disguised = (
        len(support_titles) == 2
        and all(mentions(question, display_name(t)) for t in support_titles)
        and (is_yes_no(answer) or any(same_entity(answer, t) for t in support_titles))
    )
    if qtype == "comparison" or disguised:
        kind = "comparison"
        hops, templates = _comparison_hops(question, support_titles, ids)
    elif len(support_titles) == 2:
        kind = "chain"
        hops, templates = _bridge_hops(question, answer, support_titles, ids, texts)
    else:
        kind = "chain"
        hops, templates = _chain_hops(question, answer, support_titles, ids)

    metadata = (("type", qtype), ("level", str(row.get("level") or "")), hop_templates_entry(templates))
    return Task(
        id=task_id, question=question, answers=(answer,), hops=tuple(hops),
        source=SOURCE, kind=kind, metadata=metadata,
    )


def _entity_hop(question: str, title: str, doc_id: str) -> Hop:
    name = display_name(title)
    full = clean_title(title)
    return Hop(question=question, answer=name, aliases=(full,) if full != name else (), support=(doc_id,))


def _comparison_hops(question: str, titles: list[str], ids: dict[str, str]) -> tuple[list[Hop], list[str]]:
    hops = []
    for title in titles:
        q = f"Find the passage about {display_name(title)} for the comparison: {question}"
        hops.append(_entity_hop(q, title, ids[title]))
    return hops, [h.question for h in hops]


def bridge_order(question: str, answer: str, titles: list[str], texts: dict[str, str]) -> tuple[str, str]:
    """``(other, bridge)``: which of two supporting titles is the bridge entity (see module doc)."""

    def score(other: str, bridge: str) -> int:
        s = 0
        if mentions_title(texts[other], bridge):
            s += 3
        if same_entity(answer, bridge):
            s -= 10
        if not mentions_title(question, bridge):
            s += 1
        if mentions_title(question, other):
            s += 1
        if not is_yes_no(answer) and mentions(texts[bridge], answer):
            s += 1
        return s

    first, second = titles
    # ties keep the supporting-facts order: the second title is the bridge
    if score(second, first) > score(first, second):
        return second, first
    return first, second


def _bridge_hops(
    question: str, answer: str, titles: list[str], ids: dict[str, str], texts: dict[str, str]
) -> tuple[list[Hop], list[str]]:
    other, bridge = bridge_order(question, answer, titles, texts)
    if same_entity(answer, other):
        first_support, answer_support = ids[bridge], ids[other]
    else:
        first_support, answer_support = ids[other], ids[bridge]
    hop1 = _entity_hop(f"Which intermediate entity does this question go through: {question}", bridge, first_support)
    hop2 = Hop(question=f"{question} (via {hop1.answer})", answer=answer, support=(answer_support,))
    return [hop1, hop2], [hop1.question, f"{question} (via #1)"]


def _chain_hops(question: str, answer: str, titles: list[str], ids: dict[str, str]) -> tuple[list[Hop], list[str]]:
    hops: list[Hop] = []
    templates: list[str] = []
    for i, title in enumerate(titles[:-1], start=1):
        q = f"Which entity is step {i} of this question: {question}"
        hops.append(_entity_hop(q, title, ids[title]))
        templates.append(q)
    last = f"{question} (via {', '.join(h.answer for h in hops)})" if hops else question
    hops.append(Hop(question=last, answer=answer, support=(ids[titles[-1]],)))
    refs = ", ".join(f"#{i}" for i in range(1, len(hops)))
    templates.append(f"{question} (via {refs})" if refs else question)
    return hops, templates


__all__ = ["CorpusFormatError", "bridge_order", "hotpotqa_from_rows", "load_hotpotqa", "task_from_row"]
