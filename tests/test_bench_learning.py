"""benchmarks/bench_learning.py: what a re-run on the same --out reuses, resumes or refuses (no training)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helpers import fake_checkpoint, load_benchmark
from searchgym.train.config import TrainConfig, dump_config


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_learning")


def _config(run_dir: Path, **changes) -> TrainConfig:
    return TrainConfig(**{"output_dir": str(run_dir), "warmstart": False, "seed": 1, "max_generated_tokens": 34_000,
                          **changes})


def test_a_run_folder_is_new_resumed_or_done_by_what_it_holds(bench, tmp_path):
    run = tmp_path / "arm-b-seed1"
    cfg = _config(run)
    assert bench.arm_run_state(run, cfg) == "new"  # no folder
    run.mkdir()
    dump_config(cfg, run / "config.yaml")
    assert bench.arm_run_state(run, cfg) == "new"  # started, killed before its first checkpoint
    cut = fake_checkpoint(run, 12) / "model.safetensors"
    cut.write_bytes(cut.read_bytes()[:20])
    assert bench.arm_run_state(run, cfg) == "new"  # killed while writing it: nothing to resume from
    fake_checkpoint(run, 24)
    assert bench.arm_run_state(run, cfg) == "resume"
    # how it was started is not what it computes: a resumed run's saved config still matches
    dump_config(cfg.replace(resume_from_checkpoint="latest"), run / "config.yaml")
    assert bench.arm_run_state(run, cfg) == "resume"
    (run / "final").mkdir()
    (run / "final" / "config.json").write_text("{}")
    assert bench.arm_run_state(run, cfg) == "resume"  # final written, log history not yet: not finished
    (run / "log_history.json").write_text("[]")
    assert bench.arm_run_state(run, cfg) == "done"


def test_a_run_folder_with_other_settings_is_refused(bench, tmp_path):
    run = tmp_path / "arm-b-seed1"
    run.mkdir()
    dump_config(_config(run, max_generated_tokens=60_000), run / "config.yaml")
    with pytest.raises(ValueError, match="max_generated_tokens 60000 there, 34000 now"):
        bench.arm_run_state(run, _config(run))


def test_a_run_folder_read_back_from_another_out_matches_on_its_warm_starts_weights(bench, tmp_path):
    """Runs of several --out folders linked into one (the table over seeds): the saved output_dir and model path
    name the old folder; the run is the same if the warm start's weights are, and refused if they are not."""
    old_warm, new_warm = tmp_path / "old" / "model", tmp_path / "new" / "model"
    for folder in (old_warm, new_warm):
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"warm start weights")
    run = tmp_path / "new" / "arm-a-seed1"
    run.mkdir()
    dump_config(_config(tmp_path / "old" / "arm-a-seed1", model=str(old_warm)), run / "config.yaml")
    assert bench.arm_run_state(run, _config(run, model=str(new_warm))) == "new"
    (new_warm / "model.safetensors").write_bytes(b"other weights")
    with pytest.raises(ValueError, match="model .* there, .* now"):
        bench.arm_run_state(run, _config(run, model=str(new_warm)))
    (new_warm / "model.safetensors").write_bytes(b"warm start weights")
    shutil.rmtree(old_warm)  # the old warm start is gone: nothing to compare with, so not the same run
    with pytest.raises(ValueError, match="model .* there, .* now"):
        bench.arm_run_state(run, _config(run, model=str(new_warm)))


def test_a_run_folder_matches_on_the_reward_scale_trl_trained_with(bench, tmp_path):
    """scale_rewards auto (the default) is what it resolves to: a trajectory run saved with group is the same run;
    a rollout-valued step run saved with group (trained std-scaled, before auto) is not."""
    run = tmp_path / "arm-a-seed1"
    run.mkdir()
    dump_config(_config(run, scale_rewards="group"), run / "config.yaml")
    assert bench.arm_run_state(run, _config(run)) == "new"
    step = {"sampler": "step", "step_value": "rollout", "groups_per_task": 4}
    dump_config(_config(run, scale_rewards="group", **step), run / "config.yaml")
    with pytest.raises(ValueError, match="scale_rewards 'group' there, 'none' now"):
        bench.arm_run_state(run, _config(run, **step))


def test_an_evaluation_is_reused_only_for_the_same_weights_tasks_and_settings(bench, tmp_path):
    class Task:
        def __init__(self, id):
            self.id = id

    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights")
    tasks = [Task("t1"), Task("t2")]
    key = bench.evaluation_key(str(model), tasks, max_turns=4)
    report = {"summary": {"em": 0.5, "f1": None}, "episodes": [{"task_id": "t1", "em": 1.0}, {"task_id": "t2", "em": 0.0}]}
    (tmp_path / "heldout.json").write_text(json.dumps(report))
    assert bench.saved_evaluation(str(tmp_path), "heldout", key) is None  # no key file: never finished
    (tmp_path / "heldout.key").write_text(key)
    summary, per_task = bench.saved_evaluation(str(tmp_path), "heldout", key)
    assert summary["em"] == 0.5 and summary["f1"] != summary["f1"]  # None comes back as NaN
    assert per_task == {"t1": 1.0, "t2": 0.0}
    assert bench.evaluation_key(str(model), tasks, max_turns=3) != key
    assert bench.evaluation_key(str(model), tasks[:1], max_turns=4) != key
    (model / "model.safetensors").write_bytes(b"trained further")
    assert bench.saved_evaluation(str(tmp_path), "heldout", bench.evaluation_key(str(model), tasks, max_turns=4)) is None


