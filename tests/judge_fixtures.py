"""Shared builders for the judge tests: a small task and trajectories over it."""

from __future__ import annotations

from searchgym.corpora.records import Document, Hop, Task
from searchgym.envs.trajectory import Step, Trajectory

D1 = Document("w0-1", "Velmora", "Velmora is a river town founded by the engineer Ostrik Balan in 1802.")
D2 = Document("w0-2", "Ostrik Balan", "Ostrik Balan was born in the city of Quenhall.")
TASK = Task(id="t1", question="In which city was the founder of Velmora born?", answers=("Quenhall", "Quenhall City"),
            hops=(Hop("Who founded Velmora?", "Ostrik Balan", support=("w0-1",)),
                  Hop("Where was Ostrik Balan born?", "Quenhall", support=("w0-2",))))


def search_step(think: str, query: str, hits=("w0-1",)) -> Step:
    return Step(text=f"{think} <search>{query}</search>", kind="search", query=query, hits=hits,
                observation="[w0-1] Velmora: Velmora is a river town founded by the engineer Ostrik Balan in 1802.")


def answer_step(think: str, answer: str, citations=()) -> Step:
    return Step(text=f"{think} <answer>{answer}</answer>", kind="answer", answer=answer, citations=citations)


def prefix() -> Trajectory:
    """One search done: the agent has seen D1."""
    t = Trajectory(TASK)
    return t.extend(search_step("I need the founder of Velmora first.", "Velmora founder"), (D1,))


def with_last(step: Step, base: Trajectory | None = None) -> Trajectory:
    return (base or prefix()).extend(step)
