"""File plumbing shared by the package: the cache root, atomic writes and JSON-lines files."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from searchgym.errors import SearchgymError

CACHE_ENV = "SEARCHGYM_CACHE"


def cache_root() -> Path:
    """``$SEARCHGYM_CACHE``, or ``~/.cache/searchgym`` when it is unset or empty."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "searchgym")


# ---- atomic writes ------------------------------------------------------------------------------

@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a fresh temporary file name beside ``path``: when the block succeeds the file written
    there replaces ``path`` (``os.replace``), otherwise it is deleted.

    Readers see the old file or the new one, never a half-written one. The name is unique, so
    concurrent writers never write into each other's file, and ends in ``.tmp`` (a hidden file).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_dir(final: str | os.PathLike[str], *, published: Callable[[Path], bool]) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``final``: when the block succeeds it is renamed to
    ``final``, otherwise deleted. When another process published ``final`` first (``published(final)``
    is then true), ours is discarded and theirs kept."""
    target = Path(final)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        try:
            os.rename(tmp, target)
        except OSError:
            if not published(target):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def atomic_write_lines(path: str | os.PathLike[str], lines: Iterable[str]) -> Path:
    """Write ``lines`` (each without its newline) to ``path`` atomically; gzip-compressed for ``*.gz``
    (with a zero timestamp, so equal content gives equal bytes)."""
    p = Path(path).expanduser()
    with atomic_path(p) as tmp, tmp.open("xb") as raw:
        sink = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if p.suffix == ".gz" else raw
        with sink:
            for line in lines:
                sink.write(line.encode("utf-8"))
                sink.write(b"\n")
    return p


# ---- JSON lines ---------------------------------------------------------------------------------

class JsonlError(SearchgymError, ValueError):
    """A JSON-lines file that cannot be read; the message names the file and the line."""


GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


def gzip_problem(exc: BaseException) -> str:
    """What a gzip read error means, in words."""
    if isinstance(exc, gzip.BadGzipFile):
        return f"named .gz but not a gzip file ({exc})"
    return f"truncated or corrupt gzip data ({type(exc).__name__}: {exc})"


def undecodable(exc: UnicodeDecodeError) -> str:
    """What an undecodable byte means, and what to do about it."""
    byte = exc.object[exc.start : exc.start + 1].hex() if isinstance(exc.object, (bytes, bytearray)) else "?"
    return (f"not UTF-8 text (byte 0x{byte}: {exc.reason}); a binary file, or text in another encoding "
            "such as latin-1: re-encode it as UTF-8")


def write_jsonl(path: str | os.PathLike[str], records: Iterable[Any], *, sort_keys: bool = False,
                ensure_ascii: bool = False) -> Path:
    """Write one JSON value per line, atomically (gzip-compressed for ``*.gz``)."""
    return atomic_write_lines(
        path, (json.dumps(r, sort_keys=sort_keys, ensure_ascii=ensure_ascii) for r in records))


def _salvage(line: str) -> Any:
    """The whole JSON object that ends a line whose start is torn (an old crash mid-write)."""
    start = line.find("{", 1)
    while start != -1:
        try:
            return json.loads(line[start:])
        except (json.JSONDecodeError, RecursionError):
            start = line.find("{", start + 1)
    raise ValueError("no whole record in the line")


def iter_jsonl(path: str | os.PathLike[str], *, tolerant: bool = False,
               error: type[Exception] = JsonlError) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line of a JSON-lines file (``*.gz`` too), streamed.

    Strict (the default): bad JSON, undecodable bytes, a broken gzip stream or too deep nesting raise
    ``error`` (a :class:`JsonlError` unless given) naming the file and the line. ``tolerant`` is for
    logs a crash may have torn: a broken line is skipped, except that a whole record glued after a
    torn fragment is kept, and undecodable bytes become U+FFFD.
    """
    p = Path(path)
    lineno = 0
    opener = gzip.open if p.suffix == ".gz" else open
    try:
        with opener(p, "rb") as fh:  # type: ignore[operator]
            for lineno, raw in enumerate(fh, start=1):
                try:
                    line = raw.decode("utf-8", "replace" if tolerant else "strict")
                except UnicodeDecodeError as exc:
                    raise error(f"{p}: line {lineno}: {undecodable(exc)}") from None
                if lineno == 1:
                    line = line.lstrip("\ufeff")
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except (json.JSONDecodeError, RecursionError) as exc:
                    if tolerant:
                        try:
                            value = _salvage(line.strip())
                        except ValueError:
                            continue
                    elif isinstance(exc, RecursionError):
                        raise error(f"{p}: line {lineno}: JSON nested too deeply") from None
                    else:
                        cut = "" if raw.endswith(b"\n") else "; the file ends inside this line (truncated?)"
                        raise error(f"{p}: line {lineno}: not valid JSON (column {exc.colno}): {exc.msg}{cut}") from None
                yield lineno, value
    except GZIP_ERRORS as exc:
        # raised while reading past the last line handed out: the break is at or after the next one
        raise error(f"{p}: line {lineno + 1}: {gzip_problem(exc)}") from None


def read_jsonl(path: str | os.PathLike[str], *, tolerant: bool = False) -> list[Any]:
    """Every value of a JSON-lines file (see :func:`iter_jsonl`)."""
    return [value for _, value in iter_jsonl(path, tolerant=tolerant)]


__all__ = [
    "CACHE_ENV", "GZIP_ERRORS", "JsonlError", "atomic_dir", "atomic_path", "atomic_write_bytes", "atomic_write_lines",
    "atomic_write_text", "cache_root", "gzip_problem", "iter_jsonl", "read_jsonl", "undecodable", "write_jsonl",
]
