"""2WikiMultihopQA (Ho et al., 2020) as a ``TaskSet``.

One hop per evidence triple, asked from its relation; rows without evidences fall back to the HotpotQA
mapping. All row shapes go through :func:`twowiki_from_rows`. See docs/datasets.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from searchgym.corpora import hotpotqa
from searchgym.corpora.building import DocumentPool, hop_templates_entry, tasks_from_rows
from searchgym.corpora.fields import facts_of, paragraphs_of, triples_of
from searchgym.corpora.reading import CorpusFormatError, read_records, record_error
from searchgym.corpora.records import Hop, Task
from searchgym.corpora.taskset import TaskSet
from searchgym.text import clean_title, display_name, mentions, tokens

SOURCE = "2wiki"
COMPARISON_TYPES = {"comparison", "bridge_comparison", "bridge-comparison"}


def load_twowiki(path: str | os.PathLike[str], *, limit: int | None = None) -> TaskSet:
    """Load a 2WikiMultihopQA file (JSON array or JSON lines, optionally gzipped)."""
    return twowiki_from_rows(read_records(path), limit=limit, origin=str(path))


def twowiki_from_rows(
    rows: Iterable[Mapping[str, Any]], *, limit: int | None = None, origin: str = "2wiki rows"
) -> TaskSet:
    """Map 2WikiMultihopQA rows (file records or ``datasets`` rows) to a ``TaskSet``."""

    def make_task(row: Mapping[str, Any], index: int, pool: DocumentPool) -> Task:
        if not _has_evidences(row):
            task = hotpotqa.task_from_row(row, index, pool, origin)
            return Task(task.id, task.question, task.answers, task.hops, SOURCE, task.kind, task.metadata)
        return _task(row, index, pool, origin)

    return tasks_from_rows(rows, make_task, source=SOURCE, origin=origin, limit=limit)


def _has_evidences(row: Mapping[str, Any]) -> bool:
    try:
        return bool(triples_of(row.get("evidences")))
    except ValueError:
        return True  # malformed evidences: let _task report them


def _task(row: Mapping[str, Any], index: int, pool: DocumentPool, origin: str) -> Task:
    for name in ("question", "answer", "context", "supporting_facts"):
        if row.get(name) is None:
            raise record_error(origin, index, row, f"missing field {name!r}")
    task_id = row.get("_id", row.get("id"))
    if task_id is None:
        raise record_error(origin, index, row, "missing field '_id'")
    question = str(row["question"]).strip()
    answer = str(row["answer"]).strip()
    if not question:
        raise record_error(origin, index, row, "empty question")
    if not answer:
        raise record_error(origin, index, row, "empty answer (an unlabelled test split cannot be loaded)")
    try:
        paragraphs = paragraphs_of(row["context"])
        facts = facts_of(row["supporting_facts"])
        triples = triples_of(row["evidences"])
    except ValueError as exc:
        raise record_error(origin, index, row, str(exc)) from None

    ids: dict[str, str] = {}
    texts: dict[str, str] = {}
    for title, sentences in paragraphs:
        text = "".join(sentences).strip()
        ids.setdefault(title, pool.add(title, text))
        texts.setdefault(title, text)
    support_titles = list(dict.fromkeys(t for t, _ in facts))
    missing = [t for t in support_titles if t not in ids]
    if missing:
        raise record_error(origin, index, row, f"supporting paragraph(s) {missing} not in the record's context")
    if not support_titles:
        raise record_error(origin, index, row, "no supporting facts")

    hops: list[Hop] = []
    templates: list[str] = []
    for subject, relation, obj in triples:
        support = tuple(ids[t] for t in _support_for(subject, obj, support_titles, texts))
        question_text = f"What is the {relation.strip()} of {subject.strip()}?"
        earlier = [i for i, h in enumerate(hops, start=1) if tokens(h.answer) == tokens(subject)]
        template = f"What is the {relation.strip()} of #{earlier[-1]}?" if earlier else question_text
        hops.append(Hop(question=question_text, answer=obj.strip(), support=support))
        templates.append(template)

    qtype = str(row.get("type") or "")
    kind = "comparison" if qtype in COMPARISON_TYPES else "chain"
    return Task(
        id=str(task_id), question=question, answers=(answer,), hops=tuple(hops), source=SOURCE,
        kind=kind, metadata=(("type", qtype), hop_templates_entry(templates)),
    )


def _support_for(subject: str, obj: str, titles: list[str], texts: dict[str, str]) -> list[str]:
    """The supporting titles that state the triple ``(subject, ?, obj)`` (see module doc)."""
    key = tokens(subject)
    exact = [t for t in titles if key in (tokens(clean_title(t)), tokens(display_name(t)))]
    if exact:
        return exact[:1]
    both = [t for t in titles if mentions(texts[t], subject) and mentions(texts[t], obj)]
    if both:
        return both
    named = [t for t in titles if mentions(texts[t], subject)]
    return named or list(titles)


__all__ = ["CorpusFormatError", "load_twowiki", "twowiki_from_rows"]
