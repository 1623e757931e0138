"""A retrieval server for any ``Searcher`` in the Search-R1 / FlashRAG retriever shape (Starlette + uvicorn).

Routes ``POST /retrieve``, ``GET /doc/<id>``, ``GET /health``; strict validation, every limit a
:class:`ServerLimits` field, concurrent requests micro-batched. See docs/search.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import math
import socket
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Any

from searchgym.errors import SearchgymError
from searchgym.search.base import Hit, Searcher

ALLOWED_KEYS = frozenset({"queries", "topk", "return_scores"})
DEFAULT_TOPK = 3  # Search-R1's retriever default


@dataclass(frozen=True)
class ServerLimits:
    """Every limit of :class:`RetrievalServer`; the defaults suit a training cluster's retrieval node."""

    max_body_bytes: int = 1024 * 1024
    """Largest request body accepted (413 above)."""
    max_queries: int = 512
    """Most queries in one ``/retrieve`` request."""
    max_query_chars: int = 8192
    """Longest single query (searchers cut queries much shorter anyway)."""
    max_topk: int = 100
    """Largest ``topk``."""
    max_hits: int = 10_000
    """Most hits one request may ask for (queries x topk); refused with a 413 before any search."""
    max_response_bytes: int = 32 * 1024 * 1024
    """Largest answer; a request whose answer would be larger gets a 413 instead."""
    max_doc_id_chars: int = 4096
    """Longest document id in ``/doc/<id>``."""
    max_connections: int = 1024
    """Concurrent connections + requests before new requests get a 503 (uvicorn ``limit_concurrency``)."""
    header_timeout: float = 10.0
    """Seconds a connection has to send a complete request head."""
    body_timeout: float = 30.0
    """Seconds a request has to send its complete body."""
    keep_alive_timeout: float = 15.0
    """Seconds an idle keep-alive connection stays open."""
    max_header_bytes: int = 64 * 1024
    """Largest request head (h11 ``max_incomplete_event_size``)."""
    batch_window_ms: float = 2.0
    """How long the batcher waits for requests already in flight to join a batch."""
    max_batch_queries: int = 2048
    """Most queries in one ``batch_search`` call."""
    max_batch_hits: int = 20_000
    """Most hits (queries x topk) held by one batch: bounds the server's memory under load."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) \
                    or value < (0 if f.name == "batch_window_ms" else 1e-9):
                raise ValueError(f"ServerLimits.{f.name} must be a positive number, got {value!r}")


class BadRequest(SearchgymError):
    """A request the server rejects with HTTP ``status`` and ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def document_json(doc: Any) -> dict[str, str]:
    """The wire form of a document or hit: Search-R1's ``id``/``contents`` plus ``title``/``text``."""
    doc_id = getattr(doc, "id", None) or doc.doc_id
    contents = f"{doc.title}\n{doc.text}" if doc.title else doc.text
    return {"id": doc_id, "contents": contents, "title": doc.title, "text": doc.text}


def encode_json(payload: Any) -> bytes:
    """UTF-8 JSON; text that cannot be UTF-8 (lone surrogates in a corpus) falls back to ASCII escapes."""
    try:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _reject_constant(name: str) -> Any:
    raise BadRequest(400, f"{name} is not valid JSON")


def parse_retrieve(raw: bytes, limits: ServerLimits) -> tuple[list[str], int, bool]:
    """Validate a ``/retrieve`` body: ``(queries, topk, return_scores)`` or :class:`BadRequest`."""
    try:
        # the C parser bounds nesting by the recursion limit; the type checks below accept depth 2 only
        req = json.loads(raw, parse_constant=_reject_constant)
    except BadRequest:
        raise
    except RecursionError:
        raise BadRequest(400, "JSON nested too deeply") from None
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        raise BadRequest(400, f"body is not UTF-8 JSON: {str(exc)[:200]}") from None
    if not isinstance(req, dict):
        raise BadRequest(400, 'body must be a JSON object {"queries": [...], "topk": k, "return_scores": bool}')
    unknown = sorted(set(req) - ALLOWED_KEYS)
    if unknown:
        raise BadRequest(400, f"unknown keys {unknown}; allowed: {sorted(ALLOWED_KEYS)}")
    if "queries" not in req:
        raise BadRequest(400, "missing 'queries' (a list of strings)")
    queries = req["queries"]
    if not isinstance(queries, list) or not all(isinstance(q, str) for q in queries):
        raise BadRequest(400, "'queries' must be a list of strings")
    if len(queries) > limits.max_queries:
        raise BadRequest(413, f"{len(queries)} queries; at most {limits.max_queries} per request")
    for i, q in enumerate(queries):
        if len(q) > limits.max_query_chars:
            raise BadRequest(413, f"query {i} has {len(q)} characters; at most {limits.max_query_chars}")
    topk = req.get("topk", DEFAULT_TOPK)
    if isinstance(topk, bool) or not isinstance(topk, int):
        raise BadRequest(400, f"'topk' must be an integer, got {type(topk).__name__}")
    if not 0 <= topk <= limits.max_topk:
        raise BadRequest(400, f"'topk' must be in [0, {limits.max_topk}], got {topk}")
    if len(queries) * topk > limits.max_hits:
        raise BadRequest(413, f"{len(queries)} queries x topk {topk} = {len(queries) * topk} hits; at most "
                              f"{limits.max_hits} per request")
    scores = req.get("return_scores", False)
    if not isinstance(scores, bool):
        raise BadRequest(400, f"'return_scores' must be true or false, got {type(scores).__name__}")
    return queries, topk, scores


