"""Policies: the ``Policy`` protocol, its HF / OpenAI-compatible / vLLM implementations, the scripted
oracle, and policy specs (``load_policy("smollm2")``).

Heavy modules (torch, transformers, openai, vllm) load only when their classes are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from searchgym._lazy import lazy_exports
from searchgym.policies.policy import Completion, Message, Policy
from searchgym.policies.specs import available_policies, load_policy, register_policy

if TYPE_CHECKING:
    from searchgym.models import resolve_model
    from searchgym.policies.hf_policy import HFPolicy
    from searchgym.policies.openai_policy import OpenAIPolicy
    from searchgym.policies.oracle import OraclePolicy
    from searchgym.policies.vllm_policy import VLLMPolicy

_LAZY = {
    "HFPolicy": "searchgym.policies.hf_policy",
    "OpenAIPolicy": "searchgym.policies.openai_policy",
    "VLLMPolicy": "searchgym.policies.vllm_policy",
    "OraclePolicy": "searchgym.policies.oracle",
    "resolve_model": "searchgym.models",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = ["Completion", "HFPolicy", "Message", "OpenAIPolicy", "OraclePolicy", "Policy", "VLLMPolicy",
           "available_policies", "load_policy", "register_policy", "resolve_model"]
