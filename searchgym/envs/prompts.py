"""What the env says: the system prompt teaching the grammar, the question, and tool observations.

Observation formats are part of the contract with policies (the oracle reads them back with
:func:`parse_hits`): a search result block is ``[doc_id] Title\\ntext`` per hit, separated by blank
lines; an opened document is ``[doc_id] Title\\nfull text``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from searchgym.corpora.records import Document
from searchgym.search.base import Hit

SYSTEM_PROMPT = """You answer questions by searching a document collection. Facts you need are in the documents, \
not in your memory. In each turn, think briefly, then give exactly ONE action:
<search>query</search>  search the collection; you get the top results with their document ids
<open>doc_id</open>  read the full text of one document
<answer>final answer</answer>  give the final answer; this ends the episode
Cite the documents that support each fact as [doc_id], in your reasoning and in your answer, \
e.g. "Ada was born in Paris [w0-12]." Keep the final answer short: just the name, place, year or yes/no, \
followed by its citations."""

QUESTION_PREFIX = "Question: "


def question_prompt(question: str) -> str:
    """The first user message of an episode."""
    return f"{QUESTION_PREFIX}{question}"


def question_from_prompt(prompt: str) -> str:
    """The question inside a :func:`question_prompt` (the whole text when the prefix is missing)."""
    return prompt[len(QUESTION_PREFIX):] if prompt.startswith(QUESTION_PREFIX) else prompt


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + " ..."


def format_hits(query: str, hits: Sequence[Hit], passage_chars: int) -> str:
    """A search observation: one ``[doc_id] Title`` block per hit, passages cut at ``passage_chars``."""
    if not hits:
        return f"No results for {_clip(query, 200)!r}. Try other keywords."
    blocks = [f"[{h.doc_id}] {h.title}\n{_clip(' '.join(h.text.split()), passage_chars)}" for h in hits]
    return f"Results for {_clip(query, 200)!r}:\n\n" + "\n\n".join(blocks)


def format_document(doc: Document, doc_chars: int) -> str:
    """An open observation: the document's id, title and text cut at ``doc_chars``."""
    return f"[{doc.id}] {doc.title}\n{_clip(doc.text, doc_chars)}"


def format_error(error: str, turns_left: int) -> str:
    """The correction observation for an invalid turn."""
    return f"Invalid turn: {error}. {turns_left} turn(s) left."


_HIT = re.compile(r"^\[([^\[\]\s]+)\] (.*)$")


def parse_hits(observation: str) -> list[tuple[str, str, str]]:
    """``(doc_id, title, text)`` for each block of a search or open observation (for scripted policies)."""
    out: list[tuple[str, str, str]] = []
    for block in observation.split("\n\n"):
        head, _, body = block.partition("\n")
        m = _HIT.match(head)
        if m:
            out.append((m.group(1), m.group(2), body))
    return out


__all__ = ["QUESTION_PREFIX", "SYSTEM_PROMPT", "format_document", "format_error", "format_hits", "parse_hits",
           "question_from_prompt", "question_prompt"]
