"""No invented judge scores (issue 15 item 4): strict parsing, total deadlines, verdict counts.

The hostile replies are the ones a probe turned into +1.0 before: ``{"score": 1e5}``, ``1E-9``,
``"Score: 1/10. The query is poor."``, ``"score = 1 out of 5"``. They go through a real HTTP round trip
(the scripted OpenAI-compatible server on 127.0.0.1) and must end in ``JudgeError``, never a verdict.
"""

from __future__ import annotations

import math
import time

import pytest

from judge_fixtures import D1, TASK, search_step, with_last
from searchgym.judges import load_judge
from searchgym.judges.base import JudgeError, JudgeRequest, Judgment
from searchgym.judges.model import BatchJudgeError, ModelJudge
from searchgym.judges.parsing import UnparseableJudgment, parse_judgment
from searchgym.judges.rules import RulesJudge
from searchgym.rewards.process import StepJudgeReward
from servers.flaky import FlakyServer

HOSTILE = ['{"score": 1e5}', "1E-9", '{"score": 1E-9, "rationale": "tiny"}', "Score: 1/10. The query is poor.",
           "score = 1 out of 5", '{"score": 1.5}', '{"score": 1} and then {"score": -1}', "Score: 1. Final score: 0.",
           '{"score": NaN}', '{"score": "1/10"}', "score: 1e5", "Score: 10", "score: +1.0e0"]


def _req(i: int = 0) -> JudgeRequest:
    return JudgeRequest("query", TASK.question, f"Ostrik Balan birthplace {i}", evidence=(D1,))


def _judge(server, **kw):
    opts = dict(backoff=0.01, max_backoff=0.05, timeout=5.0, structured="none")
    opts.update(kw)
    return load_judge(f"openai:strict@{server.base_url}", **opts)


# ---- parsing ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reply", HOSTILE)
def test_parser_rejects_every_reply_that_does_not_state_one_allowed_score(reply):
    with pytest.raises(UnparseableJudgment):
        parse_judgment(reply)


@pytest.mark.parametrize("reply,score", [
    ('{"score": -1, "rationale": "off topic"}', -1.0),
    ('{"score": 1.0, "rationale": "fine"}', 1.0),
    ('{"Score": "+1"}', 1.0),
    ('{"score": 0, "rationale": "vague", "details": {"score": 7}}', 0.0),  # nested objects are not verdicts
    ("Score: 1. A specific, searchable query.", 1.0),
    ("**Score:** -1\nThe query repeats an earlier one.", -1.0),
    ("score = 0 (partly useful)", 0.0),
    ("The score: good. Score: 1", 1.0),  # a mention with no number states nothing
    ("+1", 1.0),
    (" -1 ", -1.0),
    ("0", 0.0),
])
def test_parser_accepts_exact_verdicts(reply, score):
    got, _ = parse_judgment(reply)
    assert (got, str(got)) == (score, str(score))  # -0.0 is not a verdict


@pytest.mark.parametrize("mode", ["none", "json_schema"])
@pytest.mark.parametrize("reply", HOSTILE[:5])
def test_hostile_replies_over_http_are_retried_then_an_error(reply, mode):
    with FlakyServer(reply=reply) as s:
        j = _judge(s, parse_retries=2, structured=mode)
        with pytest.raises(BatchJudgeError, match="unparseable after 3 tries") as info:
            j.judge([_req()])
        assert len(s.requests) == 3  # asked again, twice, then gave up
        assert not any(isinstance(r, Judgment) for r in info.value.results)
        if mode == "json_schema":
            assert all(r["response_format"]["type"] == "json_schema" for r in s.requests)


def test_a_hostile_reply_then_a_clean_one_gives_the_clean_verdict():
    with FlakyServer(reply='{"score": -1, "rationale": "poor"}') as s:
        s.script = ["garbage"]
        (v,) = _judge(s, parse_retries=1).judge([_req()])
        assert v.score == -1.0 and len(s.requests) == 2


def test_reward_on_skip_never_scores_a_hostile_reply():
    with FlakyServer(reply="Score: 1/10. The query is poor.") as s:
        reward = StepJudgeReward(_judge(s, parse_retries=0), on_error="skip")
        (res,) = reward.score_batch([with_last(search_step("find birthplace", "Ostrik Balan birthplace"))])
        assert not res.scored and math.isnan(res.value) and reward.metrics["unscored"] == 1


# ---- deadlines ----------------------------------------------------------------------------------------

