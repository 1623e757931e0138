"""Samplers on a real small world (synthetic corpus, BM25) with scripted policies and SmolLM2's tokenizer."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from searchgym.policies.policy import Completion
from searchgym.rewards.base import RewardResult
from searchgym.train.advantages import choose_continuation, group_zscore, softmax


@pytest.fixture(scope="module")
def world():
    from searchgym.corpora.synthetic import WorldConfig, generate_world
    from searchgym.search import build_searcher

    ts = generate_world(WorldConfig(seed=0, num_passages=200, num_tasks=12, hops=(2,)))
    return ts, build_searcher("bm25", ts.documents)


def make_env(world, max_turns=6):
    from searchgym.envs import DeepSearchEnv

    ts, searcher = world
    return DeepSearchEnv(ts.tasks, searcher, max_turns=max_turns)


class NoisyOracle:
    """The oracle's turn, or (with probability ``p``, seeded) a wrong answer: diverse candidates."""

    def __init__(self, tasks, p=0.4, seed=0):
        from searchgym.policies.oracle import OraclePolicy

        self.oracle, self.p, self.rng = OraclePolicy(tasks), p, random.Random(seed)

    def generate(self, conversations, n=1):
        return [[Completion(self.oracle.next_turn(c) if self.rng.random() >= self.p else "<answer>nobody</answer>")
                 for _ in range(n)] for c in conversations]


def em_reward(traj):
    from searchgym.rewards.outcome import exact_match

    return RewardResult(float(exact_match(traj.final_answer, traj.task.answers)) if traj.final_answer else 0.0)


def progress_reward(traj):
    """Process reward: gold support documents retrieved so far, +2 for a right answer, -1 for a wrong one."""
    gold = {d for h in traj.task.hops for d in h.support}
    value = len(gold & set(traj.retrieved_ids))
    if traj.final_answer is not None:
        value += 2.0 if em_reward(traj).value else -1.0
    return RewardResult(float(value), {"retrieved_gold": float(len(gold & set(traj.retrieved_ids)))})


def test_trajectory_sampler_masks_environment_tokens(world, tokenizer):
    from searchgym.policies.oracle import OraclePolicy
    from searchgym.train.samplers import TrajectorySampler

    ts, _ = world
    env = make_env(world)
    sampler = TrajectorySampler(env, OraclePolicy(ts.tasks), em_reward, group_size=3, tokenizer=tokenizer)
    tasks = ts.tasks[:2]
    samples = sampler.sample(tasks)
    assert [s.group_id for s in samples] == [f"{tasks[0].id}#r0"] * 3 + [f"{tasks[1].id}#r0"] * 3
    for s, traj in zip(samples, sampler.last_trajectories):
        assert len(s.completion_ids) == len(s.completion_mask) == len(s.logprobs)
        policy = tokenizer.decode([t for t, m in zip(s.completion_ids, s.completion_mask) if m])
        env_text = tokenizer.decode([t for t, m in zip(s.completion_ids, s.completion_mask) if not m])
        assert policy == "".join(step.text for step in traj.steps)  # every agent token, nothing else
        assert "Results for" in env_text and "Results for" not in policy
        # prompt + completion is exactly the chat template over the final conversation
        assert s.components["steps"] == len(traj.steps) and s.components["searches"] == traj.num_searches
    # prompt + completion is the chat template over the final conversation, up to the last turn's end
    # (the rollout appends the end-of-turn EOS when it packs a finished sample)
    full = tokenizer.apply_chat_template(sampler_messages(sampler, env, tasks[0]), tokenize=False)
    decoded = tokenizer.decode(list(samples[0].prompt_ids) + list(samples[0].completion_ids))
    assert full.startswith(decoded) and full[len(decoded):] == tokenizer.eos_token + "\n"
    assert sampler.last_stats["episodes"] == 6 and sampler.last_stats["em"] == pytest.approx(
        sum(em_reward(t).value for t in sampler.last_trajectories) / 6)
    assert sampler.last_stats["generated_tokens_per_sample"] > 0


def sampler_messages(sampler, env, task):
    """Replay the first episode's turns on a fresh env to get its final messages."""
    env.reset(options={"task": task})
    for step in sampler.last_trajectories[0].steps:
        env.step(step.text)
    return env.messages


