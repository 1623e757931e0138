"""Build a ``DeepSearchEnv`` from ``gym.make`` keyword arguments: corpus and searcher by spec or object.

Task sets and searchers built from spec strings are cached per process (keyed by the specs), so many
``gym.make`` calls (vector envs, evaluation loops) share one read-only corpus and index. Objects passed
in (a ``TaskSet``, a searcher, a judge-backed reward) are shared by the copies ``gym.make`` takes of
``env.spec`` because they are ``searchgym.sharing.SharedOnCopy``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from searchgym.corpora.records import Task

_CACHE: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()


def _cached(key: tuple[Any, ...], build):
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = build()
        return _CACHE[key]


def resolve_taskset(corpus: Any):
    """A ``TaskSet`` from a corpus spec string (cached) or a ``TaskSet`` itself."""
    if isinstance(corpus, str):
        from searchgym.corpora import load_taskset

        return _cached(("taskset", corpus), lambda: load_taskset(corpus))
    if hasattr(corpus, "tasks") and hasattr(corpus, "documents"):
        return corpus
    raise TypeError(f"corpus must be a spec string or a TaskSet, got {type(corpus).__name__}")


def resolve_searcher(searcher: Any, taskset: Any, cache_dir: str | Path | None = None, progress: bool = False):
    """A ``Searcher`` from a spec string over the task set's documents (cached per corpus), or as given."""
    if not isinstance(searcher, str):
        if not all(hasattr(searcher, m) for m in ("search", "doc")):
            raise TypeError(f"searcher must be a spec string or a Searcher, got {type(searcher).__name__}")
        return searcher
    from searchgym.search import build_searcher

    key = ("searcher", searcher, id(taskset.documents), str(cache_dir) if cache_dir else None)
    path = Path(cache_dir) if cache_dir else None
    return _cached(key, lambda: (taskset.documents, build_searcher(searcher, taskset.documents, path,
                                                                   progress=progress)))[1]


def make_env(corpus: Any = "synthetic", searcher: Any = "bm25", *, tasks: Sequence[Task] | None = None,
             cache_dir: str | Path | None = None, progress: bool = False, **env_kwargs: Any):
    """``searchgym/DeepSearch-v0``: any corpus (spec or TaskSet) and searcher (spec or instance).

    ``tasks`` restricts the episodes to these tasks (e.g. a split); other keywords go to
    ``DeepSearchEnv`` (``max_turns``, ``top_k``, ``passage_chars``, ``doc_chars``, ``reward``...).
    """
    from searchgym.envs.deep_search import DeepSearchEnv

    taskset = resolve_taskset(corpus)
    engine = resolve_searcher(searcher, taskset, cache_dir, progress)
    return DeepSearchEnv(taskset.tasks if tasks is None else tasks, engine, **env_kwargs)


def make_synthetic_env(seed: int = 0, passages: int = 2000, num_tasks: int = 200, hops: Any = "2-4",
                       searcher: Any = "bm25", **kwargs: Any):
    """``searchgym/SyntheticWorld-v0``: the embedded synthetic world (no download) with BM25 by default."""
    if not isinstance(hops, str):
        hops = "+".join(str(h) for h in hops)
    spec = f"synthetic:seed={int(seed)},passages={int(passages)},tasks={int(num_tasks)},hops={hops}"
    return make_env(spec, searcher, **kwargs)


def _dataset_env(kind: str, path: str | Path | None, searcher: Any, limit: int | None, kwargs: dict[str, Any]):
    spec = f"{kind}:{Path(path).expanduser()}" if path else kind  # no path: the Hugging Face Hub copy
    if limit is not None:
        spec += f"{',' if path else ':'}limit={int(limit)}"
    return make_env(spec, searcher, **kwargs)


def make_hotpotqa_env(path: str | Path | None = None, searcher: Any = "bm25", limit: int | None = None, **kwargs: Any):
    """``searchgym/HotpotQA-v0``: ``path`` to a HotpotQA JSON file, or the Hub copy when omitted."""
    return _dataset_env("hotpotqa", path, searcher, limit, kwargs)


def make_musique_env(path: str | Path | None = None, searcher: Any = "bm25", limit: int | None = None, **kwargs: Any):
    """``searchgym/MuSiQue-v0``: ``path`` to a MuSiQue JSONL file, or the Hub copy when omitted."""
    return _dataset_env("musique", path, searcher, limit, kwargs)


def make_twowiki_env(path: str | Path | None = None, searcher: Any = "bm25", limit: int | None = None, **kwargs: Any):
    """``searchgym/2WikiMultihopQA-v0``: ``path`` to a 2WikiMultihopQA JSON file, or the Hub copy."""
    return _dataset_env("2wiki", path, searcher, limit, kwargs)


__all__ = ["make_env", "make_hotpotqa_env", "make_musique_env", "make_synthetic_env", "make_twowiki_env",
           "resolve_searcher", "resolve_taskset"]
