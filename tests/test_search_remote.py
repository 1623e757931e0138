"""RemoteSearcher against a real HTTP retrieval server on 127.0.0.1 (ephemeral port)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from searchgym.corpora.records import Document
from searchgym.search import build_searcher
from searchgym.search.base import Hit
from searchgym.search.remote import RemoteSearcher, RemoteSearchError
from searchgym.search.server import RetrievalServer

DOCS = {d.id: d for d in [Document("a-1", "Alpha", "first text"), Document("b/2", "Beta", "second text"),
                          Document("c 3", "", "no title here")]}


class Toy:
    """Ranks documents by how many query words their text contains (deterministic)."""

    def batch_search(self, queries, k=10):
        out = []
        for q in queries:
            words = set(q.lower().split())
            ranked = sorted(DOCS.values(), key=lambda d: -len(words & set(f"{d.title} {d.text}".lower().split())))
            out.append([Hit(d.id, float(len(words & set(d.text.split()))), d.title, d.text) for d in ranked[:k]])
        return out

    def search(self, q, k=10):
        return self.batch_search([q], k)[0]

    def doc(self, doc_id):
        return DOCS.get(doc_id)


@pytest.fixture(scope="module")
def server():
    with RetrievalServer(Toy()) as srv:
        yield srv


def test_roundtrip_matches_local(server):
    remote = build_searcher(f"remote:{server.url}", None)
    assert remote.search("second text", 2) == Toy().search("second text", 2)
    assert remote.batch_search(["first", "no title"], 1) == Toy().batch_search(["first", "no title"], 1)
    assert remote.search("\ud800 weird \x00", 1)  # sent as valid UTF-8, answered
    assert remote.doc("b/2") == DOCS["b/2"] and remote.doc("c 3") == DOCS["c 3"]
    assert remote.doc("missing") is None


def test_wire_shape_is_search_r1(server):
    body = httpx.post(server.url + "/retrieve", json={"queries": ["first"], "topk": 1, "return_scores": True}).json()
    item = body["result"][0][0]
    assert set(item) == {"document", "score"} and item["document"]["id"] == "a-1"
    assert item["document"]["contents"] == "Alpha\nfirst text"
    bare = httpx.post(server.url + "/retrieve", json={"queries": ["first"], "topk": 1}).json()
    assert bare["result"][0][0]["id"] == "a-1"
    assert httpx.post(server.url + "/retrieve", json={"topk": 1}).status_code == 400


class SearchR1Like(BaseHTTPRequestHandler):
    """A plain Search-R1 style server: only /retrieve, quoted titles, fails the first call with 503."""

    calls = 0

    def log_message(self, *a):
        pass

    def do_POST(self):
        type(self).calls += 1
        if type(self).calls == 1:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        doc = {"id": "42", "contents": '"Paris"\nParis is the capital of France.'}
        res = [[{"document": doc, "score": 1.5}] for _ in req["queries"]]
        body = json.dumps({"result": res}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_plain_search_r1_server_retry_and_doc_memory():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), SearchR1Like)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        remote = RemoteSearcher(f"http://127.0.0.1:{httpd.server_address[1]}", backoff=0.01)
        assert remote.doc("42") is None  # never seen, no doc route
        hits = remote.search("capital", 3)  # first call 503 -> retried
        assert hits == [Hit("42", 1.5, "Paris", "Paris is the capital of France.")]
        assert remote.doc("42") == Document("42", "Paris", "Paris is the capital of France.")
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_unreachable_server_clear_error():
    with ThreadingHTTPServer(("127.0.0.1", 0), SearchR1Like) as tmp:
        port = tmp.server_address[1]  # closed right after: nothing listens there
    remote = RemoteSearcher(f"http://127.0.0.1:{port}", retries=1, backoff=0.01, timeout=2)
    with pytest.raises(RemoteSearchError, match="failed after 2 tries"):
        remote.search("x")
    with pytest.raises(ValueError):
        build_searcher("remote:not-a-url", None)