def test_trajectory_sampler_group_zscores_and_unscored(world, tokenizer):
    from searchgym.train.samplers import TrajectorySampler

    ts, _ = world
    calls = []

    def flaky(traj):
        calls.append(traj)
        return RewardResult(float("nan"), scored=False) if len(calls) % 4 == 0 else progress_reward(traj)

    sampler = TrajectorySampler(make_env(world), NoisyOracle(ts.tasks, p=0.5, seed=1), flaky, group_size=4,
                                tokenizer=tokenizer)
    samples = sampler.sample(ts.tasks[:3])
    for g in range(3):
        group = samples[4 * g : 4 * g + 4]
        expect = group_zscore([s.reward for s in group], [s.scored for s in group])
        assert [s.advantage for s in group] == pytest.approx(expect)
        assert all(s.advantage == 0.0 for s in group if not s.scored)
    assert sampler.last_stats["unscored"] == sum(not s.scored for s in samples) == 3


def test_step_sampler_groups_and_advantages(world, tokenizer):
    from searchgym.train.samplers import TruncatedStepSampler

    ts, _ = world
    k, T = 5, 4
    sampler = TruncatedStepSampler(make_env(world), NoisyOracle(ts.tasks, p=0.3), progress_reward, k=k, max_steps=T,
                                   tokenizer=tokenizer, seed=0)
    tasks = ts.tasks[:3]
    samples = sampler.sample(tasks)
    groups: dict[str, list] = {}
    for s in samples:
        groups.setdefault(s.group_id, []).append(s)
    assert all(len(g) == k for g in groups.values())
    assert len(groups) == len(samples) // k
    for gid, group in groups.items():
        task_id, rest = gid.split("#e")
        assert int(rest.split("/t")[1]) < T
        assert sum(s.components["chosen"] for s in group) == 1  # the episode continues from one candidate
        assert [s.advantage for s in group] == pytest.approx(group_zscore([s.reward for s in group]))
        prompts = {s.prompt_ids for s in group}
        assert len(prompts) == 1  # one shared prefix per group
        for s in group:
            assert s.completion_mask == (1,) * len(s.completion_ids) and tokenizer.decode(list(s.completion_ids)) == s.text
    # every episode's steps: the chosen candidates, in order
    for traj, task in zip(sampler.last_trajectories, tasks):
        chosen = [s.text for gid, g in groups.items() if gid.startswith(f"{task.id}#") for s in g if s.components["chosen"]]
        assert [st.text for st in traj.steps] == chosen
        assert len(traj.steps) <= T
    assert sampler.last_stats["groups"] == len(groups)


def test_step_sampler_is_deterministic_and_scores_groups_on_one_scale(world, tokenizer):
    from searchgym.judges.gold import GoldJudge
    from searchgym.rewards.group import GroupReward
    from searchgym.rewards.rubric import CitationRubricReward
    from searchgym.train.samplers import TruncatedStepSampler

    ts, _ = world

    def run():
        reward = GroupReward(judge=GoldJudge(), budget=3, rubric=CitationRubricReward(scope="final"))
        s = TruncatedStepSampler(make_env(world, max_turns=3), NoisyOracle(ts.tasks, p=0.3, seed=5), reward, k=4,
                                 max_steps=3, tokenizer=tokenizer, seed=9)
        return s.sample(ts.tasks[:2])

    a, b = run(), run()
    assert [(s.group_id, s.text, s.reward, s.advantage) for s in a] == [(s.group_id, s.text, s.reward, s.advantage) for s in b]
    answers = [s for s in a if s.components["answer"]]
    searches = [s for s in a if s.components["search"]]
    assert answers and searches
    for s in a:  # one formula for every candidate: the sum of its r_ components
        assert s.reward == pytest.approx(sum(v for k, v in s.components.items() if k.startswith("r_")))
    for s in answers:
        assert {"r_think", "r_answer", "r_budget"} <= set(s.components)
        bonus = 0.1 * (3 - (s.components["step"] + 1)) / 3 if s.components["r_answer"] > 0.5 else 0.0
        assert s.components["r_budget"] == pytest.approx(bonus)  # the early-answer bonus: correct answers only
    assert all({"r_think", "r_action"} <= set(s.components) for s in searches)
    # every candidate is exactly one action kind, so the rollout can log the mean advantage of each
    assert all(sum(s.components[k] for k in ("search", "open", "answer", "invalid")) == 1.0 for s in a)


