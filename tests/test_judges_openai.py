"""The ``openai`` judge against a scripted flaky server and a real llama.cpp server (SmolLM2 GGUF)."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from judge_fixtures import D1, TASK, answer_step, search_step, with_last
from searchgym.judges import load_judge
from searchgym.judges.base import JudgeError, JudgeRequest, Judgment
from searchgym.judges.cache import JudgeCache
from searchgym.judges.model import BatchJudgeError
from searchgym.judges.rubric_generation import generate_rubrics
from searchgym.rewards.process import StepJudgeReward
from servers.flaky import FlakyServer
from servers.llama import LlamaServer, shared_server


def _req(i: int = 0) -> JudgeRequest:
    return JudgeRequest("query", TASK.question, f"Ostrik Balan birthplace {i}", evidence=(D1,))


def _judge(server, **kw):
    opts = dict(backoff=0.01, max_backoff=0.05, timeout=5.0, structured="none")
    opts.update(kw)
    return load_judge(f"openai:flaky@{server.base_url}", **opts)


# ---- scripted failures -------------------------------------------------------------------------------

@pytest.mark.parametrize("failure", ["429", "500", "503", "truncated", "malformed"])
def test_retries_transient_failures(failure):
    with FlakyServer() as s:
        s.script = [failure, failure]
        j = _judge(s)
        (v,) = j.judge([_req()])
        assert v.score == 1.0 and j.attempts == 3 and j.retries == 2


def test_gives_up_after_retries_without_a_score():
    with FlakyServer(default="500") as s:
        j = _judge(s, max_retries=2)
        with pytest.raises(JudgeError, match="gave up after 3 attempts") as info:
            j.judge([_req()])
        assert len(s.requests) == 3
        assert not any(isinstance(r, Judgment) for r in info.value.results)


def test_backoff_is_exponential():
    with FlakyServer() as s:
        s.script = ["429"] * 3
        j = _judge(s, backoff=0.1, max_backoff=10)
        t = time.perf_counter()
        j.judge([_req()])
        assert time.perf_counter() - t >= 0.1 + 0.2 + 0.4


def test_timeout_then_failure():
    with FlakyServer(default="slow", slow_s=1.5) as s:
        j = _judge(s, timeout=0.3, max_retries=1)
        t = time.perf_counter()
        with pytest.raises(JudgeError, match="Timeout"):
            j.judge([_req()])
        assert time.perf_counter() - t < 1.5


def test_non_retryable_4xx_fails_at_once():
    with FlakyServer(default="400") as s:
        with pytest.raises(JudgeError, match="rejected"):
            _judge(s).judge([_req()])
        assert len(s.requests) == 1


def test_unparseable_reply_retried_then_error():
    with FlakyServer(default="garbage") as s:
        j = _judge(s, parse_retries=1)
        with pytest.raises(JudgeError, match="unparseable"):
            j.judge([_req()])
        assert len(s.requests) == 2
        s.default = "ok"
        s.script = ["garbage"]
        assert j.judge([_req()])[0].score == 1.0


def test_structured_output_falls_back_when_rejected():
    with FlakyServer(default="reject_schema") as s:
        j = _judge(s, structured="auto")
        assert [v.score for v in j.judge([_req(0), _req(1)])] == [1.0, 1.0]
        assert j._mode == "none"
        formats = [r.get("response_format", {}).get("type") for r in s.requests]
        assert "json_schema" in formats and "json_object" in formats and None in formats


def test_concurrency_is_bounded():
    with FlakyServer(default="slow", slow_s=0.2) as s:
        active, peak, lock = [0], [0], threading.Lock()
        orig = s.httpd.RequestHandlerClass.do_POST

        def counting(handler):
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            try:
                orig(handler)
            finally:
                with lock:
                    active[0] -= 1

        s.httpd.RequestHandlerClass = type("H", (s.httpd.RequestHandlerClass,), {"do_POST": counting})
        j = _judge(s, concurrency=3)
        assert len(j.judge([_req(i) for i in range(9)])) == 9
        assert peak[0] == 3


def test_api_key_never_shown(monkeypatch, caplog):
    monkeypatch.setenv("MY_JUDGE_KEY", "sk-secret-123")
    with FlakyServer() as s:
        s.script = ["500"]
        j = _judge(s, api_key_env="MY_JUDGE_KEY")
        with caplog.at_level(logging.DEBUG):
            j.judge([_req()])
        assert "sk-secret-123" not in repr(j) and "sk-secret-123" not in caplog.text


def test_server_killed_mid_batch_keeps_completed_and_invents_nothing(tmp_path):
    cache = JudgeCache(tmp_path / "c.sqlite")
    s = FlakyServer().__enter__()
    served = []
    orig = s.httpd.RequestHandlerClass.do_POST

    def dying(handler):
        served.append(1)
        if len(served) == 4:  # the 4th request kills the server
            threading.Thread(target=lambda: (s.httpd.shutdown(), s.httpd.server_close())).start()
            handler.close_connection = True
            return
        orig(handler)

    s.httpd.RequestHandlerClass = type("H", (s.httpd.RequestHandlerClass,), {"do_POST": dying})
    j = _judge(s, concurrency=1, cache=cache, max_retries=2)
    reqs = [_req(i) for i in range(8)]
    with pytest.raises(BatchJudgeError) as info:
        j.judge(reqs)
    results = info.value.results
    done = [i for i, r in enumerate(results) if isinstance(r, Judgment)]
    assert done == [0, 1, 2] and info.value.failures == [3, 4, 5, 6, 7]
    assert all(isinstance(results[i], JudgeError) for i in info.value.failures)
    assert len(cache) == 3  # completed verdicts persisted, failures never cached
    # the policy on top: skip marks exactly the failed samples unscored
    reward = StepJudgeReward(_judge(s, cache=cache, max_retries=0), on_error="skip")
    res = reward.score_batch([with_last(search_step("x", f"Ostrik Balan birthplace {i}")) for i in range(2)])
    assert [r.scored for r in res] == [False, False] and reward.metrics["unscored"] == 2


def test_rubric_generation_parses_and_caches(tmp_path):
    reply = ('Here: {"entities": {"E1": "Ostrik Balan"}, "rubrics": ["<E1> founded Velmora.", '
             '"<E1> was born in <E0>.", "<E7> is unnamed.", "no placeholder"]}')
    with FlakyServer(reply=reply) as s:
        j = _judge(s)
        rubrics = generate_rubrics(TASK, j, cache_dir=tmp_path)
        assert [r.text for r in rubrics] == ["<E1> founded Velmora.", "<E1> was born in <E0>."]
        assert rubrics[1].names_of("E0") == TASK.answers and rubrics[1].names_of("E1") == ("Ostrik Balan",)
        n = len(s.requests)
        assert [r.text for r in generate_rubrics(TASK, j, cache_dir=tmp_path)] == [r.text for r in rubrics]
        assert len(s.requests) == n  # served from the on-disk cache
        s.reply = "no json at all"
        other = TASK.__class__(id="t2", question="Who founded Velmora?", answers=("Ostrik Balan",))
        with pytest.raises(JudgeError, match="no usable rubric"):
            generate_rubrics(other, j, cache_dir=tmp_path)


# ---- the real llama.cpp server ------------------------------------------------------------------------

@pytest.fixture(scope="session")
def llama():
    return shared_server()


@pytest.mark.slow
def test_llama_server_judges_steps_and_cache_hits(llama, tmp_path):
    cache = JudgeCache(tmp_path / "c.sqlite")
    j = load_judge(f"openai:{llama.model}@{llama.base_url}", cache=cache, max_tokens=40, structured="auto")
    reward = StepJudgeReward(j, budget=4)
    # k=3 candidates over one prefix, two identical: 2 unique steps (and the prompts share the prefix)
    cands = [with_last(search_step("Find where Ostrik Balan was born.", "Ostrik Balan birthplace")),
             with_last(answer_step("He was born in Quenhall.", "Quenhall"))]
    cands = cands + cands[:1]
    res = reward.score_batch(cands)
    assert all(r.scored for r in res)
    for r in res:
        assert all(r.components[c] in (-1.0, 0.0, 1.0) for c in ("r_think",) + (("r_action",) if "r_action" in r.components else ("r_answer",)))
    assert res[0].value == res[2].value
    attempts = j.attempts
    again = reward.score_batch(cands)
    assert j.attempts == attempts and cache.hits >= 5  # all from the cache
    assert [r.value for r in again] == [r.value for r in res]


@pytest.mark.slow
def test_llama_server_killed_mid_batch(tmp_path):
    cache = JudgeCache(tmp_path / "c.sqlite")
    server = LlamaServer().start()
    try:
        j = load_judge(f"openai:{server.model}@{server.base_url}", cache=cache, max_tokens=8, concurrency=1,
                       max_retries=1, backoff=0.05, structured="json_object")

        def killer():
            while len(cache) < 1:
                time.sleep(0.05)
            server.stop()

        threading.Thread(target=killer, daemon=True).start()
        with pytest.raises(BatchJudgeError) as info:
            j.judge([_req(i) for i in range(4)])
    finally:
        server.stop()
    done = [r for r in info.value.results if isinstance(r, Judgment)]
    assert 1 <= len(done) < 4 and len(cache) == len(done)
    assert all(isinstance(r, JudgeError) for r in info.value.results if not isinstance(r, Judgment))
