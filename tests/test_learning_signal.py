"""The training signal as the papers define it: SLATE step groups and C-GRPO episode groups on one scale,
judges that see only the past, the gold judge, measured judge accuracy, and token-exact turns."""

from __future__ import annotations

import math

import pytest

from searchgym.corpora.records import Document, Hop, Task
from searchgym.envs.trajectory import ANSWER, INVALID, OPEN, SEARCH, Step, Trajectory
from searchgym.judges.base import JudgeError, Judgment
from searchgym.rewards.group import GroupReward
from searchgym.rewards.rubric import CitationRubricReward


@pytest.fixture(scope="module")
def world():
    from searchgym.corpora import load_taskset
    from searchgym.search import build_searcher

    ts = load_taskset("synthetic:seed=0,passages=300,tasks=40,hops=2")
    return ts, build_searcher("bm25", ts.documents)


def _env(world, max_turns=4):
    from searchgym.envs import DeepSearchEnv

    ts, searcher = world
    return DeepSearchEnv(ts.tasks, searcher, max_turns=max_turns, top_k=3, passage_chars=200, reward=None)


def _oracle_until_answer(world, task, max_turns=6):
    """An env whose next oracle turn is the final cited answer, and that turn."""
    from searchgym.policies.oracle import OraclePolicy

    env = _env(world, max_turns=max_turns)
    env.reset(options={"task": task})
    oracle = OraclePolicy(world[0].tasks)
    while True:
        turn = oracle.next_turn(env.messages)
        if "<answer>" in turn:
            return env, turn
        env.step(turn)


def _candidates(env, turns):
    forks = []
    for turn in turns:
        fork = env.fork()
        fork.step(turn)
        forks.append(fork.trajectory)
    return forks


def _solvable(world):
    from searchgym.eval.labelled import _derivable

    for task in world[0].tasks:
        if task.kind == "chain" and _derivable(task):
            env, turn = _oracle_until_answer(world, task)
            if "unknown" not in turn:
                return task, env, turn
    raise AssertionError("no solvable chain task in the world")


@pytest.mark.parametrize("judge", ["gold", "rules"])
def test_a_correct_cited_answer_outranks_a_wrong_answer_and_another_search(world, judge):
    from searchgym.judges import load_judge

    task, env, answer_turn = _solvable(world)
    reasoning = answer_turn.split("<answer>")[0]
    wrong = next(h.answer for t in world[0].tasks for h in t.hops if h.answer not in task.answers)
    query = task.hops[-1].question
    cands = _candidates(env, [answer_turn, f"{reasoning}<answer>{wrong}</answer>",
                              f"Next: {query} <search>{query}</search>"])
    reward = GroupReward(judge=load_judge(judge), budget=6, rubric=CitationRubricReward(scope="final"))
    right, bad, search = reward.score_steps(cands)
    assert right.value > bad.value and right.value > search.value, (right, bad, search)
    assert right.components["r_answer"] == 1.0  # the only correct answer: rho / max rho = 1
    assert bad.components["r_answer"] == -1.0
    assert right.value == pytest.approx(sum(v for k, v in right.components.items() if k.startswith("r_")))


@pytest.mark.parametrize("judge", ["gold", "rules"])
def test_an_off_topic_query_scores_below_an_on_path_query(world, judge):
    from searchgym.judges import load_judge

    task, _, _ = _solvable(world)
    env = _env(world)
    env.reset(options={"task": task})
    hop = task.hops[0].question
    on_path, off_topic = _candidates(env, [f"Next: {hop} <search>{hop}</search>",
                                           f"Next: {hop} <search>banana orchestra marimba music</search>"])
    reward = GroupReward(judge=load_judge(judge), budget=4)
    good, bad = reward.score_steps([on_path, off_topic])
    assert good.components["r_action"] > bad.components["r_action"] == -1.0


def test_a_malformed_turn_scores_below_any_valid_one_whatever_its_reasoning(world):
    """An open whose target is a query (no such document) is an invalid turn: with r_think judged on its
    sound-looking reasoning it outscored a valid but fruitless search, and step groups reinforced it."""
    from searchgym.judges import load_judge

    task, _, _ = _solvable(world)
    env = _env(world)
    env.reset(options={"task": task})
    hop = task.hops[0].question
    env.step(f"Next: {hop} <search>{hop}</search>")
    title = next(d.title for d in world[0].documents if d.id == task.hops[0].support[0])
    malformed, fruitless = _candidates(env, [
        f"The passage on {title} is cut short; reading it in full. <open>{hop}</open>",
        "Next: banana <search>banana orchestra marimba music</search>"])
    assert malformed.steps[-1].kind == "invalid" and fruitless.steps[-1].kind == SEARCH
    bad, poor = GroupReward(judge=load_judge("gold"), budget=4).score_steps([malformed, fruitless])
    assert bad.components["r_think"] == bad.components["r_action"] == -1.0 and bad.value == -2.0
    assert poor.value > bad.value