def test_step_sampler_leaves_unscored_out(world, tokenizer):
    from searchgym.train.samplers import TruncatedStepSampler

    ts, _ = world
    count = [0]

    def flaky(traj):
        count[0] += 1
        return RewardResult(float("nan"), scored=False) if count[0] % 3 == 0 else progress_reward(traj)

    sampler = TruncatedStepSampler(make_env(world), NoisyOracle(ts.tasks, p=0.4), flaky, k=3, max_steps=2,
                                   tokenizer=tokenizer, continuation="greedy")
    samples = sampler.sample(ts.tasks[:3])
    bad = [s for s in samples if not s.scored]
    assert bad and all(s.advantage == 0.0 and s.components["chosen"] == 0.0 for s in bad)
    assert sampler.last_stats["unscored"] == len(bad)


def test_samples_say_whether_they_finished(world, tokenizer):
    from searchgym.policies.oracle import OraclePolicy
    from searchgym.train.samplers import TrajectorySampler, TruncatedStepSampler

    ts, _ = world
    oracle = OraclePolicy(ts.tasks)
    answered = TrajectorySampler(make_env(world), oracle, em_reward, group_size=2, tokenizer=tokenizer)
    assert all(s.finished for s in answered.sample(ts.tasks[:1]))
    out_of_turns = TrajectorySampler(make_env(world, max_turns=1), oracle, em_reward, group_size=2, tokenizer=tokenizer)
    assert not any(s.finished for s in out_of_turns.sample(ts.tasks[:1]))  # searched once, never answered

    class HalfBroken:
        def generate(self, conversations, n=1):
            return [[Completion(oracle.next_turn(c) if i % 2 == 0 else "<search>cut off mid") for i in range(n)]
                    for c in conversations]

    step = TruncatedStepSampler(make_env(world), HalfBroken(), progress_reward, k=4, max_steps=1, tokenizer=tokenizer)
    samples = step.sample(ts.tasks[:1])
    assert [s.finished for s in samples] == [True, False, True, False]


def test_group_zscore_and_continuation_choice():
    adv = group_zscore([1.0, 2.0, 3.0, float("nan")], [True, True, True, False])
    assert adv[3] == 0.0 and sum(adv[:3]) == pytest.approx(0.0)
    assert adv[2] == pytest.approx(math.sqrt(1.5), rel=1e-4)
    assert group_zscore([2.0, 2.0]) == [0.0, 0.0] and group_zscore([1.0], [True]) == [0.0]
    values = [1.2, 0.0, -1.2]
    rng = random.Random(0)
    counts = Counter(choose_continuation(values, rng, "softmax", 0.7) for _ in range(20000))
    for i, p in enumerate(softmax(values, 0.7)):
        assert counts[i] / 20000 == pytest.approx(p, abs=0.015)
    assert choose_continuation(values, rng, "greedy") == 0
    assert choose_continuation(values, rng, "greedy", eligible=[False, True, True]) == 1
    uni = Counter(choose_continuation(values, rng, "uniform") for _ in range(9000))
    assert all(abs(uni[i] / 9000 - 1 / 3) < 0.03 for i in range(3))
    with pytest.raises(ValueError):
        choose_continuation(values, rng, "best-of")


def test_step_sampler_with_hf_policy_keeps_tokens(world, tokenizer):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from searchgym.policies.hf_policy import HFPolicy
    from searchgym.train.samplers import TruncatedStepSampler, TurnEncoder

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                         max_position_embeddings=4096))
    ts, _ = world
    env = make_env(world, max_turns=3)
    policy = HFPolicy(model, tokenizer, max_new_tokens=8, seed=0)
    sampler = TruncatedStepSampler(env, policy, progress_reward, k=3, max_steps=2)
    samples = sampler.sample(ts.tasks[:1])
    assert len(samples) == 6  # random text is never a valid answer: 2 steps x k
    env.reset(options={"task": ts.tasks[0]})
    assert list(samples[0].prompt_ids) == TurnEncoder(tokenizer).prompt(env.messages)
    for s in samples:
        assert len(s.completion_ids) == len(s.logprobs) == len(s.completion_mask) <= 8
        assert all(lp <= 0 for lp in s.logprobs)
    assert sampler.last_stats["generated_tokens"] == sum(len(s.completion_ids) for s in samples)


