"""Helpers shared by the data-set loaders: reading record files, normalising the row shapes that
the published files and the Hugging Face copies use, and giving passages stable unique ids."""

from __future__ import annotations

import ast
import gzip
import json
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from searchgym._io import GZIP_ERRORS as _GZIP_ERRORS
from searchgym._io import gzip_problem as _gzip_problem
from searchgym._io import iter_jsonl
from searchgym._io import undecodable as _undecodable
from searchgym.corpora.records import Document, Task
from searchgym.corpora.taskset import TaskSet
from searchgym.errors import SearchgymError
from searchgym.text import clean_title, fold_accents


class CorpusFormatError(SearchgymError, ValueError):
    """A corpus, task file or spec that does not match the format it claims.

    Every loader raises this one class (or its subclass :class:`CorpusFileNotFoundError`) for a bad
    file, with a message that names the file and, where one is to blame, the record or line.
    """


class CorpusFileNotFoundError(CorpusFormatError, FileNotFoundError):
    """A data file that does not exist (also a ``FileNotFoundError``, so either ``except`` catches it)."""


def record_error(origin: str, index: int, row: Any, problem: str) -> CorpusFormatError:
    """A ``CorpusFormatError`` that names the file (or origin) and the record."""
    rid = None
    if isinstance(row, Mapping):
        rid = row.get("_id", row.get("id"))
        if not isinstance(rid, (str, int)) or isinstance(rid, bool):
            rid = None  # an id of the wrong type is itself the problem; do not print a huge repr
    where = f"record {index}" + (f" (id {rid!r})" if rid is not None else "")
    return CorpusFormatError(f"{origin}: {where}: {problem}")


# ---------------------------------------------------------------------------------------------
# files
#
# Files are read as bytes and decoded by us, line by line (JSON lines) or whole (JSON arrays and
# CSV), so that an undecodable byte or a broken gzip stream is reported at the line or record where
# it is, never as a bare UnicodeDecodeError / BadGzipFile / EOFError naming nothing.


NEWLINE = b"\n"


def check_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a ``Path`` if it is a readable file, else a clear error."""
    p = Path(path).expanduser()
    if not p.exists():
        raise CorpusFileNotFoundError(f"data file not found: {p}")
    if not p.is_file():
        raise CorpusFormatError(f"{p}: expected a file, found a directory or special file")
    return p


def read_bytes(path: Path) -> tuple[bytes, str | None]:
    """The file's bytes, gunzipped for ``*.gz``, and a problem if the gzip stream is cut short or
    corrupt after some data (the data before the break is returned so callers can say where it is).
    A ``.gz`` file that is not gzip at all is a ``CorpusFormatError``."""
    raw = path.read_bytes()
    if path.suffix != ".gz":
        return raw, None
    out: list[bytes] = []
    data = raw
    while True:  # a .gz file may hold several concatenated members
        d = zlib.decompressobj(wbits=31)
        try:
            out.append(d.decompress(data))
        except zlib.error as exc:
            if not out:
                raise CorpusFormatError(f"{path}: {_gzip_problem(gzip.BadGzipFile(str(exc)))}") from None
            return b"".join(out), f"corrupt gzip data ({exc})"
        if not d.eof:
            out.append(d.flush())
            return b"".join(out), "truncated gzip data (the file ends inside its compressed stream)"
        data = d.unused_data
        if not data.strip(b"\x00"):  # trailing zero padding is allowed, as gzip allows it
            return b"".join(out), None


def read_text(path: Path) -> str:
    """A whole (small or array-shaped) text file, decoded strictly; errors name the line."""
    data, problem = read_bytes(path)
    if problem is not None:
        raise CorpusFormatError(f"{path}: line {data.count(NEWLINE) + 1}: {problem}")
    try:
        return data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise CorpusFormatError(f"{path}: line {data.count(NEWLINE, 0, exc.start) + 1}: {_undecodable(exc)}") from None


def iter_json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line number, parsed value)`` for each non-blank line of a JSON-lines file, streamed; every
    failure (bad JSON, bad bytes, bad gzip, deep nesting) is a ``CorpusFormatError`` naming the line."""
    return iter_jsonl(path, error=CorpusFormatError)


_WS = re.compile(r"[ \t\n\r]*")
_SURROGATE = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of undecodable bytes


def _skip_ws(text: str, pos: int) -> int:
    """The offset of the first non-whitespace character at or after ``pos`` (or the end)."""
    match = _WS.match(text, pos)
    assert match is not None, "_WS matches the empty string"
    return match.end()


