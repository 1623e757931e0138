"""Question/answer-only task files: questions with accepted answers and no evidence, over any corpus.

Spec: ``qa:<task file>[,limit=N],corpus=<corpus spec>`` (``corpus=`` comes last and takes the rest
of the spec, commas included), e.g. ``qa:nq_dev.jsonl,corpus=jsonl:wiki18.jsonl`` or
``qa:bamboogle.csv,limit=50,corpus=synthetic:seed=1,passages=500``. The corpus spec's own tasks,
if any, are dropped: only its documents are used.

Accepted task files (optionally gzipped, except CSV/TSV):

* JSON lines or a JSON array of objects, the FlashRAG / Search-R1 convention
  (``{"id", "question", "golden_answers": [...]}``: NQ, TriviaQA, PopQA, Bamboogle, ...).
  Question field: ``question`` (or ``query``); answers: ``golden_answers``, ``answers`` or
  ``answer`` (a string or a list of strings/numbers); id: ``id``, ``_id``, ``qid`` or
  ``question_id``, else ``<file stem>-<record index>``.
* CSV (``.csv``) or TSV (``.tsv``) with a header row holding ``Question`` and ``Answer`` columns
  (case-insensitive; the original Bamboogle sheet), optionally ``id``. An answer cell holding a
  JSON list gives several accepted answers.

Every task gets ``kind="qa"``, ``source`` = the file stem, **no hops** and ``metadata
{"gold_hops": "none"}``. Duplicate ids, missing or empty questions/answers and unreadable files
are :class:`~searchgym.corpora.CorpusFormatError` naming the file and record.

What is lost without gold hops
------------------------------
Only the final answer can be checked. Exact match, F1 and any other outcome reward work as with
any data set. Everything that needs the *path* to the answer does not come for free:

* **Citation recall** has nothing to recall (no gold support ids); ``searchgym eval`` leaves it out
  of the mean. Citation precision counts every citation as unsupported.
* **The CaRR rubric reward** has no gold-hop rubrics. ``searchgym eval --judge`` then asks the
  judge to *write* rubrics (``searchgym.judges.rubric_generation``: hidden entities and single-hop
  statements) and to ground them in the cited documents, which needs a judge that can write text
  (``openai:...`` or ``transformers:...``); with the ``rules`` judge, or when the judge fails, the
  rubric is left unscored (``n/a``), never a made-up 0. Judge-written rubrics are unchecked: the
  judge may invent a hidden entity, and grounding is a model's opinion instead of an exact id match.
* **The oracle** has no hops to follow and answers ``unknown`` (solve rate 0); warm-start
  demonstrations cannot be made from such tasks.
* **Retrieval difficulty** (recall@k of gold paragraphs, ``benchmarks/bench_data.py``) cannot be
  measured, and nothing guarantees that the corpus holds the answer at all (the wiki-18 sample
  holds none of the gold passages of the QA samples beside it).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from searchgym.corpora._common import (
    CorpusFormatError,
    check_file,
    read_records,
    read_text,
    record_error,
)
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
