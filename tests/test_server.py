"""The Starlette/uvicorn retrieval server: contract, strict validation, limits, timeouts, framing, batching."""

from __future__ import annotations

import dataclasses
import json
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from searchgym.corpora.records import Document
from searchgym.search.base import Hit
from searchgym.search.server import RetrievalServer, ServerLimits, add_server_arguments, limits_from_args

DOCS = {d.id: d for d in [Document("a-1", "Alpha", "first text"), Document("b/2", "Beta", "second text"),
                          Document("c 3", "", "no title here"), Document("é✓", "Uni", "code points")]}


class Toy:
    """Deterministic: hits are the documents in a fixed order rotated by the query length; counts calls."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay, self.calls, self.fail = delay, 0, False
        self.lock = threading.Lock()

    def batch_search(self, queries, k=10):
        with self.lock:
            self.calls += 1
        if self.fail:
            raise RuntimeError("index on fire")
        time.sleep(self.delay)
        docs = list(DOCS.values())
        out = []
        for q in queries:
            r = len(q) % len(docs)
            out.append([Hit(d.id, float(len(q) - i), d.title, d.text) for i, d in enumerate(docs[r:] + docs[:r])][:k])
        return out

    def search(self, q, k=10):
        return self.batch_search([q], k)[0]

    def doc(self, doc_id):
        return DOCS.get(doc_id)

    def __len__(self):
        return len(DOCS)


LIMITS = ServerLimits(max_body_bytes=4096, max_queries=8, max_query_chars=100, max_topk=4, max_hits=24,
                      max_response_bytes=20_000,
                      header_timeout=0.6, body_timeout=0.6, keep_alive_timeout=1.5,
                      max_connections=64)


@pytest.fixture(scope="module")
def toy():
    return Toy()


@pytest.fixture(scope="module")
def server(toy):
    with RetrievalServer(toy, limits=LIMITS) as srv:
        yield srv


def raw(server, data: bytes, wait: float = 3.0) -> tuple[bytes, bool]:
    """Send bytes on a fresh connection; return what came back and whether the server closed it."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as s:
        s.sendall(data)
        s.settimeout(wait)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
            return out, True
        except TimeoutError:
            return out, False


def post(server, body: bytes | dict, **kw) -> httpx.Response:
    content = json.dumps(body).encode() if isinstance(body, dict) else body
    return httpx.post(server.url + "/retrieve", content=content, **kw)


def test_search_r1_contract(server, toy):
    reply = post(server, {"queries": ["first", "xy"], "topk": 2, "return_scores": True})
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
    result = reply.json()["result"]
    expected = toy.batch_search(["first", "xy"], 2)
    assert [[(i["document"]["id"], i["score"]) for i in items] for items in result] == \
        [[(h.doc_id, h.score) for h in hits] for hits in expected]
    item = result[0][0]["document"]
    assert item["contents"] == f"{item['title']}\n{item['text']}" or not item["title"]
    bare = post(server, {"queries": ["first"]}).json()["result"][0]  # topk defaults to 3, no scores
    assert len(bare) == 3 and set(bare[0]) == {"id", "contents", "title", "text"}
    assert post(server, {"queries": []}).json() == {"result": []}
    assert httpx.get(server.url + "/health").json() == {"ok": True, "documents": 4}
    assert httpx.get(server.url + "/doc/b%2F2").json()["document"]["id"] == "b/2"
    assert httpx.get(server.url + "/doc/%C3%A9%E2%9C%93").json()["document"]["title"] == "Uni"
    assert httpx.get(server.url + "/doc/nope").status_code == 404
    assert httpx.get(server.url + "/doc/%ED%A0%80").status_code == 404  # a lone surrogate, UTF-8-encoded