class PlanOnIds:
    """Plays from token ids, like ``HFPolicy``: candidates (n > 1) are the oracle's next turn, a wrong answer
    and a cut-off search; a continuation (n = 1) follows the oracle. Records every context it is given."""

    WRONG, CUT = "<answer>nobody</answer>", "<search>cut off mid"

    def __init__(self, plan, tokenizer):
        self.plan, self.tok, self.calls = plan, tokenizer, []

    def generate_ids(self, contexts, n):
        out = []
        for ids in contexts:
            text = self.tok.decode(list(ids))
            self.calls.append((n, text))
            turn = text.count("<|im_start|>assistant") - 1  # the assistant turns already in the context
            texts = [self.plan[turn]] if n == 1 else self.candidates(self.plan[turn], n)
            out.append([Completion(t, token_ids=tuple(self.tok(t, add_special_tokens=False)["input_ids"]))
                        for t in texts])
        return out

    def candidates(self, turn, n):
        return ([turn, self.WRONG, self.CUT] * n)[:n]


def oracle_plan(world, tokenizer):
    """The first task, the oracle's whole (solved) episode of it as turn texts, and the rendered context before
    each turn."""
    from searchgym.policies.oracle import OraclePolicy
    from searchgym.train.samplers import TurnEncoder

    ts, _ = world
    task = ts.tasks[0]
    env = make_env(world, max_turns=4)
    env.reset(options={"task": task})
    oracle, plan, rendered = OraclePolicy(ts.tasks), [], []
    while not env.done:
        rendered.append(TurnEncoder(tokenizer).render(env.messages, True))
        plan.append(oracle.next_turn(env.messages))
        env.step(plan[-1])
    assert env.trajectory.final_answer is not None and em_reward(env.trajectory).value == 1.0 and len(plan) >= 2
    return task, plan, rendered


def test_step_sampler_rollout_value_pays_a_search_by_the_answer_it_leads_to(world, tokenizer):
    from searchgym.rewards.group import GroupReward
    from searchgym.train.samplers import TruncatedStepSampler

    task, plan, rendered = oracle_plan(world, tokenizer)

    def run(value):
        policy = PlanOnIds(plan, tokenizer)
        sampler = TruncatedStepSampler(make_env(world, max_turns=4), policy, GroupReward(budget=4), k=3, max_steps=4,
                                       tokenizer=tokenizer, continuation="greedy", value=value)
        return sampler, policy, sampler.sample([task])

    sampler, policy, samples = run("rollout")
    groups = [samples[i:i + 3] for i in range(0, len(samples), 3)]
    assert len(groups) == len(plan)  # the greedy continuation follows the oracle to its answer
    for t, (ahead, wrong, cut) in enumerate(groups):
        assert (ahead.text, wrong.text, cut.text) == (plan[t], PlanOnIds.WRONG, PlanOnIds.CUT)
        assert wrong.reward == cut.reward == -1.0  # ended or invalid: valued by the step itself (no judge)
        assert wrong.components["played_out"] == cut.components["played_out"] == 0.0
        last = t == len(plan) - 1
        assert ahead.components["played_out"] == (0.0 if last else len(plan) - 1 - t)
        assert ahead.components["path_em"] == 1.0 and ahead.components["chosen"] == 1.0
        # a correct answer at the last plan turn: r_answer 1 plus the early-answer bonus of THAT turn
        assert ahead.reward == pytest.approx(1.0 + 0.1 * (4 - len(plan)) / 4)
        assert ahead.advantage > 0 > cut.advantage
        mean = (ahead.reward + wrong.reward + cut.reward) / 3  # mean-centred, not divided by the std
        assert [s.advantage for s in (ahead, wrong, cut)] == pytest.approx([s.reward - mean for s in (ahead, wrong, cut)])
    # continuations are generated from exactly the tokens of the conversation they continue
    continued = [text for n, text in policy.calls if n == 1]
    assert continued and all(text in rendered[1:] for text in continued)
    candidate_tokens = sum(len(s.completion_ids) for s in samples)
    assert sampler.last_stats["generated_tokens"] > candidate_tokens  # the continuations count in budgets

    judged, _, by_judge = run("judge")
    assert [s.text for s in by_judge] == [s.text for s in samples]
    assert [s.reward for s in by_judge][0] == 0.0  # without a judge a search itself earns nothing
    assert judged.last_stats["generated_tokens"] == candidate_tokens
    with pytest.raises(ValueError, match="value"):
        TruncatedStepSampler(make_env(world), policy, GroupReward(), value="oracle")


