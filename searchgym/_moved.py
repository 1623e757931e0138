"""Old import paths of moved modules, kept as deprecated aliases.

A package whose modules moved calls :func:`alias_modules` with ``{old name: new name}``. Importing an old
name then gives the new module itself (one object under both names in ``sys.modules``, so attributes,
private helpers and monkeypatching through the old path all reach the real code) and issues a
``DeprecationWarning`` naming the new path, once: on the first import. The old files are gone (``git mv``),
so history follows the moved modules.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from collections.abc import Mapping
from importlib.machinery import ModuleSpec
from types import ModuleType


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        # stacklevel 2 lands in importlib's frames, which warnings skips: the warning names the importing line
        warnings.warn(f"{self.old} is deprecated: it moved to {self.new}; import it from there",
                      DeprecationWarning, stacklevel=2)
        return importlib.import_module(self.new)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module was imported under its new name."""


class _AliasFinder(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self.moved: dict[str, str] = {}

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> ModuleSpec | None:
        new = self.moved.get(fullname)
        return None if new is None else importlib.util.spec_from_loader(fullname, _AliasLoader(fullname, new))


_FINDER = _AliasFinder()


def alias_modules(moved: Mapping[str, str]) -> None:
    """Make each old module name an alias of its new module (see the module doc)."""
    _FINDER.moved.update(moved)
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


__all__ = ["alias_modules"]
