"""Outcome rewards: SQuAD normalisation, EM/F1 over aliases, the format reward."""

from __future__ import annotations

import json

import pytest

from searchgym.corpora.records import Task
from searchgym.envs.trajectory import ANSWER, INVALID, SEARCH, Step, Trajectory
from searchgym.rewards.normalize import contains_name, normalize_answer, normalize_text
from searchgym.rewards.outcome import FormatReward, OutcomeReward, exact_match, f1_score, strip_citations

TASK = Task(id="t", question="Which country?", answers=("Osteria", "Republic of Osteria"))


def episode(*steps: Step) -> Trajectory:
    t = Trajectory(task=TASK)
    for s in steps:
        t = t.extend(s)
    return t


def test_squad_normalisation():
    assert normalize_answer("The  Beatles!") == "beatles"
    assert normalize_answer("An apple, a day.") == "apple day"
    assert normalize_answer("Theatre") == "theatre"  # articles only as whole words
    assert normalize_text("“Ricky Glenn” ‑ The Gladiator") == "ricky glenn gladiator"


def test_whole_token_names():
    assert contains_name("born in Paris, France", "Paris")
    assert not contains_name("a Parisian cafe", "Paris")
    assert not contains_name("anything", "The")  # normalises to nothing


def test_exact_match_aliases_and_citations():
    assert exact_match("republic of osteria.", TASK.answers) == 1.0
    assert exact_match("Osteria [w0-3]", TASK.answers) == 1.0
    assert exact_match("Osteria and Tarnville", TASK.answers) == 0.0
    assert exact_match(None, TASK.answers) == 0.0
    assert exact_match("x", "x") == 1.0
    with pytest.raises(ValueError):
        exact_match("x", [])
    assert strip_citations("A [w0-1] B [[4](https://e.org/x)]").split() == ["A", "B"]


def test_f1_max_over_aliases_and_yes_no():
    assert f1_score("the Republic", TASK.answers) == pytest.approx(0.5)  # 1 of 3 gold tokens: P=1, R=1/3
    assert f1_score("Osteria", TASK.answers) == 1.0
    assert f1_score("no", ("yes",)) == 0.0
    assert f1_score("yes it is", ("yes",)) == 0.0  # yes/no get credit only for an exact match


def test_outcome_reward_components():
    t = episode(Step(text="<answer>Republic of Osteria</answer>", kind=ANSWER, answer="Republic of Osteria"))
    r = OutcomeReward()(t)
    assert r.value == 1.0 and r.components == {"em": 1.0, "f1": 1.0}
    r = OutcomeReward(metric="f1")(episode(Step(text="", kind=ANSWER, answer="Osteria Republic")))
    assert r.components["em"] == 0.0 and 0 < r.value < 1
    r = OutcomeReward()(episode(Step(text="<search>x</search>", kind=SEARCH, query="x")))
    assert r.value == 0.0 and r.details["reason"] == "no final answer"
    with pytest.raises(ValueError):
        OutcomeReward(metric="acc")


def test_format_reward_table():
    good = episode(Step(text="<search>q</search>", kind=SEARCH, query="q"),
                   Step(text="<answer>Osteria</answer>", kind=ANSWER, answer="Osteria"))
    bad = episode(Step(text="oops", kind=INVALID, error="no action"),
                  Step(text="<answer>Osteria</answer>", kind=ANSWER, answer="Osteria"))
    wrong_good = episode(Step(text="<answer>Tarnville</answer>", kind=ANSWER, answer="Tarnville"))
    wrong_bad = episode(Step(text="??", kind=INVALID), Step(text="", kind=ANSWER, answer="Tarnville"))
    fr = FormatReward(mode="search_r1")
    assert [fr(t).value for t in (good, bad, wrong_good, wrong_bad)] == [1.0, 0.8, 0.2, 0.1]
    binary = FormatReward()
    assert [binary(t).value for t in (good, bad)] == [1.0, 0.0]
    assert binary(episode()).details["reason"] == "no turns"
    assert binary(episode(Step(text="", kind=ANSWER, answer=" [w0-1] "))).details["reason"] == "empty answer"


def test_hotpotqa_answers_match_themselves(shared_data):
    rows = json.loads((shared_data / "hotpotqa" / "hotpot_dev_distractor_sample40.json").read_text())
    for row in rows:
        assert exact_match(row["answer"], [row["answer"]]) == 1.0
        assert f1_score(row["answer"].upper() + ".", [row["answer"]]) == 1.0