def _iter_json_array(path: Path, text: str, *, bad_at: int | None = None, cut: str | None = None) -> Iterator[Any]:
    """The elements of a JSON array, parsed one at a time so that a broken file names its broken
    record. ``bad_at``: offset of the first undecodable byte; ``cut``: why the text ends early."""
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, text.index("[") + 1)
    index = 0
    last_id: Any = None

    def fail(problem: str, frontier: int) -> CorpusFormatError:
        if bad_at is not None and bad_at <= frontier:
            problem = "not UTF-8 text: a binary file, or text in another encoding such as latin-1; re-encode it as UTF-8"
        elif cut is not None:  # the text stops where the gzip stream broke: that is the failure
            problem = f"{cut}; the data ends inside this record"
        after = f" (after id {last_id!r})" if last_id is not None else ""
        return CorpusFormatError(f"{path}: record {index}{after}: {problem}")

    if text.startswith("]", pos):
        pos += 1
    else:
        while True:
            try:
                value, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                what = exc.msg
                if not text.rstrip().endswith("]"):
                    what += "; the file ends inside this record (truncated?)"
                raise fail(f"not valid JSON (line {exc.lineno}, column {exc.colno}): {what}", exc.pos) from None
            except RecursionError:
                raise fail("JSON nested too deeply", pos) from None
            if bad_at is not None and bad_at < end:
                raise fail("", bad_at)
            yield value
            if isinstance(value, Mapping):
                rid = value.get("_id", value.get("id"))
                last_id = rid if isinstance(rid, (str, int)) and not isinstance(rid, bool) else None
            index += 1
            pos = _skip_ws(text, end)
            if text.startswith(",", pos):
                pos = _skip_ws(text, pos + 1)
                continue
            if text.startswith("]", pos):
                pos += 1
                break
            got = "the end of the file" if pos >= len(text) else repr(text[pos : pos + 20])
            raise fail(f"not valid JSON: expected ',' or ']' after the previous record, found {got}", pos)
    rest = text[pos:].strip()
    if rest:
        raise CorpusFormatError(f"{path}: extra data after the JSON array: {rest[:40]!r}")
    if bad_at is not None or cut is not None:
        raise fail("", len(text))


def _sniff(path: Path) -> str:
    """The first non-blank character of a file ("" when empty)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:  # type: ignore[operator]
            head = fh.read(4096)
            while head and not head.lstrip(b" \t\r\n").lstrip(b"\xef\xbb\xbf"):
                more = fh.read(4096)
                if not more:
                    return ""
                head = more
    except _GZIP_ERRORS as exc:
        raise CorpusFormatError(f"{path}: line 1: {_gzip_problem(exc)}") from None
    stripped = head.lstrip(b" \t\r\n").lstrip(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    return chr(stripped[0]) if stripped else ""


def read_records(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Records of a JSON-array file or a JSON-lines file (optionally gzipped), in file order.

    The published HotpotQA and 2WikiMultihopQA files are JSON arrays; MuSiQue and most mirrors
    are JSON lines. The format is told by the first non-blank character. Every problem with the
    file is a :class:`CorpusFormatError` naming it and the record (arrays) or line (JSON lines).
    """
    p = check_file(path)
    head = _sniff(p)
    if not head:
        return  # empty file: no records
    if head == "[":
        data, cut = read_bytes(p)
        text = data.decode("utf-8", errors="surrogateescape").lstrip("\ufeff")
        m = _SURROGATE.search(text)
        for i, row in enumerate(_iter_json_array(p, text, bad_at=m.start() if m else None, cut=cut)):
            if not isinstance(row, dict):
                raise CorpusFormatError(f"{p}: record {i}: expected a JSON object, got {type(row).__name__}")
            yield row
        return
    if head != "{":
        if not (head.isascii() and head.isprintable()):
            raise CorpusFormatError(f"{p}: line 1: a binary file, not JSON text (starts with byte 0x{ord(head):02x})")
        raise CorpusFormatError(
            f"{p}: line 1: not a JSON array or JSON-lines file (starts with {head!r}); expected '[' or '{{'"
        )
    for lineno, row in iter_json_lines(p):  # streamed: a huge file never sits in memory whole
        if not isinstance(row, dict):
            raise CorpusFormatError(f"{p}: line {lineno}: expected a JSON object, got {type(row).__name__}")
        yield row


def progress(rows: Iterable[Any], desc: str) -> Iterable[Any]:
    """``rows`` with a progress bar on a terminal (silent in logs and tests)."""
    from tqdm.auto import tqdm

    total = len(rows) if hasattr(rows, "__len__") else None  # type: ignore[arg-type]
    return tqdm(rows, desc=desc, total=total, unit=" records", disable=None, leave=False)


