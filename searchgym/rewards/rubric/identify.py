"""Which name the agent gave each placeholder (the identification step of the rubric reward)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from searchgym.grammar import strip_citations
from searchgym.records.corpus import Task
from searchgym.records.episode import Trajectory
from searchgym.records.rubric import ANSWER_ENTITY, Rubric
from searchgym.rewards.rubric.citations import agent_text
from searchgym.text import exact_match, find_name, normalize_text


def entity_names(task: Task, rubrics: Sequence[Rubric]) -> dict[str, tuple[str, ...]]:
    """Accepted names per placeholder, merged over the rubrics; ``<E0>`` always accepts the answers."""
    names: dict[str, tuple[str, ...]] = {ANSWER_ENTITY: tuple(task.answers)}
    for r in rubrics:
        for key, forms in r.names:
            names[key] = tuple(dict.fromkeys(names.get(key, ()) + forms))
    return names


def identify(trajectory: Trajectory, names: Mapping[str, Sequence[str]], *, scope: str = "trajectory",
             answer_match: str = "exact") -> dict[str, str | None]:
    """The agent's name for each placeholder, or None where it never named it.

    ``<E0>`` is the final answer when it matches an accepted answer (``answer_match``: ``"exact"``, or
    ``"contains"``: an accepted answer named in it); every other placeholder is the first accepted name
    found in the agent's text (``scope``), citations stripped.
    """
    # citations go first: "[w0-1950]" must not name the year 1950. Normalised once (idempotent).
    text = normalize_text(strip_citations(agent_text(trajectory, scope)))
    final = trajectory.final_answer
    out: dict[str, str | None] = {}
    for key, forms in names.items():
        forms = tuple(forms)
        if key == ANSWER_ENTITY:
            if final is None:
                out[key] = None
            elif answer_match == "exact":
                out[key] = strip_citations(final).strip() if exact_match(final, forms) else None
            else:
                out[key] = find_name(strip_citations(final), forms)
        else:
            out[key] = find_name(text, forms)
    return out


__all__ = ["entity_names", "identify"]
