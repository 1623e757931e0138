"""BM25 over a pyserini (Lucene) index built from any corpus and cached on disk."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
import time
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from searchgym._io import cache_root
from searchgym.corpora.records import Document
from searchgym.search.base import Hit
from searchgym.search.cache import atomic_dir, cache_key, corpus_fingerprint, is_complete
from searchgym.search.java import anserini_jar, import_pyserini, java_binary, jvm_options
from searchgym.sharing import SharedOnCopy

log = logging.getLogger(__name__)
T = TypeVar("T")

# Anserini's bag-of-words query makes one Lucene clause per distinct analysed term and Lucene refuses
# more than 1024; 1,000 characters cannot hold more than ~500 terms and no useful query is longer.
MAX_QUERY_CHARS = 1000


def clean_query(query: str) -> str:
    """Untrusted text to a safe bag-of-words query: control/format/surrogate code points become spaces,
    the length is capped at :data:`MAX_QUERY_CHARS` (on a word boundary when there is one)."""
    if not isinstance(query, str):
        return ""
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in query)
    text = " ".join(text.split())
    if len(text) > MAX_QUERY_CHARS:
        cut = text.rfind(" ", 0, MAX_QUERY_CHARS + 1)
        text = text[: cut if cut > MAX_QUERY_CHARS // 2 else MAX_QUERY_CHARS]
    return text


def _doc_from_raw(raw: str | None) -> Document | None:
    if not raw:
        return None
    row = json.loads(raw)
    title, contents = row.get("title", ""), row.get("contents", "")
    text = contents[len(title) + 1:] if title and contents.startswith(title + "\n") else contents
    return Document(id=row["id"], title=title, text=text)


def build_bm25_index(
    documents: Sequence[Document],
    cache_dir: Path | None = None,
    *,
    language: str = "en",
    threads: int | None = None,
    progress: bool = True,
    fingerprint: str | None = None,
) -> Path:
    """Build (or reuse) the Lucene index for ``documents``; return its directory.

    The key covers the corpus content and the analyzer (``language``). BM25's k1 and b are applied at
    query time by Lucene's similarity, so they are not part of the key: one index serves every k1/b.
    """
    from tqdm.auto import tqdm

    fingerprint = fingerprint or corpus_fingerprint(documents)
    final = Path(cache_dir or cache_root()) / cache_key("bm25", fingerprint, {"language": language, "v": 1})
    if is_complete(final):
        return final
    threads = max(1, threads or os.cpu_count() or 1)
    with atomic_dir(final) as tmp, tempfile.TemporaryDirectory(prefix="searchgym-jsonl-") as coll:
        # one shard per thread: Anserini parallelises over files
        shards = [open(Path(coll) / f"part{i:03d}.jsonl", "w", encoding="utf-8") for i in range(threads)]
        try:
            for i, doc in enumerate(tqdm(documents, desc="writing corpus", unit="doc", disable=not progress)):
                row = {"id": doc.id, "title": doc.title, "contents": doc.contents}
                shards[i % threads].write(json.dumps(row, ensure_ascii=False) + "\n")
        finally:
            for f in shards:
                f.close()
        cmd = [
            str(java_binary()), *jvm_options(), "-cp", str(anserini_jar()), "io.anserini.index.IndexCollection",
            "-collection", "JsonCollection", "-generator", "DefaultLuceneDocumentGenerator",
            "-input", coll, "-index", str(tmp / "index"), "-threads", str(threads),
            "-storeRaw", "-language", language, "-quiet",
        ]
        with open(tmp / "indexer.log", "w") as logf:
            proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT)
            with tqdm(desc="indexing (Lucene)", bar_format="{desc}: {elapsed}", disable=not progress) as bar:
                while proc.poll() is None:
                    time.sleep(0.2)
                    bar.refresh()
        if proc.returncode != 0:
            tail = (tmp / "indexer.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"Lucene indexing failed (exit {proc.returncode}):\n{tail}")
    return final


class BM25Searcher(SharedOnCopy):
    """BM25 search (pyserini ``LuceneSearcher``) over a cached Lucene index of a corpus.

    Thread safety: safe to call from any number of threads. pyserini's searcher and jnius are not
    (concurrent calls returned wrong or empty hits and crashed the JVM), so every Lucene call of this
    searcher runs on one dedicated thread, in submission order; only that thread (and the one that
    built the searcher) is ever attached to the JVM. ``batch_search`` hands a batch of at least
    ``parallel_min`` queries to pyserini's multi-threaded batch search (``threads`` Java threads),
    which is where concurrency pays.
    """

    def __init__(
        self,
        documents: Sequence[Document] | None = None,
        *,
        index_dir: Path | str | None = None,
        cache_dir: Path | None = None,
        k1: float = 0.9,
        b: float = 0.4,
        language: str = "en",
        threads: int | None = None,
        progress: bool = True,
        parallel_min: int = 4,
    ) -> None:
        if index_dir is None:
            if documents is None:
                raise ValueError("BM25Searcher needs documents or an index_dir")
            index_dir = build_bm25_index(documents, cache_dir, language=language, threads=threads, progress=progress)
        self.index_dir = Path(index_dir)
        lucene = self.index_dir / "index" if (self.index_dir / "index").is_dir() else self.index_dir
        self.k1, self.b = k1, b
        self.threads = max(1, threads or os.cpu_count() or 1)
        self.parallel_min = max(1, int(parallel_min))
        module = import_pyserini("pyserini.search.lucene")
        self._jnius = import_pyserini("jnius")
        self._searcher = module.LuceneSearcher(str(lucene))
        self._searcher.set_bm25(k1, b)
        if language != "en":
            self._searcher.set_language(language)
        self._num_docs = int(self._searcher.num_docs)
        self._jvm = ThreadPoolExecutor(max_workers=1, thread_name_prefix="searchgym-lucene")
        self._closed = False

    def __len__(self) -> int:
        return self._num_docs

    def _on_jvm(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` on this searcher's Lucene thread and wait for it."""
        if self._closed:
            raise RuntimeError("BM25Searcher is closed")
        return self._jvm.submit(fn, *args).result()

    def _hits(self, scored) -> list[Hit]:
        hits = []
        for h in scored:
            doc = _doc_from_raw(h.lucene_document.get("raw"))
            if doc is not None:
                hits.append(Hit(doc_id=doc.id, score=float(h.score), title=doc.title, text=doc.text))
        return hits

    def _search_one(self, text: str, k: int) -> list[Hit]:
        try:
            return self._hits(self._searcher.search(text, k))
        except self._jnius.JavaException as exc:  # defined outcome for a query Lucene rejects
            log.warning("BM25 query rejected by Lucene (%s); returning no hits", exc)
            return []

    def _search_many(self, texts: list[str], k: int) -> list[list[Hit]]:
        if len(texts) < self.parallel_min or self.threads == 1:
            return [self._search_one(t, k) for t in texts]
        qids = [str(i) for i in range(len(texts))]
        try:
            results = self._searcher.batch_search(texts, qids, k=k, threads=self.threads)
        except self._jnius.JavaException:
            return [self._search_one(t, k) for t in texts]
        return [self._hits(results.get(qid, [])) for qid in qids]

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """Top ``k`` BM25 hits; any query text gives hits or ``[]``."""
        return self.batch_search([query], k)[0]

    def batch_search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """``search`` for many queries, in order (one Lucene-thread hand-off for the whole batch)."""
        texts = [clean_query(q) for q in queries]
        live = [i for i, t in enumerate(texts) if t]
        out: list[list[Hit]] = [[] for _ in texts]
        k = min(int(k), len(self))  # Lucene sizes its priority queue by k: bound it
        if not live or k <= 0:
            return out
        for i, hits in zip(live, self._on_jvm(self._search_many, [texts[i] for i in live], k)):
            out[i] = hits
        return out

    def _doc(self, doc_id: str) -> Document | None:
        try:
            found = self._searcher.doc(doc_id)
        except self._jnius.JavaException:
            return None
        return None if found is None else _doc_from_raw(found.raw())

    def doc(self, doc_id: str) -> Document | None:
        """The stored document with this id, or ``None`` (any string, lone surrogates included)."""
        if not isinstance(doc_id, str) or not doc_id:
            return None
        try:
            doc_id.encode("utf-8")
        except UnicodeEncodeError:  # jnius cannot pass it to Java, and no stored id holds one
            return None
        return self._on_jvm(self._doc, doc_id)

    def close(self) -> None:
        """Release the Lucene reader and the Lucene thread."""
        if self._closed:
            return
        self._on_jvm(self._searcher.close)
        self._closed = True
        self._jvm.shutdown(wait=True)