def test_judges_see_only_what_the_agent_had_before_the_step(world):
    from searchgym.rewards.process import step_requests

    task, env, _ = _solvable(world)
    before = env.trajectory
    (cand,) = _candidates(env, ["Looking further. <search>banana orchestra marimba music</search>"])
    new = set(cand.steps[-1].hits) - before.seen_ids
    assert new  # the off-topic query shows documents the agent had not seen
    for _, request in step_requests(cand):
        assert request.seen_ids == before.seen_ids
        assert not {d.id for d in request.evidence} & new
        assert not any("banana" in c for c in request.context)  # the step's own turn is not context
    assert dict(step_requests(cand))["r_action"].outcome == cand.steps[-1].hits  # privileged: effect only


def _traj(task, docs, turns):
    t = Trajectory(task)
    for step, shown in turns:
        t = t.extend(step, tuple(docs[i] for i in shown))
    return t


DOCS = {i: Document(i, t, x) for i, t, x in (
    ("d1", "Zorblax Corp", "Zorblax Corp was founded by Mira Quell."),
    ("d2", "Mira Quell", "Mira Quell was born in Tarnville."),
    ("d3", "Dunmore", "Dunmore is a town."))}
TASK = Task("t", "Where was the founder of Zorblax Corp born?", ("Tarnville",),
            (Hop("Who founded Zorblax Corp?", "Mira Quell", (), ("d1",)),
             Hop("Where was Mira Quell born?", "Tarnville", (), ("d2",))))
SEARCHED = [(Step("<search>Zorblax Corp founder</search>", SEARCH, query="Zorblax Corp founder",
                  hits=("d1", "d2", "d3")), ("d1", "d2", "d3"))]


def _answer(text, answer, cites):
    return Step(f"{text} <answer>{answer}</answer>", ANSWER, answer=answer, citations=cites), ()


def test_cgrpo_episode_group_matches_a_hand_computed_group():
    full = _traj(TASK, DOCS, SEARCHED + [_answer("Mira Quell [d1] was born in Tarnville [d2].", "Tarnville",
                                                 ("d1", "d2"))])
    half = _traj(TASK, DOCS, SEARCHED + [_answer("Mira Quell was born in Tarnville [d2].", "Tarnville", ("d2",))])
    wrong = _traj(TASK, DOCS, SEARCHED + [_answer("Mira Quell [d1] was born in Dunmore [d3].", "Dunmore",
                                                  ("d1", "d3"))])
    bare = _traj(TASK, DOCS, SEARCHED + [_answer("", "Tarnville", ())])
    rubric = CitationRubricReward(scope="final")
    rhos = [rubric(t).value for t in (full, half, wrong, bare)]
    assert rhos[0] == 1.0 and rhos[1] == 0.5 and rhos[3] == 0.0
    reward = GroupReward(judge=None, budget=4, rubric=rubric, alpha=0.3)
    values = [r.value for r in reward.score_episodes([full, half, wrong, bare])]
    # R = 0 if wrong else 0.7 + 0.3 * rho / max rho (max over the group: 1.0)
    assert values == pytest.approx([1.0, 0.7 + 0.3 * 0.5, 0.0, 0.7])
    # without the best episode the group max is 0.5: the half-cited answer now gets the full bonus
    assert [r.value for r in reward.score_episodes([half, bare])] == pytest.approx([1.0, 0.7])


