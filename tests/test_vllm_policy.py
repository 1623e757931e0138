"""``VLLMPolicy`` against an engine that keeps TRL's ``VLLMGeneration`` calling convention.

vLLM itself needs a GPU, which this machine lacks; the engine here answers exactly as
``VLLMGeneration.generate`` does (one completion per request, each prompt repeated
``num_generations`` times; per-token log-prob lists led by the sampled token) from completions
scripted per prompt, so what is tested is searchgym's side: ordering, weight syncs, stop cutting and
the alignment of text, token ids and log-probs.
"""

from __future__ import annotations

import types

import pytest

pytest.importorskip("torch")
from searchgym.policies.vllm_policy import VLLMPolicy, stop_token_count  # noqa: E402
from searchgym.train.config import TrainConfig  # noqa: E402


class ScriptedEngine:
    """Replies to each request with the next scripted text for its prompt, like ``VLLMGeneration``."""

    def __init__(self, tokenizer, replies: dict[str, list[str]]):
        self.tokenizer, self.replies, self.syncs, self.calls = tokenizer, replies, 0, []

    def sync_weights(self):
        self.syncs += 1

    def generate(self, prompts, images, num_generations, profiler=None):
        self.calls.append((len(prompts), num_generations))
        completions, logprobs = [], []
        for ids in prompts:
            question = self.tokenizer.decode(ids).split("Q:")[-1].split("<|im_end|>")[0].strip()
            text = self.replies[question].pop(0)
            tokens = self.tokenizer.encode(text, add_special_tokens=False)
            completions.append(tokens)
            logprobs.append([[-0.01 * (i + 1), -9.0] for i in range(len(tokens))])
        return prompts, completions, logprobs, None


def trainer_with(engine, step=0):
    return types.SimpleNamespace(vllm_generation=engine, state=types.SimpleNamespace(global_step=step))


def conversation(q):
    return [{"role": "system", "content": "Search."}, {"role": "user", "content": f"Q: {q}"}]


def test_completions_keep_order_and_are_cut_at_the_end_of_the_action(smollm2_tokenizer):
    engine = ScriptedEngine(smollm2_tokenizer, {
        "first": ["<search>a b</search> and more text", "<answer>x [d1]</answer></answer>"],
        "second": ["no action at all", "<open>d2</open><search>q</search>"],
    })
    policy = VLLMPolicy(trainer_with(engine), smollm2_tokenizer)
    out = policy.generate([conversation("first"), conversation("second")], n=2)

    assert engine.calls == [(4, 2)]  # each prompt repeated n times, as TRL passes them
    # the text is exactly the kept tokens (token-exact turns): a stop's last token may carry a few
    # characters past the stop, and they stay; nothing after that token is kept
    from searchgym.policies.hf_policy import cut_at_stop

    assert [[cut_at_stop(c.text, policy.stop) for c in row] for row in out] == [
        ["<search>a b</search>", "<answer>x [d1]</answer>"],
        ["no action at all", "<open>d2</open>"],
    ]
    assert all(len(c.text) - len(cut_at_stop(c.text, policy.stop)) <= 3 for row in out for c in row)
    for row, q in zip(out, ("first", "second")):
        for c in row:
            assert c.prompt_ids == tuple(policy.prompt_ids(conversation(q)))
            assert len(c.token_ids) == len(c.logprobs)  # log-probs follow the kept tokens
            assert smollm2_tokenizer.decode(list(c.token_ids), skip_special_tokens=True) == c.text
            assert c.logprobs[0] == pytest.approx(-0.01)  # the sampled token's log-prob, not the runner-up
    assert policy.generated_tokens == sum(len(c.token_ids) for row in out for c in row)


def test_weights_sync_once_per_optimizer_step_before_the_rollouts(smollm2_tokenizer):
    """TRL's own ``GRPOTrainer._generate`` syncs vLLM before it calls the rollout function; VLLMPolicy
    relies on that and never syncs itself."""
    from trl import GRPOTrainer

    class RolloutDone(Exception):
        pass

    engine = ScriptedEngine(smollm2_tokenizer, {"q": ["<search>a</search>"] * 6})
    trainer = trainer_with(engine, step=0)
    trainer.__dict__.update(
        accelerator=types.SimpleNamespace(device="cpu", is_main_process=True),
        model=types.SimpleNamespace(training=True), args=types.SimpleNamespace(report_to=[]),
        use_vllm=True, _last_loaded_step=-1)
    policy = VLLMPolicy(trainer, smollm2_tokenizer)
    syncs_seen = []

    def rollout_func(prompts, trainer_):
        syncs_seen.append(engine.syncs)
        policy.generate([conversation("q")])
        policy.generate([conversation("q")])  # several turns in one rollout: no further sync
        raise RolloutDone  # the rest of _generate post-processes; not under test

    trainer.rollout_func = rollout_func
    for step in (0, 0, 1):  # two generation rounds in step 0 (gradient accumulation), one in step 1
        trainer.state.global_step = step
        with pytest.raises(RolloutDone):
            GRPOTrainer._generate(trainer, ["prompt"])
    assert syncs_seen == [1, 1, 2]  # synced before the first rollout of each step, once
    assert engine.syncs == 2 and trainer._last_loaded_step == 1


