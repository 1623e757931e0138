"""Lazy package exports: a name is imported from its module on first use, so importing a package
never loads torch, transformers, gymnasium or an engine it may not need.

Each package pairs this with ``if TYPE_CHECKING:`` imports of the same names, which editors and
type checkers follow (go-to-definition works); ``tests/test_lazy_exports.py`` checks the two agree.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` of ``package``, where ``exports`` maps each
    lazy name to the module that defines it. A loaded name is stored in the package, so the import
    happens once."""
    exports = dict(exports)

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__


__all__ = ["lazy_exports"]
