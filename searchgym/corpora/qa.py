"""Question/answer-only task files: questions with accepted answers and no evidence, over any corpus.

Spec: ``qa:<task file>[,limit=N],corpus=<corpus spec>`` (``corpus=`` last). Tasks have no gold hops,
so only the final answer can be checked. See docs/datasets.md for the formats and what is lost.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from searchgym.corpora.reading import CorpusFormatError, check_file, read_records, read_text, record_error
from searchgym.corpora.records import Task
from searchgym.corpora.taskset import TaskSet

KIND = "qa"
QUESTION_FIELDS = ("question", "query")
ANSWER_FIELDS = ("golden_answers", "answers", "answer")
ID_FIELDS = ("id", "_id", "qid", "question_id")


def _first(row: Mapping[str, Any], names: Sequence[str]) -> tuple[str | None, Any]:
    for name in names:
        if name in row and row[name] is not None:
            return name, row[name]
    return None, None


def _answers(value: Any, field: str) -> tuple[str, ...]:
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):  # a CSV cell holding a JSON list
            try:
                value = json.loads(stripped)
            except json.JSONDecodeError:
                return (stripped,)
        else:
            return (stripped,) if stripped else ()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (str(value),)
    if not isinstance(value, list):
        raise ValueError(f"{field!r} must be a string or a list of strings, got {type(value).__name__}")
    out = []
    for v in value:
        if isinstance(v, (dict, list, bool)) or v is None:
            raise ValueError(f"{field!r} must hold strings, found {type(v).__name__}")
        if str(v).strip():
            out.append(str(v).strip())
    return tuple(dict.fromkeys(out))


def qa_task(row: Mapping[str, Any], index: int, *, origin: str, source: str) -> Task:
    """One question/answer record as a hop-less ``Task`` (fields in the module doc)."""
    lowered = {str(k).strip().lower(): v for k, v in row.items()}
    qfield, question = _first(lowered, QUESTION_FIELDS)
    if qfield is None:
        raise record_error(origin, index, row, f"no question field (expected one of {list(QUESTION_FIELDS)})")
    if not isinstance(question, str):
        raise record_error(origin, index, row, f"{qfield!r} must be a string, got {type(question).__name__}")
    if not question.strip():
        raise record_error(origin, index, row, "empty question")
    afield, raw = _first(lowered, ANSWER_FIELDS)
    if afield is None:
        raise record_error(origin, index, row, f"no answer field (expected one of {list(ANSWER_FIELDS)})")
    try:
        answers = _answers(raw, afield)
    except ValueError as exc:
        raise record_error(origin, index, row, str(exc)) from None
    if not answers:
        raise record_error(origin, index, row, f"no accepted answer in {afield!r}")
    _ifield, raw_id = _first(lowered, ID_FIELDS)
    if isinstance(raw_id, (dict, list, bool)):
        raise record_error(origin, index, row, f"id must be a string or number, got {type(raw_id).__name__}")
    task_id = str(raw_id).strip() if raw_id is not None and str(raw_id).strip() else f"{source}-{index}"
    return Task(id=task_id, question=question.strip(), answers=answers, hops=(), source=source, kind=KIND,
                metadata=(("gold_hops", "none"),))


def _csv_rows(path: Path) -> Iterator[dict[str, Any]]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    text = read_text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    if not reader.fieldnames:
        return
    header = {str(f).strip().lower() for f in reader.fieldnames}
    if not header & set(QUESTION_FIELDS):
        raise CorpusFormatError(f"{path}: line 1: the header {reader.fieldnames} has no Question column")
    try:
        for row in reader:
            if None in row:  # more cells than the header has columns
                raise CorpusFormatError(f"{path}: line {reader.line_num}: more cells than header columns")
            if any(v and v.strip() for v in row.values()):
                yield row
    except csv.Error as exc:
        raise CorpusFormatError(f"{path}: line {reader.line_num}: not valid CSV: {exc}") from None


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".jsonl", ".json", ".csv", ".tsv"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name or "qa"


def read_qa_tasks(path: str | os.PathLike[str], *, limit: int | None = None) -> list[Task]:
    """The tasks of a question/answer file (formats in the module doc); ids must be unique."""
    p = check_file(path)
    rows = _csv_rows(p) if p.suffix.lower() in (".csv", ".tsv") else read_records(p)
    source = _stem(p)
    tasks: list[Task] = []
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        if limit is not None and len(tasks) >= limit:
            break
        task = qa_task(row, index, origin=str(p), source=source)
        if task.id in seen:
            raise record_error(str(p), index, row, f"duplicate task id {task.id!r} (first in record {seen[task.id]})")
        seen[task.id] = index
        tasks.append(task)
    return tasks


def load_qa(path: str | os.PathLike[str], corpus: TaskSet, *, limit: int | None = None) -> TaskSet:
    """Hop-less tasks from a question/answer file over the documents of ``corpus``."""
    tasks = read_qa_tasks(path, limit=limit)
    return TaskSet(name=KIND, tasks=tasks, documents=corpus.documents)


__all__ = ["KIND", "load_qa", "qa_task", "read_qa_tasks"]
