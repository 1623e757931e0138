"""The ``--policy`` spec of ``searchgym play`` and ``searchgym eval`` (parsed and loaded by the registry)."""

from __future__ import annotations

from searchgym.policies.specs import POLICY_HELP, load_policy, parse_policy_spec

__all__ = ["POLICY_HELP", "load_policy", "parse_policy_spec"]
