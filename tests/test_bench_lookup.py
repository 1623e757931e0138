"""benchmarks/bench_lookup.py: the replay that sizes prompt-lookup drafting must count forwards exactly."""

from __future__ import annotations

import json

import pytest

from helpers import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_lookup")


def test_replay_counts_one_forward_per_verification(bench):
    context = [1, 2, 3, 4, 5, 6, 1, 2]
    assert bench.replay(context, [3, 4, 5, 6], 8, 3) == (1, 4)  # copied whole: one forward checks it all
    assert bench.replay(context, [3, 4, 9, 9], 2, 3) == (2, 2)  # accepts 3 4 and samples 9, then samples 9
    assert bench.replay([10, 11], [20, 21, 22], 4, 3) == (3, 0)  # nothing to copy: one token a forward


def test_the_command_prints_a_row_per_file_and_draft_length(bench, tmp_path, capsys):
    episode = {"task": {"question": "Where was Ada born?"},
               "steps": [{"text": "Next: Where was Ada born? <search>Where was Ada born?</search>",
                          "observation": "[w0-1] Ada\nAda was born in Paris."},
                         {"text": "Ada was born in Paris [w0-1]. <answer>Paris [w0-1]</answer>", "observation": None}]}
    path = tmp_path / "eval_episodes.jsonl"
    path.write_text(json.dumps(episode) + "\n")
    assert bench.main([str(path), "--drafts", "4,8"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith(f"| {path}")]
    assert [row.split(" | ")[1] for row in rows] == ["4", "8"]
    tokens, forwards = (int(x) for x in rows[0].split(" | ")[2:4])
    assert 0 < forwards < tokens  # the query repeats the reasoning, the answer the observation