def test_cgrpo_inside_a_step_group_scores_the_rubric_as_it_stands():
    full = _traj(TASK, DOCS, SEARCHED + [_answer("Mira Quell [d1] was born in Tarnville [d2].", "Tarnville",
                                                 ("d1", "d2"))])
    half = _traj(TASK, DOCS, SEARCHED + [_answer("Mira Quell was born in Tarnville [d2].", "Tarnville", ("d2",))])
    reward = GroupReward(judge=None, budget=4, rubric=CitationRubricReward(scope="final"), alpha=0.3)
    a, b = reward.score_steps([full, half])
    # t = 2, B = 4: budget bonus 0.05; no judge: r_think = 0
    assert a.components["r_answer"] == pytest.approx(1.0) and b.components["r_answer"] == pytest.approx(0.85)
    assert a.value == pytest.approx(1.05) and b.value == pytest.approx(0.9)
    # alone in its group, a half-grounded answer keeps its 0.85: its k siblings share its evidence, so the
    # group's best is no yardstick (dividing by it made a lucky guess outscore the search for the missing hop)
    (only_half,) = reward.score_steps([half])
    assert only_half.components["r_answer"] == pytest.approx(0.85)


def test_a_correct_guess_after_one_hop_scores_below_the_search_for_the_next():
    """After the first hop of a two-hop task, the gold judge scores the search that brings the second hop
    into view r_think + r_action = 2; a correct answer grounded in the first hop only must score less, or
    SLATE's z-score turns the budget bonus into a full-size push to answer early."""
    from searchgym.judges import load_judge

    first_hop = [(Step("Mira Quell wrote it. <search>Mira Quell birthplace</search>", SEARCH, query="x",
                       hits=("d1",)), ("d1",))]
    guess = _traj(TASK, DOCS, first_hop + [_answer("Mira Quell [d1] wrote it.", "Tarnville", ("d1",))])
    reward = GroupReward(judge=load_judge("gold"), budget=4, rubric=CitationRubricReward(scope="final"), alpha=0.3)
    (scored,) = reward.score_steps([guess])
    assert scored.components["r_answer"] == pytest.approx(0.7 + 0.3 * CitationRubricReward(scope="final")(guess).value)
    assert scored.value < 2.0


def test_the_early_answer_bonus_pays_a_correct_answer_only():
    """A wrong answer must not outscore a search that found nothing: by the bonus alone it did, and the z-score
    within the k candidates turned that 0.05 into a full-size push to give up and guess."""
    from searchgym.judges import load_judge

    first_hop = [(Step("<search>Zorblax Corp founder</search>", SEARCH, query="Zorblax Corp founder", hits=("d1",)),
                  ("d1",))]
    said = "Mira Quell [d1] founded Zorblax Corp."
    wrong = _traj(TASK, DOCS, first_hop + [_answer(said, "Dunmore", ("d1",))])
    right = _traj(TASK, DOCS, first_hop + [_answer(said, "Tarnville", ("d1",))])
    fruitless = _traj(TASK, DOCS, first_hop + [(Step(f"{said} <search>banana marimba</search>", SEARCH,
                                                     query="banana marimba", hits=("d3",)), ("d3",))])
    for judge in (load_judge("gold"), None):
        w, r, f = GroupReward(judge=judge, budget=4).score_steps([wrong, right, fruitless])
        assert w.components["r_budget"] == 0.0 and r.components["r_budget"] == pytest.approx(0.05)  # t = 2, B = 4
        assert r.value > f.value
        if judge is not None:  # judged, a wrong answer and a fruitless search tie (without a judge a search is 0)
            assert w.value == pytest.approx(f.value)
        else:
            assert w.value == -1.0


def test_a_search_on_the_last_turn_is_paid_nothing_for_what_it_finds():
    """On the last turn the episode ends with the step, so a search's gain is worth nothing: paid, it beat a
    wrong answer and step groups taught the policy never to answer. It ends with nothing, as a wrong answer
    does, and the two tie at the group's floor."""
    from searchgym.judges import load_judge

    first_hop = [(Step("<search>Zorblax Corp founder</search>", SEARCH, query="Zorblax Corp founder", hits=("d1",)),
                  ("d1",))]
    said = "Mira Quell [d1] founded Zorblax Corp."
    gainful = _traj(TASK, DOCS, first_hop + [(Step(f"{said} <search>Mira Quell birthplace</search>", SEARCH,
                                                   query="Mira Quell birthplace", hits=("d2",)), ("d2",))])
    wrong = _traj(TASK, DOCS, first_hop + [_answer(said, "Dunmore", ("d1",))])
    reward = GroupReward(judge=load_judge("gold"), budget=2)  # t = 2 = B: the last turn
    search, answer = reward.score_steps([gainful, wrong])
    assert search.components["r_action"] == -1.0 and search.components["r_answer"] == -1.0
    assert search.value == answer.value
    early, = GroupReward(judge=load_judge("gold"), budget=4).score_steps([gainful])  # not the last turn: paid
    assert early.components["r_action"] == 1.0


