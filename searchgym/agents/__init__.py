"""Agents: the ``Policy`` protocol and its HF / OpenAI-compatible implementations, model resolution,
the trajectory and truncated step-level (SLATE) samplers, advantages, and the TRL integration.

Heavy modules (torch, transformers, openai) load only when their classes are used.
"""

from __future__ import annotations

import importlib
from typing import Any

from searchgym.agents.policy import Completion, Message, Policy
from searchgym.agents.samples import Sampler, TrainingSample
from searchgym.agents.specs import available_policies, load_policy, register_policy

_LAZY = {
    "HFPolicy": "searchgym.agents.hf_policy",
    "OpenAIPolicy": "searchgym.agents.openai_policy",
    "VLLMPolicy": "searchgym.agents.vllm_policy",
    "resolve_model": "searchgym.agents.models",
    "TrajectorySampler": "searchgym.agents.samplers",
    "TruncatedStepSampler": "searchgym.agents.samplers",
    "OraclePolicy": "searchgym.agents.oracle",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'searchgym.agents' has no attribute {name!r}")


__all__ = ["Completion", "Message", "Policy", "Sampler", "TrainingSample", "available_policies", "load_policy",
           "register_policy", *_LAZY]
