"""`searchgym play`: run episodes with a policy and print each trajectory readably."""

from __future__ import annotations

import argparse

from searchgym.cli._policy import POLICY_HELP, load_policy
from searchgym.search.specs import SEARCHER_HELP


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``play`` verb's options to ``parser``."""
    parser.add_argument("--corpus", default="synthetic", help="corpus spec, e.g. synthetic:passages=2000,hops=2")
    parser.add_argument("--searcher", default="bm25", help=SEARCHER_HELP)
    parser.add_argument("--policy", default="oracle", help=POLICY_HELP)
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--task-id", action="append", default=[], help="play this task (repeatable)")
    parser.add_argument("--max-turns", type=int, default=8)
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--passage-chars", type=int, default=400)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--full", action="store_true", help="print whole observations, not summaries")


def _summary(text: str, full: bool, limit: int = 300) -> str:
    if full or len(text) <= limit:
        return text
    return text[:limit].rstrip() + f" ... [{len(text) - limit} more characters]"


def print_episode(console, number: int, info: dict, reward: float, full: bool = False) -> None:
    """One episode: question, each turn (reasoning, action, observation), final and gold answers, EM."""
    from rich.panel import Panel
    from rich.text import Text

    from searchgym.text import exact_match

    trajectory = info["trajectory"]
    task = trajectory.task
    console.rule(f"episode {number}: {task.id} ({task.kind}, {len(task.hops)} hops)")
    console.print(Text.assemble(("Question: ", "bold"), task.question))
    for i, step in enumerate(trajectory.steps, start=1):
        body = Text()
        if step.reasoning:
            body.append("reasoning: ", style="dim").append(_summary(step.reasoning, full, 200) + "\n", style="dim")
        if step.kind == "search":
            body.append("search ", style="bold cyan").append(step.query or "")
        elif step.kind == "open":
            body.append("open ", style="bold cyan").append(step.doc_id or "")
        elif step.kind == "answer":
            body.append("answer ", style="bold green").append(step.answer or "")
        else:
            body.append("invalid ", style="bold red").append(step.error or "")
        if step.citations:
            body.append(f"\ncites: {', '.join(step.citations)}", style="magenta")
        if step.kind == "search":
            body.append(f"\nhits: {', '.join(step.hits) or '(none)'}", style="yellow")
        if step.kind != "answer":
            body.append("\n" + _summary(step.observation, full), style="white")
        console.print(Panel(body, title=f"turn {i}", title_align="left", expand=True))
    final = trajectory.final_answer
    em = exact_match(final, task.answers)
    console.print(Text.assemble(("Final answer: ", "bold"), str(final) if final is not None else "(none: truncated)"))
    console.print(Text.assemble(("Gold answer:  ", "bold"), " | ".join(task.answers)))
    gold = ", ".join(f"{h.answer} {list(h.support)}" for h in task.hops)
    console.print(Text.assemble(("Gold hops:    ", "bold"), gold))
    console.print(Text.assemble(("EM ", "bold"), (f"{em:.0f}", "green" if em else "red"), f"   reward {reward:.3f}"))


def run(args: argparse.Namespace) -> int:
    """Play episodes with a policy, print them and return the exit status."""
    import sys

    from rich.console import Console

    from searchgym.envs.deep_search import DeepSearchEnv
    from searchgym.envs.factory import resolve_searcher, resolve_taskset
    from searchgym.rewards.outcome import exact_match

    console = Console()
    try:
        taskset = resolve_taskset(args.corpus)
        if not taskset.tasks:
            raise ValueError(f"corpus {args.corpus!r} has no tasks")
        with console.status(f"building searcher {args.searcher!r} over {len(taskset.documents):,} documents"):
            searcher = resolve_searcher(args.searcher, taskset, progress=False)
        policy = load_policy(args.policy, tasks=taskset.tasks, max_new_tokens=args.max_new_tokens,
                             temperature=args.temperature, seed=args.seed)
        env = DeepSearchEnv(taskset.tasks, searcher, max_turns=args.max_turns, top_k=args.top_k,
                            passage_chars=args.passage_chars)
    except (ValueError, OSError, ImportError) as exc:
        print(f"searchgym play: {exc}", file=sys.stderr)
        return 2
    episodes = [{"task_id": t} for t in args.task_id] or [None] * args.episodes
    solved = 0.0
    for number, options in enumerate(episodes, start=1):
        try:
            _obs, info = env.reset(seed=args.seed + number - 1 if options is None else None, options=options)
        except ValueError as exc:
            print(f"searchgym play: {exc}", file=sys.stderr)
            return 2
        reward = 0.0
        while not env.done:
            turn = policy.generate([env.messages], n=1)[0][0].text
            _obs, reward, _term, _trunc, info = env.step(turn)
        print_episode(console, number, info, reward, args.full)
        solved += exact_match(env.trajectory.final_answer, env.trajectory.task.answers)
    console.rule(f"EM {solved / len(episodes):.3f} over {len(episodes)} episode(s)")
    return 0