class RewordedPlan(PlanOnIds):
    """Candidates are the oracle's next turn and rewordings of it (the same action after other words)."""

    def candidates(self, turn, n):
        return [turn] + [f"Reworded {m}: " + turn for m in range(1, n)]


def test_rollout_value_skips_play_outs_of_groups_with_one_outcome(world, tokenizer):
    """Searches that retrieve the same hits (and opens of the same page) reach one outcome: equal values whatever
    their play-outs drew, so none is played out and no continuation token is spent on them."""
    from searchgym.rewards.group import GroupReward
    from searchgym.train.samplers import TruncatedStepSampler

    task, plan, _ = oracle_plan(world, tokenizer)
    policy = RewordedPlan(plan, tokenizer)
    sampler = TruncatedStepSampler(make_env(world, max_turns=4), policy, GroupReward(budget=4), k=3, max_steps=4,
                                   tokenizer=tokenizer, continuation="greedy", value="rollout")
    samples = sampler.sample([task])
    groups = [samples[i:i + 3] for i in range(0, len(samples), 3)]
    assert len(groups) == len(plan) >= 2
    for group in groups[:-1]:  # the searches and opens before the answer
        assert all(s.components["search"] + s.components["open"] == 1.0 for s in group)
        assert [s.components["outcomes"] for s in group] == [1.0] * 3
        assert [s.components["played_out"] for s in group] == [0.0] * 3
        assert len({s.reward for s in group}) == 1 and all(s.advantage == 0.0 for s in group)
    assert all(s.components["outcomes"] == 3.0 for s in groups[-1])  # three answer texts: three outcomes
    assert not [text for n, text in policy.calls if n == 1]  # nothing was continued
    assert sampler.last_stats["generated_tokens"] == sum(len(s.completion_ids) for s in samples)


class RewordedFirst(PlanOnIds):
    """The first draw after a context rewords the oracle's turn (one outcome, or right answers alike); a second
    draw holds the oracle's turn, a wrong answer and a cut-off search (values that differ)."""

    def __init__(self, plan, tokenizer):
        super().__init__(plan, tokenizer)
        self.draws = Counter()

    def candidates(self, turn, n):
        self.draws[turn] += 1
        return RewordedPlan.candidates(self, turn, n) if self.draws[turn] == 1 else super().candidates(turn, n)


def test_step_redraws_replace_a_group_whose_values_cannot_differ(world, tokenizer):
    """A group whose k candidates all reach one outcome, or all end with the same value, has equal rollout values
    whatever is played out; redrawn, the group trained on is a draw whose values differ, and the discarded draws'
    tokens still count as generated."""
    from searchgym.rewards.group import GroupReward
    from searchgym.train.samplers import TruncatedStepSampler

    task, plan, _ = oracle_plan(world, tokenizer)

    def run(redraws):
        policy = RewordedFirst(plan, tokenizer)
        sampler = TruncatedStepSampler(make_env(world, max_turns=4), policy, GroupReward(budget=4), k=3, max_steps=4,
                                       tokenizer=tokenizer, continuation="greedy", value="rollout", redraws=redraws)
        samples = sampler.sample([task])
        return sampler, policy, [samples[i:i + 3] for i in range(0, len(samples), 3)]

    kept, _, as_drawn = run(0)
    assert [g[0].components["outcomes"] for g in as_drawn[:-1]] == [1.0] * (len(plan) - 1)
    assert as_drawn[-1][0].components["outcomes"] == 3.0  # three wordings of the right answer: equal values
    assert all(s.advantage == 0.0 for g in as_drawn for s in g) and "redrawn_groups" not in kept.last_stats

    sampler, policy, groups = run(2)
    assert len(groups) == len(plan) >= 2
    for t, group in enumerate(groups):  # each drawn again once, never a third time
        assert [s.text for s in group] == [plan[t], PlanOnIds.WRONG, PlanOnIds.CUT]
        assert group[0].advantage > 0 > group[2].advantage  # the oracle's turn beats the cut-off search
        assert policy.draws[plan[t]] == 2
    assert sampler.last_stats["redrawn_groups"] == len(plan)
    discarded = sum(len(tokenizer(text, add_special_tokens=False)["input_ids"])
                    for turn in plan for text in RewordedPlan.candidates(None, turn, 3))
    assert sampler.last_stats["generated_tokens"] > discarded + sum(len(s.completion_ids) for g in groups for s in g)
    with pytest.raises(ValueError, match="rollout"):
        TruncatedStepSampler(make_env(world), policy, GroupReward(), value="judge", redraws=1)
    with pytest.raises(ValueError, match="redraws"):
        TruncatedStepSampler(make_env(world), policy, GroupReward(), value="rollout", redraws=-1)


