"""``RemoteSearcher``: an HTTP client for a retrieval server in the Search-R1 / FlashRAG shape.

One total deadline per call; whatever goes wrong raises :class:`RemoteSearchError` and nothing else.
Thread-safe. See docs/search.md.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import math
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx

from searchgym.corpora.records import Document
from searchgym.search.base import Hit, SearchError
from searchgym.sharing import SharedOnCopy


class RemoteSearchError(SearchError):
    """The retrieval server could not be reached in time or answered something unusable."""


class _Retryable(Exception):
    pass


def _str_field(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"document field {key!r} is {type(value).__name__}, not a string")
    return value


def _parse_document(item: Any) -> Document:
    """A ``Document`` from a result item or a ``/doc`` reply; ``ValueError`` for any other shape."""
    if not isinstance(item, dict):
        raise ValueError(f"expected a document object, got {type(item).__name__}")
    doc = item.get("document", item)
    if not isinstance(doc, dict):
        raise ValueError(f"expected a document object, got {type(doc).__name__}")
    raw_id = doc.get("id", doc.get("doc_id"))
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)  # FlashRAG corpora number their passages
    if not isinstance(raw_id, str) or not raw_id:
        raise ValueError(f"document without a string id: {str(doc)[:200]}")
    title, text, contents = _str_field(doc, "title"), _str_field(doc, "text"), _str_field(doc, "contents")
    if title is None or text is None:
        if contents is None:
            raise ValueError(f"document {raw_id!r} has neither title/text nor contents")
        # Search-R1/FlashRAG corpora: contents = '"Title"\ntext'
        head, _, rest = contents.partition("\n")
        title, text = (head.strip().strip('"'), rest) if rest else ("", head)
    return Document(id=raw_id, title=title, text=text)


def _parse_score(item: dict[str, Any]) -> float:
    if "document" not in item:
        return 0.0
    score = item.get("score", 0.0)
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        raise ValueError(f"score {score!r} is not a finite number")
    return float(score)


class RemoteSearcher(SharedOnCopy):
    """Searcher backed by a remote ``/retrieve`` endpoint; see the module doc for deadlines and faults.

    ``timeout`` is the total deadline of one call in seconds; ``retries`` more tries follow a
    connection error or 5xx while the deadline allows; replies over ``max_reply_bytes`` are refused.
    """

    def __init__(self, url: str, *, timeout: float = 30.0, retries: int = 3, backoff: float = 0.5,
                 remember: int = 100_000, max_reply_bytes: int = 64 * 1024 * 1024) -> None:
        if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.url = url.rstrip("/")
        self.timeout, self.retries, self.backoff = float(timeout), int(retries), float(backoff)
        self.max_reply_bytes = int(max_reply_bytes)
        self._seen: OrderedDict[str, Document] = OrderedDict()
        self._remember = remember
        self._has_doc_route: bool | None = None
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._pid = -1

    # --- transport ---------------------------------------------------------------------------
    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():  # a forked child has no loop thread
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="searchgym-remote", daemon=True).start()
                weakref.finalize(self, loop.call_soon_threadsafe, loop.stop)  # an unclosed searcher's thread ends
                self._loop, self._pid, self._client = loop, os.getpid(), None
            return self._loop

    async def _attempt(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        if self._client is None:  # created on the loop that uses it
            self._client = httpx.AsyncClient(timeout=None, limits=httpx.Limits(max_connections=64))
        headers = {"Content-Type": "application/json"} if body is not None else None
        async with self._client.stream(method, self.url + path, content=body, headers=headers) as resp:
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > self.max_reply_bytes:
                raise RemoteSearchError(f"{self.url}{path} reply of {declared} bytes is over {self.max_reply_bytes}")
            chunks, size = [], 0
            async for chunk in resp.aiter_bytes():  # decoded: the cap also holds for a gzip bomb
                size += len(chunk)
                if size > self.max_reply_bytes:
                    raise RemoteSearchError(f"{self.url}{path} reply is over {self.max_reply_bytes} bytes")
                chunks.append(chunk)
            if resp.status_code >= 500:
                raise _Retryable(f"{self.url}{path} answered {resp.status_code}: {b''.join(chunks)[:300]!r}")
            return resp.status_code, b"".join(chunks)

    async def _call(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        last: BaseException | None = None
        for attempt in range(self.retries + 1):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                return await asyncio.wait_for(self._attempt(method, path, body), remaining)
            except RemoteSearchError:
                raise
            except TimeoutError:
                raise RemoteSearchError(
                    f"retrieval server {self.url}{path} gave no complete answer within {self.timeout:g} s") from None
            except (httpx.HTTPError, _Retryable, OSError) as exc:
                last = exc
            pause = min(self.backoff * 2 ** attempt, deadline - loop.time())
            if attempt < self.retries and pause > 0:
                await asyncio.sleep(pause)
        raise RemoteSearchError(f"retrieval server {self.url} failed after {attempt + 1} tries "
                                f"(deadline {self.timeout:g} s): {type(last).__name__}: {last}") from last

    def _request(self, method: str, path: str, payload: Any = None) -> tuple[int, bytes]:
        body = None if payload is None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        future = asyncio.run_coroutine_threadsafe(self._call(method, path, body), self._ensure_loop())
        try:
            return future.result(timeout=self.timeout + 5)  # the coroutine keeps the deadline; this is a backstop
        except RemoteSearchError:
            raise
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise RemoteSearchError(f"retrieval server {self.url}{path}: no answer within {self.timeout:g} s") from None
        except Exception as exc:  # anything else the transport raised is still a backend fault
            raise RemoteSearchError(f"retrieval server {self.url}{path}: {type(exc).__name__}: {exc}") from exc

    def _json(self, path: str, raw: bytes) -> Any:
        try:
            return json.loads(raw)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise RemoteSearchError(f"{self.url}{path} answered something that is not UTF-8 JSON: "
                                    f"{type(exc).__name__}: {str(exc)[:200]}") from None

    # --- Searcher API --------------------------------------------------------------------------
    def batch_search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """Top ``k`` hits for each query from the server."""
        if not queries or k <= 0:
            return [[] for _ in queries]
        clean = [q.encode("utf-8", "replace").decode("utf-8") if isinstance(q, str) else "" for q in queries]
        status, raw = self._request("POST", "/retrieve", {"queries": clean, "topk": int(k), "return_scores": True})
        if status != 200:
            raise RemoteSearchError(f"{self.url}/retrieve answered {status}: {raw[:300]!r}")
        reply = self._json("/retrieve", raw)
        try:
            if not isinstance(reply, dict) or not isinstance(reply.get("result"), list):
                raise ValueError('expected {"result": [...]}')
            result = reply["result"]
            if len(result) != len(queries):
                raise ValueError(f"{len(result)} result lists for {len(queries)} queries")
            out = []
            for items in result:
                if not isinstance(items, list):
                    raise ValueError(f"a result list is {type(items).__name__}")
                hits = []
                for item in items[:k]:
                    doc = _parse_document(item)
                    hits.append(Hit(doc_id=doc.id, score=_parse_score(item), title=doc.title, text=doc.text))
                out.append(hits)
        except (ValueError, TypeError, AttributeError) as exc:
            raise RemoteSearchError(f"{self.url}/retrieve answered an unexpected shape: {exc}") from None
        with self._lock:
            for hits in out:
                for h in hits:
                    self._remember_doc(Document(h.doc_id, h.title, h.text))
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
            path = "/doc/" + quote(doc_id.encode("utf-8", "replace").decode("utf-8"), safe="")
            status, raw = self._request("GET", path)
            if status == 200:
                try:
                    doc = _parse_document(self._json(path, raw))
                except ValueError as exc:
                    raise RemoteSearchError(f"{self.url}{path} answered an unexpected shape: {exc}") from None
                if doc.id != doc_id:
                    raise RemoteSearchError(f"{self.url}{path} answered document {doc.id!r}, not {doc_id!r}")
                self._has_doc_route = True
                return doc
            if status == 404:
                if self._has_doc_route is None:
                    # a 404 from a route we know works means "no such doc"; otherwise probe the server
                    self._has_doc_route = self._request("GET", "/health")[0] == 200
            elif status != 405:  # 405: a server with no GET routes at all
                raise RemoteSearchError(f"{self.url}{path} answered {status}: {raw[:300]!r}")
            else:
                self._has_doc_route = False
        with self._lock:
            return self._seen.get(doc_id)

    def close(self) -> None:
        """Close the connection pool and stop the loop thread."""
        with self._lock:
            loop, client, self._loop, self._client = self._loop, self._client, None, None
        if loop is None or self._pid != os.getpid():
            return
        if client is not None:
            asyncio.run_coroutine_threadsafe(client.aclose(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
