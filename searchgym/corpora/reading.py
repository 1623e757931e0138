"""Reading the data-set files: JSON arrays and JSON lines, plain or gzipped, with every problem
reported as a :class:`CorpusFormatError` that names the file and the record or line."""

from __future__ import annotations

import gzip
import json
import os
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from searchgym._io import GZIP_ERRORS as _GZIP_ERRORS
from searchgym._io import gzip_problem as _gzip_problem
from searchgym._io import iter_jsonl
from searchgym._io import undecodable as _undecodable
from searchgym.errors import SearchgymError


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