@pytest.mark.parametrize("judge", ["gold", None])
def test_an_answer_that_is_not_correct_never_scores_above_a_sibling(judge):
    """A wrong (or partly right) answer ends the episode with nothing: scored above an invalid turn or a search
    on the last turn, it drew a positive advantage and step groups taught answering before reading."""
    from searchgym.judges import load_judge
    from searchgym.train.advantages import group_zscore

    said = "Mira Quell [d1] was born in Tarnville."
    invalid = _traj(TASK, DOCS, SEARCHED + [(Step("<open>Mira Quell birthplace</open>", INVALID), ())])
    wrong = _traj(TASK, DOCS, SEARCHED + [_answer(said, "Dunmore", ("d1",))])
    partial = _traj(TASK, DOCS, SEARCHED + [_answer(said, "Tarnville town", ("d1",))])
    right = _traj(TASK, DOCS, SEARCHED + [_answer(said, "Tarnville", ("d1", "d2"))])
    fruitless = _traj(TASK, DOCS, SEARCHED + [(Step(f"{said} <search>banana marimba</search>", SEARCH,
                                                     query="banana marimba", hits=("d3",)), ("d3",))])
    reward = GroupReward(judge=load_judge(judge) if judge else None, budget=4)
    results = reward.score_steps([invalid, wrong, partial, right, fruitless])
    inv, bad, part, good, poor = results
    assert inv.value == (-2.0 if judge else -1.0)  # the group's floor
    assert bad.value == part.value == inv.value
    assert part.components["r_answer"] == 0.0 and part.components["r_floor"] < 0
    assert bad.value == pytest.approx(sum(v for k, v in bad.components.items() if k.startswith("r_")))
    assert "r_floor" not in good.components and good.value > poor.value > inv.value
    advantages = group_zscore([r.value for r in results])
    assert advantages[1] <= 0 and advantages[2] <= 0 and advantages[3] == max(advantages)
    # without a lower sibling a wrong answer keeps its score: the floor is the group's, not a constant
    alone_bad, alone_right = reward.score_steps([wrong, right])
    assert "r_floor" not in alone_bad.components and alone_bad.value < alone_right.value


def test_not_answering_on_the_last_turn_costs_r_answer():
    traj = _traj(TASK, DOCS, SEARCHED * 4)
    (last,) = GroupReward(judge=None, budget=4).score_steps([traj])
    assert last.components["r_answer"] == -1.0 and last.value == -1.0
    (early,) = GroupReward(judge=None, budget=4).score_steps([_traj(TASK, DOCS, SEARCHED * 3)])
    assert "r_answer" not in early.components and early.value == 0.0


class _Short:
    name = "short"

    def judge(self, requests):
        return [Judgment(1.0)] * (len(requests) - 1)


class _Down:
    name = "down"

    def judge(self, requests):
        raise JudgeError("backend down")


def test_a_judge_that_drops_verdicts_is_an_error_and_skips_are_counted():
    traj = _traj(TASK, DOCS, SEARCHED)
    with pytest.raises(JudgeError, match="returned 1 verdicts for 2 requests"):
        GroupReward(judge=_Short()).score_steps([traj])
    skip = GroupReward(judge=_Down(), on_error="skip")
    (res,) = skip.score_steps([traj])
    assert not res.scored and math.isnan(res.value) and skip.stats["unscored"] == 1


def test_rules_judge_no_longer_rewards_restating_the_question_or_punishes_cited_facts():
    from searchgym.judges.rules import RulesJudge
    from searchgym.rewards.process import step_requests

    judge = RulesJudge()
    restated = _traj(TASK, DOCS, SEARCHED + [(Step(f"{TASK.question} <search>{TASK.question}</search>", SEARCH,
                                                   query=TASK.question, hits=("d2",)), ("d2",))])
    scores = {k: judge.judge_one(r).score for k, r in step_requests(restated)}
    assert scores["r_think"] <= 0 and scores["r_action"] <= 0
    final = _traj(TASK, DOCS, SEARCHED + [_answer("Mira Quell [d1]. Tarnville [d2].", "Tarnville", ("d1", "d2"))])
    assert judge.judge_one(dict(step_requests(final))["r_think"]).score == 1.0


