"""``searchgym.agents`` was split into ``policies``, ``train`` and ``eval``: the package and every old module
path still import, as deprecated aliases (the old name is the new module) that warn once, naming the new
place."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

MODULES = {
    "policies": ("policy", "hf_policy", "openai_policy", "vllm_policy", "oracle", "specs"),
    "train": ("samples", "samplers", "advantages", "rollout", "checkpoints", "config", "training", "warmstart",
              "metrics", "fast_logprobs", "splits", "episode_log", "report_html"),
    "eval": ("report", "labelled"),
}
MOVED = {f"searchgym.agents.{m}": f"searchgym.{new}.{m}" for new, names in MODULES.items() for m in names}
MOVED["searchgym.agents.models"] = "searchgym.models"

_PROBE = """
import importlib, json, sys, warnings
def imported(name):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        exec(f"import {name}", {})  # an import statement, whose line the warning should name
    return sys.modules[name], [(w.category.__name__, str(w.message), w.filename) for w in seen]
_, package = imported("searchgym.agents")
out = {"package": package, "modules": {}}
for old, new in json.loads(sys.argv[1]).items():
    module, first = imported(old)
    _, again = imported(old)
    out["modules"][old] = {"same": module is importlib.import_module(new) and sys.modules[old] is module,
                           "first": first, "again": again}
print(json.dumps(out))
"""


def _probe() -> dict:
    # a fresh interpreter: in this one the old paths may have been imported (and have warned) already
    run = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(MOVED)], capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


def test_the_moved_table_is_the_packages():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import searchgym.agents

    assert searchgym.agents.MOVED == MOVED


def test_old_paths_alias_the_new_modules_and_warn_once():
    found = _probe()
    package = [msg for cat, msg, _ in found["package"] if cat == "DeprecationWarning"]
    assert len(package) == 1 and "searchgym.policies" in package[0] and "searchgym.train" in package[0]
    for old, new in MOVED.items():
        got = found["modules"][old]
        assert got["same"], f"{old} is not {new}"
        deprecations = [(msg, where) for cat, msg, where in got["first"] if cat == "DeprecationWarning"]
        assert len(deprecations) == 1 and new in deprecations[0][0], (old, got["first"])
        assert deprecations[0][1] == "<string>", "the warning should name the importing line"
        assert got["again"] == [], f"importing {old} a second time warned again"


def test_old_from_import_forms_still_resolve():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # warned or not: another test may have imported them
        from searchgym.agents import HFPolicy, TrajectorySampler, oracle, training  # noqa: F401
    from searchgym.policies import oracle as moved_oracle
    from searchgym.policies.hf_policy import HFPolicy as moved_policy
    from searchgym.train import training as moved_training

    assert sys.modules["searchgym.agents.oracle"] is moved_oracle
    assert sys.modules["searchgym.agents.training"] is moved_training
    assert HFPolicy is moved_policy
