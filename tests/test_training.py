"""GRPO through TRL learns: a tiny random-init llama (SmolLM2's tokenizer) on a trivially learnable task.

The task: two agent turns separated by an environment observation; the reward is the fraction of
*agent* tokens drawn from the lower half of the vocabulary ("the action alphabet"). A random model
scores about 0.5; GRPO with group-relative advantages must push it up within a few steps. The
observation tokens are all from the upper half, so if they leaked into the loss they would be
trained too; the env mask (TRL's ``env_mask``) keeps them out.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest

from helpers import tiny_llama
from searchgym.corpora.records import Task
from searchgym.train.config import TrainConfig
from searchgym.train.samples import TrainingSample

torch = pytest.importorskip("torch")

TURN_TOKENS = 6


class ToyTwoTurnSampler:
    """G episodes per task: agent turn, fixed observation (env tokens), agent turn; scored by the alphabet."""

    def __init__(self, trainer, tokenizer, group_size: int):
        self.trainer = trainer
        self.tokenizer = tokenizer
        self.group_size = group_size
        self.half = len(tokenizer) // 2
        obs = tokenizer.encode("\nobservation: nothing found\n", add_special_tokens=False)
        # observation tokens from the upper half only: if they were trained, the reward would fall
        self.observation = [t if t >= self.half else t + self.half for t in obs]

    def _turn(self, model, ids: list[int]) -> tuple[list[int], list[float]]:
        inp = torch.tensor([ids])
        out = model.generate(
            inp, attention_mask=torch.ones_like(inp), do_sample=True, max_new_tokens=TURN_TOKENS,
            min_new_tokens=TURN_TOKENS, output_scores=True, return_dict_in_generate=True,
            pad_token_id=self.tokenizer.pad_token_id, top_k=0, top_p=1.0,
        )
        new = out.sequences[0, len(ids):].tolist()
        logps = [torch.log_softmax(s[0].float(), -1)[t].item() for s, t in zip(out.scores, new)]
        return new, logps

    def sample(self, tasks):
        model = self.trainer.accelerator.unwrap_model(self.trainer.model)
        samples = []
        with torch.no_grad():
            for task in tasks:
                prompt = self.tokenizer.encode(task.question, add_special_tokens=False)
                for _ in range(self.group_size):
                    t1, lp1 = self._turn(model, prompt)
                    t2, lp2 = self._turn(model, prompt + t1 + self.observation)
                    agent = t1 + t2
                    reward = sum(1 for t in agent if t < self.half) / len(agent)
                    samples.append(TrainingSample(
                        group_id=f"{task.id}/episode", prompt_ids=tuple(prompt),
                        completion_ids=tuple(t1 + self.observation + t2),
                        completion_mask=(1,) * len(t1) + (0,) * len(self.observation) + (1,) * len(t2),
                        logprobs=tuple(lp1 + [0.0] * len(self.observation) + lp2), reward=reward,
                        components={"alphabet": reward, "em": float(reward > 0.75)},
                    ))
        return samples


def toy_tasks(n: int = 8) -> list[Task]:
    return [Task(id=f"toy-{i}", question=f"Question number {i}: act.", answers=("x",)) for i in range(n)]


def toy_config(tmp_path: Path, **kw) -> TrainConfig:
    values = dict(
        model="tiny", output_dir=str(tmp_path / "run"), group_size=4, tasks_per_step=2, max_steps=12,
        learning_rate=3e-2, lr_scheduler_type="linear", use_peft=False, beta=0.0, save_steps=100, seed=0,
    )
    values.update(kw)
    return TrainConfig(**values)


def make_trainer(config, tokenizer, **grpo_overrides):
    from searchgym.train.training import build_trainer

    model = tiny_llama(tokenizer, seed=config.seed)
    return build_trainer(
        config, model, tokenizer, toy_tasks(),
        lambda trainer: ToyTwoTurnSampler(trainer, tokenizer, config.group_size),
        **grpo_overrides,
    )


@pytest.mark.slow
def test_grpo_reward_rises_and_outputs_are_written(tmp_path, smollm2_tokenizer):
    from searchgym.train.training import run_training

    config = toy_config(tmp_path)
    trainer = make_trainer(config, smollm2_tokenizer)
    result = run_training(trainer, config)

    rewards = [h["reward"] for h in result.log_history if "reward" in h]
    assert len(rewards) == config.max_steps
    first, last = sum(rewards[:3]) / 3, sum(rewards[-3:]) / 3
    assert last > first + 0.2, f"reward did not rise: {rewards}"

    # every component, EM and the episode statistics reach the trainer's log and the JSONL file
    logged = [h for h in result.log_history if "reward" in h][-1]
    for key in ("components/alphabet", "components/em", "episodes/steps_per_episode", "episodes/searches_per_episode"):
        assert key in logged, key
    assert logged["episodes/steps_per_episode"] == pytest.approx(2.0)  # two agent turns, read from the mask
    records = [json.loads(line) for line in result.metrics_path.read_text().splitlines()]
    assert [r["step"] for r in records if "reward" in r] == list(range(1, config.max_steps + 1))
    assert result.plot_path is not None and result.plot_path.stat().st_size > 1000
    assert (result.final_model_dir / "config.json").exists()
    assert (result.output_dir / "config.yaml").exists()


@pytest.mark.slow
def test_env_tokens_are_masked_out_of_the_loss(tmp_path, smollm2_tokenizer):
    config = toy_config(tmp_path, max_steps=1)
    trainer = make_trainer(config, smollm2_tokenizer)
    batch = [{"prompt": p} for p in trainer.train_dataset["prompt"][:2] for _ in range(config.group_size)]
    trainer.model.train()
    out = trainer._generate_and_score_completions(batch)
    sampler = trainer.searchgym_rollout.sampler
    n_obs = len(sampler.observation)
    # agent turn, observation, agent turn, then the untrained EOS that marks a finished episode
    expected = torch.tensor([1] * TURN_TOKENS + [0] * n_obs + [1] * TURN_TOKENS + [0])
    assert "tool_mask" in out  # TRL consumed our env_mask as its loss mask
    for row in out["tool_mask"]:
        assert torch.equal(row.cpu(), expected)
    assert (out["completion_ids"][:, -1] == smollm2_tokenizer.eos_token_id).all()
    assert trainer._metrics["train"]["completions/clipped_ratio"] == [0.0]  # every toy episode finished
    # the observation ids really sit at the masked positions
    obs = torch.tensor(sampler.observation)
    assert torch.equal(out["completion_ids"][0, TURN_TOKENS:TURN_TOKENS + n_obs].cpu(), obs)
    # advantages are group-relative: they sum to ~0 within each group of G
    adv = out["advantages"].view(-1, config.group_size)
    assert torch.allclose(adv.sum(dim=1), torch.zeros(adv.shape[0]), atol=1e-4)


@pytest.mark.slow
def test_checkpoint_resumes(tmp_path, smollm2_tokenizer):
    from searchgym.train.training import latest_checkpoint, run_training

    config = toy_config(tmp_path, max_steps=2, save_steps=1)
    run_training(make_trainer(config, smollm2_tokenizer), config)
    checkpoint = latest_checkpoint(config.output_dir)
    assert checkpoint is not None and checkpoint.name == "checkpoint-2"

    resumed = toy_config(tmp_path, max_steps=3, save_steps=1, resume_from_checkpoint="latest")
    result = run_training(make_trainer(resumed, smollm2_tokenizer), resumed)
    assert [h["step"] for h in result.log_history if "reward" in h] == [1, 2, 3]  # history restored
    records = [json.loads(line) for line in result.metrics_path.read_text().splitlines()]
    assert [r["step"] for r in records if "reward" in r] == [1, 2, 3]  # steps 1-2 not re-run
    assert latest_checkpoint(config.output_dir).name == "checkpoint-3"


def test_resume_latest_without_checkpoint_is_a_clear_error(tmp_path):
    from searchgym.train.training import resolve_resume

    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        resolve_resume(toy_config(tmp_path, resume_from_checkpoint="latest"))


class ToyStepSampler:
    """SLATE-shaped toy: per task, ``max_steps`` steps of k candidate turns from a shared prefix."""

    max_steps = 2

    def __init__(self, trainer, tokenizer, k: int):
        self.inner = ToyTwoTurnSampler(trainer, tokenizer, k)
        self.k = k

    def sample(self, tasks):
        inner = self.inner
        model = inner.trainer.accelerator.unwrap_model(inner.trainer.model)
        samples = []
        self.last_stats = {"steps_per_episode": float(self.max_steps), "searches_per_episode": 0.0}
        with torch.no_grad():
            for episode, task in enumerate(tasks):
                prefix = inner.tokenizer.encode(task.question, add_special_tokens=False)
                for step in range(self.max_steps):
                    cands = [inner._turn(model, prefix) for _ in range(self.k)]
                    rewards = [sum(1 for t in ids if t < inner.half) / len(ids) for ids, _ in cands]
                    for (ids, lps), r in zip(cands, rewards):
                        samples.append(TrainingSample(
                            group_id=f"{task.id}#e{episode}/t{step}", prompt_ids=tuple(prefix), completion_ids=tuple(ids),
                            completion_mask=(1,) * len(ids), logprobs=tuple(lps), reward=r,
                            components={"alphabet": r},
                        ))
                    best = max(range(self.k), key=rewards.__getitem__)
                    prefix = prefix + cands[best][0] + inner.observation
        return samples


@pytest.mark.slow
def test_step_sampler_groups_map_to_trl_groups_and_learn(tmp_path, smollm2_tokenizer):
    from searchgym.train.training import build_trainer, run_training

    config = toy_config(tmp_path, sampler="step", tasks_per_step=1, groups_per_task=2, max_steps=10)
    trainer = build_trainer(
        config, tiny_llama(smollm2_tokenizer), smollm2_tokenizer, toy_tasks(),
        lambda tr: ToyStepSampler(tr, smollm2_tokenizer, config.group_size),
    )
    result = run_training(trainer, config)
    logs = [h for h in result.log_history if "reward" in h]
    rewards = [h["reward"] for h in logs]
    assert sum(rewards[-3:]) / 3 > sum(rewards[:3]) / 3 + 0.2, rewards
    # one task of two steps fills exactly the two group slots of a step: no padding, nothing dropped
    assert all(h["episodes/rollout_padding"] == 0 for h in logs)
    assert all(h["episodes/steps_per_episode"] == 2 for h in logs)
    # the rollout is part of TRL's step time, never more than it
    assert all(0 < h["episodes/rollout_seconds"] < h["step_time"] for h in logs)


# --- SamplerRollout's mapping of sampler groups onto TRL's prompt runs, without a trainer -------------


class ScriptedSampler:
    """Returns pre-made step groups: ``steps[task_id]`` groups of ``k`` samples each."""

    def __init__(self, steps: dict[str, int], k: int, max_steps: int = 3):
        self.steps, self.k, self.max_steps, self.calls = steps, k, max_steps, []

    def sample(self, tasks):
        self.calls.append([t.id for t in tasks])
        out = []
        for e, t in enumerate(tasks):
            for s in range(self.steps[t.id]):
                for c in range(self.k):
                    out.append(TrainingSample(
                        group_id=f"{t.id}#e{e}/t{s}", prompt_ids=(1, 2), completion_ids=(10 + c, 11 + s),
                        completion_mask=(1, 1), logprobs=(-1.0, -1.0), reward=float(c), text="<search>q</search>",
                        scored=not (s == 0 and c == 0 and t.id == "toy-1"),
                    ))
        return out


def _rollout(sampler, mode="step", k=2, groups_per_task=1, seed=0):
    from searchgym.train.rollout import SamplerRollout

    return SamplerRollout(toy_tasks(), lambda trainer: sampler, mode=mode, group_size=k, pad_token_id=0,
                          groups_per_task=groups_per_task, seed=seed)


def _prompts(task_ids, k):
    from searchgym.train.rollout import task_prompt

    tasks = {t.id: t for t in toy_tasks()}
    return [task_prompt(tasks[tid]) for tid in task_ids for _ in range(k)]


@pytest.mark.parametrize("step_value", ["judge", "rollout"])
def test_trl_trains_step_groups_on_the_scale_of_their_values(tmp_path, smollm2_tokenizer, step_value):
    """Judge verdicts are z-scored in their group (SLATE); rollout values only centred on the group's mean, so that
    a 0.025 early-answer bonus between two right answers stays 0.025 and does not become a full-size advantage.
    TRL computes the advantages the loss uses: they must follow the sampler's scale."""
    from searchgym.train.rollout import task_prompt
    from searchgym.train.training import build_trainer

    config = toy_config(tmp_path, sampler="step", step_value=step_value, tasks_per_step=1, groups_per_task=1)
    k = config.group_size
    sampler = ScriptedSampler({t.id: 1 for t in toy_tasks()}, k=k)  # one group, rewards 0, 1, ..., k-1
    trainer = build_trainer(config, tiny_llama(smollm2_tokenizer), smollm2_tokenizer, toy_tasks(), lambda tr: sampler)
    out = trainer._generate_and_score_completions([{"prompt": task_prompt(toy_tasks()[0])} for _ in range(k)])
    rewards = torch.arange(k, dtype=torch.float32)
    centred = rewards - rewards.mean()
    expected = centred / (rewards.std() + 1e-4) if step_value == "judge" else centred
    torch.testing.assert_close(out["advantages"].cpu(), expected)


