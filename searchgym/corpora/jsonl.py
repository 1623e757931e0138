"""JSON-lines corpora (pyserini ``JsonCollection`` / FlashRAG / Search-R1) and searchgym's JSON-lines task files.

:func:`write_jsonl_corpus` writes what every reader of the convention reads back exactly.
See docs/datasets.md for the line formats and reading rules.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from searchgym._io import atomic_write_lines
from searchgym.corpora.reading import CorpusFormatError, check_file, iter_json_lines
from searchgym.corpora.records import Document, Hop, Task
from searchgym.corpora.taskset import TaskSet


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for lineno, obj in iter_json_lines(path):
        if not isinstance(obj, dict):
            raise CorpusFormatError(f"{path}: line {lineno}: expected a JSON object, got {type(obj).__name__}")
        yield lineno, obj


def _text_field(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"{key!r} must be a string, got {type(value).__name__}")


def document_from_json(obj: Mapping[str, Any]) -> Document:
    """One corpus line as a ``Document`` (reading rules in the module doc); ``ValueError`` if bad."""
    if obj.get("id") is None or (isinstance(obj["id"], str) and not obj["id"].strip()):
        raise ValueError("missing 'id'")
    if isinstance(obj["id"], (dict, list, bool)):
        raise ValueError(f"'id' must be a string or number, got {type(obj['id']).__name__}")
    doc_id = str(obj["id"])
    title, text, contents = (_text_field(obj, k) for k in ("title", "text", "contents"))
    if title is not None and text is not None:
        return Document(doc_id, title.strip(), text.strip())
    if contents is None:
        contents = text
    if contents is None:
        raise ValueError("needs 'contents' or 'title' and 'text'")
    if title is not None:
        title = title.strip()
        head, sep, rest = contents.partition("\n")
        if sep and _unquote(head.strip()) == title:
            return Document(doc_id, title, rest.strip())
        return Document(doc_id, title, contents.strip())
    head, sep, rest = contents.partition("\n")
    if not sep:
        return Document(doc_id, "", contents.strip())
    return Document(doc_id, _unquote(head.strip()), rest.strip())


def _unquote(title: str) -> str:
    if len(title) >= 2 and title[0] == '"' and title[-1] == '"':
        return title[1:-1].strip()
    return title


def iter_jsonl_corpus(path: str | os.PathLike[str]) -> Iterator[Document]:
    """Stream the documents of a JSON-lines corpus (duplicate ids are not checked here)."""
    p = check_file(path)
    for lineno, obj in _lines(p):
        try:
            yield document_from_json(obj)
        except ValueError as exc:
            raise CorpusFormatError(f"{p}: line {lineno}: {exc}") from None


def read_jsonl_corpus(path: str | os.PathLike[str], *, progress: bool | None = None) -> list[Document]:
    """Read a JSON-lines corpus; an id seen twice is an error naming both lines."""
    from tqdm.auto import tqdm

    p = check_file(path)
    seen: dict[str, int] = {}
    docs: list[Document] = []
    # disable=None: a bar on a terminal, silent in logs and tests
    bar = tqdm(_lines(p), desc=f"reading {p.name}", unit=" docs", disable=None if progress is None else not progress)
    for lineno, obj in bar:
        try:
            doc = document_from_json(obj)
        except ValueError as exc:
            raise CorpusFormatError(f"{p}: line {lineno}: {exc}") from None
        if doc.id in seen:
            raise CorpusFormatError(f"{p}: line {lineno}: duplicate id {doc.id!r} (first on line {seen[doc.id]})")
        seen[doc.id] = lineno
        docs.append(doc)
    return docs


def document_to_json(doc: Document, *, quote_titles: bool = False) -> dict[str, str]:
    """A ``Document`` as one corpus line's object."""
    if quote_titles and doc.title:
        contents = f'"{doc.title}"\n{doc.text}'
    else:
        contents = doc.contents
    return {"id": doc.id, "title": doc.title, "text": doc.text, "contents": contents}


def write_jsonl_corpus(
    documents: Iterable[Document], path: str | os.PathLike[str], *, quote_titles: bool = False
) -> Path:
    """Write ``documents`` as a JSON-lines corpus (atomically; ``.gz`` suffix gzips)."""
    return atomic_write_lines(
        path, (json.dumps(document_to_json(d, quote_titles=quote_titles), ensure_ascii=False) for d in documents)
    )


# ---------------------------------------------------------------------------------------------
# tasks


