"""``JudgeCache``: a persistent verdict cache (sqlite in WAL mode) shared by processes.

Keyed by sha256 of (backend, model, rendered prompt); only verdicts are stored. A corrupt file is moved
aside and rebuilt; other sqlite failures raise ``CacheError`` (a ``JudgeError``). See docs/rewards.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from searchgym._io import cache_root
from searchgym.judges.base import JudgeError, Judgment
from searchgym.sharing import SharedOnCopy

try:  # POSIX; elsewhere opening relies on retrying sqlite's busy errors
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB (primary result codes)
_SIDECARS = ("-wal", "-shm", "-journal")


class CacheError(JudgeError):
    """The verdict cache failed (lock timeout, I/O, permissions); no verdict was read or written."""


def default_cache_path() -> Path:
    """``$SEARCHGYM_CACHE/judges.sqlite`` (default ``~/.cache/searchgym``)."""
    return cache_root() / "judges.sqlite"


def cache_key(backend: str, model: str, prompt: str) -> str:
    """The cache key of one rendered prompt for one backend and model."""
    h = hashlib.sha256()
    for part in (backend, model, prompt):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


def _is_corrupt(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _CORRUPT_CODES
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


class JudgeCache(SharedOnCopy):
    """Persistent key → ``Judgment`` store with hit/miss counters (``stats``); see the module doc."""

    def __init__(self, path: str | os.PathLike | None = None, timeout: float = 30.0):
        self.path = Path(path) if path is not None else default_cache_path()
        self._timeout = timeout
        self._local = threading.local()
        self._generation = 0  # bumped when the file is rebuilt: threads then reconnect
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file this object opened
        self._recover_lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.writes = 0
        self.rebuilt = 0  # corrupt files this object moved aside
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._open()
        except (sqlite3.Error, OSError) as exc:
            raise CacheError(f"judge cache {self.path}: cannot open: {exc}") from exc

    # ---- opening, locking, recovery --------------------------------------------------------------
    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        if fcntl is None:  # pragma: no cover
            yield
            return
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _setup(self) -> None:
        """Create the file, WAL mode and the table (idempotent; called under the file lock)."""
        deadline = time.monotonic() + self._timeout
        while True:
            conn = self._connect()
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, score REAL NOT NULL, "
                             "rationale TEXT NOT NULL, raw TEXT NOT NULL, meta TEXT NOT NULL)")
                conn.execute("SELECT 1 FROM verdicts LIMIT 1").fetchall()  # reads the table's root page
                st = os.stat(self.path)
                self._identity = (st.st_dev, st.st_ino)
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:  # busy: only without fcntl, or a foreign lock
                    raise
                time.sleep(0.05)
            finally:
                conn.close()

    def _open(self) -> None:
        with self._file_lock():
            try:
                self._setup()
            except sqlite3.DatabaseError as exc:
                if not _is_corrupt(exc):
                    raise
                self._move_aside(exc)
                self._setup()

    def _move_aside(self, exc: BaseException) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{os.getpid()}")
        os.replace(self.path, target)
        for suffix in _SIDECARS:
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                os.replace(side, target.with_name(target.name + suffix))
        self.rebuilt += 1
        log.warning("judge cache %s is corrupt (%s); moved it to %s and rebuilt an empty cache",
                    self.path, exc, target)

    def _recover(self, exc: BaseException) -> None:
        """After a corruption error: rebuild the file, unless another process already did."""
        with self._recover_lock, self._file_lock():
            try:
                st = os.stat(self.path)
                current = (st.st_dev, st.st_ino)
            except FileNotFoundError:
                current = None
            if current is not None and current == self._identity:
                self._move_aside(exc)
            elif current is not None:
                log.warning("judge cache %s was rebuilt by another process; reconnecting", self.path)
            self._setup()
            self._generation += 1

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.generation != self._generation:
            conn = self._connect()
            self._local.conn, self._local.generation = conn, self._generation
        return conn

    def _run(self, what: str, op: Callable[[sqlite3.Connection], Any]) -> Any:
        for attempt in (0, 1):
            try:
                return op(self._conn())
            except sqlite3.Error as exc:
                if attempt == 0 and _is_corrupt(exc):
                    try:
                        self._recover(exc)
                    except (sqlite3.Error, OSError) as again:
                        raise CacheError(f"judge cache {self.path}: corrupt and could not be rebuilt: {again}") from again
                    continue
                raise CacheError(f"judge cache {self.path}: {what} failed: {exc}") from exc
        raise AssertionError("unreachable")

    # ---- the store ----------------------------------------------------------------------------------
    def get(self, key: str) -> Judgment | None:
        """The cached verdict for ``key`` (marked ``cached=True``), or None; raises ``CacheError``."""
        row = self._run("read", lambda c: c.execute(
            "SELECT score, rationale, raw, meta FROM verdicts WHERE key=?", (key,)).fetchone())
        verdict = self._decode(key, row) if row is not None else None
        if verdict is None:
            self.misses += 1
            return None
        self.hits += 1
        return verdict

    def _decode(self, key: str, row: tuple) -> Judgment | None:
        try:
            score, rationale, raw, meta = row
            if not (isinstance(score, (int, float)) and math.isfinite(score) and -1.0 <= score <= 1.0):
                raise ValueError(f"score {score!r} outside [-1, 1]")
            metadata = tuple(tuple(str(x) for x in pair) for pair in json.loads(meta))
            if not all(len(pair) == 2 for pair in metadata) or not isinstance(rationale, str) or not isinstance(raw, str):
                raise ValueError("malformed metadata")
        except (ValueError, TypeError) as exc:
            log.warning("judge cache %s: dropping undecodable row %s (%s)", self.path, key[:12], exc)
            self._run("delete", lambda c: c.execute("DELETE FROM verdicts WHERE key=?", (key,)))
            return None
        return Judgment(score=float(score), rationale=rationale, raw=raw, cached=True, metadata=metadata)  # type: ignore[arg-type]

    def put(self, key: str, judgment: Judgment) -> None:
        """Store a verdict (one committed transaction; the first writer of a key wins); raises ``CacheError``."""
        score = float(judgment.score)
        if not (math.isfinite(score) and -1.0 <= score <= 1.0):
            raise ValueError(f"a verdict's score must be in [-1, 1], got {judgment.score!r}")
        row = (key, score, judgment.rationale, judgment.raw, json.dumps(list(judgment.metadata)))
        self._run("write", lambda c: c.execute(
            "INSERT OR IGNORE INTO verdicts (key, score, rationale, raw, meta) VALUES (?, ?, ?, ?, ?)", row))
        self.writes += 1

    def __len__(self) -> int:
        return self._run("count", lambda c: c.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0])

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    @property
    def stats(self) -> dict[str, float]:
        """Counters of this process: hits, misses, writes, hit_rate."""
        return {"hits": self.hits, "misses": self.misses, "writes": self.writes, "hit_rate": self.hit_rate}

    def close(self) -> None:
        """Close this thread's connection (other threads' connections close when they are collected)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __repr__(self) -> str:
        return f"JudgeCache({str(self.path)!r}, hits={self.hits}, misses={self.misses})"
