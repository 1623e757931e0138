"""A labelled set of agent steps for measuring judges, built from the synthetic world.

Good steps are the oracle's (it follows the gold hops with what the env shows it); bad steps perturb
one of them: an off-topic query, a repeated query, the question restated as query or reasoning,
reasoning that names a wrong entity, a premature (guessed) answer, a wrong final answer. A judge
*approves* a step when it scores it above 0; its accuracy on a step kind is the share of labelled
steps where approval equals the label. ``benchmarks/bench_judge.py`` prints it per judge; the tests
hold the deterministic judges to floors.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from searchgym.grammar import parse_action
from searchgym.records.episode import ANSWER, OPEN, SEARCH, Trajectory
from searchgym.text import name_like_words

OFF_TOPIC = ("banana orchestra marimba music", "recipe for lemon sorbet", "weather tomorrow in the mountains")


@dataclass(frozen=True)
class LabelledStep:
    """One judged part (``component``: ``r_think``, ``r_action`` or ``r_answer``) of the last step of
    ``trajectory``, labelled good or bad; ``case`` names the oracle step or its perturbation."""

    trajectory: Trajectory
    component: str
    kind: str  # think | query | open | answer
    good: bool
    case: str


def _kind(trajectory: Trajectory, component: str) -> str:
    step = trajectory.steps[-1]
    if component == "r_think":
        return "think"
    return {SEARCH: "query", OPEN: "open", ANSWER: "answer"}.get(step.kind, "invalid")


def _derivable(task: Any) -> bool:
    """Whether each gold hop question names only what the question or earlier hops give: the oracle's
    steps are then ones an agent could take (an intersection task's hop may name a work the question
    never mentions, which only the privileged oracle knows)."""
    from searchgym.judges.gold import _content
    from searchgym.judges.rules import STOP

    known = _content(task.question) | STOP
    for hop in task.hops:
        if any(not _content(w) <= known for w in name_like_words(hop.question)):
            return False
        for name in hop.names:
            known |= _content(name)
    return True


def labelled_steps(taskset: Any, searcher: Any, *, max_tasks: int = 30, top_k: int = 3, passage_chars: int = 200,
                   max_turns: int = 8, seed: int = 0) -> list[LabelledStep]:
    """Oracle steps (good) and their perturbations (bad) on up to ``max_tasks`` tasks (module doc)."""
    from searchgym.envs import DeepSearchEnv
    from searchgym.policies.oracle import OraclePolicy

    rng = random.Random(seed)
    tasks = [t for t in taskset.tasks if t.hops and _derivable(t)][:max_tasks]
    if len(tasks) < 2:
        raise ValueError("a labelled step set needs at least two tasks with gold hops")
    def foreign(t: Any) -> list[str]:
        own = {n.lower() for h in t.hops for n in h.names} | {a.lower() for a in t.answers}
        return sorted({h.answer for u in tasks if u.id != t.id for h in u.hops
                       if h.answer.lower() not in own and h.answer not in t.question})

    others = {t.id: foreign(t) for t in tasks}
    oracle = OraclePolicy(tasks, searcher)
    env = DeepSearchEnv(tasks, searcher, max_turns=max_turns, top_k=top_k, passage_chars=passage_chars, reward=None)
    out: list[LabelledStep] = []

    def add(base: Any, turn: str, labels: dict[str, bool], case: str) -> None:
        fork = base.fork()
        fork.step(turn)
        traj = fork.trajectory
        for component, good in labels.items():
            out.append(LabelledStep(traj, component, _kind(traj, component), good, case))

    for task in tasks:
        env.reset(options={"task": task})
        earlier_queries: list[str] = []
        while not env.done:
            turn = oracle.next_turn(env.messages)
            parsed = parse_action(turn)
            reasoning, step_kind = parsed.reasoning, parsed.kind
            wrong = rng.choice(others[task.id])
            if step_kind == ANSWER and "unknown" in (parsed.answer or ""):
                break  # the oracle gave up: nothing good to label
            labels = {"r_think": True, "r_action" if step_kind != ANSWER else "r_answer": True}
            add(env, turn, labels, "oracle")
            if step_kind == SEARCH:
                add(env, f"{reasoning} <search>{rng.choice(OFF_TOPIC)}</search>", {"r_action": False}, "off_topic")
                if earlier_queries:
                    add(env, f"{reasoning} <search>{earlier_queries[-1]}</search>", {"r_action": False}, "repeat")
                    add(env, f"{task.question} <search>{task.question}</search>",
                        {"r_think": False, "r_action": False}, "restated")
            if env.turn == 0:
                add(env, f"It is probably {wrong}. <answer>{wrong}</answer>",
                    {"r_think": False, "r_answer": False}, "premature")
            uncovered = [h.answer for h in task.hops if h.answer in reasoning and h.answer not in task.question]
            if uncovered:
                add(env, turn.replace(uncovered[0], wrong), {"r_think": False}, "wrong_entity")
            if step_kind == ANSWER:
                add(env, f"{reasoning} <answer>{wrong}</answer>", {"r_answer": False}, "wrong_answer")
            if step_kind == SEARCH and parsed.query:
                earlier_queries.append(parsed.query)
            env.step(turn)
    return out


def judge_accuracy(judge: Any, items: Sequence[LabelledStep]) -> dict[str, dict[str, float]]:
    """Per step kind (and ``all``): accuracy, counts and the share of good/bad steps approved."""
    from searchgym.rewards.process import judge_all, step_requests

    requests = []
    for item in items:
        parts = dict(step_requests(item.trajectory))
        requests.append(parts[item.component])
    verdicts = judge_all(judge, requests)
    table: dict[str, dict[str, float]] = {}
    for item, verdict in zip(items, verdicts):
        approved = verdict.score > 0
        for key in (item.kind, "all"):
            row = table.setdefault(key, {"n": 0.0, "correct": 0.0, "good": 0.0, "good_approved": 0.0,
                                         "bad": 0.0, "bad_approved": 0.0})
            row["n"] += 1
            row["correct"] += float(approved == item.good)
            row["good" if item.good else "bad"] += 1
            row["good_approved" if item.good else "bad_approved"] += float(approved)
    for row in table.values():
        row["accuracy"] = row["correct"] / row["n"]
    return table


__all__ = ["LabelledStep", "judge_accuracy", "labelled_steps"]