def test_train_playouts_adds_a_group_of_the_paths_that_trains_the_play_out_turns(world, tokenizer):
    """With train_playouts each played-out step group is followed by the group of its k paths: the play-out's turns
    are trained (the candidate and the environment's replies are not), valued by the path's own end; the step
    groups, the episode and the tokens generated are those of a run without it."""
    from searchgym.rewards.group import GroupReward
    from searchgym.train.samplers import TruncatedStepSampler, step_group_position

    task, plan, _ = oracle_plan(world, tokenizer)

    def run(train_playouts):
        sampler = TruncatedStepSampler(make_env(world, max_turns=4), PlanOnIds(plan, tokenizer), GroupReward(budget=4),
                                       k=3, max_steps=4, tokenizer=tokenizer, continuation="greedy", value="rollout",
                                       train_playouts=train_playouts)
        samples = sampler.sample([task])
        return sampler, [samples[i:i + 3] for i in range(0, len(samples), 3)]

    plain, plain_groups = run(False)
    sampler, groups = run(True)
    steps = [g for g in groups if not g[0].group_id.endswith("/paths")]
    paths = [g for g in groups if g[0].group_id.endswith("/paths")]
    assert [[(s.group_id, s.text, s.reward, s.advantage) for s in g] for g in steps] == \
        [[(s.group_id, s.text, s.reward, s.advantage) for s in g] for g in plain_groups]
    assert sampler.last_stats["generated_tokens"] == plain.last_stats["generated_tokens"]  # nothing more generated
    assert sampler.last_stats["groups"] == len(steps) and sampler.last_stats["path_groups"] == len(paths)
    assert len(paths) == len(plan) - 1  # every group but the last (all answers there: nothing played out)
    turn_ids = [list(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in plan]
    for t, (ahead, wrong, cut) in enumerate(paths):
        step_group = groups[groups.index(steps[t]) + 1]
        assert step_group[0].group_id == f"{steps[t][0].group_id}/paths"  # right after its step group
        assert step_group_position(ahead.group_id) == step_group_position(steps[t][0].group_id)
        assert ahead.prompt_ids == wrong.prompt_ids == steps[t][0].prompt_ids  # the step group's shared prefix
        # the candidate opens the row untrained; the trained tokens are exactly the play-out's turns
        assert list(ahead.completion_ids[:len(turn_ids[t])]) == turn_ids[t] and not any(ahead.completion_mask[:len(turn_ids[t])])
        trained = [i for i, m in zip(ahead.completion_ids, ahead.completion_mask) if m]
        assert trained == [i for turn in turn_ids[t + 1:] for i in turn]
        assert len(ahead.logprobs) == len(ahead.completion_ids) == len(ahead.completion_mask)
        assert ahead.components["played_out"] == len(plan) - 1 - t and ahead.finished
        assert ahead.text == "".join(plan[t:]) and wrong.text == PlanOnIds.WRONG  # the path from the candidate on
        for ended in (wrong, cut):  # not played on: its own turn, nothing trained, its value still in the group
            assert not any(ended.completion_mask) and ended.reward == -1.0 and ended.components["played_out"] == 0.0
        assert ahead.reward == pytest.approx(1.0 + 0.1 * (4 - len(plan)) / 4)
        mean = (ahead.reward + wrong.reward + cut.reward) / 3
        assert [s.advantage for s in (ahead, wrong, cut)] == pytest.approx([s.reward - mean for s in (ahead, wrong, cut)])
    with pytest.raises(ValueError, match="rollout"):
        TruncatedStepSampler(make_env(world), PlanOnIds(plan, tokenizer), GroupReward(), value="judge",
                             train_playouts=True)


def test_path_groups_reach_trl_rows_with_their_values_and_masks(world, tokenizer):
    """Through the rollout function, a path group fills TRL slots like a step group: every row keeps its value
    (a candidate not played on too: it is part of the group's mean) and its mask (only play-out turns trained)."""
    from searchgym.rewards.group import GroupReward
    from searchgym.train.rollout import REWARD_FIELD, SamplerRollout, task_prompt
    from searchgym.train.samplers import TruncatedStepSampler

    task, plan, _ = oracle_plan(world, tokenizer)
    sampler = TruncatedStepSampler(make_env(world, max_turns=4), PlanOnIds(plan, tokenizer), GroupReward(budget=4), k=3,
                                   max_steps=4, tokenizer=tokenizer, continuation="greedy", value="rollout",
                                   train_playouts=True)
    slots = 2 * len(plan)  # room for every step group and every path group of the episode
    rollout = SamplerRollout(world[0].tasks, lambda trainer: sampler, mode="step", group_size=3, pad_token_id=0,
                             eos_token_id=tokenizer.eos_token_id, groups_per_task=slots)
    tasks = world[0].tasks[:slots]  # TRL's distinct prompts; only the first task is played (one episode)
    assert tasks[0] is task
    out = rollout([task_prompt(t) for t in tasks for _ in range(3)], trainer=None)
    stats = out["sg_stats"][0]
    assert stats["groups_kept"] == 2 * len(plan) - 1 and stats["groups_dropped"] == 0
    kept = rollout.last_samples
    path_rows = [n for n, s in enumerate(kept) if s.group_id.endswith("/paths")]
    assert len(path_rows) == 3 * (len(plan) - 1)
    for n in path_rows:
        sample = kept[n]
        assert out[REWARD_FIELD][n] == pytest.approx(sample.reward)  # scored, including rows not played on
        trained = sum(out["env_mask"][n])
        assert trained == sum(sample.completion_mask) and (trained > 0) == (sample.components["played_out"] > 0)
    assert out[REWARD_FIELD][3 * (2 * len(plan) - 1):] == [None] * 3  # the one slot left over is padding


def test_outcome_key_is_the_evidence_a_search_or_open_showed(world):
    from searchgym.train.samplers import outcome_key

    env = make_env(world, max_turns=4)
    env.reset(options={"task": world[0].tasks[0]})
    a, b, c, d = env.fork(), env.fork(), env.fork(), env.fork()
    question = world[0].tasks[0].question
    a.step(f"<search>{question}</search>")
    b.step(f"First the question. <search>{question}</search>")
    c.step("<search>zzqx unmatched words</search>")
    d.step("<search>cut off")
    assert outcome_key(a, "x") == outcome_key(b, "y") != outcome_key(c, "x")
    assert a.trajectory.steps[-1].hits and outcome_key(a, "x")[1] == a.trajectory.steps[-1].hits
    assert outcome_key(d, "<search>cut off") == ("turn", "<search>cut off")  # invalid: the turn itself
    doc = a.trajectory.steps[-1].hits[0]
    e, f = a.fork(), b.fork()
    e.step(f"<open>{doc}</open>")
    f.step(f"Reading it. <open>{doc}</open>")
    assert outcome_key(e, "p") == outcome_key(f, "q") == ("open", doc)


def test_tree_advantages_back_up_one_outcome_groups_and_compare_with_the_root():
    from searchgym.train.advantages import StepGroupValues, tree_advantages

    groups = [StepGroupValues([0.0, 0.0], [True, True], [False, False]),  # one search outcome: backed up
              StepGroupValues([1.0, -1.0, 0.0], [True, True, False], [True, True, True]),  # played out / ended
              StepGroupValues([1.0, 1.0], [True, True], [True, True])]  # answers alike
    tree = tree_advantages(groups)
    assert tree.values[0] == [0.0, 0.0]  # the next group's scored mean: (1 - 1) / 2
    assert tree.root == pytest.approx((1.0 - 1.0 + 1.0 + 1.0) / 4)  # scored leaves only
    assert tree.advantages[0] == pytest.approx([-0.5, -0.5])  # level with its siblings, below the root
    assert tree.advantages[1] == pytest.approx([1.0 + 0.5, -1.0 - 1.5, 0.0])  # sibling term + root term; unscored 0
    assert tree.advantages[2] == pytest.approx([0.5, 0.5])  # answers alike: SLATE gives them nothing
    # a candidate with nothing after it to back up from, or unscored itself, stays unscored
    tree = tree_advantages([StepGroupValues([1.0, 0.0], [True, True], [True, True]),
                            StepGroupValues([5.0, 5.0], [True, False], [False, False])])
    assert tree.scored[1] == [False, False] and tree.advantages[1] == [0.0, 0.0]
    assert tree.advantages[0] == pytest.approx([1.0, -1.0])
    with pytest.raises(ValueError, match="leaf flags"):
        tree_advantages([StepGroupValues([1.0], [True], [])])


class RightThenReworded(PlanOnIds):
    """The first turn's candidates differ (the oracle's turn, a wrong answer, a cut-off search); every later
    turn's are rewordings of the oracle's (one outcome, or right answers alike)."""

    def candidates(self, turn, n):
        return super().candidates(turn, n) if turn == self.plan[0] else RewordedPlan.candidates(self, turn, n)


def test_tree_advantage_credits_the_one_outcome_steps_of_a_path_that_beat_the_root(world, tokenizer):
    """SLATE's sibling advantage gives the reworded middle steps 0 (their siblings reach one outcome); the tree
    advantage backs them up from the answers they led to and compares them with the episode's finished paths."""
    from searchgym.rewards.group import GroupReward
    from searchgym.train.samplers import TruncatedStepSampler

    task, plan, _ = oracle_plan(world, tokenizer)
    assert len(plan) >= 3

    def run(advantage):
        sampler = TruncatedStepSampler(make_env(world, max_turns=4), RightThenReworded(plan, tokenizer),
                                       GroupReward(budget=4), k=3, max_steps=4, tokenizer=tokenizer,
                                       continuation="greedy", value="rollout", advantage=advantage)
        samples = sampler.sample([task])
        return [samples[i:i + 3] for i in range(0, len(samples), 3)]

    sibling, tree = run("sibling"), run("tree")
    assert [[s.text for s in g] for g in sibling] == [[s.text for s in g] for g in tree]  # the same episode
    assert all(s.advantage == 0.0 for g in sibling[1:] for s in g)
    first = [s.reward for s in tree[0]]  # the oracle's turn played out to a right answer, the others ended
    last = [s.reward for s in tree[-1]]
    root = (sum(first) + sum(last)) / 6
    assert all(s.components["v_root"] == pytest.approx(root) for g in tree for s in g)
    for group in tree[1:-1]:  # backed up from the answers, above the root: credited
        assert [s.reward for s in group] == pytest.approx([sum(last) / 3] * 3)
        assert [s.advantage for s in group] == pytest.approx([sum(last) / 3 - root] * 3) and group[0].advantage > 0
        assert group[0].components["r_backup"] == pytest.approx(group[0].reward - sibling[tree.index(group)][0].reward)
    mean = sum(first) / 3
    assert [s.advantage for s in tree[0]] == pytest.approx([2 * v - mean - root for v in first])
    with pytest.raises(ValueError, match="tree"):
        TruncatedStepSampler(make_env(world), None, GroupReward(), value="judge", advantage="tree")
    with pytest.raises(ValueError, match="advantage"):
        TruncatedStepSampler(make_env(world), None, GroupReward(), value="rollout", advantage="root")


def test_pool_identical_gives_one_turn_one_value():
    from searchgym.train.samplers import pool_identical

    results = [RewardResult(2.0, {"r_answer": 2.0}), RewardResult(-1.0, {"r_answer": -1.0}),
               RewardResult(0.5, {"r_answer": 0.5}), RewardResult(float("nan"), scored=False),
               RewardResult(1.0, {"r_answer": 1.0})]
    pooled = pool_identical(results, ["same", "same", "other", "same", "third"])
    assert [r.value for r in pooled[:2]] == [0.5, 0.5]  # the unscored copy neither counts nor changes
    assert pooled[2] is results[2] and pooled[3] is results[3] and pooled[4] is results[4]
    for r in pooled[:2]:
        assert r.value == pytest.approx(sum(v for k, v in r.components.items() if k.startswith("r_")))
        assert r.components["pooled"] == 2.0
    adv = group_zscore([r.value for r in pooled], [r.scored for r in pooled], scale=False)
    assert adv[0] == adv[1]  # identical turns are never pushed in opposite directions
    with pytest.raises(ValueError):
        pool_identical(results, ["a"])
