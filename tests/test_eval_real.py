"""`searchgym eval` on the real samples with the oracle, and on question/answer-only data (no gold
hops): outcome scores work, the rubric comes from a judge that writes rubrics or is left unscored."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from searchgym.cli.evaluate import rubric_reward
from searchgym.judges import register_judge
from searchgym.judges.base import Judgment

QA_ROWS = [
    {"id": "nq-1", "question": "Which company did Evan Morris lobby for?", "golden_answers": ["Genentech"]},
    {"id": "nq-2", "question": "In what year was the construction of Pavia Cathedral begun?", "golden_answers": ["1488"]},
]


@pytest.fixture()
def qa_spec(tmp_path: Path, shared_data: Path) -> str:
    path = tmp_path / "nq_small.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in QA_ROWS), encoding="utf-8")
    return f"qa:{path},corpus=jsonl:{shared_data}/wiki18/flashrag_wiki18_sample_corpus1000.jsonl"


@pytest.mark.parametrize(("spec", "limit"), [
    ("musique:{d}/musique/musique_ans_v1.0_dev_3to4hop_sample35.jsonl", 6),
    ("2wiki:{d}/2wiki/2wikimultihopqa_dev_sample40.json", 6),
])
def test_eval_oracle_on_real_samples(spec: str, limit: int, shared_data: Path, tmp_path: Path, capsys) -> None:
    from searchgym.cli.main import main

    corpus = spec.format(d=shared_data)
    rc = main(["eval", "--policy", "oracle", "--corpus", corpus, "--split", "all", "--limit", str(limit),
               "--max-turns", "16", "--top-k", "5", "--judge", "rules", "--out", str(tmp_path)])
    assert rc == 0
    s = json.loads((tmp_path / "eval.json").read_text())["summary"]
    assert s["episodes"] == limit and s["em"] == 1.0 and s["f1"] == 1.0
    # it cites only gold support it has seen; every hop's support for chains and comparisons alike
    assert s["citation_precision"] == 1.0 and s["citation_recall"] == 1.0
    assert s["rubric"] == 1.0
    assert s["searches_per_episode"] >= 2.0


def _play(spec: str, turns: list[str]):
    """A trajectory of ``turns`` on the first task of ``spec`` with BM25."""
    from searchgym.envs.factory import make_env

    env = make_env(spec, "bm25", max_turns=len(turns))
    env.reset(options={"task_index": 0})
    for turn in turns:
        _obs, reward, terminated, truncated, info = env.step(turn)
    assert terminated
    return reward, info["trajectory"]


def test_qa_outcome_reward_works_and_rubric_is_never_a_made_up_zero(qa_spec: str) -> None:
    right, traj = _play(qa_spec, ["<search>Evan Morris lobbyist</search>",
                                  "Evan Morris lobbied for Genentech [0]. <answer>Genentech [0]</answer>"])
    assert right == 1.0 and "0" in traj.seen_ids
    wrong, _ = _play(qa_spec, ["<search>Evan Morris lobbyist</search>", "<answer>Pfizer [0]</answer>"])
    assert wrong == 0.0
    for judge in ("none", "rules"):  # neither can write rubrics: unscored, with the reason
        result = rubric_reward(judge)(traj)
        assert not result.scored and math.isnan(result.value)
        assert "no gold hops" in result.details["reason"]


class WritingJudge:
    """A judge that writes one rubric per question and finds every statement supported."""

    name = "writer"
    model = "scripted"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def judge(self, requests):
        self.asked += [r.target for r in requests]
        return [Judgment(score=1.0, rationale="supported") for _ in requests]

    async def ajudge(self, requests):
        return self.judge(requests)

    async def complete(self, messages, max_tokens: int = 512) -> str:
        return json.dumps({"entities": {"E1": "Evan Morris"}, "rubrics": ["<E1> lobbied for <E0>."]})


def test_qa_rubric_from_a_judge_that_writes_rubrics(qa_spec: str) -> None:
    writer = WritingJudge()
    register_judge("test-writer", lambda arg, **kw: writer)
    _, traj = _play(qa_spec, ["<search>Evan Morris lobbyist</search>",
                              "Evan Morris lobbied for Genentech [0]. <answer>Genentech [0]</answer>"])
    reward = rubric_reward("test-writer")
    result = reward(traj)
    assert result.scored and result.value == 1.0
    assert writer.asked == ["Evan Morris lobbied for Genentech."]  # the filled rubric, grounded by the judge
    # an answer that cites nothing earns nothing, still scored
    _, bare = _play(qa_spec, ["<search>Evan Morris lobbyist</search>", "<answer>Genentech</answer>"])
    assert reward(bare).value == 0.0 and reward(bare).scored


def test_eval_cli_on_qa_data(qa_spec: str, tmp_path: Path, capsys) -> None:
    from searchgym.cli.main import main

    rc = main(["eval", "--policy", "oracle", "--corpus", qa_spec, "--split", "all", "--out", str(tmp_path),
               "--judge", "rules"])
    assert rc == 0
    err = capsys.readouterr().err
    assert "2 task(s) have no gold hops" in err and "rubric: n/a" in err
    s = json.loads((tmp_path / "eval.json").read_text())["summary"]
    assert s["episodes"] == 2 and s["em"] == 0.0  # the oracle has no hops to follow
    assert s["citation_recall"] is None and s["rubric"] is None
