"""One spec grammar and one registry per kind (corpus, searcher, judge, policy, reward).

``spec := NAME [":" BODY]``, ``BODY := [ARG] ("," KEY "=" VALUE)*``; a factory is called as
``factory(arg, **options, **kwargs)``. See docs/architecture.md.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from searchgym.errors import SearchgymError

T = TypeVar("T")
ArgPolicy = Literal["none", "optional", "required"]

_OPTION = re.compile(r"^\s*([A-Za-z_]\w*)\s*=(.*)$", re.S)


class SpecError(SearchgymError, ValueError):
    """A malformed spec string or an unknown name."""


@dataclass(frozen=True)
class Spec:
    """A parsed spec: canonical registered ``name``, positional ``arg`` (None if absent), options."""

    kind: str
    name: str
    arg: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    text: str = ""


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered factory and the part of the grammar it accepts.

    ``options``: the keys it takes (None: any ``key=value``, and then BODY holds options only);
    ``rest_option``: a key whose value runs to the end of BODY, commas included (e.g. a nested spec).
    """

    name: str
    factory: Callable[..., T]
    aliases: tuple[str, ...] = ()
    options: tuple[str, ...] | None = ()
    arg: ArgPolicy = "optional"
    rest_option: str | None = None


def _join(words: Any) -> str:
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def did_you_mean(name: str, choices: Any) -> str:
    """``" Did you mean 'x'?"`` for the closest choice (difflib), or ``""`` when none is close."""
    close = difflib.get_close_matches(name.lower(), [c.lower() for c in choices], n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


class Registry(Generic[T]):
    """Factories of one kind by name, plus the ``searchgym.<group>`` entry points of installed packages.

    ``error`` is the exception class raised for a bad spec; ``fallback`` names the entry that takes a
    spec whose name is not registered (the whole spec becomes its ``arg``), e.g. a bare model id.
    """

    def __init__(self, kind: str, group: str, *, error: type[Exception] = SpecError,
                 fallback: str | None = None, hint: str = "") -> None:
        self.kind, self.group, self.error = kind, group, error
        self.fallback, self.hint = fallback, hint
        self._entries: dict[str, Entry[T]] = {}
        self._aliases: dict[str, str] = {}

    # --- registration ------------------------------------------------------------------------
    def register(self, name: str, factory: Callable[..., T], *, aliases: tuple[str, ...] = (),
                 options: tuple[str, ...] | None = (), arg: ArgPolicy = "optional",
                 rest_option: str | None = None) -> Entry[T]:
        """Register ``factory(arg, **options, **kwargs) -> T`` under ``name`` (replaces an earlier one)."""
        if not isinstance(name, str) or not name.strip() or ":" in name:
            raise ValueError(f"a {self.kind} name must be a non-empty string without ':', got {name!r}")
        if not callable(factory):
            raise TypeError(f"the {self.kind} factory for {name!r} is not callable")
        entry = Entry(name, factory, tuple(aliases), None if options is None else tuple(options), arg, rest_option)
        self._entries[name] = entry
        for alias in (name, *aliases):
            self._aliases[alias.lower()] = name
        return entry

    def names(self) -> list[str]:
        """Canonical names: registered ones and those of entry points."""
        return sorted(set(self._entries) | {ep.name for ep in self._entry_points()})

    def canonical(self, name: str) -> str | None:
        """The canonical name of a registered name or alias (entry points not searched), else None."""
        return self._aliases.get(name.lower())

    def _entry_points(self) -> list[Any]:
        return list(entry_points(group=self.group))

    def _lookup(self, name: str) -> Entry[T] | None:
        canonical = self._aliases.get(name.lower())
        if canonical is not None:
            return self._entries[canonical]
        found = [ep for ep in self._entry_points() if ep.name == name or ep.name.lower() == name.lower()]
        if not found:
            return None
        ep = found[0]
        try:
            factory = ep.load()
        except Exception as exc:  # a broken plug-in: say which one, not a bare ImportError
            raise self.error(f"the {self.kind} entry point {ep.name!r} ({ep.value}) failed to load: "
                             f"{type(exc).__name__}: {exc}") from exc
        # an entry point's factory parses its own BODY: no options are peeled for it
        return Entry(ep.name, factory, options=())

    def entry(self, name: str) -> Entry[T]:
        """The entry registered (or published as an entry point) under ``name`` or an alias."""
        entry = self._lookup(name)
        if entry is None:
            raise self.error(self._unknown(name, name))
        return entry

    def _unknown(self, name: str, text: str) -> str:
        known = sorted(set(self._aliases) | {ep.name for ep in self._entry_points()})
        return (f"unknown {self.kind} {name!r} in spec {text!r} (known: {', '.join(self.names())}){self.hint}."
                f"{did_you_mean(name, known)}")

    # --- grammar -----------------------------------------------------------------------------
    def parse(self, text: str) -> Spec:
        """Split a spec string by the grammar of the module doc; ``self.error`` when malformed."""
        if not isinstance(text, str) or not text.strip():
            raise self.error(f"empty {self.kind} spec {text!r}{self.hint}")
        text = text.strip()
        name, _, body = text.partition(":")
        entry = self._lookup(name.strip())
        if entry is None:
            looks_like_a_typo = "/" not in text and not Path(text).expanduser().exists() and \
                did_you_mean(name.strip(), self._aliases)
            if self.fallback is None or looks_like_a_typo:
                raise self.error(self._unknown(name.strip(), text))
            entry, body = self._entries[self.fallback], text
        return Spec(self.kind, entry.name, *self._split(entry, body, text), text=text)

    def _split(self, entry: Entry[T], body: str, text: str) -> tuple[str | None, dict[str, str]]:
        rest: dict[str, str] = {}
        if entry.rest_option is not None:
            m = re.search(rf"(?:^|,)\s*{re.escape(entry.rest_option)}\s*=", body, flags=re.I)
            if m is not None:
                rest[entry.rest_option], body = body[m.end():].strip(), body[: m.start()]
        parts = body.split(",") if body.strip() else []
        options: dict[str, str] = {}
        if entry.options is None:  # options only
            for part in parts:
                m = _OPTION.match(part)
                if m is None:
                    raise self.error(f"spec {text!r}: expected key=value, got {part.strip()!r}")
                options[m.group(1).lower()] = m.group(2).strip()
            return None, {**options, **rest}
        allowed = {k.lower() for k in entry.options}
        while allowed and parts:
            m = _OPTION.match(parts[-1])
            if m is None or m.group(1).lower() not in allowed:
                break
            key = m.group(1).lower()
            if key in options:
                raise self.error(f"spec {text!r}: option {key!r} given twice")
            options[key] = m.group(2).strip()
            parts.pop()
        arg = ",".join(parts).strip()
        if arg and allowed and not Path(arg).expanduser().exists():
            m = _OPTION.match(parts[-1])
            if m is not None and "/" not in m.group(2):  # looks like an option, not part of a path
                raise self.error(f"spec {text!r}: unknown option {m.group(1)!r} for {entry.name}; {entry.name} "
                                 f"takes {_join(entry.options)}.{did_you_mean(m.group(1), entry.options)}")
        if arg and entry.arg == "none":
            raise self.error(f"spec {text!r}: {entry.name} takes no argument, got {arg!r}")
        if not arg and entry.arg == "required":
            raise self.error(f"spec {text!r}: {entry.name} needs an argument{self.hint}")
        return arg or None, {**dict(reversed(list(options.items()))), **rest}

    def build(self, spec: str | Spec, **kwargs: Any) -> T:
        """Parse ``spec`` (unless already parsed) and call its factory as ``factory(arg, **options, **kwargs)``."""
        parsed = spec if isinstance(spec, Spec) else self.parse(spec)
        factory = self._entries[parsed.name].factory if parsed.name in self._entries else self.entry(parsed.name).factory
        return factory(parsed.arg, **parsed.options, **kwargs)


__all__ = ["Entry", "Registry", "Spec", "SpecError", "did_you_mean"]