@dataclass
class _Pending:
    queries: list[str]
    topk: int
    future: asyncio.Future


class _Batcher:
    """Collects concurrent ``/retrieve`` requests into ``batch_search`` calls on one worker thread."""

    def __init__(self, searcher: Searcher, limits: ServerLimits) -> None:
        self.searcher, self.limits = searcher, limits
        self.queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self.in_flight = 0  # /retrieve requests received and not yet answered
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="searchgym-batch")
        self.task: asyncio.Task | None = None
        self.batches = self.batched_requests = 0
        self.held: _Pending | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
        self.worker.shutdown(wait=False)

    async def search(self, queries: list[str], topk: int) -> list[list[Hit]]:
        future = asyncio.get_running_loop().create_future()
        await self.queue.put(_Pending(queries, topk, future))
        return await future

    async def _collect(self) -> list[_Pending]:
        if self.held is not None:  # a request that did not fit the previous batch opens this one
            batch, self.held = [self.held], None
        else:
            batch = [await self.queue.get()]
        size = sum(len(p.queries) for p in batch)
        hits = sum(len(p.queries) * max(1, p.topk) for p in batch)
        deadline = time.monotonic() + self.limits.batch_window_ms / 1000
        while size < self.limits.max_batch_queries and hits < self.limits.max_batch_hits:
            if not self.queue.empty():
                item = self.queue.get_nowait()
            elif self.in_flight > len(batch) and (wait := deadline - time.monotonic()) > 0:
                # more requests are being read or parsed right now: give them a moment to join
                try:
                    item = await asyncio.wait_for(self.queue.get(), wait)
                except TimeoutError:
                    break
            else:
                break
            more = len(item.queries)
            if size + more > self.limits.max_batch_queries or hits + more * max(1, item.topk) > self.limits.max_batch_hits:
                self.held = item
                break
            batch.append(item)
            size += more
            hits += more * max(1, item.topk)
        return batch

    def _search_batch(self, batch: list[_Pending]) -> list[list[list[Hit]] | BaseException]:
        out: list[list[list[Hit]] | BaseException] = [[] for _ in batch]
        by_k: dict[int, list[int]] = {}
        for i, p in enumerate(batch):
            by_k.setdefault(p.topk, []).append(i)
        for k, members in by_k.items():  # one call per topk: answers equal a lone search exactly
            queries = [q for i in members for q in batch[i].queries]
            try:
                results = self.searcher.batch_search(queries, k) if queries and k > 0 else [[] for _ in queries]
                if len(results) != len(queries):
                    raise RuntimeError(f"searcher answered {len(results)} lists for {len(queries)} queries")
            except Exception as exc:  # noqa: BLE001  (reported to each request as a 500)
                for i in members:
                    out[i] = exc
                continue
            start = 0
            for i in members:
                n = len(batch[i].queries)
                out[i] = [hits[:k] for hits in results[start:start + n]]
                start += n
        return out

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            self.batches += 1
            self.batched_requests += len(batch)
            try:
                answers = await loop.run_in_executor(self.worker, self._search_batch, batch)
            except Exception as exc:  # noqa: BLE001
                answers = [exc] * len(batch)
            for pending, answer in zip(batch, answers):
                if pending.future.done():  # the client went away
                    continue
                if isinstance(answer, BaseException):
                    pending.future.set_exception(answer)
                else:
                    pending.future.set_result(answer)


