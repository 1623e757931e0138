"""Rubrics from gold hops: one placeholder per hop entity, one rubric per hop, grounded by its support ids."""

from __future__ import annotations

from collections.abc import Sequence

from searchgym.grammar import placeholder
from searchgym.records.corpus import Task
from searchgym.records.rubric import ANSWER_ENTITY, Rubric, placeholders
from searchgym.text import find_name, mask_names, normalize_text


def _assign_placeholders(task: Task) -> list[str]:
    """One placeholder per hop: the answer entity is E0, other distinct entities E1, E2 ... in order."""
    answer_keys = {normalize_text(a) for a in task.answers} - {""}
    seen: dict[str, str] = {}
    out: list[str] = []
    for i, hop in enumerate(task.hops):
        keys = [k for k in (normalize_text(n) for n in hop.names) if k]
        last_of_chain = task.kind == "chain" and i == len(task.hops) - 1
        if last_of_chain or any(k in answer_keys for k in keys):
            out.append(ANSWER_ENTITY)
            continue
        known = next((seen[k] for k in keys if k in seen), None)
        placeholder = known or f"E{len(set(seen.values())) + 1}"
        for k in keys:
            seen.setdefault(k, placeholder)
        out.append(placeholder)
    return out


def _mentions(text: str, names: Sequence[str]) -> bool:
    return find_name(text, names) is not None


def hop_links(task: Task) -> tuple[list[str], list[list[str]]]:
    """Each hop's placeholder and the placeholders its rubric links it to (see ``rubrics_from_task``)."""
    marks = _assign_placeholders(task)
    names = _placeholder_names(task, marks)
    links: list[list[str]] = []
    for i, (hop, mark) in enumerate(zip(task.hops, marks)):
        found: list[str] = []
        if mark != ANSWER_ENTITY and _mentions(hop.question, names[ANSWER_ENTITY]):
            found.append(ANSWER_ENTITY)
        for j in range(i):
            other = marks[j]
            # a hop depends on an earlier hop whose *hidden* entity its question names; entities the
            # task question itself names are given, not evidence (HotpotQA comparison hops embed them)
            if other not in found and other != mark and other != ANSWER_ENTITY and \
                    _mentions(hop.question, names[other]) and not _mentions(task.question, names[other]):
                found.append(other)
        if task.kind == "chain" and i > 0 and not found and marks[i - 1] != mark:
            found.append(marks[i - 1])  # hop questions that do not name their predecessor
        links.append(found)
    if task.kind != "chain":
        for i, mark in enumerate(marks):
            terminal = not any(mark in links[k] for k in range(i + 1, len(marks)))
            if terminal and mark != ANSWER_ENTITY and ANSWER_ENTITY not in links[i]:
                links[i].append(ANSWER_ENTITY)  # a branch ends in the comparison/intersection at the answer
    return marks, links


def _placeholder_names(task: Task, marks: Sequence[str]) -> dict[str, tuple[str, ...]]:
    names: dict[str, tuple[str, ...]] = {ANSWER_ENTITY: tuple(task.answers)}
    for hop, mark in zip(task.hops, marks):
        names[mark] = tuple(dict.fromkeys(names.get(mark, ()) + hop.names))
    return names


def rubrics_from_task(task: Task) -> tuple[Rubric, ...]:
    """One rubric per gold hop, grounded exactly by the hop's ``support`` ids.

    Placeholders: the answer entity is ``<E0>`` (for ``chain`` tasks the last hop's entity always
    is); every other distinct hop entity (by normalised name) gets ``<E1>``, ``<E2>`` ... in hop
    order. Hop i's rubric states "``<Ei>`` answers <hop question>" and links ``<Ei>`` to:

    * ``<E0>`` when the hop question names the answer entity;
    * each earlier hop's *hidden* entity that the hop question names (hop questions name the entity
      they start from: "Who founded Korvane Industries?"); entities the task question itself names
      are given, not links;
    * ``chain``: if nothing was found, the previous hop's entity (HotpotQA/MuSiQue-style hop
      questions that do not name it). So chain rubrics form a path that BFS from ``<E0>`` walks back
      hop by hop; a break in it cuts off every earlier hop.
    * ``comparison`` / ``intersection`` (any non-chain kind): a hop that no later hop builds on ends
      a branch, and the branches meet at the answer, so it is also linked to ``<E0>`` (comparison
      sides, intersection constraints: a star of branches around ``<E0>``).

    The rubric text masks the linked entities' names with their placeholders (appending "(given
    <Ej>)" where the question does not name one), e.g. ``"<E2> answers: Where was <E1> born?"``.
    A task without hops has no rubrics.
    """
    marks, links = hop_links(task)
    names = _placeholder_names(task, marks)
    rubrics = []
    for i, (hop, mark) in enumerate(zip(task.hops, marks)):
        question = hop.question
        for other in links[i]:
            question = mask_names(question, names[other], placeholder(other))
        question = mask_names(question, names[mark], placeholder(mark))
        text = f"{placeholder(mark)} answers: {question}"
        missing = [m for m in links[i] if placeholder(m) not in text]
        if missing:
            text += " (" + ", ".join("given " + placeholder(m) for m in missing) + ")"
        used = placeholders(text)
        rubrics.append(Rubric(text=text, support=tuple(hop.support), hop=i,
                              names=tuple((p, names[p]) for p in used if p in names)))
    return tuple(rubrics)


__all__ = ["hop_links", "rubrics_from_task"]