def test_tree_advantages_reach_the_loss_where_trl_would_centre_them_away(tmp_path, smollm2_tokenizer):
    """Under step_advantage=tree the part of an advantage a group shares (its state above the episode's root value)
    is the signal; TRL's group centring would make it 0. The loss gets the sampler's advantages, row for row."""
    from searchgym.train.rollout import task_prompt
    from searchgym.train.training import build_trainer

    class SharedAdvantage(ScriptedSampler):
        def sample(self, tasks):
            return [dataclasses.replace(s, reward=1.0, advantage=0.25 + 0.5 * (i % self.k))
                    for i, s in enumerate(super().sample(tasks))]

    def advantages(step_advantage):
        config = toy_config(tmp_path / step_advantage, sampler="step", step_value="rollout",
                            step_advantage=step_advantage, tasks_per_step=1, groups_per_task=1)
        sampler = SharedAdvantage({t.id: 1 for t in toy_tasks()}, k=config.group_size)
        trainer = build_trainer(config, tiny_llama(smollm2_tokenizer), smollm2_tokenizer, toy_tasks(),
                                lambda tr: sampler)
        prompts = [{"prompt": task_prompt(toy_tasks()[0])} for _ in range(config.group_size)]
        return trainer._generate_and_score_completions(prompts)["advantages"].cpu(), config.group_size

    theirs, k = advantages("sibling")
    torch.testing.assert_close(theirs, torch.zeros(k))  # equal rewards: TRL's advantages are all 0
    ours, k = advantages("tree")
    torch.testing.assert_close(ours, torch.tensor([0.25 + 0.5 * i for i in range(k)]))


