"""Training runs report where users look: episodes/step-N.jsonl, report.html (opened in headless
Chromium) and TensorBoard event files carrying every searchgym reward component and episode statistic.

Real GRPO steps through TRL with a tiny random llama (SmolLM2's tokenizer) as the trained model; the
rollouts come from the real samplers over a synthetic world with BM25, driven by a seeded noisy oracle
(the oracle's turn or a wrong answer), so the logged episodes and SLATE branches differ in reward.
"""

from __future__ import annotations

import json
import random

import pytest

from searchgym.policies.policy import Completion

torch = pytest.importorskip("torch")


class NoisyOracle:
    def __init__(self, tasks, p=0.35, seed=0):
        from searchgym.policies.oracle import OraclePolicy

        self.oracle, self.p, self.rng = OraclePolicy(tasks), p, random.Random(seed)

    def generate(self, conversations, n=1):
        return [[Completion(self.oracle.next_turn(c) if self.rng.random() >= self.p else "No idea. <answer>nobody</answer>")
                 for _ in range(n)] for c in conversations]


@pytest.fixture(scope="module")
def world():
    from searchgym.corpora.synthetic import WorldConfig, generate_world
    from searchgym.search import build_searcher

    ts = generate_world(WorldConfig(seed=1, num_passages=120, num_tasks=8, hops=(2,)))
    return ts, build_searcher("bm25", ts.documents)


def tiny_llama(tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=4096, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))


def train_run(world, tokenizer, out, sampler, **kw):
    from searchgym.envs import DeepSearchEnv
    from searchgym.train.config import TrainConfig
    from searchgym.train.samplers import TrajectorySampler, TruncatedStepSampler
    from searchgym.train.training import build_reward, build_trainer, run_training

    ts, searcher = world
    # few rows per step: the cost is TRL's log-probs over SmolLM2's 49k-token vocabulary for every token
    values = dict(model="tiny", output_dir=str(out), sampler=sampler, group_size=3, tasks_per_step=1, groups_per_task=2,
                  max_steps=2, use_peft=False, save_steps=100, warmstart=False, judge="gold", judge_weight=0.2, log_episodes_every=1,
                  max_turns=4)
    values.update(kw)
    config = TrainConfig(**values)
    reward = build_reward(config, ts.tasks)

    def factory(trainer):
        env = DeepSearchEnv(ts.tasks, searcher, max_turns=config.max_turns, reward=None)
        policy = NoisyOracle(ts.tasks)
        if sampler == "trajectory":
            return TrajectorySampler(env, policy, reward, group_size=config.group_size, tokenizer=tokenizer)
        return TruncatedStepSampler(env, policy, reward, k=config.group_size, max_steps=config.max_turns,
                                    tokenizer=tokenizer, seed=0)

    trainer = build_trainer(config, tiny_llama(tokenizer), tokenizer, ts.tasks, factory)
    return run_training(trainer, config)


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def trajectory_run(world, tokenizer, tmp_path_factory):
    out = tmp_path_factory.mktemp("train-trajectory")
    return train_run(world, tokenizer, out, "trajectory", report_to=("tensorboard",))


@pytest.mark.slow
def test_tensorboard_carries_every_component_and_episode_statistic(trajectory_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = sorted(trajectory_run.output_dir.rglob("events.out.tfevents.*"))
    assert events, "report_to=[tensorboard] wrote no event file"
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    logged = [h for h in trajectory_run.log_history if "reward" in h][-1]
    ours = {k for k in logged if k.startswith(("components/", "episodes/"))}
    # every searchgym component (outcome, rubric, judge process reward and their parts) and episode statistic
    assert {"components/outcome", "components/em", "components/rubric", "components/process",
            "components/process.r_think", "components/rubric.n_connected",
            "episodes/steps_per_episode", "episodes/searches_per_episode"} <= ours
    assert {f"train/{k}" for k in ours} <= tags
    series = acc.Scalars("train/components/outcome")
    assert [e.step for e in series] == [1, 2]
    assert series[-1].value == pytest.approx(logged["components/outcome"])


@pytest.mark.slow
def test_trajectory_run_logs_episodes_paired_with_their_samples(trajectory_run):
    out = trajectory_run.output_dir
    assert sorted(p.name for p in (out / "episodes").iterdir()) == ["step-1.jsonl", "step-2.jsonl"]
    lines = _lines(out / "episodes" / "step-2.jsonl")
    header, samples = lines[0], [r for r in lines if r["type"] == "sample"]
    episodes = [r for r in lines if r["type"] == "episode"]
    assert header["type"] == "header" and header["step"] == 2 and header["mode"] == "trajectory"
    assert len(samples) == len(episodes) == 3  # 1 task x G=3
    for ep in episodes:
        sample = samples[ep["sample"]]
        assert ep["group_id"] == sample["group_id"] and sample["task_id"] == ep["task"]["id"]
        assert ep["reward"] == sample["reward"] and ep["advantage"] == sample["advantage"]
        assert "outcome" in ep["components"] and ep["steps"] and ep["rubric"]
        assert ep["status"] == ("solved" if ep["components"]["em"] == 1.0 else ep["status"])
    assert (out / "report.html").exists()


@pytest.mark.slow
def test_step_run_report_shows_slate_branches_in_chromium(world, tokenizer, tmp_path):
    from cdp_browser import Browser, find_chromium

    result = train_run(world, tokenizer, tmp_path / "run", "step", max_steps=1)
    lines = _lines(result.output_dir / "episodes" / "step-1.jsonl")
    samples = [r for r in lines if r["type"] == "sample"]
    groups: dict[str, list] = {}
    for s in samples:
        groups.setdefault(s["group_id"], []).append(s)
    assert len(groups) == 2 and all(len(g) == 3 for g in groups.values())  # groups_per_step=2 slots of k=3
    assert all(sum(c["components"]["chosen"] for c in g) == 1 for g in groups.values())
    assert all(r["groups"] for r in lines if r["type"] == "episode")  # episodes link to their step groups

    binary = find_chromium()
    if binary is None:
        pytest.fail("no Chromium found: install the Debian package chromium (scripts/setup.sh does where apt-get "
                    "exists) or set SEARCHGYM_CHROMIUM")
    with Browser(binary) as b:
        b.goto((result.output_dir / "report.html").as_uri())
        b.wait_for("document.body.dataset.ready === '1'")
        assert b.console_errors() == []
        assert b.eval("document.querySelectorAll('#steps button[data-step]').length") == 1
        assert b.eval("document.getElementById('groups-section').hidden") is False
        assert b.eval("document.querySelectorAll('#groups .group').length") == 2
        assert b.eval("Array.from(document.querySelectorAll('#groups .group')).map(g => g.querySelectorAll('.cand').length)") == [3] * 2
        assert b.eval("document.querySelectorAll('#groups .cand.chosen').length") == 2
        assert b.eval("document.querySelectorAll('#plots svg').length") >= 4  # reward and component curves
        b.goto((result.output_dir / "report.html").as_uri() + "#step=1&open=0")
        b.wait_for("document.querySelector('#detail').dataset.open === '0'")
        assert "Groups of this episode" in b.eval("document.getElementById('detail').innerText")
        shot = b.screenshot(tmp_path / "train.png", full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 30_000
        assert b.console_errors() == []
