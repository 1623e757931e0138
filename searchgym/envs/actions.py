"""The action grammar: one agent turn of free text to a structured ``Action``; never raises.

A valid turn holds exactly one action tag, ``<search>query</search>``, ``<open>doc_id</open>`` or
``<answer>text</answer>``, with free reasoning around it (optionally inside ``<think>...</think>``).
Citations are ``[doc_id]``: a bracketed token of 1-128 characters without spaces or brackets, not
followed by ``(`` (a markdown link is not a citation). Tags are matched case-insensitively and may
carry inner spaces (``< search >``). Anything else is an invalid turn with an ``error`` saying how to
fix it; the env turns that error into the correction observation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ACTION_TAGS = ("search", "open", "answer")
MAX_TURN_CHARS = 32_768  # a longer turn is rejected whole: no LLM turn worth parsing is this long
MAX_QUERY_CHARS = 1_000
MAX_ANSWER_CHARS = 2_000
MAX_DOC_ID_CHARS = 128

_OPEN_TAG = re.compile(r"<\s*(search|open|answer)\s*>", re.IGNORECASE)
_CLOSE_TAG = re.compile(r"<\s*/\s*(search|open|answer)\s*>", re.IGNORECASE)
_THINK = re.compile(r"<\s*/?\s*think\s*>", re.IGNORECASE)
CITATION = re.compile(r"\[([^\[\]\s]{1,128})\](?!\()")
_DOC_ID = re.compile(r"[^\[\]\s]{1,128}")


@dataclass(frozen=True, slots=True)
class Action:
    """One parsed turn. ``kind`` is search | open | answer | invalid; ``error`` is set when invalid."""

    kind: str
    query: str | None = None
    doc_id: str | None = None
    answer: str | None = None
    citations: tuple[str, ...] = ()
    reasoning: str = ""
    error: str | None = None

    @property
    def valid(self) -> bool:
        return self.kind != "invalid"


def citations_in(text: str) -> tuple[str, ...]:
    """Well-formed ``[doc_id]`` citations in ``text``, in order, without repeats."""
    return tuple(dict.fromkeys(CITATION.findall(text)))


def _invalid(error: str, reasoning: str = "", citations: tuple[str, ...] = ()) -> Action:
    return Action("invalid", citations=citations, reasoning=reasoning, error=error)


def parse_action(text: object) -> Action:
    """Parse one agent turn (any object; non-strings are invalid) into an ``Action``."""
    if not isinstance(text, str):
        return _invalid(f"the turn must be text, got {type(text).__name__}")
    if len(text) > MAX_TURN_CHARS:
        return _invalid(f"the turn is {len(text)} characters long; keep it under {MAX_TURN_CHARS} "
                        "and end it with one action tag")
    opens = list(_OPEN_TAG.finditer(text))
    closes = list(_CLOSE_TAG.finditer(text))
    if not opens and not closes:
        reasoning = _THINK.sub(" ", text).strip()
        return _invalid("no action found: end your turn with exactly one of <search>query</search>, "
                        "<open>doc_id</open> or <answer>text</answer>", reasoning, citations_in(text))
    if len(opens) > 1 or len(closes) > 1:
        return _invalid(f"{max(len(opens), len(closes))} action tags found: give exactly one action per turn",
                        _THINK.sub(" ", text).strip(), citations_in(text))
    if not opens or not closes:
        tag = (opens or closes)[0].group(1).lower()
        missing = f"</{tag}>" if opens else f"<{tag}>"
        return _invalid(f"unclosed action: <{tag}> needs a matching {missing}",
                        _THINK.sub(" ", text).strip(), citations_in(text))
    start, end = opens[0], closes[0]
    kind = start.group(1).lower()
    reasoning = _THINK.sub(" ", text[: start.start()] + " " + text[end.end():]).strip()
    if end.start() < start.end() or end.group(1).lower() != kind:
        return _invalid(f"mismatched tags: <{kind}> must be closed by </{kind}>", reasoning, citations_in(text))
    body = text[start.end(): end.start()].strip()
    cites = citations_in(text)
    if kind == "search":
        if not body:
            return _invalid("empty search: put a query between <search> and </search>", reasoning, cites)
        if len(body) > MAX_QUERY_CHARS:
            return _invalid(f"the query is {len(body)} characters long; keep it under {MAX_QUERY_CHARS}",
                            reasoning, cites)
        return Action("search", query=body, citations=cites, reasoning=reasoning)
    if kind == "open":
        doc_id = body[1:-1].strip() if body.startswith("[") and body.endswith("]") else body
        if not doc_id:
            return _invalid("empty open: put a document id between <open> and </open>", reasoning, cites)
        if not _DOC_ID.fullmatch(doc_id):
            return _invalid(f"{_quote(doc_id)} is not a document id: use an id shown in search results, "
                            "e.g. <open>w0-12</open>", reasoning, cites)
        return Action("open", doc_id=doc_id, citations=cites, reasoning=reasoning)
    if not CITATION.sub("", body).strip():
        return _invalid("empty answer: put your final answer between <answer> and </answer>", reasoning, cites)
    if len(body) > MAX_ANSWER_CHARS:
        return _invalid(f"the answer is {len(body)} characters long; keep it under {MAX_ANSWER_CHARS}",
                        reasoning, cites)
    return Action("answer", answer=body, citations=cites, reasoning=reasoning)


def _quote(text: str, limit: int = 60) -> str:
    """A short printable quotation of agent text for an error message."""
    shown = text if len(text) <= limit else text[:limit] + "..."
    return repr(shown)


__all__ = ["ACTION_TAGS", "Action", "CITATION", "MAX_TURN_CHARS", "citations_in", "parse_action"]
