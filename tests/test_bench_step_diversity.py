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


def _turn(group: str, text: str, reward: float, logprobs: tuple[float, ...]) -> TrainingSample:
    ids = tuple(range(len(logprobs)))
    return TrainingSample(group, (), ids, (1,) * len(ids), logprobs, reward, 0.0, text=text)


def test_gate_skips_groups_whose_probe_is_likely_and_counts_what_that_costs(bench):
    sure, unsure = (-0.01, -0.01), (-1.0, -1.0)  # probe probabilities 0.98 and 0.14
    samples = [
        # a confident turn drawn 4 times alike: the gate's saving
        *[_turn("t#e0/t0", "<search>a</search>", 0.0, sure) for _ in range(4)],
        # a confident probe in a group that teaches: the gate's loss
        _turn("t#e0/t1", "<open>1</open>", 1.0, sure), *[_turn("t#e0/t1", "<answer>x</answer>", 0.0, unsure)] * 3,
        # an unsure probe: branched, one probe more to pay
        _turn("t#e0/t2", "<answer>y</answer>", 1.0, unsure), *[_turn("t#e0/t2", "<answer>z</answer>", 0.0, sure)] * 3,
    ]
    low, high = bench.gate_rows(samples, [0.5, 0.99])
    assert (low["groups"], low["informative"], low["skipped"], low["informative_lost"]) == (3, 2, 2, 1)
    # 24 candidate tokens: two skipped groups save 3 of their 4 turns (2 x 6), the branched one pays a probe (2)
    assert low["tokens_saved"] == pytest.approx((6 + 6 - 2) / 24)
    assert (high["skipped"], high["informative_lost"]) == (0, 0)
    assert high["tokens_saved"] == pytest.approx(-6 / 24)  # nothing skipped: every group pays its probe