def test_step_rollout_plays_tasks_per_step_and_keeps_groups_per_task():
    from searchgym.train.rollout import REWARD_FIELD

    # 4 slots of k=2, groups_per_task=2: two episodes are played, each keeps two of its step groups
    sampler = ScriptedSampler({"toy-0": 3, "toy-1": 2, "toy-2": 1, "toy-3": 3}, k=2, max_steps=3)
    out = _rollout(sampler, groups_per_task=2)(_prompts(["toy-0", "toy-1", "toy-2", "toy-3"], 2), trainer=None)
    assert sampler.calls == [["toy-0", "toy-1"]]
    assert len(out["completion_ids"]) == 8 and out["env_mask"] == [[1, 1]] * 8
    stats = out["sg_stats"][0]
    assert stats["groups_kept"] == 4 and stats["groups_dropped"] == 1 and stats["rollout_padding"] == 0
    steps = [ids[1] - 11 for ids in out["completion_ids"]]
    assert all(steps[i] == steps[i + 1] for i in range(0, 8, 2))  # each run of k rows is one step group
    assert sorted(steps[4:]) == [0, 0, 1, 1]  # toy-1 has exactly two steps: both kept, in step order
    assert out[REWARD_FIELD][4] is None  # toy-1's unscored step-0 candidate stays unscored

    # an episode that ended early leaves its slots to another episode's surplus; padding comes last
    sampler = ScriptedSampler({"toy-0": 1, "toy-1": 3}, k=2)
    out = _rollout(sampler, groups_per_task=2)(_prompts(["toy-0", "toy-1"], 2) * 2, trainer=None)
    assert out["sg_stats"][0]["groups_kept"] == 4 and out["sg_stats"][0]["rollout_padding"] == 0
    out = _rollout(ScriptedSampler({"toy-0": 1, "toy-1": 0}, k=2))(_prompts(["toy-0", "toy-1"], 2), trainer=None)
    assert out[REWARD_FIELD][2:] == [None, None]  # an empty slot is padding: no reward ...
    assert out["env_mask"][2:] == [[0], [0]]  # ... and no loss
    assert out["sg_stats"][0]["rollout_padding"] == 0.5


