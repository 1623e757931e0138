"""Gymnasium ids for searchgym's environments.

Gymnasium 1.x dropped entry-point plugin discovery (0.26 had a ``gymnasium.envs`` entry-point group),
so ids are registered when searchgym is imported. ``import gymnasium`` costs ~0.1 s, which
``import searchgym`` must not pay, so :func:`register_on_gymnasium_import` registers at once when
gymnasium is already imported and otherwise right after gymnasium's own import finishes.
``gym.make("searchgym:searchgym/SyntheticWorld-v0")`` also works without importing searchgym first.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys

ENV_IDS = {
    "searchgym/DeepSearch-v0": "searchgym.envs.factory:make_env",
    "searchgym/SyntheticWorld-v0": "searchgym.envs.factory:make_synthetic_env",
    "searchgym/HotpotQA-v0": "searchgym.envs.factory:make_hotpotqa_env",
    "searchgym/MuSiQue-v0": "searchgym.envs.factory:make_musique_env",
    "searchgym/2WikiMultihopQA-v0": "searchgym.envs.factory:make_twowiki_env",
}


def register_envs() -> None:
    """Register every searchgym id with gymnasium (idempotent)."""
    from gymnasium.envs.registration import register, registry

    for env_id, entry_point in ENV_IDS.items():
        if env_id not in registry:
            # no max_episode_steps: the env truncates at its own max_turns
            register(id=env_id, entry_point=entry_point)


class _AfterGymnasium(importlib.abc.MetaPathFinder):
    """Finds nothing itself; wraps gymnasium's loader so that registration runs after its import."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "gymnasium":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader_exec = spec.loader.exec_module

        def exec_module(module):
            loader_exec(module)
            register_envs()

        spec.loader.exec_module = exec_module
        return spec


def register_on_gymnasium_import() -> None:
    """Register now if gymnasium is loaded, else as soon as it is (keeps ``import searchgym`` light)."""
    if "gymnasium" in sys.modules:
        register_envs()
    elif not any(isinstance(f, _AfterGymnasium) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterGymnasium())


__all__ = ["ENV_IDS", "register_envs", "register_on_gymnasium_import"]