@pytest.mark.parametrize("body, status, fragment", [
    (b'{"queries": ["x"], "topk": Infinity}', 400, "Infinity"),
    (b'{"queries": ["x"], "topk": 1e400}', 400, "integer"),
    (b'{"queries": ["x"], "topk": NaN}', 400, "NaN"),
    (b'{"queries": ["x"], "topk": 2.0}', 400, "integer"),
    (b'{"queries": ["x"], "topk": "3"}', 400, "integer"),
    (b'{"queries": ["x"], "topk": true}', 400, "integer"),
    (b'{"queries": ["x"], "topk": -1}', 400, "[0, 4]"),
    (b'{"queries": ["x"], "topk": 5}', 400, "[0, 4]"),
    (b'{"queries": ["x"], "topk": 99999999999999999999999}', 400, "[0, 4]"),
    (b'{"queries": "x"}', 400, "list of strings"),
    (b'{"queries": [1]}', 400, "list of strings"),
    (b'{"queries": [["x"]]}', 400, "list of strings"),
    (b'{"topk": 1}', 400, "missing 'queries'"),
    (b'{"queries": ["x"], "top_k": 1}', 400, "unknown keys ['top_k']"),
    (b'{"queries": ["x"], "return_scores": "yes"}', 400, "return_scores"),
    (b'["x"]', 400, "JSON object"),
    (b'null', 400, "JSON object"),
    (b'', 400, "not UTF-8 JSON"),
    (b'{"queries": ["x"]', 400, "not UTF-8 JSON"),
    (b'{"queries": ["\xff\xfe"]}', 400, "not UTF-8 JSON"),
    (b'[' * 4000, 400, "nested too deeply"),
    (b'{"queries": [' + b'[' * 9 + b']' * 9 + b']}', 400, "list of strings"),
    (b'{"queries": ["x"], "x": ' + b'[' * 1500 + b']' * 1500 + b'}', 400, "nested too deeply"),
    (json.dumps({"queries": ["q"] * 9}).encode(), 413, "at most 8"),
    (json.dumps({"queries": ["q" * 101]}).encode(), 413, "at most 100"),
    (b'{"queries": ["' + b'x' * 5000 + b'"]}', 413, "at most 4096"),
    (json.dumps({"queries": ["q"] * 7, "topk": 4}).encode(), 413, "28 hits; at most 24"),
])
def test_malformed_requests_get_clear_4xx(server, body, status, fragment):
    reply = post(server, body)
    assert reply.status_code == status and fragment in reply.json()["error"]


def test_brackets_inside_strings_are_not_nesting(server):
    assert post(server, {"queries": ["[[[[[[[[[[[[{{{{{{{{{{"]}).status_code == 200


def test_routes_and_methods(server):
    assert httpx.get(server.url + "/retrieve").status_code == 405
    assert httpx.post(server.url + "/health").status_code == 405
    reply = httpx.post(server.url + "/search", json={"queries": ["x"]})
    assert reply.status_code == 404 and "POST /retrieve" in reply.json()["error"]
    assert httpx.get(server.url + "/doc/" + "x" * 5000).status_code == 414


def test_response_size_is_capped(server):
    # 8 queries x 4 hits of small docs fit; the same with long queries (echoed nowhere) still fit, so
    # use a server whose documents are large
    big = {f"d{i}": Document(f"d{i}", "T", "w " * 2000) for i in range(4)}

    class Big(Toy):
        def batch_search(self, queries, k=10):
            return [[Hit(d.id, 1.0, d.title, d.text) for d in big.values()][:k] for _ in queries]

    with RetrievalServer(Big(), limits=dataclasses.replace(LIMITS, max_hits=100)) as srv:
        assert post(srv, {"queries": ["a"], "topk": 1}).status_code == 200
        reply = post(srv, {"queries": ["a"] * 8, "topk": 4})
        assert reply.status_code == 413 and "over 20000" in reply.json()["error"]
        assert post(srv, {"queries": ["a"], "topk": 1}).status_code == 200  # still serving


def test_searcher_failure_is_a_500_and_the_server_keeps_serving(server, toy):
    toy.fail = True
    try:
        reply = post(server, {"queries": ["x"]})
        assert reply.status_code == 500 and "index on fire" in reply.json()["error"]
    finally:
        toy.fail = False
    assert post(server, {"queries": ["x"]}).status_code == 200