def test_rollout_times_itself_so_each_step_splits_into_rollout_and_update():
    class SlowSampler(ScriptedSampler):
        def sample(self, tasks):
            time.sleep(0.2)
            return super().sample(tasks)

    out = _rollout(SlowSampler({"toy-0": 1, "toy-1": 1}, k=2), mode="trajectory")(
        _prompts(["toy-0", "toy-1"], 2), trainer=None)
    assert 0.2 <= out["sg_stats"][0]["rollout_seconds"] < 5.0


def test_step_rollout_logs_where_the_signal_pushes_each_action_kind():
    from searchgym.train.rollout import advantage_by_action

    def row(kind, advantage, scored=True):
        return TrainingSample(group_id="t#e0/t1", prompt_ids=(1,), completion_ids=(2,), completion_mask=(1,),
                              logprobs=(-1.0,), reward=0.0, advantage=advantage, scored=scored,
                              components={k: float(k == kind) for k in ("search", "open", "answer", "invalid")})

    rows = [row("search", 1.0), row("search", 0.5), row("answer", -1.5), row("open", 9.0, scored=False)]
    assert advantage_by_action(rows) == {"advantage_search": 0.75, "advantage_answer": -1.5}  # unscored left out

    sampler = ScriptedSampler({"toy-0": 2, "toy-1": 2}, k=2, max_steps=2)  # its candidates carry no kinds
    out = _rollout(sampler)(_prompts(["toy-0", "toy-1"], 2), trainer=None)
    assert not any(k.startswith("advantage_") for k in out["sg_stats"][0])


