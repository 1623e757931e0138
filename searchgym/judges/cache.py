"""``JudgeCache``: a persistent verdict cache (sqlite in WAL mode) shared by processes.

Key: sha256 of (backend, model, rendered prompt). The rendered prompt contains the principles, the
question, the context and the judged text, so k branches that share a prefix and propose the same
step are judged once, and a change of principles or prompt version never reuses a stale verdict.
Writes are single committed transactions (sqlite's journal makes them crash-safe); concurrent
writers from several processes are serialised by sqlite's lock with a busy timeout. Only verdicts
are stored: failures are never cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path

from searchgym.judges.base import Judgment


def default_cache_path() -> Path:
    """``$SEARCHGYM_CACHE/judges.sqlite`` (default ``~/.cache/searchgym``)."""
    root = Path(os.environ.get("SEARCHGYM_CACHE", Path.home() / ".cache" / "searchgym"))
    return root / "judges.sqlite"


def cache_key(backend: str, model: str, prompt: str) -> str:
    """The cache key of one rendered prompt for one backend and model."""
    h = hashlib.sha256()
    for part in (backend, model, prompt):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


class JudgeCache:
    """Persistent key → ``Judgment`` store with hit/miss counters (``stats``)."""

    def __init__(self, path: str | os.PathLike | None = None, timeout: float = 30.0):
        self.path = Path(path) if path is not None else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._timeout = timeout
        self._local = threading.local()
        self.hits = 0
        self.misses = 0
        self.writes = 0
        with self._conn() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, score REAL NOT NULL, "
                         "rationale TEXT NOT NULL, raw TEXT NOT NULL, meta TEXT NOT NULL)")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def get(self, key: str) -> Judgment | None:
        """The cached verdict for ``key`` (marked ``cached=True``), or None."""
        row = self._conn().execute("SELECT score, rationale, raw, meta FROM verdicts WHERE key=?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        meta = tuple(tuple(p) for p in json.loads(row[3]))
        return Judgment(score=row[0], rationale=row[1], raw=row[2], cached=True, metadata=meta)

    def put(self, key: str, judgment: Judgment) -> None:
        """Store a verdict (one committed transaction; the first writer of a key wins)."""
        self._conn().execute(
            "INSERT OR IGNORE INTO verdicts (key, score, rationale, raw, meta) VALUES (?, ?, ?, ?, ?)",
            (key, float(judgment.score), judgment.rationale, judgment.raw, json.dumps(list(judgment.metadata))),
        )
        self.writes += 1

    def __len__(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    @property
    def stats(self) -> dict[str, float]:
        """Counters of this process: hits, misses, writes, hit_rate."""
        return {"hits": self.hits, "misses": self.misses, "writes": self.writes, "hit_rate": self.hit_rate}

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __repr__(self) -> str:
        return f"JudgeCache({str(self.path)!r}, hits={self.hits}, misses={self.misses})"
