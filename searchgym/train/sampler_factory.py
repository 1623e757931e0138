"""``trainer -> Sampler``: the configured sampler over a fresh env, driving the trainer's own model (or its vLLM)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from searchgym.corpora.records import Task
from searchgym.train.config import TrainConfig
from searchgym.train.samples import Sampler


def make_sampler_factory(config: TrainConfig, tasks: Sequence[Task], searcher: Any, reward: Any, tokenizer: Any):
    """``trainer -> Sampler``: the configured sampler over a fresh env, driving the trainer's model."""

    def factory(trainer: Any) -> Sampler:
        from searchgym.envs import DeepSearchEnv
        from searchgym.policies.hf_policy import HFPolicy
        from searchgym.train.samplers import TrajectorySampler, TruncatedStepSampler

        if config.use_vllm:
            from searchgym.policies.vllm_policy import VLLMPolicy

            policy = VLLMPolicy(trainer, tokenizer)  # TRL's engine; sampling settings come from config.training_args
        else:
            model = trainer.accelerator.unwrap_model(trainer.model)
            # sample with the numerics the trainer scores with (bf16 autocast where the config turned it on)
            policy = HFPolicy(model, tokenizer, max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                              top_p=config.top_p, seed=config.seed + trainer.accelerator.process_index,
                              autocast_bf16=bool(trainer.args.bf16), lookup_tokens=config.lookup_tokens)
        # the sampler scores every group once; the env itself scores nothing
        env = DeepSearchEnv(tasks, searcher, max_turns=config.max_turns, top_k=config.top_k,
                            passage_chars=config.passage_chars, reward=None)
        # the sampler's advantages (the continuation it picks, the logged ones) on the scale TRL trains with (for
        # scale_rewards=batch the sampler's own stay z-scored within each group)
        scale = config.training_args.scale_rewards != "none"
        if config.sampler == "trajectory":
            return TrajectorySampler(env, policy, reward, group_size=config.group_size, tokenizer=tokenizer,
                                     scale_advantages=scale)
        return TruncatedStepSampler(env, policy, reward, k=config.group_size, max_steps=config.max_turns,
                                    temperature=config.continue_temperature, tokenizer=tokenizer,
                                    seed=config.seed + trainer.accelerator.process_index, value=config.step_value,
                                    scale_advantages=scale, redraws=config.step_redraws,
                                    train_playouts=config.train_playouts, advantage=config.step_advantage)

    return factory