def test_stop_token_count_keeps_the_completing_token(smollm2_tokenizer):
    ids = smollm2_tokenizer.encode("<search>a</search> tail", add_special_tokens=False)
    keep = stop_token_count(smollm2_tokenizer, ids, ("</search>",))
    assert "</search>" in smollm2_tokenizer.decode(ids[:keep])
    assert "</search>" not in smollm2_tokenizer.decode(ids[: keep - 1])
    assert stop_token_count(smollm2_tokenizer, ids, ("</answer>",)) == len(ids)


def test_a_trainer_without_vllm_is_a_clear_error(smollm2_tokenizer):
    with pytest.raises(ValueError, match="use_vllm=True"):
        VLLMPolicy(types.SimpleNamespace(vllm_generation=None), smollm2_tokenizer)


def test_grpo_args_pass_action_stops_to_vllm_and_refuse_server_mode_across_processes(tmp_path):
    from searchgym.train.training import grpo_args

    args = grpo_args(TrainConfig(use_vllm=True, output_dir=str(tmp_path)), world_size=1, vllm_on_cpu=True)
    assert args.use_vllm and set(args.generation_kwargs["stop"]) == {"</search>", "</open>", "</answer>"}
    assert args.max_completion_length == TrainConfig().max_new_tokens
    tuned = grpo_args(TrainConfig(use_vllm=True, vllm_gpu_memory_utilization=0.15, vllm_max_model_length=2048,
                                  output_dir=str(tmp_path)), world_size=1, vllm_on_cpu=True)
    assert (tuned.vllm_gpu_memory_utilization, tuned.vllm_max_model_length) == (0.15, 2048)
    with pytest.raises(ValueError, match="colocate"):
        grpo_args(TrainConfig(use_vllm=True, vllm_mode="server", output_dir=str(tmp_path)), world_size=2,
                  vllm_on_cpu=True)


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="the CPU refusal needs a machine without a GPU")
def test_use_vllm_without_a_gpu_is_a_clear_error(tmp_path):
    from searchgym.train.training import grpo_args

    with pytest.raises(ValueError, match="use_vllm needs a GPU"):
        grpo_args(TrainConfig(use_vllm=True, output_dir=str(tmp_path)), world_size=1)


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="the CPU refusal needs a machine without a GPU")
def test_train_cli_refuses_use_vllm_without_a_gpu_before_loading_anything(tmp_path, capsys):
    from searchgym.cli.main import main

    out = tmp_path / "run"
    assert main(["train", "--use_vllm", "true", "--output_dir", str(out)]) == 2
    assert "use_vllm needs a GPU" in capsys.readouterr().err
    assert not out.exists()  # nothing was started


def test_on_the_vllm_cpu_backend_only_the_first_sync_is_skipped():
    from searchgym.train.trainer import _sync_only_before_the_first_update

    trainer = trainer_with(ScriptedEngine(None, {}), step=0)
    _sync_only_before_the_first_update(trainer)
    trainer.vllm_generation.sync_weights()  # step 0: vLLM holds the loaded checkpoint already
    trainer.state.global_step = 1
    with pytest.raises(RuntimeError, match="stale weights"):
        trainer.vllm_generation.sync_weights()


def test_scripted_engine_keeps_the_installed_trl_calling_convention():
    """If TRL changes ``VLLMGeneration``'s API, the scripted engine (and VLLMPolicy) must follow."""
    import inspect

    vllm_generation = pytest.importorskip("trl.generation.vllm_generation")
    real = vllm_generation.VLLMGeneration
    for name in ("generate", "sync_weights"):
        assert list(inspect.signature(getattr(real, name)).parameters) == \
            list(inspect.signature(getattr(ScriptedEngine, name)).parameters), name
