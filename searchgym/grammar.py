"""The text grammar of agent turns: action tags, citations, rubric placeholders, and the one parser.

Every reader of agent text uses these patterns, so they agree on what a turn says.
A leaf module: stdlib only. See docs/architecture.md for the grammar.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar


class ActionKind(StrEnum):
    """What a turn does. A ``str``: ``ActionKind.SEARCH == "search"`` and JSON writes ``"search"``."""

    SEARCH = "search"
    OPEN = "open"
    ANSWER = "answer"
    INVALID = "invalid"  # a turn the parser (or the env) rejected; recorded, never raised


_K = TypeVar("_K", bound=StrEnum)


def kind_of(kinds: type[_K], value: object, what: str) -> _K:
    """``value`` as a member of the ``kinds`` enum; a ``ValueError`` naming ``what`` and the choices if not."""
    try:
        return kinds(value)
    except ValueError:
        raise ValueError(f"unknown {what} {value!r}; expected one of {[k.value for k in kinds]}") from None


ACTION_TAGS = (ActionKind.SEARCH.value, ActionKind.OPEN.value, ActionKind.ANSWER.value)
MAX_TURN_CHARS = 32_768  # a longer turn is rejected whole: no LLM turn worth parsing is this long
MAX_QUERY_CHARS = 1_000
MAX_ANSWER_CHARS = 2_000
MAX_DOC_ID_CHARS = 128

_NAMES = "|".join(ACTION_TAGS)
OPEN_TAG = re.compile(rf"<\s*({_NAMES})\s*>", re.IGNORECASE)
CLOSE_TAG = re.compile(rf"<\s*/\s*({_NAMES})\s*>", re.IGNORECASE)
ACTION_TAG = re.compile(rf"<\s*/?\s*({_NAMES})\s*>", re.IGNORECASE)  # an opening or a closing tag
# a whole action, opening tag to the closing tag of the same kind (any case: the backreference ignores case)
ACTION_SPAN = re.compile(rf"<\s*({_NAMES})\s*>.*?<\s*/\s*\1\s*>", re.IGNORECASE | re.DOTALL)
THINK_TAG = re.compile(r"<\s*/?\s*think\s*>", re.IGNORECASE)

_DOC_ID = rf"[^\[\]\s]{{1,{MAX_DOC_ID_CHARS}}}"
DOC_ID = re.compile(_DOC_ID)
CITATION = re.compile(rf"\[({_DOC_ID})\](?!\()")
# what ``strip_citations`` removes: a citation, even one before "(", and CaRR's ``[[4](url)]`` markdown form
CITATION_MARK = re.compile(rf"\[\[[^\[\]]*\]\([^()\s]*\)\]|\[{_DOC_ID}\]")

PLACEHOLDER = re.compile(r"<(E\d+)>")

# How judge requests render earlier turns (``JudgeRequest.context``): one line per turn, by role.
AGENT_PREFIX = "agent: "
ENV_PREFIX = "environment: "


@dataclass(frozen=True, slots=True)
class Action:
    """One parsed turn. ``error`` is set exactly when ``kind`` is ``invalid``."""

    kind: ActionKind
    query: str | None = None
    doc_id: str | None = None
    answer: str | None = None
    citations: tuple[str, ...] = ()
    reasoning: str = ""
    error: str | None = None

    @property
    def valid(self) -> bool:
        return self.kind != ActionKind.INVALID

    @property
    def argument(self) -> str | None:
        """The action's argument: the query, the document id or the answer (None when invalid)."""
        return {ActionKind.SEARCH: self.query, ActionKind.OPEN: self.doc_id,
                ActionKind.ANSWER: self.answer}.get(self.kind)


def citations_in(text: str) -> tuple[str, ...]:
    """Well-formed ``[doc_id]`` citations in ``text``, in order, without repeats."""
    return tuple(dict.fromkeys(CITATION.findall(text)))


def strip_citations(text: str) -> str:
    """``text`` without citation markers (each becomes a space)."""
    return CITATION_MARK.sub(" ", text)


def reasoning_of(text: str) -> str:
    """A turn's reasoning: its text without whole actions and ``<think>`` tags, stripped."""
    return THINK_TAG.sub(" ", ACTION_SPAN.sub(" ", text)).strip()


def strip_action_tags(text: str) -> str:
    """``text`` with every action tag (opening or closing) replaced by a space, stripped: text that
    cannot forge or break an action when put between two tags."""
    return ACTION_TAG.sub(" ", text).strip()


def _invalid(error: str, text: str = "") -> Action:
    return Action(ActionKind.INVALID, citations=citations_in(text), reasoning=reasoning_of(text), error=error)


