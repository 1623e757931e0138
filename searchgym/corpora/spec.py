"""Corpus spec strings: one short string names a task set for the CLI, configs and ``gym.make``.

Grammar (whitespace around parts is ignored; option values cannot contain commas)::

    spec      := NAME [":" BODY]
    synthetic            synthetic[:seed=1,passages=5000,tasks=100,hops=2-4,<WorldConfig field>=...]
    file kinds           hotpotqa:PATH[,limit=N]
                         musique:PATH[,limit=N][,unanswerable=keep|skip]
                         2wiki:PATH[,limit=N]
                         jsonl:CORPUS[,tasks=TASKS][,limit=N]
    questions + answers  qa:TASKS[,limit=N],corpus=CORPUS SPEC      (no gold evidence; see corpora.qa)
    hub, known data set  hotpotqa | musique | 2wiki  [":" OPTIONS]   (e.g. "hotpotqa:split=train,limit=100")
    hub, any repository  hf:REPO[:CONFIG[:SPLIT]][,format=hotpotqa|musique|2wiki][,limit=N][,split=S]

Names: ``hotpotqa`` (``hotpot``, ``hotpot_qa``), ``musique``, ``2wiki`` (``2wikimultihopqa``,
``twowiki``), ``jsonl``, ``qa``, ``synthetic``, ``hf``. Options are peeled from the right of BODY, so a
path may contain commas as long as no part after a comma looks like ``option=value``.
``hops`` takes ``3``, ``2-4`` or ``2+3+4``. ``limit`` keeps the first N tasks (after skipping
unanswerable MuSiQue records). In a ``qa`` spec ``corpus=`` must come last: it takes the rest of
the string, commas included (``qa:q.jsonl,corpus=synthetic:seed=1,passages=500``). Hub specs call ``datasets.load_dataset`` (default split
``validation``); their rows go through the same mapping code as the files.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from searchgym.corpora._common import CorpusFileNotFoundError, CorpusFormatError
from searchgym.corpora.taskset import TaskSet
from searchgym.errors import SearchgymError

ALIASES = {
    "hotpotqa": "hotpotqa", "hotpot": "hotpotqa", "hotpot_qa": "hotpotqa",
    "musique": "musique",
    "2wiki": "2wiki", "2wikimultihopqa": "2wiki", "twowiki": "2wiki", "2wikimqa": "2wiki",
    "jsonl": "jsonl", "synthetic": "synthetic", "hf": "hf", "qa": "qa",
}

# (repository, config, split) used when a known data set is named without a path
HUB_DEFAULTS: dict[str, tuple[str, str | None, str]] = {
    "hotpotqa": ("hotpotqa/hotpot_qa", "distractor", "validation"),
    "musique": ("dgslibisey/MuSiQue", None, "validation"),
    "2wiki": ("framolfese/2WikiMultihopQA", None, "validation"),
}

_OPTIONS = {
    "hotpotqa": {"limit", "split", "config"},
    "2wiki": {"limit", "split", "config"},
    "musique": {"limit", "split", "config", "unanswerable"},
    "jsonl": {"limit", "tasks"},
    "qa": {"limit"},
    "hf": {"limit", "split", "format", "unanswerable"},
}

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


_OPTION = re.compile(r"^\s*([A-Za-z_][\w]*)\s*=(.*)$", re.S)


def parse_spec(spec: str) -> Spec:
    """Parse a spec string (grammar in the module doc); ``CorpusFormatError`` if malformed."""
    if not isinstance(spec, str) or not spec.strip():
        raise CorpusFormatError(f"empty corpus spec {spec!r}; try 'synthetic' or 'hotpotqa:/path/file.json'")
    name, _, body = spec.strip().partition(":")
    kind = ALIASES.get(name.strip().lower())
    if kind is None:
        hint = f"; for a Hugging Face dataset use 'hf:{spec.strip()}'" if "/" in name else ""
        raise CorpusFormatError(
            f"unknown corpus {name.strip()!r} in spec {spec!r}; known: "
            f"{', '.join(sorted(set(ALIASES.values())))}{hint}"
        )
    corpus_spec = None
    if kind == "qa":
        m = re.search(r"(?:^|,)\s*corpus\s*=", body, flags=re.I)
        if m is not None:
            corpus_spec, body = body[m.end():].strip(), body[: m.start()]
    parts = body.split(",") if body.strip() else []
    if kind == "synthetic":
        options = {}
        for part in parts:
            m = _OPTION.match(part)
            if m is None:
                raise CorpusFormatError(f"spec {spec!r}: expected key=value, got {part.strip()!r}")
            options[m.group(1).lower()] = m.group(2).strip()
        return Spec(kind, "", options)
    allowed = _OPTIONS[kind]
    options: dict[str, str] = {}
    while parts:
        m = _OPTION.match(parts[-1])
        if m is None or m.group(1).lower() not in allowed:
            break
        key = m.group(1).lower()
        if key in options:
            raise CorpusFormatError(f"spec {spec!r}: option {key!r} given twice")
        options[key] = m.group(2).strip()
        parts.pop()
    target = ",".join(parts).strip()
    if parts and not Path(target).expanduser().exists():
        m = _OPTION.match(parts[-1])
        if m is not None and "/" not in m.group(2):
            raise CorpusFormatError(
                f"spec {spec!r}: unknown option {m.group(1)!r} for {kind}; accepted: {', '.join(sorted(allowed))}"
            )
    options = dict(reversed(list(options.items())))
    if corpus_spec is not None:
        options["corpus"] = corpus_spec
    return Spec(kind, target, options)


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
    parsed = parse_spec(spec)
    limit = _int_option(parsed, "limit", parsed.options["limit"]) if "limit" in parsed.options else None
    if parsed.kind == "synthetic":
        return _synthetic(parsed, limit)
    if parsed.kind == "hf":
        return _hub(parsed, limit)
    if parsed.kind == "qa":
        return _qa(parsed, spec, limit)
    if parsed.kind == "jsonl":
        from searchgym.corpora.jsonl import load_jsonl

        if not parsed.target:
            raise CorpusFormatError(f"spec {spec!r}: jsonl needs a corpus path, e.g. 'jsonl:/data/corpus.jsonl'")
        return load_jsonl(_existing(parsed.target, parsed.kind), _maybe_path(parsed.options.get("tasks")), limit=limit)
    if not parsed.target:
        return _hub(parsed, limit)  # a known data set named without a file: from the Hub
    if "split" in parsed.options or "config" in parsed.options:
        raise CorpusFormatError(f"spec {spec!r}: split= and config= apply to Hub specs, not to a local file")
    path = _existing(parsed.target, parsed.kind)
    mapper = _mapper(parsed.kind, parsed.options)
    from searchgym.corpora._common import read_records

    return mapper(read_records(path), limit=limit, origin=str(path))


def _qa(parsed: Spec, spec: str, limit: int | None) -> TaskSet:
    from searchgym.corpora.qa import load_qa

    example = "'qa:/data/nq_dev.jsonl,corpus=jsonl:/data/wiki18.jsonl'"
    if not parsed.target:
        raise CorpusFormatError(f"spec {spec!r}: qa needs a question/answer file, e.g. {example}")
    corpus_spec = parsed.options.get("corpus")
    if not corpus_spec:
        raise CorpusFormatError(f"spec {spec!r}: qa needs corpus=<corpus spec> (last), e.g. {example}")
    if parse_spec(corpus_spec).kind == "qa":
        raise CorpusFormatError(f"spec {spec!r}: the corpus of a qa spec cannot itself be a qa spec")
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
            fmt = ALIASES.get(fmt.lower(), fmt.lower())
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
    except ImportError as exc:  # pragma: no cover - datasets is a dependency
        raise HubUnavailableError(
            f"loading {repo!r} from the Hugging Face Hub needs the 'datasets' package ({exc}); "
            f"or pass a local file: '{kind}:/path/to/file'"
        ) from exc
    try:
        return datasets.load_dataset(repo, config, split=split)
    except (OSError, ValueError, datasets.exceptions.DatasetsError) as exc:
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


__all__ = ["HUB_DEFAULTS", "HubUnavailableError", "Spec", "detect_format", "load_taskset", "parse_hops", "parse_spec"]
