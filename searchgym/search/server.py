"""A small HTTP retrieval server for any ``Searcher``, in the Search-R1 / FlashRAG retriever shape.

``POST /retrieve`` with ``{"queries": [...], "topk": k, "return_scores": bool}`` answers
``{"result": [[{"document": {"id", "contents", "title", "text"}, "score": s}, ...], ...]}`` (with
``return_scores`` false each item is the document object alone). Beyond that shape:
``GET /doc/<url-quoted id>`` answers the document or 404, and ``GET /health`` answers ``{"ok": true}``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from searchgym.corpora.records import Document
from searchgym.search.base import Searcher

MAX_BODY = 16 * 1024 * 1024
MAX_TOPK = 1000


def document_json(doc: Document | Any) -> dict[str, str]:
    """The wire form of a document or hit: Search-R1's ``id``/``contents`` plus ``title``/``text``."""
    doc_id = getattr(doc, "id", None) or getattr(doc, "doc_id")
    contents = f"{doc.title}\n{doc.text}" if doc.title else doc.text
    return {"id": doc_id, "contents": contents, "title": doc.title, "text": doc.text}


def make_handler(searcher: Searcher) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet by default
            pass

        def _send(self, status: int, payload: Any) -> None:
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/health":
                return self._send(200, {"ok": True})
            if self.path.startswith("/doc/"):
                doc = searcher.doc(unquote(self.path[len("/doc/"):]))
                if doc is None:
                    return self._send(404, {"error": "no such document"})
                return self._send(200, {"document": document_json(doc)})
            self._send(404, {"error": f"unknown path {self.path}"})

        def do_POST(self) -> None:
            if self.path != "/retrieve":
                return self._send(404, {"error": f"unknown path {self.path}"})
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    return self._send(413, {"error": "request too large"})
                req = json.loads(self.rfile.read(length) or b"{}")
                queries = req["queries"]
                topk = int(req.get("topk", 3))
                scores = bool(req.get("return_scores", False))
                if not isinstance(queries, list) or not all(isinstance(q, str) for q in queries):
                    raise ValueError("queries must be a list of strings")
                if not 0 <= topk <= MAX_TOPK:
                    raise ValueError(f"topk must be in [0, {MAX_TOPK}]")
            except (ValueError, KeyError, TypeError) as exc:
                return self._send(400, {"error": f"bad request: {exc}"})
            try:
                results = searcher.batch_search(queries, topk)
            except Exception as exc:  # report, keep serving
                return self._send(500, {"error": f"search failed: {type(exc).__name__}: {exc}"})
            out = [[{"document": document_json(h), "score": h.score} if scores else document_json(h) for h in hits]
                   for hits in results]
            self._send(200, {"result": out})

    return Handler


class RetrievalServer:
    """Serve ``searcher`` on ``host:port`` (port 0 picks a free one) in a background thread."""

    def __init__(self, searcher: Searcher, host: str = "127.0.0.1", port: int = 0) -> None:
        self.httpd = ThreadingHTTPServer((host, port), make_handler(searcher))
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "RetrievalServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "RetrievalServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m searchgym.search.server --corpus synthetic --searcher bm25 --port 8000``."""
    import argparse

    from searchgym.corpora import load_taskset
    from searchgym.search import build_searcher

    ap = argparse.ArgumentParser(description="Serve a searchgym searcher in the Search-R1 retriever shape.")
    ap.add_argument("--corpus", default="synthetic")
    ap.add_argument("--searcher", default="bm25")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    args = ap.parse_args(argv)
    searcher = build_searcher(args.searcher, load_taskset(args.corpus).documents)
    server = RetrievalServer(searcher, args.host, args.port)
    print(f"serving {args.searcher} over {args.corpus!r} at {server.url}/retrieve", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
