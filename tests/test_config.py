"""`searchgym train`'s configuration through TRL's TrlParser: defaults < YAML < flags, clear errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from searchgym.train.config import (
    DEFAULT_YAML_HEADER,
    TRL_DEFAULTS,
    ConfigError,
    SearchgymArgs,
    TrainConfig,
    config_yaml,
    dump_config,
    load_config,
    parse_config,
)

REPO_DEFAULT = Path(__file__).resolve().parents[1] / "configs" / "default.yaml"


def write_yaml(tmp_path: Path, values: dict) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return path


def test_the_shipped_yaml_is_the_generated_defaults():
    assert REPO_DEFAULT.read_text(encoding="utf-8") == DEFAULT_YAML_HEADER + config_yaml(TrainConfig()), (
        "configs/default.yaml is stale: python -m searchgym.train.config > configs/default.yaml")
    assert load_config(REPO_DEFAULT) == TrainConfig()
    shown = yaml.safe_load(REPO_DEFAULT.read_text(encoding="utf-8"))
    assert set(shown) == {f.name for f in dataclasses.fields(SearchgymArgs)} | set(TRL_DEFAULTS)


def test_flags_beat_yaml_and_yaml_beats_the_defaults(tmp_path):
    path = write_yaml(tmp_path, {"max_steps": 7, "sampler": "step", "learning_rate": 1e-3, "weight_decay": 0.05,
                                 "lora_r": 4})
    config = parse_config(["--config", str(path), "--max_steps", "20", "--weight_decay", "0.1"])
    assert (config.max_steps, config.sampler, config.learning_rate, config.lora_r) == (20, "step", 1e-3, 4)
    assert config.corpus == TrainConfig().corpus  # untouched keys keep the defaults
    # every TRL key is a key: it reaches TRL's own GRPOConfig and is kept in the dumped config
    assert config.training_args.weight_decay == 0.1 and config.to_dict()["weight_decay"] == 0.1
    assert config.training_args.max_steps == 20 and config.model_args.lora_r == 4
    dump_config(config, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == config


def test_the_batch_layout_is_derived_from_searchgyms_keys():
    config = TrainConfig(sampler="step", group_size=3, tasks_per_step=2, groups_per_task=2, micro_batch_size=4)
    # 12 rows per optimizer step: one generation round, scored in micro-batches of 4
    assert config.num_generations == 3 and config.groups_per_step == 4
    assert (config.per_device_train_batch_size, config.gradient_accumulation_steps,
            config.steps_per_generation) == (4, 3, 3)
    trajectory = dataclasses.replace(config, sampler="trajectory")  # derived keys follow a change
    assert (trajectory.num_generations, trajectory.per_device_train_batch_size,
            trajectory.gradient_accumulation_steps) == (3, 3, 2)  # 6 rows: the largest divisor <= 4 is 3
    whole = dataclasses.replace(config, micro_batch_size=100)
    assert (whole.per_device_train_batch_size, whole.gradient_accumulation_steps) == (12, 1)
    with pytest.raises(ConfigError, match="set by searchgym"):
        parse_config(["--gradient_accumulation_steps", "2"])
    with pytest.raises(ConfigError, match="group_size"):
        TrainConfig(num_generations=8)
    with pytest.raises(ConfigError, match="group_size"):
        parse_config(["--num_generations", "8"])


def test_unknown_keys_are_errors_with_a_suggestion(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'learning_rate'"):
        parse_config(["--config", str(write_yaml(tmp_path, {"learnin_rate": 1e-3}))])
    with pytest.raises(ConfigError, match="did you mean '--learning_rate'"):
        parse_config(["--learnin_rate", "1e-3"])
    with pytest.raises(ConfigError, match="did you mean '--max_steps'"):
        parse_config(["--max_step", "3"])  # no silent prefix match among TRL's many flags
    with pytest.raises(ConfigError, match="did you mean 'group_size'"):
        TrainConfig(group_sise=2)
    with pytest.raises(AttributeError, match="did you mean 'max_turns'"):
        TrainConfig().max_turn  # noqa: B018


def test_values_are_typed_and_checked(tmp_path):
    timed = parse_config(["--max_seconds", "600", "--resume_from_checkpoint", "latest"])
    assert timed.max_seconds == 600.0 and isinstance(timed.max_seconds, float)
    assert timed.resume_from_checkpoint == "latest"
    assert TrainConfig(resume_from_checkpoint=None).resume_from_checkpoint is None
    with pytest.raises(ConfigError, match="max_steps"):
        parse_config(["--max_steps", "lots"])
    with pytest.raises(ConfigError, match="max_steps"):  # YAML values go through the same conversion
        parse_config(["--config", str(write_yaml(tmp_path, {"max_steps": 1.5}))])
    with pytest.raises(ValueError, match="sampler"):
        TrainConfig(sampler="beam")
    with pytest.raises(ValueError, match="judge_on_error"):
        TrainConfig(judge_on_error="ignore")
    with pytest.raises(ValueError, match="vllm_gpu_memory_utilization"):
        TrainConfig(vllm_gpu_memory_utilization=1.5)
    with pytest.raises(ValueError, match="group_size"):
        TrainConfig(group_size=1)
    with pytest.raises(ValueError, match="step_value='rollout' values the step sampler"):
        TrainConfig(step_value="rollout")  # the default sampler is the trajectory one
    with pytest.raises(ValueError, match="step_value"):
        TrainConfig(sampler="step", step_value="oracle")
    with pytest.raises(ValueError, match="step_redraws draws step groups again under step_value='rollout'"):
        TrainConfig(sampler="step", step_redraws=2)  # judge verdicts of one outcome may still differ
    with pytest.raises(ValueError, match="step_redraws"):
        TrainConfig(sampler="step", step_value="rollout", step_redraws=-1)
    assert TrainConfig(sampler="step", step_value="rollout", step_redraws=3).step_redraws == 3
    with pytest.raises(ValueError, match="train_playouts trains the play-outs of step_value='rollout'"):
        TrainConfig(sampler="step", train_playouts=True)  # judge values play nothing out
    with pytest.raises(ValueError, match="train_playouts"):
        TrainConfig(step_value="judge", train_playouts=True)
    assert TrainConfig(sampler="step", step_value="rollout", train_playouts=True).train_playouts
    with pytest.raises(ConfigError, match="`model`"):
        parse_config(["--model_name_or_path", "gpt2"])
    assert TrainConfig(vllm_max_model_length=2048).vllm_max_model_length == 2048
    with pytest.raises(ConfigError, match="scale_rewards must be one of auto, group, batch, none"):
        TrainConfig(scale_rewards="std")


def test_scale_rewards_auto_leaves_rollout_step_values_on_the_reward_scale():
    """auto: TRL divides by the group's std except for step groups valued by rollouts; a value given is kept."""
    assert TrainConfig().values["scale_rewards"] == "auto"  # what the YAML shows: re-resolved for each sampler
    assert TrainConfig().training_args.scale_rewards == "group"
    assert TrainConfig(sampler="step").training_args.scale_rewards == "group"
    rollout = TrainConfig(sampler="step", step_value="rollout")
    assert rollout.training_args.scale_rewards == "none"
    assert rollout.replace(step_value="judge").training_args.scale_rewards == "group"
    assert TrainConfig(sampler="step", step_value="rollout", scale_rewards="batch").training_args.scale_rewards == "batch"
    assert TrainConfig(scale_rewards=False).training_args.scale_rewards == "none"  # TRL's boolean spelling


