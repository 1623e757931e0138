"""Environments: ``DeepSearchEnv``, the action grammar and Gymnasium registration.

``parse_action`` and the records import without gymnasium; the env classes load it on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from searchgym.envs.actions import Action, citations_in, parse_action
from searchgym.envs.registration import ENV_IDS, register_envs, register_on_gymnasium_import
from searchgym.envs.trajectory import Step, Trajectory

_LAZY = {
    "DeepSearchEnv": "searchgym.envs.deep_search",
    "EpisodeState": "searchgym.envs.deep_search",
    "UnicodeText": "searchgym.envs.spaces",
    "make_env": "searchgym.envs.factory",
    "make_synthetic_env": "searchgym.envs.factory",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'searchgym.envs' has no attribute {name!r}")


__all__ = ["Action", "ENV_IDS", "Step", "Trajectory", "citations_in", "parse_action", "register_envs",
           "register_on_gymnasium_import", *_LAZY]