def test_every_step_has_the_same_chance_to_be_trained():
    """With one group kept per episode of 4 steps, each step t is kept about a quarter of the time
    (the old rollout kept the first slots and dropped the later, answer, steps)."""
    from collections import Counter

    kept = Counter()
    rollout = _rollout(ScriptedSampler({"toy-0": 4}, k=2, max_steps=4), groups_per_task=1, seed=3)
    for _ in range(400):
        out = rollout(_prompts(["toy-0"], 2), trainer=None)
        kept[out["completion_ids"][0][1] - 11] += 1
        assert out["sg_stats"][0]["groups_dropped"] == 3
    assert set(kept) == {0, 1, 2, 3} and all(abs(kept[t] / 400 - 0.25) < 0.07 for t in range(4)), kept


class OneInformativeStep(ScriptedSampler):
    """Like ``ScriptedSampler``, but only step ``informative`` has candidates that score differently."""

    def __init__(self, steps, k, informative, max_steps=4):
        super().__init__(steps, k, max_steps)
        self.informative = informative

    def sample(self, tasks):
        return [s if s.group_id.endswith(f"/t{self.informative}") else dataclasses.replace(s, reward=1.0)
                for s in super().sample(tasks)]


@pytest.mark.parametrize("informative_first", [True, False])
def test_groups_scored_alike_give_their_slot_to_a_group_that_teaches(informative_first):
    from searchgym.train.rollout import SamplerRollout

    kept = set()
    rollout = SamplerRollout(toy_tasks(), lambda trainer: OneInformativeStep({"toy-0": 4}, k=2, informative=2),
                             mode="step", group_size=2, pad_token_id=0, groups_per_task=1,
                             informative_first=informative_first, seed=3)
    alike = 0.0
    for _ in range(40):
        out = rollout(_prompts(["toy-0"], 2), trainer=None)
        kept.add(out["completion_ids"][0][1] - 11)
        alike += out["sg_stats"][0]["groups_kept_alike"]
    if informative_first:
        assert kept == {2} and alike == 0  # the one step with a reward spread, every time
    else:  # the default: SLATE's uniform draw, zero-advantage groups included
        assert len(kept) > 1 and alike > 0


def test_finished_samples_end_with_an_untrained_eos_so_trl_can_tell_clipped_ones():
    from searchgym.train.rollout import SamplerRollout

    class TwoEpisodes:
        def sample(self, tasks):
            return [TrainingSample(group_id="toy-0#r0", prompt_ids=(1,), completion_ids=(5, 6, 7),
                                   completion_mask=(1, 0, 1), logprobs=(-0.5, 0.0, -0.25), reward=1.0, finished=done)
                    for done in (True, False)]

    rollout = SamplerRollout(toy_tasks(), lambda trainer: TwoEpisodes(), mode="trajectory", group_size=2,
                             pad_token_id=0, eos_token_id=99)
    out = rollout(_prompts(["toy-0"], 2), trainer=None)
    assert out["completion_ids"] == [[5, 6, 7, 99], [5, 6, 7]]  # TRL: last token not EOS = clipped
    assert out["env_mask"] == [[1, 0, 1, 0], [1, 0, 1]]  # the marker is never trained
    assert out["logprobs"] == [[-0.5, 0.0, -0.25, 0.0], [-0.5, 0.0, -0.25]]


