"""BM25 on the ``bm25s`` library (scipy sparse matrices, no JVM), cached on disk.

For machines with no Java; the analyzer mirrors Anserini's default English one so rankings agree
closely with the Lucene backend. See docs/search.md.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from searchgym._io import cache_root
from searchgym.corpora.records import Document
from searchgym.search.base import Hit
from searchgym.search.bm25 import clean_query
from searchgym.search.cache import atomic_dir, cache_key, corpus_fingerprint, is_complete
from searchgym.sharing import SharedOnCopy

# Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET, which Anserini's default English analyzer uses
LUCENE_STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
    "they this to was will with".split()
)
_WORD = re.compile(r"\w+(?:['\u2019]\w+)*", re.UNICODE)
_POSSESSIVE = re.compile(r"['\u2019]s$")
ANALYZER_VERSION = "en-porter-1"


class Analyzer:
    """Text to BM25 terms (see the module doc); one instance can be shared by threads."""

    def __init__(self) -> None:
        self._local = threading.local()  # PyStemmer objects keep a cache and are not thread-safe

    def _stemmer(self):
        stemmer = getattr(self._local, "stemmer", None)
        if stemmer is None:
            import Stemmer

            stemmer = self._local.stemmer = Stemmer.Stemmer("porter")
        return stemmer

    def __call__(self, text: str) -> list[str]:
        words = []
        for match in _WORD.finditer(text.lower()):
            word = _POSSESSIVE.sub("", match.group())
            for part in word.replace("\u2019", "'").split("'"):
                if part and part not in LUCENE_STOPWORDS:
                    words.append(part)
        return [w for w in self._stemmer().stemWords(words) if w]  # Porter stems a lone "s" to nothing


def build_bm25s_index(
    documents: Sequence[Document],
    cache_dir: Path | None = None,
    *,
    k1: float = 0.9,
    b: float = 0.4,
    progress: bool = True,
    fingerprint: str | None = None,
) -> Path:
    """Build (or reuse) the bm25s index for ``documents`` with these k1/b; return its directory."""
    import bm25s
    from tqdm.auto import tqdm

    if not documents:
        raise ValueError("bm25s needs at least one document")
    fingerprint = fingerprint or corpus_fingerprint(documents)
    settings = {"k1": float(k1), "b": float(b), "analyzer": ANALYZER_VERSION, "v": 1}
    final = Path(cache_dir or cache_root()) / cache_key("bm25s", fingerprint, settings)
    if is_complete(final):
        return final
    analyze = Analyzer()
    tokens = [analyze(d.contents) for d in tqdm(documents, desc="analysing corpus", unit="doc", disable=not progress)]
    retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
    retriever.index(tokens, show_progress=progress, create_empty_token=False)
    with atomic_dir(final) as tmp:
        retriever.save(str(tmp / "index"))
        with open(tmp / "docs.jsonl", "w", encoding="utf-8") as f:
            for doc in documents:
                f.write(json.dumps({"id": doc.id, "title": doc.title, "text": doc.text}, ensure_ascii=False) + "\n")
    return final


def _read_docs(path: Path) -> list[Document]:
    with open(path, encoding="utf-8") as f:
        return [Document(id=row["id"], title=row["title"], text=row["text"]) for row in map(json.loads, f)]


class BM25sSearcher(SharedOnCopy):
    """BM25 search over a cached ``bm25s`` index of a corpus; thread-safe (read-only numpy scoring)."""

    def __init__(
        self,
        documents: Sequence[Document] | None = None,
        *,
        index_dir: Path | str | None = None,
        cache_dir: Path | None = None,
        k1: float = 0.9,
        b: float = 0.4,
        progress: bool = True,
    ) -> None:
        import bm25s

        if index_dir is None:
            if documents is None:
                raise ValueError("BM25sSearcher needs documents or an index_dir")
            index_dir = build_bm25s_index(documents, cache_dir, k1=k1, b=b, progress=progress)
        self.index_dir = Path(index_dir)
        if not is_complete(self.index_dir):
            raise FileNotFoundError(f"{self.index_dir} is not a complete bm25s index")
        self.k1, self.b = k1, b
        self._retriever = bm25s.BM25.load(str(self.index_dir / "index"), load_corpus=False)
        rows = len(self._retriever.scores["indptr"]) - 1  # terms with a row in the score matrix
        self._vocab = {t: i for t, i in self._retriever.vocab_dict.items() if 0 <= i < rows}
        self._docs = list(documents) if documents is not None else _read_docs(self.index_dir / "docs.jsonl")
        num_docs = int(self._retriever.scores["num_docs"])
        if num_docs != len(self._docs):
            raise ValueError(f"index {self.index_dir} holds {num_docs} documents, the corpus {len(self._docs)}")
        self._by_id = {d.id: i for i, d in enumerate(self._docs)}
        self._analyze = Analyzer()

    def __len__(self) -> int:
        return len(self._docs)

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """Top ``k`` BM25 hits, ties broken by corpus order (as Lucene does); any query gives hits or ``[]``."""
        text = clean_query(query)
        k = min(int(k), len(self))
        if not text or k <= 0:
            return []
        ids = [self._vocab[t] for t in self._analyze(text) if t in self._vocab]
        if not ids:
            return []
        scores = self._retriever.get_scores_from_ids(ids)
        if len(scores) > k:
            top = np.argpartition(-scores, k - 1)[:k]
            # argpartition cuts ties at the k-th score arbitrarily: take every doc tied with it, then order
            kth = scores[top].min()
            top = np.flatnonzero(scores >= kth)
        else:
            top = np.arange(len(scores))
        top = top[scores[top] > 0]
        order = top[np.lexsort((top, -scores[top]))][:k]
        return [Hit(doc_id=self._docs[i].id, score=float(scores[i]), title=self._docs[i].title,
                    text=self._docs[i].text) for i in order.tolist()]

    def batch_search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """``search`` for each query, in order."""
        return [self.search(q, k) for q in queries]

    def doc(self, doc_id: str) -> Document | None:
        """The document with this id, or ``None``."""
        if not isinstance(doc_id, str):
            return None
        i = self._by_id.get(doc_id)
        return None if i is None else self._docs[i]

    def close(self) -> None:
        """Nothing to release (kept for parity with the Lucene searcher)."""


__all__ = ["Analyzer", "BM25sSearcher", "LUCENE_STOPWORDS", "build_bm25s_index"]
