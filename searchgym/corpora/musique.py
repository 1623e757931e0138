"""MuSiQue (Trivedi et al., 2022) as a ``TaskSet``.

One hop per ``question_decomposition`` entry, ``#k`` references filled in with earlier answers;
unanswerable records are skipped unless ``include_unanswerable=True``. See docs/datasets.md.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from searchgym.corpora.building import DocumentPool, fill_references, hop_templates_entry, tasks_from_rows
from searchgym.corpora.reading import CorpusFormatError, read_records, record_error
from searchgym.corpora.records import Hop, Task
from searchgym.corpora.taskset import TaskSet

SOURCE = "musique"


def load_musique(
    path: str | os.PathLike[str], *, limit: int | None = None, include_unanswerable: bool = False
) -> TaskSet:
    """Load a MuSiQue JSON-lines file (or JSON array; optionally gzipped)."""
    return musique_from_rows(
        read_records(path), limit=limit, include_unanswerable=include_unanswerable, origin=str(path)
    )


def musique_from_rows(
    rows: Iterable[Mapping[str, Any]],
    *,
    limit: int | None = None,
    include_unanswerable: bool = False,
    origin: str = "musique rows",
) -> TaskSet:
    """Map MuSiQue rows (file records or ``datasets`` rows) to a ``TaskSet``."""

    def make_task(row: Mapping[str, Any], index: int, pool: DocumentPool) -> Task | None:
        answerable = _flag(row.get("answerable", True))
        if not answerable and not include_unanswerable:
            return None
        return _task(row, index, pool, origin, answerable)

    return tasks_from_rows(rows, make_task, source=SOURCE, origin=origin, limit=limit)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in {"false", "0", "no", ""}
    return bool(value)


_RELATION_PATH = re.compile(r"^(?P<subject>.+?)\s*>>\s*(?P<relation>.+)$")


def natural_question(template: str) -> str:
    """``X >> relation`` (MuSiQue's Wikidata-style sub-questions) as ``What is the relation of X?``;
    natural-language sub-questions unchanged."""
    text = template.strip()
    m = _RELATION_PATH.match(text)
    if m is None:
        return text
    subject, relation = m.group("subject").strip(), m.group("relation").strip().rstrip("?")
    # Wikidata's "located in the administrative territorial entity" reads as "located in"
    relation = re.sub(r"\s+the administrative territorial entity$", "", relation)
    first = relation.split()[0].lower() if relation.split() else ""
    if first in _VERBAL or first.endswith("ed"):  # "part of", "located in", "followed by"
        return f"What is {subject} {relation}?"
    return f"What is the {relation} of {subject}?"


_VERBAL = {"part", "member", "instance", "subclass", "has", "contains", "shares", "applies", "in", "on", "at", "from", "for"}


def _index(value: Any) -> int | None:
    """A paragraph index as published (an int; digit strings from some copies), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _scalar(row: Mapping[str, Any], name: str, index: int, origin: str) -> str:
    value = row.get(name)
    if value is None:
        raise record_error(origin, index, row, f"missing field {name!r}")
    if isinstance(value, (dict, list, bool)):
        raise record_error(origin, index, row, f"field {name!r} must be a string, got {type(value).__name__}")
    return str(value).strip()


_SPACE_BEFORE_PUNCT = re.compile(r"\s+([?,.!;:]|'s)(?=\s|$)")


def _task(row: Mapping[str, Any], index: int, pool: DocumentPool, origin: str, answerable: bool) -> Task:
    task_id = _scalar(row, "id", index, origin)
    question = _scalar(row, "question", index, origin)
    answer = _scalar(row, "answer", index, origin)
    if not question:
        raise record_error(origin, index, row, "empty question")
    if not answer:
        raise record_error(origin, index, row, "empty answer (an unlabelled test split cannot be loaded)")
    paragraphs = row.get("paragraphs")
    if not isinstance(paragraphs, list):
        raise record_error(origin, index, row, f"'paragraphs' must be a list, got {type(paragraphs).__name__}")

    by_idx: dict[int, str] = {}
    for position, para in enumerate(paragraphs):
        if not isinstance(para, Mapping) or not isinstance(para.get("paragraph_text"), str):
            raise record_error(origin, index, row, f"paragraph {position} lacks a 'paragraph_text' string")
        title = para.get("title")
        if title is not None and not isinstance(title, str):
            raise record_error(origin, index, row, f"paragraph {position}: 'title' must be a string")
        raw_idx = para.get("idx", position)
        idx = position if raw_idx is None else _index(raw_idx)
        if idx is None:
            raise record_error(origin, index, row, f"paragraph {position}: 'idx' {raw_idx!r} is not an integer")
        if idx in by_idx:
            raise record_error(origin, index, row, f"paragraph {position}: duplicate idx {idx}")
        by_idx[idx] = pool.add(title or "", para["paragraph_text"])

    decomposition = row.get("question_decomposition")
    if not isinstance(decomposition, list):
        raise record_error(origin, index, row,
                           f"'question_decomposition' must be a list, got {type(decomposition).__name__}")
    if not decomposition:
        raise record_error(origin, index, row, "empty question_decomposition")
    hops: list[Hop] = []
    templates: list[str] = []
    for k, step in enumerate(decomposition, start=1):
        if not isinstance(step, Mapping) or not isinstance(step.get("question"), str) or step.get("answer") is None \
                or isinstance(step.get("answer"), (dict, list)):
            raise record_error(origin, index, row, f"question_decomposition[{k - 1}] lacks a 'question' or 'answer' string")
        template = step["question"].strip()
        later = [int(r) for r in _REFERENCE.findall(template) if not 1 <= int(r) < k]
        if later:
            raise record_error(origin, index, row,
                               f"sub-question {k} refers to #{later[0]}, which is not an earlier sub-question")
        support_idx = step.get("paragraph_support_idx")
        if support_idx is None:
            support: tuple[str, ...] = ()
            if answerable:
                raise record_error(origin, index, row, f"sub-question {k} has no paragraph_support_idx")
        else:
            idx = _index(support_idx)
            if idx is None:
                raise record_error(origin, index, row,
                                   f"sub-question {k}: paragraph_support_idx {support_idx!r} is not an integer")
            if idx not in by_idx:
                raise record_error(
                    origin, index, row,
                    f"sub-question {k} cites paragraph {support_idx}, which the record does not have",
                )
            support = (by_idx[idx],)
        filled = fill_references(natural_question(template), [h.answer for h in hops])
        filled = _SPACE_BEFORE_PUNCT.sub(r"\1", filled)  # "What nationality was #1 ?" -> "... Friedan?"
        hops.append(Hop(question=filled, answer=str(step["answer"]).strip(), support=support))
        templates.append(template)

    raw_aliases = row.get("answer_aliases") or []
    if not isinstance(raw_aliases, list) or not all(isinstance(a, (str, int, float)) for a in raw_aliases):
        raise record_error(origin, index, row, "'answer_aliases' must be a list of strings")
    aliases = [str(a).strip() for a in raw_aliases if str(a).strip()]
    answers = tuple(dict.fromkeys([answer, *aliases]))
    # the final hop's entity accepts the same aliases as the answer
    last = hops[-1]
    if last.answer == answer and aliases:
        hops[-1] = Hop(last.question, last.answer, tuple(a for a in answers if a != answer), last.support)

    metadata: tuple[tuple[str, str], ...] = (hop_templates_entry(templates),)
    if not answerable:
        metadata += (("answerable", "false"),)
    return Task(
        id=task_id, question=question, answers=answers, hops=tuple(hops),
        source=SOURCE, kind="chain", metadata=metadata,
    )


_REFERENCE = re.compile(r"#(\d+)")


__all__ = ["CorpusFormatError", "load_musique", "musique_from_rows", "natural_question"]