def parse_action(text: object) -> Action:
    """Parse one agent turn (any object; non-strings are invalid) into an ``Action``; never raises."""
    if not isinstance(text, str):
        return _invalid(f"the turn must be text, got {type(text).__name__}")
    if len(text) > MAX_TURN_CHARS:
        return _invalid(f"the turn is {len(text)} characters long; keep it under {MAX_TURN_CHARS} "
                        "and end it with one action tag")
    opens = list(OPEN_TAG.finditer(text))
    closes = list(CLOSE_TAG.finditer(text))
    if not opens and not closes:
        return _invalid("no action found: end your turn with exactly one of <search>query</search>, "
                        "<open>doc_id</open> or <answer>text</answer>", text)
    if len(opens) > 1 or len(closes) > 1:
        return _invalid(f"{max(len(opens), len(closes))} action tags found: give exactly one action per turn", text)
    if not opens or not closes:
        tag = (opens or closes)[0].group(1).lower()
        missing = f"</{tag}>" if opens else f"<{tag}>"
        return _invalid(f"unclosed action: <{tag}> needs a matching {missing}", text)
    start, end = opens[0], closes[0]
    kind = ActionKind(start.group(1).lower())
    if end.start() < start.end() or end.group(1).lower() != kind:
        return _invalid(f"mismatched tags: <{kind}> must be closed by </{kind}>", text)
    body = text[start.end(): end.start()].strip()
    cites = citations_in(text)
    reasoning = reasoning_of(text)
    if kind == ActionKind.SEARCH:
        if not body:
            return _invalid("empty search: put a query between <search> and </search>", text)
        if len(body) > MAX_QUERY_CHARS:
            return _invalid(f"the query is {len(body)} characters long; keep it under {MAX_QUERY_CHARS}", text)
        return Action(kind, query=body, citations=cites, reasoning=reasoning)
    if kind == ActionKind.OPEN:
        doc_id = body[1:-1].strip() if body.startswith("[") and body.endswith("]") else body
        if not doc_id:
            return _invalid("empty open: put a document id between <open> and </open>", text)
        if not DOC_ID.fullmatch(doc_id):
            return _invalid(f"{_quote(doc_id)} is not a document id: use an id shown in search results, "
                            "e.g. <open>w0-12</open>", text)
        # the id being opened is an argument, not a citation (``<open>[w0-1]</open>`` cites nothing)
        cites = citations_in(text[: start.start()] + " " + text[end.end():])
        return Action(kind, doc_id=doc_id, citations=cites, reasoning=reasoning)
    if not CITATION.sub("", body).strip():
        return _invalid("empty answer: put your final answer between <answer> and </answer>", text)
    if len(body) > MAX_ANSWER_CHARS:
        return _invalid(f"the answer is {len(body)} characters long; keep it under {MAX_ANSWER_CHARS}", text)
    return Action(kind, answer=body, citations=cites, reasoning=reasoning)


def action_text(kind: ActionKind | str, argument: str) -> str:
    """The turn that performs one action: ``argument`` (its action tags removed) between ``kind``'s tags."""
    kind = ActionKind(kind)
    if kind == ActionKind.INVALID:
        raise ValueError("an invalid action has no text")
    return f"<{kind}>{strip_action_tags(argument)}</{kind}>"


def agent_actions(context: Iterable[str]) -> list[Action]:
    """The parsed agent turns of a judge context (its ``agent: `` lines), in order."""
    return [parse_action(line.removeprefix(AGENT_PREFIX)) for line in context if line.startswith(AGENT_PREFIX)]


def placeholder(key: str) -> str:
    """The placeholder text of an entity key: ``E1`` -> ``<E1>``."""
    return f"<{key}>"


def is_placeholder_key(key: str) -> bool:
    """Whether ``key`` names a placeholder (``E0``, ``E1``...)."""
    return PLACEHOLDER.fullmatch(placeholder(key)) is not None


def placeholders_in(text: str) -> tuple[str, ...]:
    """The placeholder keys ``text`` uses, without repeats, in numeric order (``E0``, ``E1``...)."""
    return tuple(sorted(set(PLACEHOLDER.findall(text)), key=lambda k: int(k[1:])))


def fill_placeholders(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each placeholder whose key has a non-empty value replaced by that value."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1)) or m.group(0), text)


def strip_placeholders(text: str) -> str:
    """``text`` with every placeholder replaced by a space."""
    return PLACEHOLDER.sub(" ", text)


def _quote(text: str, limit: int = 60) -> str:
    """A short printable quotation of agent text for an error message."""
    shown = text if len(text) <= limit else text[:limit] + "..."
    return repr(shown)


__all__ = [
    "ACTION_SPAN",
    "ACTION_TAG",
    "ACTION_TAGS",
    "AGENT_PREFIX",
    "CITATION",
    "CITATION_MARK",
    "CLOSE_TAG",
    "DOC_ID",
    "ENV_PREFIX",
    "MAX_ANSWER_CHARS",
    "MAX_DOC_ID_CHARS",
    "MAX_QUERY_CHARS",
    "MAX_TURN_CHARS",
    "OPEN_TAG",
    "PLACEHOLDER",
    "THINK_TAG",
    "Action",
    "ActionKind",
    "action_text",
    "agent_actions",
    "citations_in",
    "fill_placeholders",
    "is_placeholder_key",
    "kind_of",
    "parse_action",
    "placeholder",
    "placeholders_in",
    "reasoning_of",
    "strip_action_tags",
    "strip_citations",
    "strip_placeholders",
]