def test_a_trickling_reply_fails_on_time():
    # ~330 bytes at one byte per 50 ms takes ~16 s; no single read ever waits long enough for the SDK's
    # per-read timeout, so only a deadline on the whole attempt stops it
    with FlakyServer(default="trickle") as s:
        s.trickle_s = 0.05
        j = _judge(s, timeout=0.4, max_retries=1)
        t = time.perf_counter()
        with pytest.raises(JudgeError, match="Timeout"):
            j.judge([_req()])
        took = time.perf_counter() - t
        assert len(s.requests) == 2 and took < 2 * 0.4 + 0.5, took


def test_call_deadline_bounds_retries_and_backoff():
    with FlakyServer(default="500") as s:
        j = _judge(s, max_retries=1000, backoff=0.05, max_backoff=0.05, deadline=0.6)
        t = time.perf_counter()
        with pytest.raises(JudgeError, match="deadline"):
            j.judge([_req()])
        assert time.perf_counter() - t < 0.6 + 0.4
        assert 2 <= len(s.requests) < 1000


def test_call_deadline_keeps_the_verdicts_that_arrived():
    with FlakyServer(default="slow", slow_s=3.0) as s:
        s.script = ["ok"]
        j = _judge(s, concurrency=1, deadline=0.8)
        t = time.perf_counter()
        with pytest.raises(BatchJudgeError) as info:
            j.judge([_req(i) for i in range(3)])
        assert time.perf_counter() - t < 0.8 + 0.5
        results = info.value.results
        assert isinstance(results[0], Judgment) and results[0].score == 1.0
        assert info.value.failures == [1, 2] and "deadline" in str(results[1])


def test_deadline_and_timeout_are_validated():
    with pytest.raises(ValueError, match="deadline"):
        load_judge("openai:m@http://127.0.0.1:9/v1", deadline=0)
    with pytest.raises(ValueError, match="timeout"):
        load_judge("openai:m@http://127.0.0.1:9/v1", timeout=-1)


class _Scripted(ModelJudge):
    """A model judge whose backend replies from a list and can skip requests."""

    name, model = "scripted", "none"

    def __init__(self, replies, skip=(), **kw):
        super().__init__(**kw)
        self.replies, self.skip, self.calls = list(replies), set(skip), 0

    async def _complete_batch(self, messages, attempt, on_done):
        for j in range(len(messages)):
            self.calls += 1
            if j not in self.skip:
                on_done(j, self.replies.pop(0))


def test_a_backend_that_drops_a_request_fails_that_request_only():
    judge = _Scripted(['{"score": 1}', "unused"], skip={1}, parse_retries=0)
    with pytest.raises(BatchJudgeError, match="no reply") as info:
        judge.judge([_req(0), _req(1)])
    assert info.value.failures == [1] and info.value.results[0].score == 1.0


def test_transformers_judge_generation_is_bounded_by_its_timeout():
    torch = pytest.importorskip("torch")
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from searchgym.models import resolve_model

    tok = AutoTokenizer.from_pretrained(str(resolve_model("smollm2")))
    torch.manual_seed(0)
    lm = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=8192))
    lm.generation_config.eos_token_id = None  # a rambling judge that never stops on its own
    judge = load_judge("transformers:tiny", tokenizer=tok, hf_model=lm, max_new_tokens=6000, timeout=0.5,
                       parse_retries=0)
    t = time.perf_counter()
    with pytest.raises(JudgeError):
        judge.judge([_req()])
    assert time.perf_counter() - t < 0.5 + 1.5


# ---- verdict counts -----------------------------------------------------------------------------------

class _ShortJudge(RulesJudge):
    """Returns one verdict fewer than it was asked for."""

    def judge(self, requests):
        return super().judge(requests)[:-1]


class _LongJudge(RulesJudge):
    def judge(self, requests):
        out = super().judge(requests)
        return out + out[:1]


@pytest.mark.parametrize("judge_cls", [_ShortJudge, _LongJudge])
def test_wrong_number_of_verdicts_is_a_judge_error(judge_cls):
    traj = with_last(search_step("Velmora was founded by Ostrik Balan; find where he was born.", "Ostrik Balan birthplace"))
    with pytest.raises(JudgeError, match="verdicts for 2 requests"):
        StepJudgeReward(judge_cls()).score_batch([traj])
    skip = StepJudgeReward(judge_cls(), on_error="skip")
    (res,) = skip.score_batch([traj])
    assert not res.scored and math.isnan(res.value) and skip.metrics["judge_errors"] == 1