def test_removed_keys_say_what_replaced_them(tmp_path):
    with pytest.raises(ConfigError, match="'rewards' was removed"):
        parse_config(["--config", str(write_yaml(tmp_path, {"rewards": "outcome,rubric"}))])
    with pytest.raises(ConfigError, match="--reward_weights was removed: use judge_weight"):
        parse_config(["--reward_weights", "1"])
    with pytest.raises(ConfigError, match="'rewards' was removed"):
        TrainConfig(rewards="outcome")


def test_old_names_and_set_overrides_still_work_with_a_warning(tmp_path):
    with pytest.warns(DeprecationWarning, match="use_peft"):
        config = TrainConfig(lora=False)
    assert config.use_peft is False
    with pytest.warns(DeprecationWarning, match="use_peft"):
        assert config.lora is False
    with pytest.warns(DeprecationWarning, match="key=value"):
        old = load_config(REPO_DEFAULT, ["sampler=step", "max_steps=3", "judge=rules",
                                         "lora_target_modules=q_proj,v_proj"])
    assert (old.sampler, old.max_steps, old.judge, old.lora_target_modules) == ("step", 3, "rules", ["q_proj", "v_proj"])
    with pytest.raises(ConfigError, match="key=value"):
        load_config(None, ["max_steps"])


def test_attribute_access_reads_every_key_from_its_part():
    config = TrainConfig(top_k=5, seed=3, lora_r=4)
    for key, value in config.to_dict().items():
        assert getattr(config, key) == value, key
    assert config.top_k == 5 and config.training_args.top_k == 0  # top_k is searchgym's search hits
    assert (config.seed, config.training_args.seed, config.model_args.lora_r) == (3, 3, 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 1  # type: ignore[misc]


def test_lora_comes_from_trls_model_config():
    from searchgym.train.training import lora_config

    lora = lora_config(TrainConfig(use_peft=True, lora_r=4, lora_alpha=8))
    assert (lora.r, lora.lora_alpha, set(lora.target_modules)) == (4, 8, {"q_proj", "k_proj", "v_proj", "o_proj"})
    assert lora_config(TrainConfig(use_peft=False)) is None


def test_train_print_config_prints_the_resolved_config_and_its_reward(tmp_path, capsys):
    from searchgym.cli.main import main

    args = ["--config", str(write_yaml(tmp_path, {"sampler": "step", "max_steps": 7})), "--max_steps", "20"]
    assert main(["train", *args, "--print-config"]) == 0
    out = capsys.readouterr().out
    assert yaml.safe_load(out) == parse_config(args).to_dict()
    assert "# reward:" in out and "step groups" in out
    assert "continuation" not in out
    assert main(["train", *args, "--step_value", "rollout", "--print-config"]) == 0
    assert "the last step of one sampled continuation of it" in capsys.readouterr().out
    with pytest.warns(DeprecationWarning, match="--set"):
        assert main(["train", "--set", "judge_weight=0.5", "--print-config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["judge_weight"] == 0.5


def test_train_cli_errors_exit_2_before_anything_runs(tmp_path, capsys):
    from searchgym.cli.main import main

    assert main(["train", "--max_step", "3", "--output_dir", str(tmp_path / "run")]) == 2
    assert "did you mean '--max_steps'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
