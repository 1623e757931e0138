"""A stdlib OpenAI-compatible chat server on 127.0.0.1 that misbehaves on a script.

Each request consumes the next behaviour of ``server.script`` (then ``server.default``):
``"ok"`` (a valid verdict, ``server.reply`` as content), ``"429"``, ``"500"``, ``"503"``, ``"400"``,
``"slow"`` (sleeps ``server.slow_s`` then ok), ``"truncated"`` (promises more bytes than it sends and
closes), ``"malformed"`` (200 with a non-JSON body), ``"garbage"`` (valid completion whose content is
no verdict), ``"reject_schema"`` (400 when ``response_format`` is present, else ok), ``"trickle"``
(a valid verdict sent one byte every ``server.trickle_s`` seconds: no single read ever times out).
``server.requests`` records every request body.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def completion(content: str) -> bytes:
    return json.dumps({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "flaky",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_POST(self) -> None:
        srv: FlakyServer = self.server.owner  # type: ignore[attr-defined]
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        with srv.lock:
            srv.requests.append(body)
            behaviour = srv.script.pop(0) if srv.script else srv.default
        if behaviour == "slow":
            time.sleep(srv.slow_s)
            behaviour = "ok"
        if behaviour == "reject_schema":
            behaviour = "400" if "response_format" in body else "ok"
        if behaviour == "ok":
            self._send(200, completion(srv.reply))
        elif behaviour in ("429", "500", "503", "400"):
            self._send(int(behaviour), json.dumps({"error": {"message": f"scripted {behaviour}"}}).encode())
        elif behaviour == "truncated":
            self._send(200, completion(srv.reply)[:20], length=400)
            self.close_connection = True
        elif behaviour == "malformed":
            self._send(200, b"<html>not json")
        elif behaviour == "trickle":
            body = completion(srv.reply)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.flush()
            try:
                for i in range(len(body)):
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                    time.sleep(srv.trickle_s)
            except OSError:  # the client gave up: what a deadline is for
                self.close_connection = True
        elif behaviour == "garbage":
            self._send(200, completion("I am not sure, it looks fine to me."))
        else:
            raise ValueError(behaviour)


class FlakyServer:
    """Context manager: ``with FlakyServer() as s: s.base_url``."""

    def __init__(self, default: str = "ok", reply: str = '{"score": 1, "rationale": "ok"}', slow_s: float = 2.0):
        self.default, self.reply, self.slow_s = default, reply, slow_s
        self.trickle_s = 0.05
        self.script: list[str] = []
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FlakyServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