def test_framing_attacks(server):
    body = b'{"queries": ["x"]}'
    head = b"POST /retrieve HTTP/1.1\r\nHost: t\r\n"
    out, closed = raw(server, head + b"Content-Length: -1\r\n\r\n" + body)
    assert out.startswith(b"HTTP/1.1 400") and closed
    out, closed = raw(server, head + b"Content-Length: 18\r\nContent-Length: 19\r\n\r\n" + body)
    assert out.startswith(b"HTTP/1.1 400") and closed
    chunked = b"12\r\n" + body + b"\r\n0\r\n\r\n"
    out, closed = raw(server, head + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
    assert out.startswith(b"HTTP/1.1 400") and b"Transfer-Encoding together" in out and closed
    out, closed = raw(server, head + b"Transfer-Encoding: chunked\r\n\r\n" + chunked, wait=0.3)
    assert out.startswith(b"HTTP/1.1 200")
    out, closed = raw(server, head + b"\r\n" + body)
    assert out.startswith(b"HTTP/1.1 411") and closed
    out, closed = raw(server, head + b"Content-Length: 99999999\r\n\r\n" + body)
    assert out.startswith(b"HTTP/1.1 413") and closed
    out, closed = raw(server, head + b"X-Pad: " + b"a" * 100_000 + b"\r\nContent-Length: 18\r\n\r\n" + body)
    assert out.startswith(b"HTTP/1.1 431") and closed  # head over max_header_bytes
    out, closed = raw(server, b"GET /health HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400") and closed


def test_no_request_hidden_in_a_body_is_executed(server):
    hidden = b"POST /retrieve HTTP/1.1\r\nHost: t\r\nContent-Length: 18\r\n\r\n" + b'{"queries": ["x"]}'
    for path in (b"/unknown", b"/health"):
        out, _ = raw(server, b"POST " + path + b" HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(hidden)
                     + hidden, wait=0.4)
        assert out.count(b"HTTP/1.1 ") == 1 and b'"result"' not in out


def test_short_body_gets_408_within_the_body_timeout(server):
    start = time.monotonic()
    out, closed = raw(server, b"POST /retrieve HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"queries\"")
    assert out.startswith(b"HTTP/1.1 408") and closed and time.monotonic() - start < 2.5


def test_slow_or_silent_connections_are_closed(server):
    start = time.monotonic()
    out, closed = raw(server, b"POST /retrieve HTTP/1.1\r\nHost: t\r\n")  # head never finished
    assert out == b"" and closed and time.monotonic() - start < 2.5
    out, closed = raw(server, b"")  # connects, says nothing
    assert out == b"" and closed
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as s:  # slowloris: one byte every 0.2 s
        s.settimeout(3)
        start = time.monotonic()
        try:
            for byte in b"POST /retrieve HTTP/1.1\r\nHost: t\r\n":
                s.sendall(bytes([byte]))
                time.sleep(0.2)
        except OSError:
            pass
        assert s.recv(100) == b"" and time.monotonic() - start < 2.0


def test_idle_keep_alive_closed_but_active_one_lives(server):
    with httpx.Client() as client:
        for _ in range(3):  # requests 0.4 s apart on one connection: all on the same socket
            assert client.post(server.url + "/retrieve", json={"queries": ["x"]}).status_code == 200
            time.sleep(0.4)
    out, closed = raw(server, b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n", wait=4)
    assert out.startswith(b"HTTP/1.1 200") and closed  # closed after keep_alive_timeout (1.5 s)


def test_connection_cap_answers_503():
    limits = ServerLimits(max_connections=3, header_timeout=5)
    with RetrievalServer(Toy(), limits=limits) as srv:
        host, port = srv.url.removeprefix("http://").split(":")
        idle = [socket.create_connection((host, int(port))) for _ in range(3)]
        try:
            time.sleep(0.2)
            assert httpx.get(srv.url + "/health").status_code == 503
        finally:
            for s in idle:
                s.close()
        time.sleep(0.2)
        assert httpx.get(srv.url + "/health").status_code == 200


@pytest.mark.parametrize("limits, most_batches", [(ServerLimits(), 40), (ServerLimits(max_batch_hits=6), 48)])
def test_concurrent_requests_are_micro_batched_and_answered_exactly(limits, most_batches):
    toy = Toy(delay=0.02)
    with RetrievalServer(toy, limits=limits) as srv:
        queries = [f"q{'x' * i}" for i in range(48)]

        def ask(q):
            with httpx.Client() as c:
                return c.post(srv.url + "/retrieve", json={"queries": [q], "topk": 1 + len(q) % 4,
                                                           "return_scores": True}).json()["result"][0]

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(ask, queries))
        stats = srv.stats
    for q, got in zip(queries, answers):
        want = toy.search(q, 1 + len(q) % 4)
        assert [(i["document"]["id"], i["score"]) for i in got] == [(h.doc_id, h.score) for h in want]
    # many requests shared a search call, never more hits than max_batch_hits in one (each asks <= 4)
    assert stats["batched_requests"] == 48 and stats["batches"] < most_batches
    assert stats["batches"] >= 48 * 2.5 / limits.max_batch_hits


def test_keep_alive_latency_has_no_nagle_stall(server):
    with httpx.Client() as client:
        times = []
        for _ in range(30):
            start = time.perf_counter()
            client.post(server.url + "/retrieve", json={"queries": ["first"], "topk": 1})
            times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.025  # Nagle + delayed ACK would cost >= 40 ms each


def test_cli_options_cover_every_limit():
    import argparse

    ap = argparse.ArgumentParser()
    add_server_arguments(ap)
    args = ap.parse_args(["--max-topk", "7", "--body-timeout", "2.5", "--port", "0"])
    limits = limits_from_args(args)
    assert limits.max_topk == 7 and limits.body_timeout == 2.5 and limits.max_queries == ServerLimits().max_queries
    with pytest.raises(ValueError, match="max_topk"):
        ServerLimits(max_topk=0)
