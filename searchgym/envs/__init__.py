"""Environments: ``DeepSearchEnv``, the action grammar and Gymnasium registration.

``parse_action`` and the records import without gymnasium; the env classes load it on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from searchgym._lazy import lazy_exports
from searchgym.envs.actions import Action, citations_in, parse_action
from searchgym.envs.registration import ENV_IDS, register_envs, register_on_gymnasium_import
from searchgym.envs.trajectory import Step, Trajectory

if TYPE_CHECKING:
    from searchgym.envs.deep_search import DeepSearchEnv, EpisodeState
    from searchgym.envs.factory import make_env, make_synthetic_env
    from searchgym.envs.spaces import UnicodeText

_LAZY = {
    "DeepSearchEnv": "searchgym.envs.deep_search",
    "EpisodeState": "searchgym.envs.deep_search",
    "UnicodeText": "searchgym.envs.spaces",
    "make_env": "searchgym.envs.factory",
    "make_synthetic_env": "searchgym.envs.factory",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = ["Action", "DeepSearchEnv", "ENV_IDS", "EpisodeState", "Step", "Trajectory", "UnicodeText",
           "citations_in", "make_env", "make_synthetic_env", "parse_action", "register_envs",
           "register_on_gymnasium_import"]
