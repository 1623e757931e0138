"""Task-by-task comparison of two evaluations (searchgym.eval.paired): what the quickstart and bench_learning
report as "gained / lost" and its sign test."""

import pytest

from searchgym.eval.paired import gained_lost, paired_line, per_task_em, sign_test


def test_gained_and_lost_are_paired_by_task():
    before = {"t1": 1.0, "t2": 0.0, "t3": 0.0, "t4": 1.0}
    after = {"t1": 1.0, "t2": 1.0, "t3": 1.0, "t4": 0.0}
    assert gained_lost(before, after) == (2, 1)
    assert gained_lost(after, before) == (1, 2)


def test_the_sign_test_is_exact_two_sided_and_ignores_ties():
    assert sign_test(0, 0) == 1.0
    assert sign_test(5, 5) == 1.0
    assert sign_test(3, 0) == pytest.approx(0.25)  # 2 * (1/2)^3
    assert sign_test(20, 11) == pytest.approx(sign_test(11, 20))
    assert sign_test(20, 11) == pytest.approx(0.1496, abs=1e-4)
    assert sign_test(33, 8) < 0.001 < sign_test(27, 10) < 0.01
    with pytest.raises(ValueError, match="non-negative"):
        sign_test(-1, 3)


def test_a_report_line_names_both_sides_and_refuses_unpaired_evaluations():
    before = per_task_em([{"task_id": "t1", "em": 1.0}, {"task_id": "t2", "em": 0.0}, {"task_id": "t3", "em": 0.0}])
    after = per_task_em([{"task_id": "t1", "em": 0.0}, {"task_id": "t2", "em": 1.0}, {"task_id": "t3", "em": 1.0}])
    line = paired_line(before, after, before_name="the warm start", after_name="GRPO")
    assert "by GRPO only: 2, by the warm start only: 1" in line
    assert f"p = {sign_test(2, 1):.3f}" in line and "of 3 tasks" in line
    with pytest.raises(ValueError, match="different tasks"):
        paired_line(before, {"t1": 1.0, "t2": 1.0})
    with pytest.raises(ValueError, match="twice"):
        per_task_em([{"task_id": "t1", "em": 1.0}, {"task_id": "t1", "em": 0.0}])
