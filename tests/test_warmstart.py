"""Cold-start SFT on oracle demonstrations: the rows it clones, the model it saves, and its reuse."""

from __future__ import annotations

import dataclasses
import json

import pytest

from searchgym.envs.actions import parse_action
from searchgym.rewards.outcome import exact_match
from searchgym.train import warmstart
from searchgym.train.config import TrainConfig
from searchgym.train.warmstart import (
    freeze_bottom,
    load_or_warm_start,
    oracle_demonstrations,
    warm_start,
    warmstart_key,
)

torch = pytest.importorskip("torch")
from helpers import tiny_llama  # noqa: E402

WORLD = "synthetic:seed=3,passages=600,tasks=40,hops=2-3"
LIMITS = dict(max_turns=8, top_k=5, passage_chars=400)


@pytest.fixture(scope="module")
def world():
    from searchgym.envs.factory import resolve_searcher, resolve_taskset

    taskset = resolve_taskset(WORLD)
    return taskset, resolve_searcher("bm25", taskset)


def episodes_of(rows):
    """Split rows into episodes: each episode's first row has only the system and question messages."""
    episodes = []
    for row in rows:
        if len(row["prompt"]) == 2:
            episodes.append([])
        episodes[-1].append(row)
    return episodes


def test_demonstrations_are_whole_solved_episodes_in_trl_conversational_format(world):
    taskset, searcher = world
    tasks = taskset.tasks[:12]
    demos = oracle_demonstrations(tasks, searcher, **LIMITS)
    assert demos.episodes == 12 and 0 < demos.solved <= 12
    by_question = {t.question: t for t in tasks}
    episodes = episodes_of(demos.rows)
    assert len(episodes) == demos.solved  # unsolved episodes are dropped whole
    for episode in episodes:
        first = episode[0]["prompt"]
        assert [m["role"] for m in first] == ["system", "user"]
        task = next(t for q, t in by_question.items() if q in first[1]["content"])
        for i, row in enumerate(episode):
            (completion,) = row["completion"]
            assert completion["role"] == "assistant"
            action = parse_action(completion["content"])
            assert action.kind in {"search", "open", "answer"}, completion["content"]
            # each prompt is the conversation so far: the previous turn is in it, verbatim
            if i:
                assert row["prompt"][-2] == episode[i - 1]["completion"][0]
                assert row["prompt"][-1]["role"] == "user"
        final = parse_action(episode[-1]["completion"][0]["content"])
        assert final.kind == "answer" and exact_match(final.answer, task.answers)
        assert final.citations  # the cloned answers cite their evidence


def test_later_searches_restate_the_fact_found_with_its_citation(world):
    taskset, searcher = world
    demos = oracle_demonstrations(taskset.tasks[:12], searcher, **LIMITS)
    by_question = {t.question: t for t in taskset.tasks[:12]}
    checked = 0
    for conversation in demos.conversations:
        task = next(t for q, t in by_question.items() if q in conversation[1]["content"])
        searches = [m["content"] for m in conversation[2::2] if parse_action(m["content"]).kind == "search"]
        first_hop = task.hops[0]
        later = [turn for turn in searches if task.hops[1].question in turn]
        if not later:
            continue
        action = parse_action(later[0])
        # the entity the next query is built from is stated, and cited to its supporting document
        assert first_hop.answer in action.reasoning, later[0]
        assert set(action.citations) & set(first_hop.support), later[0]
        checked += 1
    assert checked >= 5


def test_an_episode_example_trains_the_agents_turns_in_the_context_it_had(world, smollm2_tokenizer):
    from searchgym.train.warmstart import episode_example

    taskset, searcher = world
    demos = oracle_demonstrations(taskset.tasks[:6], searcher, **LIMITS)
    tok = smollm2_tokenizer
    for conversation in demos.conversations:
        example = episode_example(conversation, tok)
        ids, labels = example["input_ids"], example["labels"]
        assert len(ids) == len(labels)
        spans, start = [], None  # (first, end) of each trained run of tokens
        for i, label in enumerate(labels + [-100]):
            if label != -100 and start is None:
                start = i
            elif label == -100 and start is not None:
                spans.append((start, i))
                start = None
        turns = conversation[2::2]
        assert len(spans) == len(turns)
        for (first, end), turn, k in zip(spans, turns, range(len(turns))):
            assert labels[first:end] == ids[first:end]
            # the turn itself and the end-of-turn token that stops it, nothing of the environment
            assert tok.decode(ids[first:end - 1]) == turn["content"]
            assert ids[end - 1] == tok.eos_token_id
            # the context before the turn is the conversation so far, as the chat template renders it
            history = conversation[: 2 + 2 * k]
            rendered = tok.apply_chat_template(history, tokenize=False, add_generation_prompt=True)
            assert tok.decode(ids[:first]) == rendered
    with pytest.raises(ValueError, match="system prompt"):
        episode_example(conversation[1:], tok)


