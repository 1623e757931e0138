"""HotpotQA (Yang et al., 2018) as a ``TaskSet``.

Input rows, one per question, in the published format (``hotpot_*_v1.json``, a JSON array)::

    {"_id", "question", "answer", "type": "bridge"|"comparison", "level",
     "supporting_facts": [[title, sentence index], ...],
     "context": [[title, [sentence, ...]], ...]}

or as the Hub copy ``hotpotqa/hotpot_qa`` gives them (``id``; ``supporting_facts`` as
``{"title": [...], "sent_id": [...]}``; ``context`` as ``{"title": [...], "sentences": [[...]]}``).
File rows and ``datasets`` rows go through the same :func:`hotpotqa_from_rows`.

Mapping
-------
* Corpus: every context paragraph of every loaded record, sentences joined as published (they
  carry their own leading spaces), HTML entities in titles decoded (``Tunnels &amp; Trolls``).
  Identical (title, text) passages are stored once. Id = slug of the title
  (``Kiss_and_Tell_1945_film``); a later passage with the same slug but other text gets ``-2``,
  ``-3`` ... in first-seen order, so ids are unique and deterministic for a given file.
* Task: ``id`` = the record's ``_id``, ``answers = (answer,)`` (``yes``/``no`` kept verbatim),
  ``source = "hotpotqa"``, metadata ``type``, ``level`` and ``hop_templates``.
* Hops. HotpotQA has no decomposition, so hops are a documented approximation built from the
  two supporting paragraphs (the supporting facts' titles):

  - *bridge* (``kind="chain"``): one of the two supporting paragraphs is the bridge paragraph
    ``B``, the other ``O``. ``B`` is chosen by scoring both orders: ``O``'s text names ``B``'s
    entity (+3: "the title of the supporting paragraph that the other one names"), the answer
    names ``B``'s entity (-10: the bridge is never the answer), ``B`` is not named in the question
    (+1, it is the hidden entity), ``O`` is (+1), the answer appears in ``B``'s text (+1); ties go
    to the supporting-facts order (the second title is the bridge). Hop 1's entity is ``B``'s
    entity (title without its disambiguator, full title as alias); hop 2's entity is the answer.
    Support: when the answer is ``O``'s own entity (``Kansas Song`` for "the fight song of the
    university whose main campus is in Lawrence") hop 1 is supported by ``B`` and hop 2 by ``O``;
    otherwise ``O`` (which names ``B``) supports hop 1 and ``B`` (which states the answer)
    supports hop 2.
    Hop questions: ``"Which intermediate entity does this question go through: <question>"`` and
    ``"<question> (via <bridge>)"`` (template ``"<question> (via #1)"``).
  - *comparison* (``kind="comparison"``), also used for records typed ``bridge`` whose question
    names both supporting entities and whose answer is one of them or yes/no (``Who is older,
    Annie Morton or Terry Richardson?``): one hop
    per compared entity, in supporting-facts order; its entity is the compared entity, its support
    that entity's paragraph; question ``"Find the passage about <entity> for the comparison:
    <question>"``.
  - any other number of supporting paragraphs: a chain with one hop per paragraph in
    supporting-facts order, the last resolving to the answer.

Records without an answer or supporting facts (the unlabelled test split) and records whose
supporting titles are missing from their context (the fullwiki setting) are rejected with an
error naming the file and record.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from searchgym.corpora._common import (
    CorpusFormatError,
    DocumentPool,
    facts_of,
    hop_templates_entry,
    paragraphs_of,
    read_records,
    record_error,
    tasks_from_rows,
)
from searchgym.corpora.records import Hop, Task
from searchgym.corpora.taskset import TaskSet
from searchgym.text import clean_title, display_name, is_yes_no, mentions, mentions_title, same_entity

SOURCE = "hotpotqa"


def load_hotpotqa(path: str | os.PathLike[str], *, limit: int | None = None) -> TaskSet:
    """Load a HotpotQA file (JSON array or JSON lines, optionally gzipped)."""
    return hotpotqa_from_rows(read_records(path), limit=limit, origin=str(path))


def hotpotqa_from_rows(
    rows: Iterable[Mapping[str, Any]], *, limit: int | None = None, origin: str = "hotpotqa rows"
) -> TaskSet:
    """Map HotpotQA rows (file records or ``datasets`` rows) to a ``TaskSet``."""
    return tasks_from_rows(rows, lambda row, index, pool: task_from_row(row, index, pool, origin),
                           source=SOURCE, origin=origin, limit=limit)


def _field(row: Mapping[str, Any], index: int, origin: str, *names: str) -> Any:
    for name in names:
        if name in row and row[name] is not None:
            return row[name]
    raise record_error(origin, index, row, f"missing field {names[0]!r}")


def task_from_row(row: Mapping[str, Any], index: int, pool: DocumentPool, origin: str) -> Task:
    """One HotpotQA-layout record as a ``Task``; its paragraphs go into ``pool``."""
    if not isinstance(row, Mapping):
        raise record_error(origin, index, row, "expected a JSON object")
    task_id = str(_field(row, index, origin, "_id", "id"))
    question = str(_field(row, index, origin, "question")).strip()
    answer = str(_field(row, index, origin, "answer")).strip()
    if not question:
        raise record_error(origin, index, row, "empty question")
    if not answer:
        raise record_error(origin, index, row, "empty answer (an unlabelled test split cannot be loaded)")
    try:
        paragraphs = paragraphs_of(_field(row, index, origin, "context"))
        facts = facts_of(_field(row, index, origin, "supporting_facts"))
    except ValueError as exc:
        raise record_error(origin, index, row, str(exc)) from None
    if not facts:
        raise record_error(origin, index, row, "no supporting facts")

    ids: dict[str, str] = {}
    texts: dict[str, str] = {}
    for title, sentences in paragraphs:
        text = "".join(sentences).strip()
        # a title repeated inside one record keeps its first paragraph as the one facts point to
        ids.setdefault(title, pool.add(title, text))
        texts.setdefault(title, text)

    support_titles = list(dict.fromkeys(t for t, _ in facts))
    missing = [t for t in support_titles if t not in ids]
    if missing:
        raise record_error(
            origin, index, row,
            f"supporting paragraph(s) {missing} not in the record's context "
            "(fullwiki files do not hold the gold paragraphs; use the distractor setting)",
        )

    qtype = str(row.get("type") or "")
    # Some records typed "bridge" are comparisons ("Who is older, Annie Morton or Terry
    # Richardson?"): the question names both entities and the answer is one of them or yes/no.
    disguised = (
        len(support_titles) == 2
        and all(mentions(question, display_name(t)) for t in support_titles)
        and (is_yes_no(answer) or any(same_entity(answer, t) for t in support_titles))
    )
    if qtype == "comparison" or disguised:
        kind = "comparison"
        hops, templates = _comparison_hops(question, support_titles, ids)
    elif len(support_titles) == 2:
        kind = "chain"
        hops, templates = _bridge_hops(question, answer, support_titles, ids, texts)
    else:
        kind = "chain"
        hops, templates = _chain_hops(question, answer, support_titles, ids)

    metadata = (("type", qtype), ("level", str(row.get("level") or "")), hop_templates_entry(templates))
    return Task(
        id=task_id, question=question, answers=(answer,), hops=tuple(hops),
        source=SOURCE, kind=kind, metadata=metadata,
    )


def _entity_hop(question: str, title: str, doc_id: str) -> Hop:
    name = display_name(title)
    full = clean_title(title)
    return Hop(question=question, answer=name, aliases=(full,) if full != name else (), support=(doc_id,))


def _comparison_hops(question: str, titles: list[str], ids: dict[str, str]) -> tuple[list[Hop], list[str]]:
    hops = []
    for title in titles:
        q = f"Find the passage about {display_name(title)} for the comparison: {question}"
        hops.append(_entity_hop(q, title, ids[title]))
    return hops, [h.question for h in hops]


def bridge_order(question: str, answer: str, titles: list[str], texts: dict[str, str]) -> tuple[str, str]:
    """``(other, bridge)``: which of two supporting titles is the bridge entity (see module doc)."""

    def score(other: str, bridge: str) -> int:
        s = 0
        if mentions_title(texts[other], bridge):
            s += 3
        if same_entity(answer, bridge):
            s -= 10
        if not mentions_title(question, bridge):
            s += 1
        if mentions_title(question, other):
            s += 1
        if not is_yes_no(answer) and mentions(texts[bridge], answer):
            s += 1
        return s

    first, second = titles
    # ties keep the supporting-facts order: the second title is the bridge
    if score(second, first) > score(first, second):
        return second, first
    return first, second


def _bridge_hops(
    question: str, answer: str, titles: list[str], ids: dict[str, str], texts: dict[str, str]
) -> tuple[list[Hop], list[str]]:
    other, bridge = bridge_order(question, answer, titles, texts)
    if same_entity(answer, other):
        first_support, answer_support = ids[bridge], ids[other]
    else:
        first_support, answer_support = ids[other], ids[bridge]
    hop1 = _entity_hop(f"Which intermediate entity does this question go through: {question}", bridge, first_support)
    hop2 = Hop(question=f"{question} (via {hop1.answer})", answer=answer, support=(answer_support,))
    return [hop1, hop2], [hop1.question, f"{question} (via #1)"]


def _chain_hops(question: str, answer: str, titles: list[str], ids: dict[str, str]) -> tuple[list[Hop], list[str]]:
    hops: list[Hop] = []
    templates: list[str] = []
    for i, title in enumerate(titles[:-1], start=1):
        q = f"Which entity is step {i} of this question: {question}"
        hops.append(_entity_hop(q, title, ids[title]))
        templates.append(q)
    last = f"{question} (via {', '.join(h.answer for h in hops)})" if hops else question
    hops.append(Hop(question=last, answer=answer, support=(ids[titles[-1]],)))
    refs = ", ".join(f"#{i}" for i in range(1, len(hops)))
    templates.append(f"{question} (via {refs})" if refs else question)
    return hops, templates


__all__ = ["CorpusFormatError", "bridge_order", "hotpotqa_from_rows", "load_hotpotqa", "task_from_row"]
