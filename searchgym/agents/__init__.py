"""Agents: the ``Policy`` protocol and its HF / OpenAI-compatible implementations, model resolution,
the trajectory and truncated step-level (SLATE) samplers, advantages, and the TRL integration.

Heavy modules (torch, transformers, openai) load only when their classes are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from searchgym._lazy import lazy_exports
from searchgym.agents.policy import Completion, Message, Policy
from searchgym.agents.samples import Sampler, TrainingSample
from searchgym.agents.specs import available_policies, load_policy, register_policy

if TYPE_CHECKING:
    from searchgym.agents.hf_policy import HFPolicy
    from searchgym.agents.models import resolve_model
    from searchgym.agents.openai_policy import OpenAIPolicy
    from searchgym.agents.oracle import OraclePolicy
    from searchgym.agents.samplers import TrajectorySampler, TruncatedStepSampler
    from searchgym.agents.vllm_policy import VLLMPolicy

_LAZY = {
    "HFPolicy": "searchgym.agents.hf_policy",
    "OpenAIPolicy": "searchgym.agents.openai_policy",
    "VLLMPolicy": "searchgym.agents.vllm_policy",
    "resolve_model": "searchgym.agents.models",
    "TrajectorySampler": "searchgym.agents.samplers",
    "TruncatedStepSampler": "searchgym.agents.samplers",
    "OraclePolicy": "searchgym.agents.oracle",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = ["Completion", "HFPolicy", "Message", "OpenAIPolicy", "OraclePolicy", "Policy", "Sampler",
           "TrainingSample", "TrajectorySampler", "TruncatedStepSampler", "VLLMPolicy", "available_policies",
           "load_policy", "register_policy", "resolve_model"]
