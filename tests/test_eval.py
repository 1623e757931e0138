"""`searchgym eval`: scores, summary, report files, and the CLI end to end with the oracle policy."""

from __future__ import annotations

import json
import math

import pytest

from searchgym.corpora.records import Task
from searchgym.eval.report import (
    EpisodeScore,
    EvalReport,
    answer_shown,
    citation_scores,
    summarize,
    to_markdown,
    write_report,
)
from searchgym.records.episode import Step, Trajectory
from searchgym.train.splits import split_tasks


def test_citation_precision_and_recall():
    assert citation_scores(["a", "b"], ["a", "c"]) == (0.5, 0.5)
    assert citation_scores([], ["a"]) == (0.0, 0.0)  # citing nothing supports nothing
    assert citation_scores(["a"], []) == (0.0, None)  # no gold support: recall undefined, not 0
    assert citation_scores(["a", "a", "c"], ["a", "c"]) == (1.0, 1.0)  # repeats do not count twice


def _score(**kw) -> EpisodeScore:
    base = dict(task_id="t", question="q?", answers=("x",), prediction="x", em=1.0, f1=1.0,
                citation_precision=1.0, citation_recall=1.0, rubric=1.0, searches=2, steps=3, invalid=0)
    base.update(kw)
    return EpisodeScore(**base)


def test_summary_means_and_undefined_values():
    scores = [_score(), _score(prediction=None, em=0.0, f1=0.0, citation_precision=0.0, citation_recall=None,
                               rubric=0.0, searches=4, steps=4)]
    s = summarize(scores)
    assert s["em"] == 0.5 and s["answered"] == 0.5 and s["searches_per_episode"] == 3.0
    assert s["citation_recall"] == 1.0 and s["recall_tasks"] == 1.0  # undefined recall is left out
    assert math.isnan(s["reward"])  # no training reward was asked for


def test_answer_shown_tells_a_search_failure_from_a_reading_failure():
    task = Task(id="t", question="In which year was the founder of Acme born?", answers=("1971",))
    search = Step("<search>founder of Acme</search>", "search", query="founder of Acme",
                  observation="[d1] Acme\nAcme was founded by Lea Ruiz in 1990 ...")
    opened = Step("<open>d2</open>", "open", doc_id="d2", observation="[d2] Lea Ruiz\nLea Ruiz was born in 1971.")
    bad = Step("<open>1971</open>", "invalid", error="unknown document 1971", observation="no document 1971")
    assert answer_shown(Trajectory(task, (search,))) is False  # the snippet never stated it: not found
    assert answer_shown(Trajectory(task, (search, opened))) is True  # on the page it opened
    assert answer_shown(Trajectory(task, (search, bad))) is False  # an error message is not evidence
    assert answer_shown(Trajectory(Task(id="t", question="q?", answers=("19",)), (opened,))) is False  # tokens, not digits
    assert answer_shown(Trajectory(Task(id="y", question="Same country?", answers=("yes",)), (opened,))) is None


def test_em_when_shown_is_read_over_the_episodes_that_were_shown_the_answer():
    scores = [_score(answer_shown=True), _score(answer_shown=True, em=0.0), _score(answer_shown=False, em=0.0),
              _score(answer_shown=None)]
    s = summarize(scores)
    assert s["answer_shown"] == pytest.approx(2 / 3)  # yes/no tasks (None) left out
    assert s["em_when_shown"] == 0.5
    assert math.isnan(summarize([_score(answer_shown=False)])["em_when_shown"])


def test_report_files(tmp_path):
    scores = (_score(), _score(task_id="t2", prediction="a | b", em=0.0, f1=0.5, searches=0))
    report = EvalReport(policy="oracle", corpus="synthetic", split="test", episodes=scores, summary=summarize(scores))
    paths = write_report(report, tmp_path)
    data = json.loads(paths["json"].read_text())
    assert data["summary"]["em"] == 0.5 and data["summary"]["reward"] is None  # NaN -> null in JSON
    assert len(data["episodes"]) == 2 and data["episodes"][1]["prediction"] == "a | b"
    md = paths["markdown"].read_text()
    assert "| em | 0.500 |" in md and "a \\| b" in md  # table cells escaped
    assert "| reward |" not in md  # no training reward was asked for: no n/a row
    assert md == to_markdown(report)
    for key in ("metrics_plot", "searches_plot"):
        assert paths[key].stat().st_size > 1000
    assert not list(tmp_path.glob("*.tmp*"))  # atomic writes leave no temp files


