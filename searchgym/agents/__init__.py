"""Agents: the trajectory and truncated step-level (SLATE) samplers, advantages, the TRL integration
and evaluation reports.

The policies moved to :mod:`searchgym.policies`; their names are still exported here, and the old module
paths (``searchgym.agents.hf_policy`` ...) are deprecated aliases of the new modules (``MOVED``). Heavy modules (torch,
transformers, openai) load only when their classes are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from searchgym._lazy import lazy_exports
from searchgym._moved import alias_modules
from searchgym.agents.samples import Sampler, TrainingSample
from searchgym.policies.policy import Completion, Message, Policy
from searchgym.policies.specs import available_policies, load_policy, register_policy

if TYPE_CHECKING:
    from searchgym.agents.samplers import TrajectorySampler, TruncatedStepSampler
    from searchgym.models import resolve_model
    from searchgym.policies.hf_policy import HFPolicy
    from searchgym.policies.openai_policy import OpenAIPolicy
    from searchgym.policies.oracle import OraclePolicy
    from searchgym.policies.vllm_policy import VLLMPolicy

_LAZY = {
    "HFPolicy": "searchgym.policies.hf_policy",
    "OpenAIPolicy": "searchgym.policies.openai_policy",
    "VLLMPolicy": "searchgym.policies.vllm_policy",
    "resolve_model": "searchgym.models",
    "TrajectorySampler": "searchgym.agents.samplers",
    "TruncatedStepSampler": "searchgym.agents.samplers",
    "OraclePolicy": "searchgym.policies.oracle",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

# the policies moved to searchgym.policies: the old module paths are deprecated aliases of the new modules
MOVED = {f"{__name__}.{m}": f"searchgym.policies.{m}"
         for m in ("policy", "hf_policy", "openai_policy", "vllm_policy", "oracle", "specs")}
alias_modules(MOVED)


__all__ = ["Completion", "HFPolicy", "Message", "OpenAIPolicy", "OraclePolicy", "Policy", "Sampler",
           "TrainingSample", "TrajectorySampler", "TruncatedStepSampler", "VLLMPolicy", "available_policies",
           "load_policy", "register_policy", "resolve_model"]