def test_trajectory_rollout_requires_a_full_group_per_task():
    sampler = ScriptedSampler({"toy-0": 1, "toy-1": 1}, k=2)
    out = _rollout(sampler, mode="trajectory")(_prompts(["toy-0", "toy-1"], 2), trainer=None)
    assert len(out["prompt_ids"]) == 4 and sampler.calls == [["toy-0", "toy-1"]]
    with pytest.raises(RuntimeError, match="returned 2 episodes"):
        _rollout(ScriptedSampler({"toy-0": 1}, k=2), mode="trajectory", k=3)(_prompts(["toy-0"], 3), trainer=None)


def test_rollout_rejects_prompts_it_did_not_make():
    with pytest.raises(ValueError, match="not made by task_prompt"):
        _rollout(ScriptedSampler({}, k=2))(["What is love?"] * 2, trainer=None)


def test_policy_segments_count_agent_turns():
    from searchgym.train.rollout import policy_segments

    s = TrainingSample(group_id="g", prompt_ids=(1,), completion_ids=(1, 2, 3, 4, 5, 6),
                       completion_mask=(1, 1, 0, 0, 1, 0), logprobs=(), reward=0.0)
    assert policy_segments(s) == [[1, 2], [5]]


@pytest.mark.slow
def test_lora_trains_only_adapters_and_saves_a_merged_model(tmp_path, smollm2_tokenizer):
    from transformers import AutoModelForCausalLM

    from searchgym.train.training import run_training

    config = toy_config(tmp_path, use_peft=True, lora_r=4, max_steps=2, learning_rate=1e-2)
    trainer = make_trainer(config, smollm2_tokenizer)
    trainable = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    result = run_training(trainer, config)
    assert (result.final_model_dir / "adapter" / "adapter_config.json").exists()
    merged = AutoModelForCausalLM.from_pretrained(result.final_model_dir)  # plain checkpoint: hf:<dir> loads it
    assert not any("lora_" in n for n, _ in merged.named_parameters())
    ids = torch.tensor([smollm2_tokenizer.encode("Question number 1: act.")])
    with torch.no_grad():
        ref = trainer.accelerator.unwrap_model(trainer.model)(ids).logits
        assert torch.allclose(merged(ids).logits, ref, atol=1e-4)


@pytest.mark.slow
def test_the_training_reward_scores_an_oracle_episode_with_every_component():
    from searchgym.corpora import load_taskset
    from searchgym.envs import DeepSearchEnv
    from searchgym.policies.oracle import OraclePolicy
    from searchgym.search import build_searcher
    from searchgym.train.training import build_reward

    taskset = load_taskset("synthetic:seed=0,passages=100,tasks=10,hops=2")
    env = DeepSearchEnv(taskset.tasks, build_searcher("bm25", taskset.documents), max_turns=8, top_k=3)
    env.reset(options={"task_id": taskset.tasks[0].id})
    policy = OraclePolicy(taskset.tasks)
    while not env.done:
        env.step(policy.generate([env.messages])[0][0].text)
    trajectory = env.trajectory
    # judge auto -> gold (synthetic tasks have hops); the default trains without its process term (weight 0)
    assert build_reward(TrainConfig(max_turns=8), taskset.tasks)(trajectory).components.keys().isdisjoint(
        {"process", "process.r_think"})
    reward = build_reward(TrainConfig(max_turns=8, judge_weight=0.2), taskset.tasks)
    assert reward.judge.name == "gold"
    c = reward(trajectory).components
    assert c["em"] == 1.0 and c["rubric"] == 1.0 and c["outcome"] == 1.0  # group of one: rho / max rho = 1
    assert c["process.r_think"] > 0 and c["process"] > 0  # the oracle's steps are judged good
    assert reward(trajectory).value == pytest.approx(1.0 + 0.2 * c["process"])


class FlatAfterFirstCallSampler(ToyTwoTurnSampler):
    """The toy task's reward on the first rollout, then one reward for every episode (no advantage)."""

    calls = 0

    def sample(self, tasks):
        samples = super().sample(tasks)
        self.calls += 1
        if self.calls == 1:
            return samples
        from dataclasses import replace

        return [replace(s, reward=0.5) for s in samples]


