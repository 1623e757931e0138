"""Every exception searchgym defines derives from ``SearchgymError`` and keeps its builtin base."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import searchgym
from searchgym import SearchgymError


def _searchgym_exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(searchgym.__path__, "searchgym."):
        module = importlib.import_module(info.name)  # modules import their heavy deps lazily
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == info.name
                    and not name.startswith("_")):
                found[f"{info.name}.{name}"] = obj
    return found


def test_every_public_exception_is_a_searchgym_error():
    found = _searchgym_exceptions()
    assert len(found) >= 8  # the walk really reached the modules that define them
    assert [name for name, cls in found.items() if not issubclass(cls, SearchgymError)] == []


@pytest.mark.parametrize("path, builtin", [
    ("searchgym.corpora.reading.CorpusFormatError", ValueError),
    ("searchgym.corpora.reading.CorpusFileNotFoundError", FileNotFoundError),
    ("searchgym.corpora.spec.HubUnavailableError", RuntimeError),
    ("searchgym.judges.base.JudgeError", RuntimeError),
    ("searchgym.judges.parsing.UnparseableJudgment", ValueError),
    ("searchgym.search.base.SearchError", RuntimeError),
    ("searchgym.search.java.JavaUnavailableError", RuntimeError),
    ("searchgym.rewards.carr_import.CarrFormatError", ValueError),
])
def test_existing_except_clauses_still_catch(path, builtin):
    module, _, name = path.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    with pytest.raises(builtin):
        raise cls("boom")
    with pytest.raises(SearchgymError):
        raise cls("boom")