def test_train_or_reuse_returns_the_model_of_this_run_whichever_way_it_got_it(bench, tmp_path):
    """Each arm's evaluations read the folder this returns (a reused run once got the previous arm's model)."""
    from types import SimpleNamespace

    calls = []

    def fake_train(cfg):
        calls.append(cfg.resume_from_checkpoint)
        out = Path(cfg.output_dir)
        dump_config(cfg, out / "config.yaml")
        (out / "final").mkdir(exist_ok=True)
        (out / "final" / "config.json").write_text("{}")
        history = [{"step": 1, "reward": 0.5}, {"train_runtime": 12.0}]
        (out / "log_history.json").write_text(json.dumps(history))
        return SimpleNamespace(final_model_dir=out / "final", log_history=history)

    run = tmp_path / "arm-c-seed0"
    run.mkdir()
    cfg = _config(run)
    final, history, _ = bench.train_or_reuse(run, cfg, fake_train)
    assert final == run / "final" and calls == [None] and history[0]["reward"] == 0.5
    final, history, seconds = bench.train_or_reuse(run, cfg, fake_train)  # finished: read back, not retrained
    assert final == run / "final" and calls == [None] and seconds == 12.0 and history[0]["reward"] == 0.5

    other = tmp_path / "arm-c-seed1"
    other.mkdir()
    dump_config(_config(other), other / "config.yaml")
    fake_checkpoint(other, 12)
    final, _, _ = bench.train_or_reuse(other, _config(other), fake_train)  # killed after a checkpoint: resumed
    assert final == other / "final" and calls == [None, "latest"]


def test_arms_are_paired_with_the_baseline_seed_by_seed(bench):
    def run(seed, solved):
        return {"seed": seed, "tasks": {t: float(t in solved) for t in ("t1", "t2", "t3", "t4")}}

    baseline = [run(0, {"t1"}), run(1, {"t1", "t2"})]
    step_arm = [run(0, {"t1", "t2", "t3"}), run(1, {"t3"}), run(2, {"t1", "t2", "t3", "t4"})]
    cmp = bench.paired_against(step_arm, baseline, "tasks")
    # seed 2 has no baseline run: left out rather than compared with another seed's
    assert [(s["seed"], s["wins"], s["losses"]) for s in cmp["seeds"]] == [(0, 2, 0), (1, 1, 2)]
    assert (cmp["wins"], cmp["losses"]) == (3, 2)
    assert cmp["p"] == pytest.approx(bench.sign_test(3, 2))
    assert bench.paired_against(step_arm, baseline, "transfer_tasks")["seeds"] == []  # not evaluated there


def test_the_pairing_covers_only_the_splits_both_arms_were_evaluated_on(bench, capsys):
    baseline = [{"seed": 0, "tasks": {"t1": 1.0, "t2": 0.0}}]
    step_arm = [{"seed": 0, "tasks": {"t1": 0.0, "t2": 1.0}}]
    paired = bench._print_paired({"a": baseline, "c": step_arm})
    assert list(paired) == ["c"] and list(paired["c"]) == ["held-out"]  # no --transfer-corpus: no transfer line
    assert (paired["c"]["held-out"]["wins"], paired["c"]["held-out"]["losses"]) == (1, 1)
    assert "held-out  seed 0 1/1  pooled 1/1" in capsys.readouterr().out


def test_an_unknown_arm_is_refused_before_any_work(bench, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--quick", "--arms", "a,x", "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert "unknown arm(s) ['x']" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before the output folder or a warm start


def test_arm_e_is_arm_c_with_arm_a_answer_reward(bench):
    step_keys = set(bench.ARMS["c"]) | set(bench.ARMS["e"])
    differing = {k for k in step_keys if bench.ARMS["c"].get(k) != bench.ARMS["e"].get(k)}
    assert differing == {"citation_rubric"}
    assert bench.ARMS["e"]["citation_rubric"] == bench.ARMS["a"]["citation_rubric"] is False
    assert "e" in bench.STEP_ARMS


def test_step_arms_are_also_paired_with_the_trajectory_arm_of_their_reward(bench, capsys):
    def run(solved):
        return [{"seed": 0, "tasks": {t: float(t in solved) for t in ("t1", "t2", "t3")}}]

    results = {"a": run({"t1"}), "b": run({"t2"}), "c": run({"t2", "t3"}), "e": run({"t1", "t2"})}
    paired = bench._print_same_reward(results)
    out = capsys.readouterr().out
    assert paired["c"]["held-out"]["against"] == "b" and paired["e"]["held-out"]["against"] == "a"
    assert (paired["c"]["held-out"]["wins"], paired["c"]["held-out"]["losses"]) == (1, 0)  # t3 against nothing
    assert (paired["e"]["held-out"]["wins"], paired["e"]["held-out"]["losses"]) == (1, 0)  # t2 against nothing
    assert "step against trajectory sampling at one answer reward" in out
    assert bench._print_same_reward({"a": run({"t1"}), "c": run({"t3"})}) == {}  # c's trajectory arm (b) absent
