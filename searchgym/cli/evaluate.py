"""`searchgym eval`: score a policy on a split (EM, F1, citations, rubric, searches) and write a report."""

from __future__ import annotations

import argparse

from searchgym.cli._policy import POLICY_HELP, load_policy, parse_policy_spec
from searchgym.corpora.spec import DEFAULT_CORPUS
from searchgym.search.specs import SEARCHER_HELP


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``eval`` verb's options to ``parser``."""
    parser.add_argument("--policy", default="smollm2", help=POLICY_HELP)
    parser.add_argument("--corpus", default=DEFAULT_CORPUS, help="corpus spec (default: the training default's)")
    parser.add_argument("--searcher", default="bm25", help=SEARCHER_HELP)
    parser.add_argument("--split", default="test", choices=("all", "train", "test"))
    parser.add_argument("--limit", type=int, default=None, help="evaluate at most this many tasks")
    parser.add_argument("--max-turns", type=int, default=4)
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--passage-chars", type=int, default=200)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    parser.add_argument("--batch-size", type=int, default=8, help="episodes played together")
    parser.add_argument("--bf16", choices=("false", "true", "auto"), default="false",
                        help="a local model computes under bf16 autocast (float32 weights): faster where the CPU "
                             "computes bf16 natively (auto: there only), and what `searchgym train --bf16 true` "
                             "samples with; false (default) keeps float32 numerics")
    parser.add_argument("--judge", default="rules",
                        help="judge spec grounding rubrics that have no gold support ids ('none' to skip)")
    parser.add_argument("--reward-config", default=None, metavar="CONFIG",
                        help="also score each episode with the training reward of this train config "
                             "(a YAML file, or 'default' for the embedded defaults); adds the reward column")
    parser.add_argument("--out", default="runs/eval", help="output directory for JSON, Markdown and plots")
    parser.add_argument("--seed", type=int, default=0)


def _bf16(choice: str) -> bool:
    if choice == "auto":
        from searchgym.policies.hf_policy import cpu_has_bf16

        return cpu_has_bf16()
    return choice == "true"


def run(args: argparse.Namespace) -> int:
    """Evaluate a policy on a split, write the report and return the exit status."""
    import sys

    from searchgym.corpora import load_taskset
    from searchgym.eval.report import evaluate, write_report
    from searchgym.train.splits import split_tasks

    try:
        parse_policy_spec(args.policy)
        taskset = load_taskset(args.corpus)
        tasks = split_tasks(taskset.tasks, args.split, args.limit)
    except (ValueError, OSError) as exc:
        print(f"searchgym eval: {exc}", file=sys.stderr)
        return 2
    if not tasks:
        print(f"searchgym eval: split {args.split!r} of {args.corpus} has no tasks", file=sys.stderr)
        return 2
    from searchgym.envs import DeepSearchEnv
    from searchgym.search import build_searcher

    searcher = build_searcher(args.searcher, taskset.documents)
    try:
        policy = load_policy(args.policy, tasks=taskset.tasks, searcher=searcher, max_new_tokens=args.max_new_tokens,
                             temperature=args.temperature, seed=args.seed, bf16=_bf16(args.bf16))
    except ValueError as exc:
        print(f"searchgym eval: {exc}", file=sys.stderr)
        return 2
    rubric = rubric_reward(args.judge)
    if any(not t.hops for t in tasks):
        how = ("judge-written rubrics" if rubric.writes else
               "n/a (give a judge that writes text: --judge openai:<model>@<url> or transformers)")
        print(f"searchgym eval: {sum(not t.hops for t in tasks)} task(s) have no gold hops: no citation recall; "
              f"rubric: {how}", file=sys.stderr)
    try:
        reward = training_reward(args.reward_config, tasks)
    except (ValueError, OSError) as exc:
        print(f"searchgym eval: --reward-config: {exc}", file=sys.stderr)
        return 2

    def make_env():
        return DeepSearchEnv(taskset.tasks, searcher, max_turns=args.max_turns, top_k=args.top_k,
                             passage_chars=args.passage_chars)

    report = evaluate(policy, make_env, tasks, policy_name=args.policy, corpus=args.corpus, split=args.split,
                      rubric_reward=rubric, reward=reward, batch_size=args.batch_size)
    paths = write_report(report, args.out)
    s = report.summary
    print(f"{int(s['episodes'])} episodes: EM {s['em']:.3f}  F1 {s['f1']:.3f}  citation P {s['citation_precision']:.3f}"
          f"  R {s['citation_recall']:.3f}  rubric {s['rubric']:.3f}  searches/ep {s['searches_per_episode']:.2f}"
          + (f"  reward {s['reward']:.3f}" if reward is not None else ""))
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    print(f"browse the episodes: searchgym view {args.out}")
    return 0


def rubric_reward(judge_spec: str | None):
    """The CaRR citation-rubric reward of the ``rubric`` column.

    Gold-hop rubrics are grounded exactly by their support ids; rubrics without gold support (data
    sets without supporting facts) by the judge. A judge failure leaves that episode's rubric unscored
    (left out of the mean), never invented. Tasks without gold hops (``qa:`` files) get rubrics
    written by the judge (``judges.rubric_generation``) when it can write text, else none: unscored.
    """
    from searchgym.rewards.rubric import CitationRubricReward, JudgeGrounder

    if not judge_spec or judge_spec == "none":
        return _HopFreeRubric(CitationRubricReward(), None)
    from searchgym.judges import load_judge

    judge = load_judge(judge_spec)
    return _HopFreeRubric(CitationRubricReward(grounder=JudgeGrounder(judge), on_judge_error="skip"), judge)


class _HopFreeRubric:
    """``gold`` for tasks with hops; for tasks without, judge-written rubrics grounded by the judge,
    or an unscored result (NaN) where no judge can write them -- never a made-up 0."""

    name = "rubric"

    def __init__(self, gold, judge) -> None:
        self.gold, self.judge = gold, judge
        self.writes = judge is not None and hasattr(judge, "complete")
        self._written: dict[str, tuple] = {}  # task id -> the judge's rubrics, written once per task

    def __call__(self, trajectory):
        import math

        from searchgym.judges.base import JudgeError
        from searchgym.rewards.base import RewardResult

        task = trajectory.task
        if task.hops:
            return self.gold(trajectory)
        if not self.writes:
            why = "no judge" if self.judge is None else f"judge {getattr(self.judge, 'name', '?')!r} cannot write text"
            return RewardResult(math.nan, {}, {"reason": f"no gold hops and {why} to write rubrics"}, scored=False)
        from searchgym.judges.rubric_generation import generate_rubrics
        from searchgym.rewards.rubric import CitationRubricReward

        if task.id not in self._written:
            try:
                self._written[task.id] = tuple(generate_rubrics(task, self.judge))
            except JudgeError as exc:
                return RewardResult(math.nan, {}, {"reason": f"rubric generation failed: {exc}"}, scored=False)
        rubrics = self._written[task.id]
        return CitationRubricReward(rubrics=lambda _task: rubrics, grounder=self.gold.grounder,
                                    on_judge_error="skip")(trajectory)


def training_reward(config_spec: str | None, tasks=()):
    """The training reward of a train config, each episode scored as a group of one (``None`` when no
    config is named); ``judge: auto`` resolves on ``tasks``."""
    if not config_spec:
        return None
    from searchgym.train.config import load_config
    from searchgym.train.training import build_reward

    return build_reward(load_config(None if config_spec == "default" else config_spec), tasks)
