"""Deprecated: ``searchgym.agents`` was split into :mod:`searchgym.policies` (the ``Policy`` protocol and
policies), :mod:`searchgym.train` (samplers, TRL training, warm start, checkpoints, metrics, episode logs)
and :mod:`searchgym.eval` (evaluation reports, labelled steps).

Importing this package warns once. Its names are still exported, and every old module path
(``searchgym.agents.training`` ...) is an alias of the moved module (``MOVED``), so old code keeps working.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from searchgym._lazy import lazy_exports
from searchgym._moved import alias_modules
from searchgym.policies.policy import Completion, Message, Policy
from searchgym.policies.specs import available_policies, load_policy, register_policy
from searchgym.train.samples import Sampler, TrainingSample

if TYPE_CHECKING:
    from searchgym.models import resolve_model
    from searchgym.policies.hf_policy import HFPolicy
    from searchgym.policies.openai_policy import OpenAIPolicy
    from searchgym.policies.oracle import OraclePolicy
    from searchgym.policies.vllm_policy import VLLMPolicy
    from searchgym.train.samplers import TrajectorySampler, TruncatedStepSampler

_LAZY = {
    "HFPolicy": "searchgym.policies.hf_policy",
    "OpenAIPolicy": "searchgym.policies.openai_policy",
    "VLLMPolicy": "searchgym.policies.vllm_policy",
    "resolve_model": "searchgym.models",
    "TrajectorySampler": "searchgym.train.samplers",
    "TruncatedStepSampler": "searchgym.train.samplers",
    "OraclePolicy": "searchgym.policies.oracle",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

_POLICIES = ("policy", "hf_policy", "openai_policy", "vllm_policy", "oracle", "specs")
_TRAIN = ("samples", "samplers", "advantages", "rollout", "checkpoints", "config", "training", "warmstart", "metrics",
          "fast_logprobs", "splits", "episode_log", "report_html")
_EVAL = ("report", "labelled")
MOVED = {
    **{f"{__name__}.{m}": f"searchgym.policies.{m}" for m in _POLICIES},
    **{f"{__name__}.{m}": f"searchgym.train.{m}" for m in _TRAIN},
    **{f"{__name__}.{m}": f"searchgym.eval.{m}" for m in _EVAL},
    f"{__name__}.models": "searchgym.models",
}
alias_modules(MOVED)
warnings.warn("searchgym.agents is deprecated: import from searchgym.policies, searchgym.train or searchgym.eval",
              DeprecationWarning, stacklevel=2)


__all__ = ["Completion", "HFPolicy", "Message", "OpenAIPolicy", "OraclePolicy", "Policy", "Sampler",
           "TrainingSample", "TrajectorySampler", "TruncatedStepSampler", "VLLMPolicy", "available_policies",
           "load_policy", "register_policy", "resolve_model"]
