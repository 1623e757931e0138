"""Lazy package exports: the ``TYPE_CHECKING`` imports editors follow name the same objects that the
packages load on first use, and importing the packages loads no heavy dependency."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys

import pytest

LAZY_PACKAGES = ["searchgym.agents", "searchgym.envs", "searchgym.eval", "searchgym.policies", "searchgym.rewards",
                 "searchgym.search", "searchgym.train"]
HEAVY = ["torch", "transformers", "trl", "accelerate", "pyserini", "faiss", "openai", "gymnasium", "datasets"]


def _type_checking_imports(package) -> dict[str, str]:
    """``{name: module}`` of the ``from module import name`` statements under ``if TYPE_CHECKING:``."""
    tree = ast.parse(inspect.getsource(package))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom), ast.dump(stmt)
                found.update({alias.name: stmt.module for alias in stmt.names})
    return found


@pytest.mark.parametrize("name", LAZY_PACKAGES)
def test_type_checking_imports_match_the_lazy_table(name):
    package = importlib.import_module(name)
    assert _type_checking_imports(package) == package._LAZY
    assert set(package._LAZY) <= set(package.__all__) and set(package.__all__) <= set(dir(package))


@pytest.mark.parametrize("name", LAZY_PACKAGES)
def test_every_lazy_name_loads_from_its_module(name):
    package = importlib.import_module(name)
    for attr, module in package._LAZY.items():
        value = getattr(package, attr)
        assert value is getattr(importlib.import_module(module), attr)
        assert vars(package)[attr] is value  # stored: the next access does not go through __getattr__
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        package.NoSuchName  # noqa: B018


def test_importing_the_packages_loads_no_heavy_dependency():
    code = ("import sys, searchgym, " + ", ".join(LAZY_PACKAGES)
            + f"; print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""