def test_gold_judge_pays_an_open_only_for_a_fact_the_snippet_did_not_show():
    """Opening a gold passage in full earns +1 when its fact was cut from the snippet the agent saw, and 0
    when the snippet already stated it (a +1 there tied with the search for the next hop)."""
    from searchgym.judges.gold import GoldJudge
    from searchgym.rewards.process import step_requests

    def open_score(snippet_text):
        docs = {**DOCS, "d1": Document("d1", "Zorblax Corp", snippet_text)}
        search = (Step("<search>Zorblax Corp founder</search>", SEARCH, query="Zorblax Corp founder", hits=("d1",),
                       observation=f"[d1] Zorblax Corp\n{snippet_text}"), ("d1",))
        opened = (Step("Reading it in full. <open>d1</open>", OPEN, doc_id="d1", observation="[d1] full text"), ())
        request = dict(step_requests(_traj(TASK, docs, [search, opened])))["r_action"]
        return GoldJudge().judge_one(request).score

    assert open_score("Zorblax Corp was founded by Mira Quell.") == 0.0  # the founder was in view already
    assert open_score("Zorblax Corp was founded in 1901 by") == 1.0  # cut short: the open fetches the fact


def test_gold_judge_scores_information_gain():
    from searchgym.judges.gold import GoldJudge
    from searchgym.rewards.process import step_requests

    gold = GoldJudge()

    def gain(turns):
        return gold.judge_one(dict(step_requests(_traj(TASK, DOCS, turns)))["r_action"]).score

    new = (Step("<search>Zorblax</search>", SEARCH, query="Zorblax", hits=("d1",)), ("d1",))
    again = (Step("<search>Zorblax founded</search>", SEARCH, query="Zorblax founded", hits=("d1", "d3")), ("d1", "d3"))
    nothing = (Step("<search>Dunmore</search>", SEARCH, query="Dunmore", hits=("d3",)), ("d3",))
    assert gain([new]) == 1.0
    assert gain([new, again]) == 0.0  # only gold seen before
    assert gain([nothing]) == -1.0
    assert gain([new, new]) == -1.0  # a repeated query
    with pytest.raises(JudgeError):
        gold.judge_one(dict(step_requests(_traj(Task("x", "q?", ("a",)), DOCS, [nothing])))["r_action"])


def test_judge_accuracy_on_labelled_steps(world):
    from searchgym.eval.labelled import judge_accuracy, labelled_steps
    from searchgym.judges import load_judge

    items = labelled_steps(*world, max_tasks=30)
    cases = {i.case for i in items}
    assert {"oracle", "off_topic", "repeat", "restated", "wrong_entity", "premature", "wrong_answer"} <= cases
    gold = judge_accuracy(load_judge("gold"), items)
    assert gold["all"]["accuracy"] >= 0.95 and all(row["accuracy"] >= 0.9 for row in gold.values()), gold
    rules = judge_accuracy(load_judge("rules"), items)
    assert rules["all"]["accuracy"] >= 0.90, rules  # measured 0.972 (benchmarks/bench_judge.py)


