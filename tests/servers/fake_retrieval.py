"""A stdlib retrieval server on 127.0.0.1 that misbehaves on a script (fault injection for RemoteSearcher).

Each request consumes the next behaviour of ``server.script`` (then ``server.default``):
``"ok"`` (a valid Search-R1 answer / document), ``"500"``, ``"garbage"`` (200 with bytes that are
not UTF-8), ``"wrong_shape"`` (200 with ``{"result": "nope"}``), ``"short"`` (one result list too
few), ``"bad_score"`` (a score of ``"1e400"``), ``"hang"`` (never answers), ``"trickle"`` (a 200 head,
then one body byte every ``trickle_s`` seconds), ``"huge"`` (declares a 1 GB body).
``server.requests`` counts the requests seen.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

DOC = {"id": "d1", "contents": "Paris\nParis is the capital of France.", "title": "Paris",
       "text": "Paris is the capital of France."}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _behave(self, ok_body) -> None:
        srv: FakeRetrievalServer = self.server.owner  # type: ignore[attr-defined]
        with srv.lock:
            srv.requests += 1
            behaviour = srv.script.pop(0) if srv.script else srv.default
        if behaviour == "ok":
            status, body = ok_body()
            self._send(status, json.dumps(body).encode())
        elif behaviour == "500":
            self._send(500, b'{"error": "scripted 500"}')
        elif behaviour == "garbage":
            self._send(200, b"\xff\xfe\x00garbage\x80\x81")
        elif behaviour == "wrong_shape":
            self._send(200, b'{"result": "nope"}')
        elif behaviour == "short":
            self._send(200, b'{"result": []}')
        elif behaviour == "bad_score":
            self._send(200, json.dumps({"result": [[{"document": DOC, "score": "1e400"}]]}).encode())
        elif behaviour == "hang":
            srv.stop.wait(60)
            self.close_connection = True
        elif behaviour == "trickle":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            while not srv.stop.wait(srv.trickle_s):
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    break
            self.close_connection = True
        elif behaviour == "huge":
            self.send_response(200)
            self.send_header("Content-Length", str(10**9))
            self.end_headers()
            self.close_connection = True
        else:
            raise ValueError(behaviour)

    def do_POST(self) -> None:
        req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self._behave(lambda: (200, {"result": [[{"document": DOC, "score": 2.5}] for _ in req.get("queries", [])]}))

    def do_GET(self) -> None:
        if self.path == "/health":
            return self._send(200, b'{"ok": true}')
        doc_id = unquote(self.path.removeprefix("/doc/"))
        self._behave(lambda: (200, {"document": DOC}) if doc_id == DOC["id"] else (404, {"error": "no such document"}))


class FakeRetrievalServer:
    """Context manager: ``with FakeRetrievalServer("hang") as s: s.url``."""

    def __init__(self, default: str = "ok", script: list[str] | None = None, trickle_s: float = 0.1) -> None:
        self.default, self.script, self.trickle_s = default, list(script or []), trickle_s
        self.requests = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeRetrievalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
