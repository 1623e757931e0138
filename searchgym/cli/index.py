"""`searchgym index`: build and cache the search indexes of a corpus."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from searchgym.search.specs import SEARCHER_HELP


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``index`` verb's options to ``parser``."""
    parser.add_argument("--corpus", default="synthetic", help="corpus spec (see searchgym.corpora.load_taskset)")
    parser.add_argument("--searcher", default="bm25", help=f"{SEARCHER_HELP} (default: bm25)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: $SEARCHGYM_CACHE or ~/.cache/searchgym")
    parser.add_argument("--query", default=None, help="run one query against the built index and print the hits")


def run(args: argparse.Namespace) -> int:
    """Build (or load) the cached index for a corpus and return the exit status."""
    from searchgym._io import cache_root
    from searchgym.corpora import load_taskset
    from searchgym.search import build_searcher

    if args.searcher.startswith("remote"):
        print("a remote searcher has no local index to build")
        return 2
    start = time.perf_counter()
    taskset = load_taskset(args.corpus)
    print(f"corpus {args.corpus!r}: {len(taskset.documents)} documents, {len(taskset.tasks)} tasks")
    searcher = build_searcher(args.searcher, taskset.documents, args.cache_dir)
    print(f"{args.searcher} index ready under {args.cache_dir or cache_root()} "
          f"in {time.perf_counter() - start:.1f} s")
    if args.query:
        for hit in searcher.search(args.query, 5):
            print(f"{hit.score:8.3f}  [{hit.doc_id}] {hit.title}: {hit.text[:100]}")
    return 0
