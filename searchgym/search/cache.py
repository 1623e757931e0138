"""On-disk cache of built indexes: keys from corpus content and settings, atomic publication."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from searchgym import _io
from searchgym._io import atomic_write_bytes, cache_root
from searchgym.corpora.records import Document

default_cache_dir = cache_root  # the name this module gave it before searchgym._io


def corpus_fingerprint(documents: Sequence[Document]) -> str:
    """A hash of every document's id, title and text, in order."""
    digest = hashlib.blake2b(digest_size=16)
    for doc in documents:
        for part in (doc.id, doc.title, doc.text):
            data = part.encode("utf-8", "surrogatepass")
            digest.update(len(data).to_bytes(8, "little"))  # length-prefixed: no ambiguity across fields
            digest.update(data)
    return digest.hexdigest()


def cache_key(kind: str, fingerprint: str, settings: dict[str, Any]) -> str:
    """A directory name for an index of ``kind`` over a corpus with these settings."""
    blob = json.dumps({"kind": kind, "corpus": fingerprint, "settings": settings}, sort_keys=True)
    return f"{kind}-{hashlib.blake2b(blob.encode(), digest_size=12).hexdigest()}"


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a temp directory beside ``final``; on success rename it into place, on failure delete it.

    A crash mid-build leaves only a hidden ``*.tmp`` directory, never a half-built ``final``; a concurrent
    builder that finishes first wins and ours is discarded.
    """
    with _io.atomic_dir(final, published=is_complete) as tmp:
        yield tmp
        (tmp / "COMPLETE").write_text("ok\n")


def is_complete(path: Path) -> bool:
    """Whether ``path`` is a fully published cache entry."""
    return (path / "COMPLETE").is_file()


__all__ = ["atomic_dir", "atomic_write_bytes", "cache_key", "corpus_fingerprint", "default_cache_dir", "is_complete"]
