"""Corpus spec strings: one short string names a task set for the CLI, configs and ``gym.make``.

The grammar is :mod:`searchgym.registry`'s (``NAME[:BODY]``, options peeled from the right).
See docs/datasets.md for every corpus kind and its options.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from searchgym.corpora.reading import CorpusFileNotFoundError, CorpusFormatError
from searchgym.corpora.taskset import TaskSet
from searchgym.errors import SearchgymError
from searchgym.registry import Registry
from searchgym.registry import Spec as RegistrySpec

# (repository, config, split) used when a known data set is named without a path
HUB_DEFAULTS: dict[str, tuple[str, str | None, str]] = {
    "hotpotqa": ("hotpotqa/hotpot_qa", "distractor", "validation"),
    "musique": ("dgslibisey/MuSiQue", None, "validation"),
    "2wiki": ("framolfese/2WikiMultihopQA", None, "validation"),
}

# the world `searchgym train` and `searchgym eval` use by default, and benchmarks/bench_learning.py's:
# 125 training and 35 held-out tasks over 500 passages
DEFAULT_CORPUS = "synthetic:seed=0,passages=500,tasks=160,hops=2"

# short synthetic option names -> WorldConfig fields
SYNTHETIC_KEYS = {"passages": "num_passages", "tasks": "num_tasks", "n": "num_passages"}


class HubUnavailableError(SearchgymError, RuntimeError):
    """``datasets.load_dataset`` could not provide the data set (no network, no such repo...)."""


@dataclass(frozen=True)
class Spec:
    """A parsed spec: canonical ``kind``, ``target`` (path or hub repo, may be empty), options."""

    kind: str
    target: str = ""
    options: Mapping[str, str] = field(default_factory=dict)


CORPORA: Registry[TaskSet] = Registry(
    "corpus", "searchgym.corpora", error=CorpusFormatError,
    hint="; try 'synthetic' or 'hotpotqa:/path/file.json'")


def register_corpus(name: str, factory: Callable[..., TaskSet], **grammar: Any) -> None:
    """Register ``factory(arg, **options) -> TaskSet`` under ``name`` (see :class:`searchgym.registry.Registry`)."""
    CORPORA.register(name, factory, **grammar)


def available_corpora() -> list[str]:
    """Names of built-in, registered and entry-point (``searchgym.corpora``) corpora."""
    return CORPORA.names()


def _parse(spec: str) -> RegistrySpec:
    name = spec.strip().partition(":")[0] if isinstance(spec, str) else ""
    if "/" in name and CORPORA.canonical(name) is None:
        raise CorpusFormatError(f"unknown corpus {name!r} in spec {spec!r}; for a Hugging Face dataset use "
                                f"'hf:{spec.strip()}'")
    return CORPORA.parse(spec)


def parse_spec(spec: str) -> Spec:
    """Parse a spec string (grammar in the module doc); ``CorpusFormatError`` if malformed."""
    parsed = _parse(spec)
    return Spec(parsed.name, parsed.arg or "", parsed.options)


def _int_option(spec: Spec, key: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise CorpusFormatError(f"{spec.kind} spec: option {key}={raw!r} is not an integer") from None
    if value < 0:
        raise CorpusFormatError(f"{spec.kind} spec: option {key}={raw!r} must not be negative")
    return value


def _bool(raw: str, *, key: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "keep", "include", "on"}:
        return True
    if value in {"0", "false", "no", "skip", "drop", "off"}:
        return False
    raise CorpusFormatError(f"option {key}={raw!r}: expected keep/skip (or true/false)")


def parse_hops(raw: str) -> tuple[int, ...]:
    """``"3"`` -> (3,), ``"2-4"`` -> (2, 3, 4), ``"2+4"`` or ``"2|4"`` -> (2, 4)."""
    text = raw.strip()
    try:
        if re.fullmatch(r"\d+\s*-\s*\d+", text):
            lo, hi = (int(x) for x in text.split("-"))
            if lo > hi:
                raise ValueError
            return tuple(range(lo, hi + 1))
        values = tuple(int(x) for x in re.split(r"[+|;/ ]+", text) if x)
        if not values:
            raise ValueError
        return values
    except ValueError:
        raise CorpusFormatError(f"hops={raw!r}: expected a number, a range like 2-4 or a list like 2+3+4") from None


def load_taskset(spec: str) -> TaskSet:
    """The ``TaskSet`` a spec string names (grammar in :mod:`searchgym.corpora.spec`)."""
    taskset = CORPORA.build(_parse(spec))
    if not (hasattr(taskset, "tasks") and hasattr(taskset, "documents")):
        raise TypeError(f"corpus {spec!r} built a {type(taskset).__name__}, not a TaskSet")
    return taskset


def _builtin(kind: str) -> Callable[..., TaskSet]:
    def load(arg: str | None, **options: str) -> TaskSet:
        return _load(Spec(kind, arg or "", options))

    load.__name__ = load.__qualname__ = f"load_{kind}_spec"
    return load


def _load(parsed: Spec) -> TaskSet:
    limit = _int_option(parsed, "limit", parsed.options["limit"]) if "limit" in parsed.options else None
    if parsed.kind == "synthetic":
        return _synthetic(parsed, limit)
    if parsed.kind == "hf":
        return _hub(parsed, limit)
    if parsed.kind == "qa":
        return _qa(parsed, limit)
    if parsed.kind == "jsonl":
        from searchgym.corpora.jsonl import load_jsonl

        if not parsed.target:
            raise CorpusFormatError("jsonl spec: jsonl needs a corpus path, e.g. 'jsonl:/data/corpus.jsonl'")
        return load_jsonl(_existing(parsed.target, parsed.kind), _maybe_path(parsed.options.get("tasks")), limit=limit)
    if not parsed.target:
        return _hub(parsed, limit)  # a known data set named without a file: from the Hub
    if "split" in parsed.options or "config" in parsed.options:
        raise CorpusFormatError(f"{parsed.kind} spec {parsed.target!r}: split= and config= apply to Hub specs, "
                                "not to a local file")
    path = _existing(parsed.target, parsed.kind)
    mapper = _mapper(parsed.kind, parsed.options)
    from searchgym.corpora.reading import read_records

    return mapper(read_records(path), limit=limit, origin=str(path))


def _qa(parsed: Spec, limit: int | None) -> TaskSet:
    from searchgym.corpora.qa import load_qa

    example = "'qa:/data/nq_dev.jsonl,corpus=jsonl:/data/wiki18.jsonl'"
    if not parsed.target:
        raise CorpusFormatError(f"qa spec: qa needs a question/answer file, e.g. {example}")
    corpus_spec = parsed.options.get("corpus")
    if not corpus_spec:
        raise CorpusFormatError(f"qa spec {parsed.target!r}: qa needs corpus=<corpus spec> (last), e.g. {example}")
    if parse_spec(corpus_spec).kind == "qa":
        raise CorpusFormatError(f"qa spec {parsed.target!r}: the corpus of a qa spec cannot itself be a qa spec")
    path = _existing(parsed.target, "qa")
    return load_qa(path, load_taskset(corpus_spec), limit=limit)


def _maybe_path(raw: str | None) -> Path | None:
    return None if raw is None else _existing(raw, "tasks")


def _existing(raw: str, kind: str) -> Path:
    path = Path(raw).expanduser()
    if path.is_file():
        return path
    hint = ""
    if not path.exists() and re.fullmatch(r"[\w.-]+/[\w.-]+", raw):
        hint = f"; for a Hugging Face dataset use 'hf:{raw}'"
    if not path.exists():
        raise CorpusFileNotFoundError(f"{kind} spec: {path} not found{hint}")
    raise CorpusFormatError(f"{kind} spec: {path} is not a file")


def _mapper(kind: str, options: Mapping[str, str]) -> Callable[..., TaskSet]:
    from searchgym.corpora.hotpotqa import hotpotqa_from_rows
    from searchgym.corpora.musique import musique_from_rows
    from searchgym.corpora.twowiki import twowiki_from_rows

    if kind == "hotpotqa":
        return hotpotqa_from_rows
    if kind == "2wiki":
        return twowiki_from_rows
    if kind == "musique":
        keep = _bool(options["unanswerable"], key="unanswerable") if "unanswerable" in options else False

        def musique(rows: Iterable[Mapping[str, Any]], **kw: Any) -> TaskSet:
            return musique_from_rows(rows, include_unanswerable=keep, **kw)

        return musique
    raise CorpusFormatError(f"no row mapping for {kind!r}; use format=hotpotqa, musique or 2wiki")


def detect_format(row: Mapping[str, Any]) -> str:
    """Which data set a row comes from, by its fields."""
    if "question_decomposition" in row or "paragraphs" in row:
        return "musique"
    if "evidences" in row:
        return "2wiki"
    if "context" in row and "supporting_facts" in row:
        return "hotpotqa"
    raise CorpusFormatError(
        f"cannot tell the data set of a row with fields {sorted(row)}; add format=hotpotqa, musique or 2wiki"
    )


def _hub(parsed: Spec, limit: int | None) -> TaskSet:
    opts = dict(parsed.options)
    if parsed.kind == "hf":
        if not parsed.target:
            raise CorpusFormatError("hf spec needs a repository, e.g. 'hf:hotpotqa/hotpot_qa:distractor:validation'")
        repo, *rest = parsed.target.split(":")
        if len(rest) > 2:
            raise CorpusFormatError(f"hf spec {parsed.target!r}: expected REPO[:CONFIG[:SPLIT]]")
        config = (rest[0] or None) if rest else None
        split = rest[1] if len(rest) > 1 and rest[1] else opts.get("split", "validation")
        fmt = opts.get("format")
        if fmt is not None:
            fmt = CORPORA.canonical(fmt) or fmt.lower()
        else:
            lowered = repo.lower()
            fmt = next((k for k, key in (("hotpotqa", "hotpot"), ("musique", "musique"), ("2wiki", "2wiki")) if key in lowered), None)
    else:
        repo, config, split = HUB_DEFAULTS[parsed.kind]
        config = opts.get("config", config)
        split = opts.get("split", split)
        fmt = parsed.kind
    if fmt is not None and fmt not in HUB_DEFAULTS:
        raise CorpusFormatError(f"format={fmt!r}: expected hotpotqa, musique or 2wiki")
    dataset = _load_dataset(repo, config, split, parsed.kind)
    if fmt is None:
        first = next(iter(dataset), None)
        if first is None:
            return TaskSet(name=repo, tasks=[], documents=[])
        fmt = detect_format(first)
    origin = f"hf:{repo}" + (f":{config}" if config else "") + f":{split}"
    return _mapper(fmt, opts)(dataset, limit=limit, origin=origin)


def _load_dataset(repo: str, config: str | None, split: str, kind: str) -> Any:
    try:
        import datasets
        from datasets.exceptions import DatasetsError
    except ImportError as exc:  # pragma: no cover - datasets is a dependency
        raise HubUnavailableError(
            f"loading {repo!r} from the Hugging Face Hub needs the 'datasets' package ({exc}); "
            f"or pass a local file: '{kind}:/path/to/file'"
        ) from exc
    try:
        return datasets.load_dataset(repo, config, split=split)
    except (OSError, ValueError, DatasetsError) as exc:
        # ConnectionError (offline), DatasetNotFoundError (no such repo), unknown split/config
        local = "hotpotqa:/path/hotpot_dev_distractor_v1.json" if kind in ("hf", "hotpotqa") else f"{kind}:/path/to/file"
        raise HubUnavailableError(
            f"could not load {repo!r} (config {config!r}, split {split!r}) from the Hugging Face Hub: "
            f"{type(exc).__name__}: {exc}. If the Hub is unreachable, download the data set's file and "
            f"pass it as a local file instead, e.g. '{local}'."
        ) from exc


_SYNTHETIC_INTS = {"seed", "num_passages", "num_tasks"}


def _synthetic(parsed: Spec, limit: int | None) -> TaskSet:
    # the values we know are checked before the generator is imported
    for key, raw in parsed.options.items():
        name = SYNTHETIC_KEYS.get(key, key)
        if name == "hops":
            parse_hops(raw)
        elif name in _SYNTHETIC_INTS:
            _int_option(parsed, key, raw)
    from searchgym.corpora.synthetic import WorldConfig, generate_world  # written by the synthetic team

    kwargs: dict[str, Any] = {}
    fields = {f.name: f for f in dataclasses.fields(WorldConfig)} if dataclasses.is_dataclass(WorldConfig) else {}
    for key, raw in parsed.options.items():
        if key == "limit":
            continue
        name = SYNTHETIC_KEYS.get(key, key)
        if fields and name not in fields:
            accepted = sorted({*SYNTHETIC_KEYS, *fields} - set(SYNTHETIC_KEYS.values()))
            raise CorpusFormatError(f"synthetic spec: unknown option {key!r}; accepted: {', '.join(accepted)}")
        kwargs[name] = _coerce(name, raw, fields.get(name))
    taskset = generate_world(WorldConfig(**kwargs))
    if limit is not None:
        taskset = TaskSet(name=taskset.name, tasks=list(taskset.tasks)[:limit], documents=taskset.documents)
    return taskset


def _coerce(name: str, raw: str, fld: dataclasses.Field[Any] | None) -> Any:
    if name == "hops":
        return parse_hops(raw)
    if name in _SYNTHETIC_INTS:
        return int(raw)
    default = None
    if fld is not None:
        if fld.default is not dataclasses.MISSING:
            default = fld.default
        elif fld.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = fld.default_factory()  # type: ignore[misc]
    try:
        if isinstance(default, bool):
            return _bool(raw, key=name)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, tuple):
            return parse_hops(raw) if all(isinstance(x, int) for x in default) else tuple(raw.split("+"))
        if isinstance(default, str):
            return raw
        return int(raw)
    except ValueError:
        raise CorpusFormatError(f"synthetic spec: {name}={raw!r} is not a valid value") from None


_FILE_OPTIONS = ("limit", "split", "config")
CORPORA.register("hotpotqa", _builtin("hotpotqa"), aliases=("hotpot", "hotpot_qa"), options=_FILE_OPTIONS)
CORPORA.register("musique", _builtin("musique"), options=(*_FILE_OPTIONS, "unanswerable"))
CORPORA.register("2wiki", _builtin("2wiki"), aliases=("2wikimultihopqa", "twowiki", "2wikimqa"), options=_FILE_OPTIONS)
CORPORA.register("jsonl", _builtin("jsonl"), options=("limit", "tasks"))
CORPORA.register("qa", _builtin("qa"), options=("limit",), rest_option="corpus")
CORPORA.register("synthetic", _builtin("synthetic"), options=None, arg="none")
CORPORA.register("hf", _builtin("hf"), options=("limit", "split", "format", "unanswerable"))

__all__ = ["CORPORA", "HUB_DEFAULTS", "available_corpora", "register_corpus", "HubUnavailableError", "Spec", "detect_format", "load_taskset", "parse_hops", "parse_spec"]