@pytest.mark.parametrize("skip", [True, False])
def test_batches_without_advantage_leave_the_weights_alone(tmp_path, smollm2_tokenizer, skip):
    """After one real update, zero-advantage batches must not move the policy: Adam's momentum would keep
    stepping in the first update's direction (it did, and broke a warm start: README)."""
    from searchgym.train.training import build_trainer, run_training

    config = toy_config(tmp_path, max_steps=3, skip_empty_steps=skip)

    def factory(trainer):
        return FlatAfterFirstCallSampler(trainer, smollm2_tokenizer, config.group_size)

    from transformers import TrainerCallback

    weights: list[torch.Tensor] = []

    class RecordWeights(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            weights.append(torch.cat([p.detach().flatten().clone() for p in model.parameters()]))

    model = tiny_llama(smollm2_tokenizer, seed=0)
    trainer = build_trainer(config, model, smollm2_tokenizer, toy_tasks(), factory, callbacks=[RecordWeights()])
    result = run_training(trainer, config)
    assert len(weights) == 3
    moved_later = not torch.equal(weights[0], weights[2])
    if skip:
        assert not moved_later, "a zero-advantage batch changed the weights"
        records = [json.loads(line) for line in result.metrics_path.read_text().splitlines()]
        assert [r["skipped_steps"] for r in records if "skipped_steps" in r] == [0.0, 1.0, 2.0]
    else:
        assert moved_later  # the drift the guard exists for: without it Adam keeps moving


def assert_same_loss_and_gradients(model, reference, candidate) -> None:
    """``reference`` and ``candidate`` are ``(loss function, inputs)``: both give ``model`` the same loss and the
    same gradient on every parameter (each from zeroed gradients and torch's seed 0)."""
    results = []
    for compute, inputs in (reference, candidate):
        model.zero_grad()
        torch.manual_seed(0)
        loss = compute(model, dict(inputs))
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]))
    (loss_a, grads_a), (loss_b, grads_b) = results
    torch.testing.assert_close(loss_b, loss_a, rtol=1e-5, atol=1e-7)
    assert len(grads_a) == len(grads_b) and grads_a
    for a, b in zip(grads_a, grads_b):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)


def test_zero_advantage_rows_are_left_out_of_the_loss_forward_with_the_same_gradient(tmp_path, smollm2_tokenizer):
    """The signal-only loss drops zero-advantage rows (and all-padding completion columns) from the forward;
    the loss and every gradient must equal TRL's on the whole micro-batch."""
    from searchgym.train.empty_steps import rows_with_signal
    from searchgym.train.rollout import task_prompt

    config = toy_config(tmp_path, tasks_per_step=2, negative_advantage_weight=1.0)  # TRL's loss, unweighted
    trainer = make_trainer(config, smollm2_tokenizer)
    assert trainer._compute_loss._searchgym_signal_only
    full_loss = trainer._compute_loss.__wrapped__
    trainer.current_gradient_accumulation_steps = trainer.args.gradient_accumulation_steps  # set by train()
    tasks = toy_tasks()[:2]
    batch = trainer._generate_and_score_completions(
        [{"prompt": task_prompt(t)} for t in tasks for _ in range(config.group_size)])
    advantages = torch.zeros_like(batch["advantages"])  # the first group scored alike
    advantages[config.group_size:] = torch.tensor([0.9, -0.3, -0.6, 0.0])  # the second did not (one at its mean)
    batch["advantages"] = advantages
    # pad the completions further, as a longer row elsewhere in the generation batch would
    width = batch["completion_ids"].size(1)
    for key, value in list(batch.items()):
        if key.startswith(("completion", "tool", "old_per", "sampling_per")) and torch.is_tensor(value) \
                and value.dim() == 2 and value.size(1) == width:
            batch[key] = torch.nn.functional.pad(value, (0, 5))
    kept = rows_with_signal(batch)
    assert kept["completion_ids"].size(0) == 3
    assert kept["completion_ids"].size(1) < batch["completion_ids"].size(1)

    model = trainer.model
    assert_same_loss_and_gradients(model, (full_loss, batch), (trainer._compute_loss, batch))

    # no row with signal: no forward at all, a zero loss
    batch["advantages"] = torch.zeros_like(advantages)
    assert rows_with_signal(batch) is None
    assert float(trainer._compute_loss(model, dict(batch))) == 0.0