def test_splits_are_deterministic_and_disjoint():
    tasks = [Task(id=f"w0-{i}", question=f"q{i}?", answers=("a",)) for i in range(200)]
    train, test = split_tasks(tasks, "train"), split_tasks(tasks, "test")
    assert {t.id for t in train}.isdisjoint({t.id for t in test})
    assert len(train) + len(test) == 200 and 20 < len(test) < 60
    assert split_tasks(tasks, "test") == test and split_tasks(tasks, "all", limit=3) == tasks[:3]
    with pytest.raises(ValueError, match="split must be"):
        split_tasks(tasks, "dev")


ORACLE_CORPUS = "synthetic:seed=0,passages=120,tasks=24,hops=2"


@pytest.mark.slow
def test_eval_cli_oracle_scores_perfectly(tmp_path, capsys):
    from searchgym.cli.main import main

    rc = main(["eval", "--policy", "oracle", "--corpus", ORACLE_CORPUS, "--split", "all", "--limit", "6",
               "--out", str(tmp_path), "--judge", "none", "--max-turns", "8", "--reward-config", "default"])
    assert rc == 0
    data = json.loads((tmp_path / "eval.json").read_text())
    s = data["summary"]
    assert s["episodes"] == 6 and s["answered"] == 1.0
    assert s["em"] == 1.0 and s["f1"] == 1.0
    assert s["citation_recall"] == 1.0 and s["citation_precision"] > 0.5
    assert s["rubric"] == 1.0
    assert s["answer_shown"] == 1.0 and s["em_when_shown"] == 1.0  # it reads its answers off what it was shown
    assert 1.0 <= s["searches_per_episode"] <= 2.0  # two hops, one search each unless one search shows both
    # the embedded training reward (C-GRPO: a correct answer whose citations connect the whole chain) pays the
    # oracle's episodes its maximum, 1
    assert all(e["reward"] == pytest.approx(1.0) for e in data["episodes"]) and s["reward"] == pytest.approx(1.0)
    assert (tmp_path / "eval.md").exists() and (tmp_path / "eval_metrics.png").exists()
    assert "| reward |" in (tmp_path / "eval.md").read_text()
    assert "EM 1.000" in capsys.readouterr().out


def test_eval_cli_rejects_a_missing_reward_config(tmp_path, capsys):
    from searchgym.cli.main import main

    rc = main(["eval", "--policy", "oracle", "--corpus", ORACLE_CORPUS, "--limit", "1", "--out", str(tmp_path),
               "--reward-config", str(tmp_path / "nope.yaml")])
    assert rc == 2 and "--reward-config" in capsys.readouterr().err


def test_eval_cli_rejects_a_bad_policy_spec(tmp_path, capsys):
    from searchgym.cli.main import main

    rc = main(["eval", "--policy", "openai:", "--corpus", ORACLE_CORPUS, "--limit", "1", "--out", str(tmp_path)])
    assert rc == 2 and "openai:<model>@<base_url>" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse rejects an unknown split
        main(["eval", "--split", "dev"])


def test_valid_turns_pool_all_turns_and_the_comparison_shows_each_change():
    from searchgym.eval.report import EpisodeScore, comparison_table, summarize

    def score(steps: int, invalid: int, em: float) -> EpisodeScore:
        return EpisodeScore("t", "q", ("a",), "a" if em else None, em, em, 0.0, None, None, 1, steps, invalid)

    before = summarize([score(4, 3, 0.0), score(1, 0, 1.0)])
    after = summarize([score(2, 0, 1.0), score(2, 1, 1.0)])
    assert before["valid_turns"] == pytest.approx(2 / 5)  # pooled: 3 invalid of 5 turns, not mean(1/4, 1)
    assert after["valid_turns"] == pytest.approx(3 / 4)
    assert math.isnan(summarize([])["valid_turns"])
    table = comparison_table({"warm start": before, "after GRPO": after})
    lines = table.splitlines()
    assert lines[0].startswith("| policy | episodes | em |") and len(lines) == 4
    assert "| warm start | 2 | 0.500 |" in lines[2]
    assert "1.000 (+0.500)" in lines[3] and "0.750 (+0.350)" in lines[3]
    # a zero baseline is a value, not a missing one: the change from it is shown
    zero = comparison_table({"base": {"episodes": 1, "em": 0.0}, "trained": {"episodes": 1, "em": 1.0}}, ("em",))
    assert zero.splitlines()[3] == "| trained | 1 | 1.000 (+1.000) |"
    with pytest.raises(ValueError):
        comparison_table({})
