"""Dense retrieval: faiss inner-product search over normalised transformer embeddings."""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from searchgym._io import atomic_write_bytes, cache_root
from searchgym.corpora.records import Document
from searchgym.search.base import Hit
from searchgym.search.cache import cache_key, corpus_fingerprint
from searchgym.search.encoders import TransformerEncoder
from searchgym.sharing import SharedOnCopy

MAX_QUERY_CHARS = 2000  # the encoder truncates at max_length tokens anyway; this bounds tokenizer work


class DenseSearcher(SharedOnCopy):
    """Cosine-similarity search with faiss: exact ``IndexFlatIP`` up to ``hnsw_threshold`` documents,
    ``IndexHNSWFlat`` (inner product) above it. Embeddings are cached as ``.npy`` per corpus+encoder.

    Thread safety: safe to call from many threads. A Hugging Face fast tokenizer shared across
    threads can fail ("Already borrowed"), so query encoding is serialised by a lock; faiss searches
    of a built index are read-only and run concurrently.
    """

    def __init__(
        self,
        documents: Sequence[Document],
        encoder: str | TransformerEncoder | None = None,
        *,
        cache_dir: Path | None = None,
        hnsw_threshold: int = 200_000,
        hnsw_m: int = 32,
        ef_search: int = 128,
        batch_size: int = 64,
        progress: bool = True,
    ) -> None:
        import faiss

        self.documents = documents
        self.encoder = encoder if isinstance(encoder, TransformerEncoder) else TransformerEncoder(
            encoder, batch_size=batch_size)
        settings = {"encoder": self.encoder.name, "max_length": self.encoder.max_length, "pool": "mean-l2", "v": 1}
        key = cache_key("dense", corpus_fingerprint(documents), settings)
        path = Path(cache_dir or cache_root()) / f"{key}.npy"
        if path.is_file():
            embeddings = np.load(path)
        else:
            embeddings = self._encode_corpus(documents, progress)
            buf = io.BytesIO()
            np.save(buf, embeddings)
            atomic_write_bytes(path, buf.getvalue())
        self.embeddings_path = path
        if len(documents) > hnsw_threshold:
            self.index = faiss.IndexHNSWFlat(self.encoder.dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            self.index.hnsw.efSearch = ef_search
        else:
            self.index = faiss.IndexFlatIP(self.encoder.dim)
        self.index.add(embeddings)
        self._positions: dict[str, int] | None = None
        self._encode_lock = threading.Lock()

    def _encode_corpus(self, documents: Sequence[Document], progress: bool, chunk: int = 8192) -> np.ndarray:
        # chunked so a large corpus never holds all its texts in memory at once
        from tqdm.auto import tqdm

        out = np.zeros((len(documents), self.encoder.dim), dtype=np.float32)
        with tqdm(total=len(documents), desc="encoding corpus", unit="doc", disable=not progress) as bar:
            for start in range(0, len(documents), chunk):
                texts = [documents[i].contents for i in range(start, min(start + chunk, len(documents)))]
                out[start:start + len(texts)] = self.encoder.encode(texts)
                bar.update(len(texts))
        return out

    def _embed(self, queries: Sequence[str]) -> np.ndarray:
        texts = [q[:MAX_QUERY_CHARS] if isinstance(q, str) else "" for q in queries]
        texts = [t.encode("utf-8", "replace").decode("utf-8") for t in texts]  # lone surrogates
        with self._encode_lock:
            return self.encoder.encode(texts)

    def batch_search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """Top ``k`` hits for each query (blank queries give ``[]``)."""
        out: list[list[Hit]] = [[] for _ in queries]
        live = [i for i, q in enumerate(queries) if isinstance(q, str) and q.strip()]
        if not live or k <= 0 or len(self.documents) == 0:
            return out
        scores, ids = self.index.search(self._embed([queries[i] for i in live]), min(int(k), len(self.documents)))
        for row, i in enumerate(live):
            for score, pos in zip(scores[row], ids[row]):
                if pos >= 0:
                    d = self.documents[int(pos)]
                    out[i].append(Hit(doc_id=d.id, score=float(score), title=d.title, text=d.text))
        return out

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """Top ``k`` hits by cosine similarity."""
        return self.batch_search([query], k)[0]

    def doc(self, doc_id: str) -> Document | None:
        """The document with this id, or ``None``."""
        positions = self._positions
        if positions is None:  # racing threads build equal maps; the last assignment wins harmlessly
            positions = self._positions = {d.id: i for i, d in enumerate(self.documents)}
        pos = positions.get(doc_id) if isinstance(doc_id, str) else None
        return None if pos is None else self.documents[pos]
