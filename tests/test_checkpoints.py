"""Safe resume (issue 15 item 8) and resume as a continuation (issue 12 item 6).

The first part builds checkpoint directories file by file (the files a transformers ``Trainer``
writes) and damages them as a crash mid-save would; the last part trains a tiny model through the
real step sampler and ``HFPolicy``, stops it, resumes it, and compares with an uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import zlib
from pathlib import Path

import pytest

from helpers import fake_checkpoint
from searchgym.train import checkpoints
from searchgym.train.config import TrainConfig
from searchgym.train.metrics import append_jsonl, read_jsonl, repair_jsonl, resume_metrics

torch = pytest.importorskip("torch")


# ---- complete checkpoints ----------------------------------------------------------------------------

def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


DAMAGE = {
    "weights cut short": lambda p: _truncate(p / "model.safetensors", 0.9),
    "no optimizer": lambda p: (p / "optimizer.pt").unlink(),
    "torn trainer state": lambda p: _truncate(p / "trainer_state.json"),
    "scheduler cut short": lambda p: _truncate(p / "scheduler.pt"),
    "no trainer rng": lambda p: (p / "rng_state.pth").unlink(),
    "no rollout rng": lambda p: (p / "searchgym_rng.pt").unlink(),
    "no weights": lambda p: (p / "model.safetensors").unlink(),
    "state of another step": lambda p: (p / "trainer_state.json").write_text(json.dumps({"global_step": 7})),
}


def test_a_complete_checkpoint_passes(tmp_path):
    check = checkpoints.inspect_checkpoint(fake_checkpoint(tmp_path, 3), world_size=1)
    assert check.complete and check.step == 3, check.describe()


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_latest_falls_back_to_the_newest_complete_checkpoint_and_says_so(tmp_path, caplog, damage):
    fake_checkpoint(tmp_path, 2)
    fake_checkpoint(tmp_path, 4)
    newest = fake_checkpoint(tmp_path, 6)
    DAMAGE[damage](newest)
    assert not checkpoints.inspect_checkpoint(newest, world_size=1).complete
    with caplog.at_level(logging.WARNING, logger="searchgym.train.checkpoints"):
        chosen = checkpoints.resolve_resume("latest", tmp_path, world_size=1)
    assert Path(chosen).name == "checkpoint-4"
    assert "skipping incomplete checkpoint" in caplog.text and "checkpoint-6" in caplog.text
    assert "newest complete checkpoint" in caplog.text
    # an explicit path to the damaged one is refused, naming what is wrong
    with pytest.raises(ValueError, match="optimizer|incomplete"):
        checkpoints.resolve_resume(str(newest), tmp_path, world_size=1)


def test_the_trainings_resume_functions_use_the_checks(tmp_path):
    from searchgym.train.training import latest_checkpoint, resolve_resume

    fake_checkpoint(tmp_path, 1)
    (fake_checkpoint(tmp_path, 2) / "scheduler.pt").unlink()
    assert latest_checkpoint(tmp_path).name == "checkpoint-1"
    config = TrainConfig(output_dir=str(tmp_path), resume_from_checkpoint="latest")
    assert Path(resolve_resume(config)).name == "checkpoint-1"


def test_missing_optimizer_is_an_error_unless_reset_is_asked_for(tmp_path, caplog):
    only = fake_checkpoint(tmp_path, 5)
    (only / "optimizer.pt").unlink()
    with pytest.raises(ValueError, match="resume_reset_optimizer=true"):
        checkpoints.resolve_resume(str(only), tmp_path, world_size=1)
    with pytest.raises(FileNotFoundError, match="resume_reset_optimizer=true"):
        checkpoints.resolve_resume("latest", tmp_path, world_size=1)
    with caplog.at_level(logging.WARNING, logger="searchgym.train.checkpoints"):
        assert checkpoints.resolve_resume("latest", tmp_path, reset_optimizer=True, world_size=1) == str(only)
    assert "without optimizer state" in caplog.text
    # resetting the optimizer does not excuse any other missing part
    (only / "scheduler.pt").unlink()
    with pytest.raises(ValueError, match="scheduler"):
        checkpoints.resolve_resume(str(only), tmp_path, reset_optimizer=True, world_size=1)


def test_no_complete_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        checkpoints.resolve_resume("latest", tmp_path / "nothing", world_size=1)
    _truncate(fake_checkpoint(tmp_path, 1) / "model.safetensors", 0.3)
    with pytest.raises(FileNotFoundError, match="checkpoint-1: weights: model.safetensors: truncated"):
        checkpoints.resolve_resume("latest", tmp_path, world_size=1)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        checkpoints.resolve_resume(str(tmp_path / "checkpoint-9"), tmp_path, world_size=1)


def test_multi_process_checkpoints_need_every_ranks_rng(tmp_path):
    path = fake_checkpoint(tmp_path, 2)
    (path / "rng_state.pth").rename(path / "rng_state_0.pth")
    (path / "searchgym_rng.pt").rename(path / "searchgym_rng_0.pt")
    check = checkpoints.inspect_checkpoint(path, world_size=2)
    assert set(check.problems) == {"rng"} and "rng_state_1.pth" in check.problems["rng"]
    assert "searchgym_rng_1.pt" in check.problems["rng"]


def test_rollout_rng_state_round_trip():
    import random

    class Policy:
        generator = torch.Generator().manual_seed(3)

    class Sampler:
        rng, policy, _episode = random.Random(5), Policy(), 7

    a = Sampler()
    state = checkpoints.rollout_rng_state(a)
    expected = (a.rng.random(), torch.rand(3, generator=a.policy.generator))
    b = Sampler()
    b.rng, b.policy, b._episode = random.Random(0), type("P", (), {"generator": torch.Generator()})(), 0
    checkpoints.apply_rollout_rng_state(b, state)
    assert b._episode == 7 and b.rng.random() == expected[0]
    assert torch.equal(torch.rand(3, generator=b.policy.generator), expected[1])


# ---- metrics.jsonl ---------------------------------------------------------------------------------------

def test_a_torn_last_line_is_repaired_before_appending(tmp_path, caplog):
    path = tmp_path / "metrics.jsonl"
    append_jsonl(path, {"step": 1, "reward": 0.5})
    with path.open("a") as fh:
        fh.write('{"step": 2, "rew')  # a crash while writing step 2
    with caplog.at_level(logging.WARNING, logger="searchgym.train.metrics"):
        append_jsonl(path, {"step": 2, "reward": 0.25})
    assert "torn" in caplog.text
    assert read_jsonl(path) == [{"step": 1, "reward": 0.5}, {"step": 2, "reward": 0.25}]
    assert path.read_text().endswith("\n") and path.read_text().count("\n") == 2
    # a whole record that only lost its newline is kept
    with path.open("a") as fh:
        fh.write('{"step": 3, "reward": 1.0}')
    assert repair_jsonl(path) and read_jsonl(path)[-1] == {"step": 3, "reward": 1.0}
    assert not repair_jsonl(path)


def test_a_record_glued_to_an_old_torn_line_is_still_read(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "reward": 0.5}\n{"step": 2, "rew{"step": 2, "reward": 0.25}\n')
    assert read_jsonl(path) == [{"step": 1, "reward": 0.5}, {"step": 2, "reward": 0.25}]


def test_resume_drops_later_steps_and_duplicates(tmp_path):
    path = tmp_path / "metrics.jsonl"
    for step in (1, 2, 3, 4, 5):
        append_jsonl(path, {"step": step, "reward": float(step)})
    append_jsonl(path, {"step": 2, "reward": 20.0})  # an old run logged step 2 twice
    append_jsonl(path, {"step": 5, "train_runtime": 9.0})
    with path.open("a") as fh:
        fh.write('{"step": 6, "re')
    assert resume_metrics(path, 3) == 4  # steps 4, 5 and the summary moved; one duplicate merged
    assert [(r["step"], r["reward"]) for r in read_jsonl(path)] == [(1, 1.0), (3, 3.0), (2, 20.0)]
    dropped = read_jsonl(tmp_path / "metrics.dropped.jsonl")
    assert [r["step"] for r in dropped] == [4, 5, 5]
    assert resume_metrics(path, 3) == 0  # idempotent


# ---- a resumed run continues the interrupted one -----------------------------------------------------------

class _KeywordSearcher:
    """A tiny in-memory searcher (the policy here is random and rarely searches)."""

    def __init__(self, documents):
        self.documents = {d.id: d for d in documents}

    def search(self, query, k=10):
        from searchgym.search.base import Hit

        words = set(str(query).lower().split())
        ranked = sorted(self.documents.values(), key=lambda d: -len(words & set(d.text.lower().split())))
        return [Hit(d.id, 1.0, d.title, d.text) for d in ranked[:k]]

    def batch_search(self, queries, k=10):
        return [self.search(q, k) for q in queries]

    def doc(self, doc_id):
        return self.documents.get(doc_id)


class _CrcJudge:
    """Deterministic varied verdicts, so rewards differ within groups and the model learns."""

    name, model = "crc", "crc"

    def judge(self, requests):
        from searchgym.judges.base import Judgment

        return [Judgment(float(zlib.crc32(r.target.encode("utf-8", "surrogatepass")) % 3 - 1)) for r in requests]

    async def ajudge(self, requests):
        return self.judge(requests)


@pytest.fixture(scope="module")
def tiny_setup():
    from transformers import AutoTokenizer

    from searchgym.corpora.synthetic import WorldConfig, generate_world
    from searchgym.judges import register_judge
    from searchgym.models import resolve_model

    register_judge("crc-test", lambda arg, **kw: _CrcJudge())
    tokenizer = AutoTokenizer.from_pretrained(str(resolve_model("smollm2")))
    world = generate_world(WorldConfig(seed=0, num_passages=60, num_tasks=4, hops=(2,)))
    return tokenizer, world


class _Crash(RuntimeError):
    pass


def _crash_while_saving(step: int):
    """A callback that, while checkpoint ``step`` is being saved, cuts its weights short and dies."""
    from transformers import TrainerCallback

    class CrashWhileSaving(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == step:
                _truncate(Path(args.output_dir) / f"checkpoint-{step}" / "model.safetensors", 0.6)
                raise _Crash(f"killed while saving checkpoint-{step}")

    return CrashWhileSaving()


def _run(setup, out: Path, max_steps: int, resume: str | None = None, record: dict | None = None, callbacks=(),
         **overrides):
    from transformers import LlamaConfig, LlamaForCausalLM

    from searchgym.train.training import build_reward, build_trainer, make_sampler_factory, run_training

    tokenizer, world = setup
    config = TrainConfig(model="tiny", output_dir=str(out), sampler="step", group_size=2, tasks_per_step=2,
                         groups_per_task=1, max_turns=1, max_new_tokens=5, citation_rubric=False,
                         judge="crc-test", use_peft=False, learning_rate=5e-2,
                         max_steps=max_steps, save_steps=1, save_total_limit=10, seed=0, warmstart=False,
                         resume_from_checkpoint=resume, **overrides)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                                         max_position_embeddings=2048, bos_token_id=tokenizer.bos_token_id,
                                         eos_token_id=tokenizer.eos_token_id))
    searcher = _KeywordSearcher(world.documents)
    factory = make_sampler_factory(config, world.tasks, searcher, build_reward(config, world.tasks), tokenizer)

    def recording_factory(trainer):
        sampler = factory(trainer)
        inner = sampler.sample

        def sample(tasks):
            samples = inner(tasks)
            step = trainer.state.global_step + 1
            record.setdefault(step, []).extend((s.group_id, s.completion_ids, s.reward) for s in samples)
            return samples

        sampler.sample = sample
        return sampler

    trainer = build_trainer(config, model, tokenizer, world.tasks, recording_factory, callbacks=callbacks)
    try:
        run_training(trainer, config)
    except _Crash:
        pass
    return trainer


def _weights(trainer):
    return {k: v.detach().clone() for k, v in trainer.accelerator.unwrap_model(trainer.model).state_dict().items()}


@pytest.mark.slow
def test_a_resumed_run_continues_the_interrupted_one(tmp_path, tiny_setup, caplog, monkeypatch):
    import shutil

    # 4 tasks, 2 per step: epoch 0 = steps 1-2, epoch 1 = steps 3-4. The run dies while saving step 4,
    # after logging it; checkpoint-4 is left torn, so the resume falls back to checkpoint-3 (mid-epoch 1)
    # and runs step 4 again. It must draw what the first run drew: the same prompts (the shuffle of
    # epoch 1 replayed), the same tokens (the policy's generator), continuation choices and episode ids.
    out = tmp_path / "run"
    first: dict = {}
    crashed = _run(tiny_setup, out, 4, record=first, callbacks=[_crash_while_saving(4)])
    assert sorted(first) == [1, 2, 3, 4]
    reference = _weights(crashed)  # after step 4's optimizer step, which the crash did not undo
    for name in ("control-streams", "control-order", "reset-optimizer"):
        shutil.copytree(out, tmp_path / name)
    with caplog.at_level(logging.WARNING):
        resumed: dict = {}
        again = _run(tiny_setup, out, 4, resume="latest", record=resumed)
    assert "skipping incomplete checkpoint" in caplog.text and "checkpoint-4" in caplog.text
    assert sorted(resumed) == [4]
    assert resumed[4] == first[4], "step 4 re-run after the resume differs from the first run's step 4"
    final = _weights(again)
    assert all(torch.equal(reference[k], final[k]) for k in reference)  # the same weights after step 4
    logged = [r for r in read_jsonl(out / "metrics.jsonl") if "reward" in r]
    assert [r["step"] for r in logged] == [1, 2, 3, 4]  # step 4 logged once, by the run that went on
    assert [r["step"] for r in read_jsonl(out / "metrics.dropped.jsonl")] == [4]
    assert logged[-1]["reward"] == read_jsonl(out / "metrics.dropped.jsonl")[0]["reward"]

    # controls: without either restoration the re-run step 4 is not the first run's
    monkeypatch.setattr(checkpoints, "apply_rollout_rng_state", lambda sampler, state: None)
    streams: dict = {}
    _run(tiny_setup, tmp_path / "control-streams", 4, resume="latest", record=streams)
    assert [ids for _, ids, _ in streams[4]] != [ids for _, ids, _ in first[4]]  # other tokens
    monkeypatch.undo()
    monkeypatch.setattr(checkpoints, "replay_prompt_order", lambda dataloader, epochs: False)
    order: dict = {}
    _run(tiny_setup, tmp_path / "control-order", 4, resume="latest", record=order)
    assert [g for g, _, _ in order[4]] != [g for g, _, _ in first[4]]  # other prompts
    monkeypatch.undo()

    # a checkpoint without optimizer state: refused by default, resumed on request with the schedule going on
    (tmp_path / "reset-optimizer" / "checkpoint-3" / "optimizer.pt").unlink()
    with pytest.raises(ValueError, match="resume_reset_optimizer"):
        _run(tiny_setup, tmp_path / "reset-optimizer", 4, resume=str(tmp_path / "reset-optimizer" / "checkpoint-3"))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        _run(tiny_setup, tmp_path / "reset-optimizer", 4, resume="latest", record={}, resume_reset_optimizer=True)
    assert "optimizer state reset" in caplog.text
    lr = [r["learning_rate"] for r in read_jsonl(tmp_path / "reset-optimizer" / "metrics.jsonl") if "reward" in r]
    assert lr == [r["learning_rate"] for r in logged]  # not restarted at step 0 of the schedule


def test_world_size_comes_from_the_launcher_environment(monkeypatch, tmp_path):
    from searchgym.train.training import num_processes

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert num_processes() == checkpoints.env_world_size() == 1
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert num_processes() == 3
    # a checkpoint of this 3-process run needs every process's RNG files
    problems = checkpoints.inspect_checkpoint(tmp_path / "checkpoint-2").problems
    assert problems == {"directory": "missing"}
    (tmp_path / "checkpoint-2").mkdir()
    rng = checkpoints.inspect_checkpoint(tmp_path / "checkpoint-2").problems["rng"]
    assert "rng_state_2.pth" in rng and "searchgym_rng_2.pt" in rng