# ---------------------------------------------------------------------------------------------
# row shapes: published files use lists of pairs; the Hub copies use columns (dict of lists)


def _maybe_json(value: Any) -> Any:
    # Some Hub copies store nested fields as strings: JSON, or a Python literal (single quotes).
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            pass
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return value
    return value


def _columns(value: Mapping[str, Any], names: Sequence[Sequence[str]]) -> list[list[Any]]:
    cols = []
    for alternatives in names:
        for name in alternatives:
            if name in value:
                cols.append(list(value[name]))
                break
        else:
            raise ValueError(f"expected one of the keys {list(alternatives)}, found {sorted(value)}")
    if len({len(c) for c in cols}) > 1:
        raise ValueError(f"columns {[a[0] for a in names]} have different lengths")
    return cols


def paragraphs_of(value: Any) -> list[tuple[str, list[str]]]:
    """``context`` as ``[(title, sentences)]`` from ``[[title, [sent, ...]], ...]``,
    ``{"title": [...], "sentences"|"content": [[...]]}`` or a list of such dicts."""
    value = _maybe_json(value)
    if isinstance(value, Mapping):
        titles, sents = _columns(value, (("title",), ("sentences", "content")))
        pairs = list(zip(titles, sents))
    elif isinstance(value, list):
        pairs = []
        for item in value:
            if isinstance(item, Mapping):
                (t,), (s,) = _columns({k: [v] for k, v in item.items()}, (("title",), ("sentences", "content")))
                pairs.append((t, s))
            elif isinstance(item, (list, tuple)) and len(item) == 2:
                pairs.append((item[0], item[1]))
            else:
                raise ValueError(f"context entry is not [title, sentences]: {str(item)[:80]}")
    else:
        raise ValueError(f"context is not a list or columns: {type(value).__name__}")
    out = []
    for title, sentences in pairs:
        if isinstance(sentences, str):
            sentences = [sentences]
        if not isinstance(title, str) or not isinstance(sentences, list):
            raise ValueError(f"context entry is not [title, sentences]: {str((title, sentences))[:80]}")
        out.append((title, [str(s) for s in sentences]))
    return out


def facts_of(value: Any) -> list[tuple[str, int]]:
    """``supporting_facts`` as ``[(title, sentence index)]`` from any of the published shapes."""
    value = _maybe_json(value)
    if value is None:
        return []
    if isinstance(value, Mapping):
        titles, idx = _columns(value, (("title",), ("sent_id", "sent_idx", "sentence_id")))
        pairs = list(zip(titles, idx))
    elif isinstance(value, list):
        pairs = []
        for item in value:
            if isinstance(item, Mapping):
                (t,), (i,) = _columns({k: [v] for k, v in item.items()}, (("title",), ("sent_id", "sent_idx", "sentence_id")))
                pairs.append((t, i))
            elif isinstance(item, (list, tuple)) and len(item) == 2:
                pairs.append((item[0], item[1]))
            else:
                raise ValueError(f"supporting fact is not [title, sentence index]: {str(item)[:80]}")
    else:
        raise ValueError(f"supporting_facts is not a list or columns: {type(value).__name__}")
    return [(str(t), int(i)) for t, i in pairs]


def triples_of(value: Any) -> list[tuple[str, str, str]]:
    """2WikiMultihopQA ``evidences`` as ``[(subject, relation, object)]`` from the published
    list of triples or the Hub's ``{"fact"|"subject", "relation", "entity"|"object"}`` columns."""
    value = _maybe_json(value)
    if value is None:
        return []
    names = (("fact", "subject", "head"), ("relation",), ("entity", "object", "tail"))
    if isinstance(value, Mapping):
        s, r, o = _columns(value, names)
        triples = list(zip(s, r, o))
    elif isinstance(value, list):
        triples = []
        for item in value:
            if isinstance(item, Mapping):
                (s1,), (r1,), (o1,) = _columns({k: [v] for k, v in item.items()}, names)
                triples.append((s1, r1, o1))
            elif isinstance(item, (list, tuple)) and len(item) == 3:
                triples.append(tuple(item))
            else:
                raise ValueError(f"evidence is not [subject, relation, object]: {str(item)[:80]}")
    else:
        raise ValueError(f"evidences is not a list or columns: {type(value).__name__}")
    return [(str(s), str(r), str(o)) for s, r, o in triples]


# ---------------------------------------------------------------------------------------------
# document ids


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
