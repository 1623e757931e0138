"""benchmarks/bench_step_diversity.py: how a group's signal is counted (no model)."""

from __future__ import annotations

import pytest

from helpers import load_benchmark
from searchgym.train.samples import TrainingSample


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_step_diversity")


def _sample(group: str, text: str, reward: float, advantage: float) -> TrainingSample:
    return TrainingSample(group, (), (), (), (), reward, advantage, text=text)


def test_alike_groups_distinct_texts_and_positive_advantages(bench):
    samples = [
        # scored alike although two texts differ: no signal
        _sample("t1#e0/t0", "<search>a</search>", 0.5, 0.0),
        _sample("t1#e0/t0", "<search>a</search>", 0.5, 0.0),
        _sample("t1#e0/t0", "<search>b</search>", 0.5, 0.0),
        # a spread: one better than the rest
        _sample("t1#e0/t1", "<answer>x</answer>", 1.0, 1.5),
        _sample("t1#e0/t1", "<answer>y</answer>", 0.0, -0.5),
        _sample("t1#e0/t1", "<answer>y</answer>", 0.0, -0.5),
    ]
    stats = bench.group_stats(samples)
    assert stats["groups"] == 2
    assert stats["alike"] == 0.5
    assert stats["distinct"] == 2.0  # two texts in each group
    assert stats["positive"] == 1


def test_rewards_equal_to_rounding_count_as_alike(bench):
    samples = [_sample("g", "a", 0.3, 0.0), _sample("g", "b", 0.1 + 0.2, 0.0)]  # 0.30000000000000004
    assert bench.group_stats(samples)["alike"] == 1.0
