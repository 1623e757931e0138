"""Modules that moved keep their old import paths as deprecated aliases: the old name is the new module
and the first import warns (DeprecationWarning), naming the new path."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

MOVED = {f"searchgym.agents.{m}": f"searchgym.policies.{m}"
         for m in ("policy", "hf_policy", "openai_policy", "vllm_policy", "oracle", "specs")}


def test_the_moved_table_is_the_packages():
    import searchgym.agents

    assert searchgym.agents.MOVED == MOVED

_PROBE = """
import importlib, json, sys, warnings
out = {}
for old, new in json.loads(sys.argv[1]).items():
    with warnings.catch_warnings(record=True) as first:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        importlib.import_module(old)
    out[old] = {"same": module is importlib.import_module(new) and sys.modules[old] is module,
                "first": [(w.category.__name__, str(w.message)) for w in first],
                "again": len(again)}
print(json.dumps(out))
"""


def test_old_paths_alias_the_new_modules_and_warn_once():
    # a fresh interpreter: in this one the old paths may have been imported (and have warned) already
    run = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(MOVED)], capture_output=True, text=True, check=True)
    found = json.loads(run.stdout)
    for old, new in MOVED.items():
        assert found[old]["same"], f"{old} is not {new}"
        deprecations = [msg for cat, msg in found[old]["first"] if cat == "DeprecationWarning"]
        assert len(deprecations) == 1 and new in deprecations[0], (old, found[old]["first"])
        assert found[old]["again"] == 0, f"importing {old} a second time warned again"


def test_old_package_attribute_paths_still_resolve():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # warned or not: another test may have imported it
        from searchgym.agents import oracle  # noqa: F401 (the from-import form of an old path)
    from searchgym.policies import oracle as moved

    assert sys.modules["searchgym.agents.oracle"] is moved
