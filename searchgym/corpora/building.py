"""Building documents and tasks from parsed rows: stable unique passage ids, the task-set loop
shared by the loaders, and the hop-question templates with their ``#k`` references."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from searchgym.corpora.reading import CorpusFormatError, progress, record_error
from searchgym.corpora.records import Document, Task
from searchgym.corpora.taskset import TaskSet
from searchgym.text import clean_title, fold_accents


def slugify(title: str) -> str:
    """A stable id-safe slug of a title: accents folded, runs of non-word characters -> ``_``.

    Ids never contain spaces, brackets or ``-`` (``-`` is kept for disambiguation suffixes).
    """
    folded = fold_accents(clean_title(title))
    slug = re.sub(r"[\W_]+", "_", folded).strip("_")
    return slug or "untitled"


class DocumentPool:
    """Collects passages from many records, deduplicating identical ones and giving each distinct
    passage a unique id: the slug of its title, then ``-2``, ``-3`` ... for later passages whose
    slug is taken (same title with other text, or titles that slug alike), in first-seen order."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], str] = {}
        self._docs: list[Document] = []
        self._slug_count: dict[str, int] = {}

    def add(self, title: str, text: str) -> str:
        """The id of the passage ``(title, text)``, adding it if new."""
        title = clean_title(title)
        text = text.strip()
        key = (title, text)
        doc_id = self._by_key.get(key)
        if doc_id is not None:
            return doc_id
        base = slugify(title)
        n = self._slug_count.get(base, 0) + 1
        self._slug_count[base] = n
        doc_id = base if n == 1 else f"{base}-{n}"
        # a title could itself slug to "<base>-<n>"; "-" never appears in slugs, so no clash.
        self._by_key[key] = doc_id
        self._docs.append(Document(id=doc_id, title=title, text=text))
        return doc_id

    @property
    def documents(self) -> list[Document]:
        return list(self._docs)

    def __len__(self) -> int:
        return len(self._docs)


def tasks_from_rows(
    rows: Iterable[Any],
    make_task: Callable[[Mapping[str, Any], int, DocumentPool], Task | None],
    *,
    source: str,
    origin: str,
    limit: int | None = None,
) -> TaskSet:
    """A ``TaskSet`` of ``make_task(row, index, pool)`` over JSON-object rows (``None`` skips a row),
    stopping once ``limit`` tasks are made; the passages the tasks use are collected in one pool.

    A task id seen twice is an error naming both records. A row of the wrong shape that
    ``make_task`` did not foresee (a number where a list belongs...) still becomes a
    ``CorpusFormatError`` naming the record, never a bare ``TypeError`` from deep inside.
    """
    pool = DocumentPool()
    tasks: list[Task] = []
    seen: dict[str, int] = {}
    for index, row in enumerate(progress(rows, f"loading {origin}")):
        if limit is not None and len(tasks) >= limit:
            break
        if not isinstance(row, Mapping):
            raise record_error(origin, index, row, "expected a JSON object")
        try:
            task = make_task(row, index, pool)
        except CorpusFormatError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError) as exc:
            raise record_error(origin, index, row, f"malformed record ({type(exc).__name__}: {exc})") from None
        if task is None:
            continue
        if task.id in seen:
            raise record_error(origin, index, row, f"duplicate task id {task.id!r} (first in record {seen[task.id]})")
        seen[task.id] = index
        tasks.append(task)
    return TaskSet(name=source, tasks=tasks, documents=pool.documents)


def hop_templates_entry(templates: Sequence[str]) -> tuple[str, str]:
    """The ``Task.metadata`` entry that keeps the hop questions with ``#k`` references unfilled."""
    return ("hop_templates", json.dumps(list(templates), ensure_ascii=False))


def hop_templates(task: Any) -> tuple[str, ...]:
    """The hop questions of a loaded task with ``#k`` placeholders for earlier hops' entities
    (``#1`` = hop 1's answer), or the filled questions if the task has no templates."""
    for key, value in getattr(task, "metadata", ()):
        if key == "hop_templates":
            return tuple(json.loads(value))
    return tuple(h.question for h in task.hops)


_REF = re.compile(r"#(\d+)")


def fill_references(template: str, answers: Sequence[str]) -> str:
    """Replace ``#k`` with the answer of hop ``k`` (1-based) where hop ``k`` exists."""

    def sub(m: re.Match[str]) -> str:
        k = int(m.group(1))
        return answers[k - 1] if 1 <= k <= len(answers) else m.group(0)

    return _REF.sub(sub, template)
