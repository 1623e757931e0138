"""What the agent stated and cited: its own text, when it first saw each document, which citations are valid."""

from __future__ import annotations

from searchgym.records.episode import OPEN, SEARCH, Trajectory


def agent_text(trajectory: Trajectory, scope: str = "trajectory") -> str:
    """The agent's own words: every turn's ``Step.text`` (or only the final turn's)."""
    steps = trajectory.steps if scope == "trajectory" else trajectory.steps[-1:]
    return "\n".join(s.text for s in steps)


def first_seen(trajectory: Trajectory) -> dict[str, int]:
    """For every seen document, the index of the turn whose observation first showed it.

    A document in ``trajectory.seen`` that no turn accounts for (shown by other means) maps to -1:
    seen from the start.
    """
    out: dict[str, int] = {}
    for i, step in enumerate(trajectory.steps):
        ids = step.hits if step.kind == SEARCH else (step.doc_id,) if step.kind == OPEN and step.doc_id else ()
        for doc_id in ids:
            out.setdefault(doc_id, i)
    seen = trajectory.seen_ids
    return {d: out.get(d, -1) for d in seen}


def check_citations(trajectory: Trajectory, scope: str = "trajectory") -> tuple[tuple[str, ...], dict[str, str]]:
    """Valid cited ids (seen, and seen before the citing turn), in order, and rejected ones with why."""
    when = first_seen(trajectory)
    start = 0 if scope == "trajectory" else max(len(trajectory.steps) - 1, 0)
    valid: dict[str, None] = {}
    rejected: dict[str, str] = {}
    for i in range(start, len(trajectory.steps)):
        for doc_id in trajectory.steps[i].citations:
            if doc_id not in when:
                rejected.setdefault(doc_id, "not seen in this episode")
            elif when[doc_id] >= i:
                rejected.setdefault(doc_id, f"cited at turn {i} before it was shown (turn {when[doc_id]})")
            else:
                valid[doc_id] = None
    for doc_id in valid:
        rejected.pop(doc_id, None)  # cited again later, once seen
    return tuple(valid), rejected


__all__ = ["agent_text", "check_citations", "first_seen"]
