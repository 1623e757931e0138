"""Search faults: RemoteSearcher against a misbehaving server (closed port, 500, garbage, wrong shape, hang,
trickle), and DeepSearchEnv turning any searcher failure into an observation of an unscored episode."""

from __future__ import annotations

import socket
import time

import pytest

from searchgym.corpora.records import Document, Task
from searchgym.envs import DeepSearchEnv
from searchgym.envs.deep_search import SEARCH_FAILED, search_failed
from searchgym.envs.trajectory import INVALID
from searchgym.search.base import Hit, SearchError
from searchgym.search.remote import RemoteSearcher, RemoteSearchError
from tests.servers.fake_retrieval import DOC, FakeRetrievalServer

DEADLINE = 1.0
PARIS = Document("d1", "Paris", "Paris is the capital of France.")


def remote(url: str, **kw) -> RemoteSearcher:
    return RemoteSearcher(url, **{"timeout": DEADLINE, "retries": 2, "backoff": 0.05, **kw})


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once this closes


def timed(fn) -> tuple[BaseException | None, float]:
    start = time.monotonic()
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001
        return exc, time.monotonic() - start
    return None, time.monotonic() - start


def test_healthy_fake_server_round_trip():
    with FakeRetrievalServer() as srv:
        r = remote(srv.url)
        assert r.search("capital", 3) == [Hit("d1", 2.5, "Paris", DOC["text"])]
        assert r.doc("d1") == PARIS and r.doc("zzz") is None
        r.close()


def test_5xx_is_retried_within_the_deadline():
    with FakeRetrievalServer(script=["500", "500"]) as srv:
        r = remote(srv.url)
        assert r.search("capital")[0].doc_id == "d1" and srv.requests == 3
        r.close()


@pytest.mark.parametrize("behaviour, message", [
    ("500", "failed after 3 tries"),
    ("garbage", "not UTF-8 JSON"),
    ("wrong_shape", "unexpected shape"),
    ("short", "0 result lists for 1 queries"),
    ("bad_score", "finite number"),
    ("hang", "within 1 s"),
    ("trickle", "within 1 s"),
    ("huge", "over"),
])
def test_faults_raise_one_error_class_within_the_deadline(behaviour, message):
    with FakeRetrievalServer(default=behaviour, trickle_s=0.05) as srv:
        r = remote(srv.url)
        for call in (lambda: r.search("capital"), lambda: r.doc("d1")):
            exc, elapsed = timed(call)
            if behaviour in ("short", "bad_score") and exc is None:
                continue  # /doc has no result lists or scores to get wrong
            assert isinstance(exc, RemoteSearchError) and isinstance(exc, SearchError), repr(exc)
            assert message in str(exc) or behaviour in ("short", "bad_score"), str(exc)
            assert elapsed < DEADLINE + 0.5, f"{behaviour} took {elapsed:.2f} s"
        r.close()


def test_doc_reply_of_the_wrong_shape_is_an_error_not_a_document():
    with FakeRetrievalServer(default="wrong_shape") as srv:
        r = remote(srv.url)
        with pytest.raises(RemoteSearchError, match="unexpected shape"):
            r.doc("d1")  # {"result": "nope"} used to become a document with an empty id
        r.close()


def test_closed_port_fails_fast_and_clearly():
    r = remote(f"http://127.0.0.1:{closed_port()}")
    exc, elapsed = timed(lambda: r.search("x"))
    assert isinstance(exc, RemoteSearchError) and "failed after 3 tries" in str(exc) and elapsed < DEADLINE + 0.5
    exc, _ = timed(lambda: r.doc("x"))
    assert isinstance(exc, RemoteSearchError)
    r.close()


# --- DeepSearchEnv -----------------------------------------------------------------------------

TASK = Task("t1", "What is the capital of France?", ("Paris",))


class Exploding:
    """A local searcher whose backend dies with an arbitrary exception."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def search(self, query, k=10):
        raise self.exc

    def batch_search(self, queries, k=10):
        raise self.exc

    def doc(self, doc_id):
        raise self.exc


def play_fault_episode(env: DeepSearchEnv) -> None:
    env.reset(options={"task_index": 0})
    obs, reward, term, trunc, info = env.step("<search>capital of France</search>")
    step = info["trajectory"].steps[-1]
    assert "search failed" in obs and "Try again" in obs and not term and not trunc
    assert step.kind == INVALID and step.error.startswith(SEARCH_FAILED + ": search")
    assert len(info["search_errors"]) == 1 and info["unscored_reason"] == SEARCH_FAILED
    assert info["parse_error"] is None  # the agent's text was fine
    obs, reward, term, trunc, info = env.step("<open>d1</open>")
    assert "open failed" in obs and len(info["search_errors"]) == 2
    obs, reward, term, trunc, info = env.step("<answer>Paris</answer>")
    assert term and reward == 0.0 and info["reward_scored"] is False  # a right answer, but unscorable
    assert search_failed(info["trajectory"])


@pytest.mark.parametrize("behaviour", ["500", "garbage", "wrong_shape", "hang", "trickle"])
def test_env_turns_remote_faults_into_observations(behaviour):
    with FakeRetrievalServer(default=behaviour, trickle_s=0.05) as srv:
        searcher = remote(srv.url, timeout=0.5)
        play_fault_episode(DeepSearchEnv([TASK], searcher))
        searcher.close()


def test_env_turns_a_closed_port_into_observations():
    play_fault_episode(DeepSearchEnv([TASK], remote(f"http://127.0.0.1:{closed_port()}")))


@pytest.mark.parametrize("exc", [KeyError("x"), UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"), MemoryError(),
                                 TimeoutError(), RecursionError()])
def test_env_turns_any_searcher_exception_into_observations(exc):
    play_fault_episode(DeepSearchEnv([TASK], Exploding(exc)))


def test_env_recovers_when_the_server_comes_back():
    with FakeRetrievalServer(script=["500"] * 3) as srv:  # the first call exhausts its 3 tries
        searcher = remote(srv.url)
        env = DeepSearchEnv([TASK], searcher)
        env.reset(options={"task_index": 0})
        assert "search failed" in env.step("<search>capital</search>")[0]
        obs, *_, info = env.step("<search>capital</search>")
        assert "[d1] Paris" in obs and info["trajectory"].retrieved_ids == ("d1",)
        assert info["unscored_reason"] == SEARCH_FAILED  # the episode stays unscorable
        searcher.close()


def test_samplers_leave_failed_episodes_out_and_never_score_them():
    from searchgym.train.samplers import score_all

    env = DeepSearchEnv([TASK], Exploding(RuntimeError("down")))
    env.reset(options={"task_index": 0})
    env.step("<search>x</search>")
    failed = env.trajectory
    healthy = DeepSearchEnv([TASK], Exploding(RuntimeError("down")))
    healthy.reset(options={"task_index": 0})
    healthy.step("<answer>Paris</answer>")
    seen = []

    def reward(trajectory):
        seen.append(trajectory)
        return 1.0

    results = score_all(reward, [failed, healthy.trajectory, failed])
    assert [r.scored for r in results] == [False, True, False] and results[1].value == 1.0
    assert seen == [healthy.trajectory] and results[0].details["reason"] == SEARCH_FAILED