def test_a_row_cap_keeps_whole_episodes(world):
    taskset, searcher = world
    capped = oracle_demonstrations(taskset.tasks[:12], searcher, max_rows=5, **LIMITS)
    assert 5 <= len(capped.rows) < 5 + LIMITS["max_turns"]
    assert capped.episodes < 12
    assert parse_action(capped.rows[-1]["completion"][0]["content"]).kind == "answer"


def test_nothing_to_imitate_is_a_clear_error(world, tmp_path, smollm2_tokenizer):
    from searchgym.envs.factory import resolve_searcher, resolve_taskset

    taskset, _ = world
    elsewhere = resolve_taskset("synthetic:seed=4,passages=300,tasks=5,hops=2")
    wrong_index = resolve_searcher("bm25", elsewhere)  # none of the gold passages exist there
    config = TrainConfig(model="tiny", output_dir=str(tmp_path), **LIMITS)
    with pytest.raises(ValueError, match="solved none"):
        warm_start(config, tiny_llama(smollm2_tokenizer), smollm2_tokenizer, taskset.tasks[:4], wrong_index)


@pytest.mark.slow
def test_warm_start_lowers_the_loss_saves_and_is_reused(world, tmp_path, smollm2_tokenizer, monkeypatch):
    taskset, searcher = world
    tasks = taskset.tasks[:20]
    # short observations and a few episodes (one row each): 2 optimizer steps per epoch
    config = TrainConfig(model="tiny", output_dir=str(tmp_path / "run"), warmstart_max_rows=24,
                         warmstart_epochs=4, warmstart_learning_rate=1e-2, seed=0, warmstart_frozen_fraction=0.5,
                         max_turns=8, top_k=3, passage_chars=150)
    model = tiny_llama(smollm2_tokenizer, max_positions=2048)
    before = {name: t.clone() for name, t in model.state_dict().items()}
    folder = warm_start(config, model, smollm2_tokenizer, tasks, searcher)
    assert smollm2_tokenizer.padding_side == "left"  # the caller's tokenizer is left as it was
    # a frozen half: the embeddings and layer 0 of 2 are untouched by SFT, then thawed for GRPO
    after = model.state_dict()
    kept = [n for n in before if torch.equal(before[n], after[n])]
    assert sorted(kept) == sorted(n for n in before if n.startswith(("model.embed_tokens.", "model.layers.0.")))
    assert all(p.requires_grad for p in model.parameters())

    record = json.loads((folder / "warmstart.json").read_text())
    assert record["key"] == warmstart_key(config, tasks)
    assert record["rows"] >= 24 and record["solved"] > 0
    assert record["loss_last"] < 0.8 * record["loss_first"], record
    assert (folder / "model" / "config.json").exists()
    assert not (folder / "model.tmp").exists()

    def must_not_train(*_a, **_k):
        raise AssertionError("retrained although a matching warm start was saved")

    monkeypatch.setattr(warmstart, "warm_start", must_not_train)
    reused = load_or_warm_start(config, tiny_llama(smollm2_tokenizer, seed=1, max_positions=2048),
                                smollm2_tokenizer, tasks, searcher)
    for (name, a), (_, b) in zip(model.state_dict().items(), reused.state_dict().items()):
        assert torch.equal(a, b), name

    # anything that shapes the warm start changes the key, so a stale model is never reused
    changed = dataclasses.replace(config, warmstart_epochs=2)
    assert warmstart_key(changed, tasks) != record["key"]
    assert warmstart_key(dataclasses.replace(config, warmstart_frozen_fraction=0.0), tasks) != record["key"]
    assert warmstart_key(config, tasks[:-1]) != record["key"]
    with pytest.raises(AssertionError, match="retrained"):
        load_or_warm_start(changed, model, smollm2_tokenizer, tasks, searcher)


def test_freeze_bottom_freezes_the_embeddings_and_the_bottom_share_of_layers(smollm2_tokenizer):
    model = tiny_llama(smollm2_tokenizer)  # 2 decoder layers, untied LM head
    assert freeze_bottom(model, 0.0) == []
    frozen = freeze_bottom(model, 0.5)
    names = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert names == {n for n, _ in model.named_parameters() if n.startswith(("model.embed_tokens.", "model.layers.0."))}
    assert {id(p) for p in frozen} == {id(p) for n, p in model.named_parameters() if n in names}
    assert freeze_bottom(model, 0.5) == []  # already frozen: nothing of the caller's is taken over

    with pytest.raises(ValueError, match="decoder layers"):
        freeze_bottom(torch.nn.Linear(2, 2), 0.5)


@pytest.mark.parametrize("fraction", [-0.1, 1.0])
def test_frozen_fraction_out_of_range_is_refused(fraction):
    with pytest.raises(ValueError, match="warmstart_frozen_fraction"):
        TrainConfig(warmstart_frozen_fraction=fraction)