def test_token_exact_turns_with_hf_policy(world):
    """Every turn is generated from exactly the ids it is trained on (prompt + earlier turns + glue)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from searchgym.models import resolve_model
    from searchgym.policies.hf_policy import HFPolicy
    from searchgym.train.samplers import TrajectorySampler, TruncatedStepSampler

    tok = AutoTokenizer.from_pretrained(str(resolve_model("smollm2")))
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096))

    class Recording(HFPolicy):
        prompts: list = []

        def generate_ids(self, prompts, n=1):
            self.prompts.extend(list(p) for p in prompts)
            return super().generate_ids(prompts, n)

    reward = GroupReward(judge=None, budget=3)
    tasks = world[0].tasks[:2]
    policy = Recording(model, tok, max_new_tokens=6, seed=0)
    samples = TrajectorySampler(_env(world, max_turns=3), policy, reward, group_size=2, tokenizer=tok).sample(tasks)
    full = [list(s.prompt_ids) + list(s.completion_ids) for s in samples]
    assert len(policy.prompts) >= 3 * 4 - 4  # up to 3 turns of 4 episodes (a valid answer ends one early)
    for prompt in policy.prompts:
        assert any(f[: len(prompt)] == prompt and len(f) > len(prompt) for f in full)
    policy.prompts.clear()
    step_samples = TruncatedStepSampler(_env(world, max_turns=3), policy, reward, k=2, max_steps=3,
                                        tokenizer=tok).sample(tasks[:1])
    assert {tuple(s.prompt_ids) for s in step_samples} == {tuple(p) for p in policy.prompts}


@pytest.mark.slow
@pytest.mark.parametrize("sampler,lora", [("trajectory", False), ("step", True)])
def test_real_path_through_trl(world, tmp_path, sampler, lora):
    """HFPolicy + DeepSearchEnv over BM25 + the gold judge + each sampler through TRL's GRPOTrainer: the
    rewards TRL trains on are the sampler's, in groups of k on one scale."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from searchgym.models import resolve_model
    from searchgym.train.config import TrainConfig
    from searchgym.train.rollout import REWARD_FIELD
    from searchgym.train.training import build_reward, build_trainer, make_sampler_factory

    ts, searcher = world
    tasks = [t for t in ts.tasks if t.hops][:6]
    tok = AutoTokenizer.from_pretrained(str(resolve_model("smollm2")))
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id))
    config = TrainConfig(model="tiny", output_dir=str(tmp_path / "run"), sampler=sampler, group_size=2,
                         tasks_per_step=1, groups_per_task=2, max_steps=1, max_turns=2, max_new_tokens=6, use_peft=lora,
                         save_steps=100, warmstart=False, judge="gold")
    reward = build_reward(config, tasks)
    trainer = build_trainer(config, model, tok, tasks, make_sampler_factory(config, tasks, searcher, reward, tok))
    rollout = trainer.searchgym_rollout
    seen = []
    original = type(rollout).__call__

    def spy(self, prompts, trainer):
        out = original(self, prompts, trainer)
        seen.append((out, list(self.last_samples)))
        return out

    type(rollout).__call__ = spy
    try:
        trainer.train()
    finally:
        type(rollout).__call__ = original
    (out, samples), = seen
    k = config.group_size
    assert len(out[REWARD_FIELD]) == config.groups_per_step * k
    for start in range(0, len(samples), k):  # each run of k rows is one sampler group ...
        group = samples[start:start + k]
        assert len({s.group_id for s in group}) == 1
        if sampler == "step":  # ... of candidates from one prefix, scored by one formula
            assert len({s.prompt_ids for s in group}) == 1
            for s in group:
                assert s.reward == pytest.approx(sum(v for key, v in s.components.items() if key.startswith("r_")))
    assert [r for r in out[REWARD_FIELD] if r is not None] == [s.reward for s in samples if s.scored]
    logged = [h for h in trainer.state.log_history if "reward" in h]
    assert logged and math.isfinite(logged[0]["loss"]) and "episodes/em" in logged[0]


def test_an_eos_first_candidate_stays_in_its_group_with_its_penalty_and_its_eos_is_trained(world):
    from transformers import AutoTokenizer

    from searchgym.models import resolve_model
    from searchgym.policies.policy import Completion
    from searchgym.train.rollout import REWARD_FIELD, SamplerRollout, task_prompt
    from searchgym.train.samplers import TruncatedStepSampler

    tok = AutoTokenizer.from_pretrained(str(resolve_model("smollm2")))
    task, _, _ = _solvable(world)
    hop = task.hops[0].question

    class EosOrSearch:
        def generate_ids(self, prompts, n=1):
            search = tok(f"<search>{hop}</search>", add_special_tokens=False)["input_ids"]
            return [[Completion("", tuple(p), (tok.eos_token_id,), (-0.25,)),
                     Completion(tok.decode(search), tuple(p), tuple(search), (-0.1,) * len(search))] for p in prompts]

        def generate(self, conversations, n=1):
            raise AssertionError("token-exact sampling must use generate_ids")

    sampler = TruncatedStepSampler(_env(world), EosOrSearch(), GroupReward(judge=None, budget=4), k=2, max_steps=1,
                                   tokenizer=tok, continuation="greedy")
    rollout = SamplerRollout([task], lambda trainer: sampler, mode="step", group_size=2, eos_token_id=tok.eos_token_id)
    out = rollout([task_prompt(task)] * 2, trainer=None)
    eos_row, search_row = rollout.last_samples
    assert eos_row.completion_ids == (tok.eos_token_id,) and eos_row.completion_mask == (1,) and eos_row.scored
    assert eos_row.reward == -1.0 < search_row.reward  # an invalid turn: r_action = -1 (no judge: no r_think)
    assert out[REWARD_FIELD] == [-1.0, 0.0] and out["env_mask"][0] == [1]  # in the group, and trained
