"""``RemoteSearcher``: an HTTP client for a retrieval server in the Search-R1 / FlashRAG shape.

Requests are ``POST {url}/retrieve`` with ``{"queries", "topk", "return_scores": true}``; each result
item is ``{"document": {"id", "contents", ...}, "score"}`` (or the bare document). ``doc(id)`` first
asks ``GET {url}/doc/<id>`` (served by :mod:`searchgym.search.server`); plain Search-R1 servers have no
such route, so documents seen in earlier results are remembered and served from that memory.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Sequence
from urllib.parse import quote

import httpx

from searchgym.corpora.records import Document
from searchgym.search.base import Hit


class RemoteSearchError(RuntimeError):
    """The retrieval server could not be reached or answered something unusable."""


def _parse_document(item: dict[str, Any]) -> Document:
    doc = item.get("document", item)
    title, text = doc.get("title"), doc.get("text")
    if title is None or text is None:
        # Search-R1/FlashRAG corpora: contents = '"Title"\ntext'
        head, _, rest = str(doc.get("contents", "")).partition("\n")
        title, text = (head.strip().strip('"'), rest) if rest else ("", head)
    return Document(id=str(doc.get("id", doc.get("doc_id", ""))), title=str(title), text=str(text))


class RemoteSearcher:
    """Searcher backed by a remote ``/retrieve`` endpoint, with timeouts and retries."""

    def __init__(self, url: str, *, timeout: float = 30.0, retries: int = 3, backoff: float = 0.5,
                 remember: int = 100_000) -> None:
        self.url = url.rstrip("/")
        self.retries, self.backoff = retries, backoff
        self._client = httpx.Client(timeout=timeout)
        self._seen: OrderedDict[str, Document] = OrderedDict()
        self._remember = remember
        self._has_doc_route: bool | None = None

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            try:
                resp = self._client.request(method, self.url + path, **kw)
            except httpx.TransportError as exc:
                last = exc
            else:
                if resp.status_code < 500:
                    return resp
                last = RemoteSearchError(f"{self.url}{path} answered {resp.status_code}: {resp.text[:300]}")
            if attempt < self.retries:
                time.sleep(self.backoff * 2 ** attempt)
        raise RemoteSearchError(f"retrieval server {self.url} failed after {self.retries + 1} tries: {last}") from last

    def batch_search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """Top ``k`` hits for each query from the server."""
        if not queries or k <= 0:
            return [[] for _ in queries]
        clean = [q.encode("utf-8", "replace").decode("utf-8") if isinstance(q, str) else "" for q in queries]
        resp = self._request("POST", "/retrieve", json={"queries": clean, "topk": int(k), "return_scores": True})
        if resp.status_code != 200:
            raise RemoteSearchError(f"{self.url}/retrieve answered {resp.status_code}: {resp.text[:300]}")
        try:
            result = resp.json()["result"]
            out = []
            for items in result:
                hits = []
                for item in items[:k]:
                    doc = _parse_document(item)
                    self._remember_doc(doc)
                    score = float(item.get("score", 0.0)) if "document" in item else 0.0
                    hits.append(Hit(doc_id=doc.id, score=score, title=doc.title, text=doc.text))
                out.append(hits)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RemoteSearchError(f"{self.url}/retrieve answered an unexpected shape: {exc}") from exc
        if len(out) != len(queries):
            raise RemoteSearchError(f"{self.url}/retrieve answered {len(out)} result lists for {len(queries)} queries")
        return out

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """Top ``k`` hits for one query."""
        return self.batch_search([query], k)[0]

    def _remember_doc(self, doc: Document) -> None:
        self._seen[doc.id] = doc
        self._seen.move_to_end(doc.id)
        while len(self._seen) > self._remember:
            self._seen.popitem(last=False)

    def doc(self, doc_id: str) -> Document | None:
        """The document from ``GET /doc/<id>`` when the server has that route, else from earlier results."""
        if not isinstance(doc_id, str) or not doc_id:
            return None
        if self._has_doc_route is not False:
            resp = self._request("GET", "/doc/" + quote(doc_id, safe=""))
            if resp.status_code == 200:
                self._has_doc_route = True
                return _parse_document(resp.json())
            if resp.status_code == 404 and self._has_doc_route is None:
                # a 404 from a route we know works means "no such doc"; otherwise probe the server
                self._has_doc_route = self._request("GET", "/health").status_code == 200
        return self._seen.get(doc_id)

    def close(self) -> None:
        self._client.close()