def _require_server_extra() -> None:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"the retrieval server needs Starlette and uvicorn: pip install 'searchgym[server]' "
                          f"({exc})") from exc


def _error(status: int, message: str):
    from starlette.responses import Response

    # after a framing or body error the rest of the stream cannot be trusted: close the connection
    headers = {"connection": "close"} if status in (400, 408, 411, 413) else None
    return Response(encode_json({"error": message}), status_code=status, media_type="application/json",
                    headers=headers)


def build_app(searcher: Searcher, limits: ServerLimits | None = None):
    """The Starlette app serving ``searcher`` (routes and validation as in the module doc)."""
    _require_server_extra()
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import Response
    from starlette.routing import Route

    limits = limits or ServerLimits()
    batcher = _Batcher(searcher, limits)
    try:
        num_docs: int | None = len(searcher)  # type: ignore[arg-type]
    except TypeError:
        num_docs = None

    def ok(payload: Any) -> Response:
        return Response(encode_json(payload), media_type="application/json")

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and "transfer-encoding" in request.headers:
            # legal for h11 (chunked wins) but the classic smuggling shape: refuse it, then close
            raise BadRequest(400, "Content-Length and Transfer-Encoding together are refused")
        if declared is None and "chunked" not in request.headers.get("transfer-encoding", "").lower():
            raise BadRequest(411, "a Content-Length header is required")
        if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
            raise BadRequest(413, f"body of {declared} bytes; at most {limits.max_body_bytes}")
        chunks, size = [], 0

        async def pull() -> None:
            nonlocal size
            async for chunk in request.stream():
                size += len(chunk)
                if size > limits.max_body_bytes:
                    raise BadRequest(413, f"body over {limits.max_body_bytes} bytes")
                chunks.append(chunk)

        try:
            await asyncio.wait_for(pull(), limits.body_timeout)
        except TimeoutError:
            raise BadRequest(408, f"the body did not arrive within {limits.body_timeout:g} s") from None
        return b"".join(chunks)

    async def retrieve(request: Request) -> Response:
        batcher.in_flight += 1
        try:
            queries, topk, scores = parse_retrieve(await read_body(request), limits)
            if not queries:
                return ok({"result": []})
            try:
                results = await batcher.search(queries, topk)
            except Exception as exc:  # noqa: BLE001  (report, keep serving)
                return _error(500, f"search failed: {type(exc).__name__}: {str(exc)[:500]}")
            out = [[{"document": document_json(h), "score": h.score} if scores else document_json(h) for h in hits]
                   for hits in results]
            body = encode_json({"result": out})
            if len(body) > limits.max_response_bytes:
                return _error(413, f"the answer would be {len(body)} bytes, over {limits.max_response_bytes}; "
                                   "ask for fewer queries or a smaller topk")
            return Response(body, media_type="application/json")
        except BadRequest as exc:
            return _error(exc.status, str(exc))
        except ClientDisconnect:
            return Response(status_code=400)
        finally:
            batcher.in_flight -= 1

    async def doc(request: Request) -> Response:
        doc_id = request.path_params["doc_id"]
        if len(doc_id) > limits.max_doc_id_chars:
            return _error(414, f"document id over {limits.max_doc_id_chars} characters")
        try:
            found = await asyncio.to_thread(searcher.doc, doc_id)
        except Exception as exc:  # noqa: BLE001
            return _error(500, f"doc lookup failed: {type(exc).__name__}: {str(exc)[:500]}")
        if found is None:
            return _error(404, "no such document")
        return ok({"document": document_json(found)})

    async def health(request: Request) -> Response:
        return ok({"ok": True, "documents": num_docs})

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException), "registered for HTTPException only"
        message = {404: f"unknown path {request.url.path}; routes: POST /retrieve, GET /doc/<id>, GET /health",
                   405: f"method {request.method} not allowed on {request.url.path}"}.get(exc.status_code, exc.detail)
        response = _error(exc.status_code, message)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @contextlib.asynccontextmanager
    async def lifespan(app: Any):
        batcher.start()
        yield
        await batcher.stop()

    app = Starlette(routes=[Route("/retrieve", retrieve, methods=["POST"]),
                            Route("/doc/{doc_id:path}", doc, methods=["GET"]),
                            Route("/health", health, methods=["GET"])],
                    exception_handlers={HTTPException: http_error}, lifespan=lifespan,
                    middleware=[Middleware(_HeadLimit, max_bytes=limits.max_header_bytes)])
    app.state.batcher = batcher
    return app


