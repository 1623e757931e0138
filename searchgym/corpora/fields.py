"""Parsing data-set fields: the row shapes that the published files (lists of pairs) and the
Hugging Face copies (columns, sometimes JSON strings) use for contexts, facts and evidence."""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from typing import Any


def _maybe_json(value: Any) -> Any:
    # Some Hub copies store nested fields as strings: JSON, or a Python literal (single quotes).
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            pass
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return value
    return value


def _columns(value: Mapping[str, Any], names: Sequence[Sequence[str]]) -> list[list[Any]]:
    cols = []
    for alternatives in names:
        for name in alternatives:
            if name in value:
                cols.append(list(value[name]))
                break
        else:
            raise ValueError(f"expected one of the keys {list(alternatives)}, found {sorted(value)}")
    if len({len(c) for c in cols}) > 1:
        raise ValueError(f"columns {[a[0] for a in names]} have different lengths")
    return cols


def _rows(value: Any, names: Sequence[Sequence[str]], *, entry: str, whole: str) -> list[tuple[Any, ...]]:
    """The columns ``names`` as rows, from a dict of columns, a list of dicts or a list of n-item lists."""
    if isinstance(value, Mapping):
        return list(zip(*_columns(value, names)))
    if not isinstance(value, list):
        raise ValueError(f"{whole}: {type(value).__name__}")
    rows = []
    for item in value:
        if isinstance(item, Mapping):
            rows.append(tuple(col[0] for col in _columns({k: [v] for k, v in item.items()}, names)))
        elif isinstance(item, (list, tuple)) and len(item) == len(names):
            rows.append(tuple(item))
        else:
            raise ValueError(f"{entry}: {str(item)[:80]}")
    return rows


def paragraphs_of(value: Any) -> list[tuple[str, list[str]]]:
    """``context`` as ``[(title, sentences)]`` from ``[[title, [sent, ...]], ...]``,
    ``{"title": [...], "sentences"|"content": [[...]]}`` or a list of such dicts."""
    value = _maybe_json(value)
    pairs = _rows(value, (("title",), ("sentences", "content")), entry="context entry is not [title, sentences]",
                  whole="context is not a list or columns")
    out = []
    for title, sentences in pairs:
        if isinstance(sentences, str):
            sentences = [sentences]
        if not isinstance(title, str) or not isinstance(sentences, list):
            raise ValueError(f"context entry is not [title, sentences]: {str((title, sentences))[:80]}")
        out.append((title, [str(s) for s in sentences]))
    return out


def facts_of(value: Any) -> list[tuple[str, int]]:
    """``supporting_facts`` as ``[(title, sentence index)]`` from any of the published shapes."""
    value = _maybe_json(value)
    if value is None:
        return []
    pairs = _rows(value, (("title",), ("sent_id", "sent_idx", "sentence_id")),
                  entry="supporting fact is not [title, sentence index]",
                  whole="supporting_facts is not a list or columns")
    return [(str(t), int(i)) for t, i in pairs]


def triples_of(value: Any) -> list[tuple[str, str, str]]:
    """2WikiMultihopQA ``evidences`` as ``[(subject, relation, object)]`` from the published
    list of triples or the Hub's ``{"fact"|"subject", "relation", "entity"|"object"}`` columns."""
    value = _maybe_json(value)
    if value is None:
        return []
    triples = _rows(value, (("fact", "subject", "head"), ("relation",), ("entity", "object", "tail")),
                    entry="evidence is not [subject, relation, object]", whole="evidences is not a list or columns")
    return [(str(s), str(r), str(o)) for s, r, o in triples]