@pytest.mark.parametrize("weight", [0.0, 0.25])
def test_negative_advantage_weight_scales_only_the_worse_than_average_rows(tmp_path, smollm2_tokenizer, weight,
                                                                           monkeypatch):
    """negative_advantage_weight w: the loss and gradient must be TRL's on the same batch with every negative
    advantage multiplied by w and every other left as it was (w = 0: the negative rows contribute nothing)."""
    from searchgym.train import empty_steps
    from searchgym.train.rollout import task_prompt

    config = toy_config(tmp_path, tasks_per_step=2, negative_advantage_weight=weight)
    trainer = make_trainer(config, smollm2_tokenizer)
    trl_loss = trainer._compute_loss.__wrapped__.__wrapped__  # under the weighting and signal-only wrappers
    real_rows_with_signal = empty_steps.rows_with_signal
    rows_kept = []

    def spy(inputs, **kw):
        kept = real_rows_with_signal(inputs, **kw)
        rows_kept.append(0 if kept is None else kept["advantages"].size(0))
        return kept

    monkeypatch.setattr(empty_steps, "rows_with_signal", spy)
    trainer.current_gradient_accumulation_steps = trainer.args.gradient_accumulation_steps  # set by train()
    batch = trainer._generate_and_score_completions(
        [{"prompt": task_prompt(t)} for t in toy_tasks()[:2] for _ in range(config.group_size)])
    advantages = torch.tensor([1.2, -0.4, -0.8, 0.0, 0.9, -0.3, -0.6, 0.0])
    batch["advantages"] = advantages.clone()
    expected = dict(batch, advantages=torch.tensor([1.2, -0.4 * weight, -0.8 * weight, 0.0,
                                                    0.9, -0.3 * weight, -0.6 * weight, 0.0]))
    assert_same_loss_and_gradients(trainer.model, (trl_loss, expected), (trainer._compute_loss, batch))
    assert torch.equal(batch["advantages"], advantages), "the caller's batch must not be changed"
    # the signal-only loss saw the weighted advantages: at w = 0 only the two positive rows ran a forward
    assert rows_kept == [2 if weight == 0 else 6]

    # GRPO (w = 1) installs nothing: TRL's loss as it is
    plain = make_trainer(toy_config(tmp_path / "plain", tasks_per_step=2, negative_advantage_weight=1.0),
                         smollm2_tokenizer)
    assert not hasattr(plain._compute_loss, "_searchgym_negative_weight")
    assert plain._compute_loss.__wrapped__ == plain.__class__._compute_loss.__get__(plain)


def test_negative_advantage_weight_outside_zero_to_one_is_refused(tmp_path):
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="negative_advantage_weight"):
            toy_config(tmp_path, negative_advantage_weight=bad)


@pytest.mark.slow
def test_kl_anchor_references_the_starting_policy_and_holds_it_back(tmp_path, smollm2_tokenizer):
    """beta > 0 under full fine-tuning: TRL reloads its reference from the model's name, which for an in-memory
    (or warm-started, or GGUF-loaded) model is no loadable start. The reference must be the policy as GRPO got
    it, and the KL term must hold the policy near it."""
    from transformers import AutoModelForCausalLM

    from searchgym.train.trainer import REFERENCE_DIR
    from searchgym.train.training import run_training

    finals = {}
    for beta in (0.0, 1.0):
        config = toy_config(tmp_path / f"beta{beta}", beta=beta, max_steps=8)
        trainer = make_trainer(config, smollm2_tokenizer)
        start = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
        assert trainer.model.config._name_or_path == "", "the policy's own name must be left as it was"
        result = run_training(trainer, config)
        rows = [h for h in result.log_history if "reward" in h]
        finals[beta] = sum(h["reward"] for h in rows[-3:]) / 3
        reference = Path(config.output_dir) / REFERENCE_DIR
        if beta == 0.0:
            assert not reference.exists() and all("kl" not in h for h in rows)
            continue
        saved = AutoModelForCausalLM.from_pretrained(reference).state_dict()
        assert all(torch.equal(saved[k], start[k]) for k in saved), "the reference is not the starting policy"
        assert rows[0]["kl"] == pytest.approx(0.0, abs=1e-6) and max(h["kl"] for h in rows[1:]) > 0.01
    assert finals[0.0] > 0.9 and finals[1.0] < finals[0.0] - 0.2, finals


def test_trl_warning_for_rows_without_reward_is_dropped_and_others_kept(caplog):
    import logging

    from searchgym.train.trainer import quiet_counted_none_rewards

    quiet_counted_none_rewards()
    quiet_counted_none_rewards()  # idempotent: one filter
    log = logging.getLogger("trl.trainer.grpo_trainer")  # what accelerate's adapter in TRL logs through
    assert sum(type(f).__name__ == "CountedNoneRewards" for f in log.filters) == 1
    with caplog.at_level(logging.WARNING, logger="trl.trainer.grpo_trainer"):
        log.warning("[RANK 0] All reward functions returned None for the following kwargs:\n{'sg_reward': None}")
        log.warning("some other warning")
    assert [r.getMessage() for r in caplog.records] == ["some other warning"]