class _HeadLimit:
    """431 for a request head over ``max_bytes``: h11 bounds only a head still incomplete after a read,
    so one that arrives whole in a large read would otherwise pass."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + \
                sum(len(k) + len(v) + 4 for k, v in scope["headers"])
            if size > self.max_bytes:
                response = _error(431, f"request head of {size} bytes; at most {self.max_bytes}")
                response.headers["connection"] = "close"
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _guarded_protocol(header_timeout: float):
    """uvicorn's h11 protocol plus a request-head deadline (uvicorn has only an idle keep-alive one)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(header_timeout, self._head_expired)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _waiting_for_head(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _head_expired(self) -> None:
            self._head_timer = None
            if self._waiting_for_head() and not self.transport.is_closing():
                self.transport.close()  # slow or silent client: no complete request head in time

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                # asyncio already sets it; stated here because keep-alive latency depends on it
                # (Nagle + delayed ACK cost ~40 ms per request on the old server)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._arm()  # a new connection must send a request head in time

        def data_received(self, data: bytes) -> None:
            if self._head_timer is None and self._waiting_for_head():
                self._arm()  # the first bytes of the next request head on a kept-alive connection
            super().data_received(data)

        def handle_events(self) -> None:
            super().handle_events()
            if not self._waiting_for_head():
                self._disarm()  # a request head arrived; the app's body timeout takes over

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return GuardedH11Protocol


class RetrievalServer:
    """Serve ``searcher`` on ``host:port`` (port 0 picks a free one) with uvicorn, in a background
    thread (``start``/``stop`` or a ``with`` block) or in the foreground (``serve_forever``)."""

    def __init__(self, searcher: Searcher, host: str = "127.0.0.1", port: int = 0,
                 limits: ServerLimits | None = None) -> None:
        _require_server_extra()
        import uvicorn

        self.limits = limits or ServerLimits()
        self.app = build_app(searcher, self.limits)
        self.socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))
        self.socket.listen(2048)
        self.socket.set_inheritable(True)
        config = uvicorn.Config(
            self.app, http=_guarded_protocol(self.limits.header_timeout), loop="asyncio", lifespan="on",
            limit_concurrency=self.limits.max_connections, timeout_keep_alive=self.limits.keep_alive_timeout,  # pyright: ignore[reportArgumentType]  (uvicorn takes float seconds; its hint says int)
            h11_max_incomplete_event_size=self.limits.max_header_bytes, access_log=False, log_level="warning",
            server_header=False, timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.socket.getsockname()[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    @property
    def stats(self) -> dict[str, int]:
        """``batches`` run and ``batched_requests`` they answered (requests per batch = the ratio)."""
        b = self.app.state.batcher
        return {"batches": b.batches, "batched_requests": b.batched_requests}

    def start(self) -> RetrievalServer:
        """Serve in a daemon thread; returns once the server accepts connections."""
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True,
                                        name="searchgym-retrieval-server")
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the retrieval server did not start")
            time.sleep(0.01)
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until SIGINT/SIGTERM."""
        self.server.run(sockets=[self.socket])

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.socket.close()

    def __enter__(self) -> RetrievalServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def add_server_arguments(ap: Any) -> None:
    """The server CLI options: one per :class:`ServerLimits` field plus host and port."""
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    for f in fields(ServerLimits):
        ap.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default,
                        help=f"(default {f.default})")


def limits_from_args(args: Any) -> ServerLimits:
    """``ServerLimits`` from parsed arguments named like its fields."""
    return ServerLimits(**{f.name: getattr(args, f.name) for f in fields(ServerLimits)})


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m searchgym.search.server --corpus synthetic --searcher bm25 --port 8000``."""
    import argparse

    from searchgym.corpora import load_taskset
    from searchgym.search import build_searcher

    ap = argparse.ArgumentParser(description="Serve a searchgym searcher in the Search-R1 retriever shape.")
    ap.add_argument("--corpus", default="synthetic")
    ap.add_argument("--searcher", default="bm25")
    add_server_arguments(ap)
    args = ap.parse_args(argv)
    searcher = build_searcher(args.searcher, load_taskset(args.corpus).documents)
    server = RetrievalServer(searcher, args.host, args.port, limits_from_args(args))
    gc.collect()
    gc.freeze()  # the long-lived startup objects leave the GC's scans: shorter pauses under load
    print(f"serving {args.searcher} over {args.corpus!r} at {server.url}/retrieve", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