def task_to_json(task: Task) -> dict[str, Any]:
    """A ``Task`` as one task line's object."""
    return {
        "id": task.id,
        "question": task.question,
        "answers": list(task.answers),
        "kind": task.kind,
        "source": task.source,
        "hops": [
            {"question": h.question, "answer": h.answer, "aliases": list(h.aliases), "support": list(h.support)}
            for h in task.hops
        ],
        "metadata": dict(task.metadata),
    }


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list):
        raise ValueError(f"{what} must be a list of strings")
    out = []
    for v in value:
        if isinstance(v, (dict, list, bool)) or v is None:
            raise ValueError(f"{what} must be a list of strings, found {type(v).__name__}")
        out.append(str(v))
    return tuple(out)


def task_from_json(obj: Mapping[str, Any]) -> Task:
    """One task line as a ``Task``; ``ValueError`` if it is malformed."""
    for name in ("id", "question"):
        if obj.get(name) is None:
            raise ValueError(f"missing {name!r}")
        if isinstance(obj[name], (dict, list, bool)):
            raise ValueError(f"{name!r} must be a string, got {type(obj[name]).__name__}")
    answers = obj.get("answers")
    if answers is None and obj.get("answer") is not None:
        answers = [obj["answer"]]
    answers = _strings(answers, "'answers'")
    hops = []
    if not isinstance(obj.get("hops") or [], list):
        raise ValueError("'hops' must be a list")
    for k, h in enumerate(obj.get("hops") or [], start=1):
        if not isinstance(h, Mapping) or h.get("question") is None or h.get("answer") is None:
            raise ValueError(f"hop {k} needs 'question' and 'answer'")
        hops.append(Hop(
            question=str(h["question"]), answer=str(h["answer"]),
            aliases=_strings(h.get("aliases"), f"hop {k} 'aliases'"),
            support=_strings(h.get("support"), f"hop {k} 'support'"),
        ))
    metadata = obj.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise ValueError("'metadata' must be an object")
    return Task(
        id=str(obj["id"]), question=str(obj["question"]), answers=answers, hops=tuple(hops),
        source=str(obj.get("source") or ""), kind=str(obj.get("kind") or "chain"),
        metadata=tuple((str(k), v if isinstance(v, str) else json.dumps(v)) for k, v in metadata.items()),
    )


def read_tasks_jsonl(path: str | os.PathLike[str]) -> list[Task]:
    """Read a task file; malformed lines and repeated task ids are errors naming the line."""
    p = check_file(path)
    tasks: list[Task] = []
    seen: dict[str, int] = {}
    for lineno, obj in _lines(p):
        try:
            task = task_from_json(obj)
        except ValueError as exc:
            raise CorpusFormatError(f"{p}: line {lineno}: {exc}") from None
        if task.id in seen:
            raise CorpusFormatError(f"{p}: line {lineno}: duplicate task id {task.id!r} (first on line {seen[task.id]})")
        seen[task.id] = lineno
        tasks.append(task)
    return tasks


def write_tasks_jsonl(tasks: Iterable[Task], path: str | os.PathLike[str]) -> Path:
    """Write ``tasks`` as a task file (atomically; ``.gz`` suffix gzips)."""
    return atomic_write_lines(path, (json.dumps(task_to_json(t), ensure_ascii=False) for t in tasks))


def load_jsonl(
    corpus: str | os.PathLike[str], tasks: str | os.PathLike[str] | None = None, *, limit: int | None = None
) -> TaskSet:
    """A ``TaskSet`` from a corpus file and an optional task file whose support ids must all be in
    the corpus."""
    documents = read_jsonl_corpus(corpus)
    loaded: list[Task] = []
    if tasks is not None:
        loaded = read_tasks_jsonl(tasks)
        if limit is not None:
            loaded = loaded[:limit]
        known = {d.id for d in documents}
        for task in loaded:
            absent = [i for i in task.support_ids if i not in known]
            if absent:
                raise CorpusFormatError(
                    f"{tasks}: task {task.id!r} cites document id(s) {absent[:5]} that {corpus} does not have"
                )
    return TaskSet(name="jsonl", tasks=loaded, documents=documents)


def write_taskset(taskset: TaskSet, directory: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write a ``TaskSet`` as ``corpus.jsonl`` + ``tasks.jsonl`` under ``directory``: the pair
    ``load_taskset("jsonl:<dir>/corpus.jsonl,tasks=<dir>/tasks.jsonl")`` reads back."""
    d = Path(directory)
    return write_jsonl_corpus(taskset.documents, d / "corpus.jsonl"), write_tasks_jsonl(taskset.tasks, d / "tasks.jsonl")


__all__: Sequence[str] = [
    "document_from_json", "document_to_json", "iter_jsonl_corpus", "load_jsonl", "read_jsonl_corpus",
    "read_tasks_jsonl", "task_from_json", "task_to_json", "write_jsonl_corpus", "write_taskset",
    "write_tasks_jsonl",
]
