"""The in-process ``transformers`` judge on SmolLM2-135M-Instruct (offline GGUF), batched."""

from __future__ import annotations

import pytest

from judge_fixtures import D1, TASK
from searchgym.judges import load_judge
from searchgym.judges.base import JudgeRequest, Judgment
from searchgym.judges.cache import JudgeCache
from searchgym.judges.model import BatchJudgeError


@pytest.mark.slow
def test_transformers_judge_batches_and_caches(tmp_path):
    cache = JudgeCache(tmp_path / "c.sqlite")
    judge = load_judge("transformers", batch_size=2, max_new_tokens=24, cache=cache, parse_retries=0)
    reqs = [JudgeRequest("query", TASK.question, "Ostrik Balan birthplace", evidence=(D1,)),
            JudgeRequest("answer", TASK.question, "Quenhall", reference="Quenhall"),
            JudgeRequest("query", TASK.question, "Ostrik Balan birthplace", evidence=(D1,))]  # duplicate
    try:
        results = judge.judge(reqs)
    except BatchJudgeError as exc:  # a 135M model may ramble; then the error says so, no score invented
        results = exc.results
        assert all("unparseable" in str(r) for r in results if not isinstance(r, Judgment))
    verdicts = [r for r in results if isinstance(r, Judgment)]
    assert all(v.score in (-1.0, 0.0, 1.0) and v.raw for v in verdicts)
    assert judge.merged == 1 and cache.writes == len({id(v) for v in verdicts})
    if verdicts:
        again = judge.judge([reqs[i] for i, r in enumerate(results) if isinstance(r, Judgment)][:1])
        assert again[0].cached
