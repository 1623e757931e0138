"""Connection: the supported rubrics that a breadth-first walk from ``<E0>`` reaches through shared placeholders."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from searchgym.records.rubric import ANSWER_ENTITY


def connected_rubrics(entities: Sequence[Sequence[str]], supported: Sequence[bool]) -> set[int]:
    """Indices of supported rubrics reachable from ``<E0>`` through shared placeholders (BFS)."""
    by_entity: dict[str, list[int]] = {}
    for i, (ents, ok) in enumerate(zip(entities, supported)):
        if ok:
            for e in ents:
                by_entity.setdefault(e, []).append(i)
    reached_entities = {ANSWER_ENTITY}
    reached: set[int] = set()
    queue = deque([ANSWER_ENTITY])
    while queue:
        for i in by_entity.get(queue.popleft(), ()):
            if i in reached:
                continue
            reached.add(i)
            for e in entities[i]:
                if e not in reached_entities:
                    reached_entities.add(e)
                    queue.append(e)
    return reached


__all__ = ["connected_rubrics"]
