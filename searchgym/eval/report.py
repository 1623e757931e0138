"""Evaluation of a policy over a split: episodes, per-episode scores, a summary and a report on disk.

Scores: exact match, token F1, citation precision/recall, rubric satisfaction, searches and steps.
See docs/training.md (Evaluation) for the conventions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from searchgym._io import atomic_path, atomic_write_text
from searchgym.corpora.records import Task
from searchgym.train.episode_log import EPISODES_SUFFIX


@dataclass(frozen=True)
class EpisodeScore:
    """The scores of one evaluated episode."""

    task_id: str
    question: str
    answers: tuple[str, ...]
    prediction: str | None
    em: float
    f1: float
    citation_precision: float
    citation_recall: float | None
    rubric: float | None
    searches: int
    steps: int
    invalid: int
    reward: float | None = None
    cited: tuple[str, ...] = ()
    gold_support: tuple[str, ...] = ()
    answer_shown: bool | None = None  # see answer_shown(); None for yes/no tasks


@dataclass(frozen=True)
class EvalReport:
    """Every episode's scores and their means."""

    policy: str
    corpus: str
    split: str
    episodes: tuple[EpisodeScore, ...]
    summary: Mapping[str, float] = field(default_factory=dict)
    records: tuple[Mapping[str, Any], ...] = ()  # episode_record() of each episode, same order


def citation_scores(cited: Sequence[str], gold: Sequence[str]) -> tuple[float, float | None]:
    """(precision, recall) of cited ids against gold support ids; see the module conventions."""
    cited_set, gold_set = set(cited), set(gold)
    hits = len(cited_set & gold_set)
    precision = hits / len(cited_set) if cited_set else 0.0
    recall = hits / len(gold_set) if gold_set else None
    return precision, recall


def answer_shown(trajectory: Any) -> bool | None:
    """Whether a gold answer was in front of the agent: stated, as whole tokens, in what one of its valid turns
    returned (search hits as shown, or an opened page). Separates not finding the answer (a search failure)
    from finding it and answering something else (a reading failure). ``None`` for yes/no answers, which no
    passage states."""
    from searchgym.text import find_name, is_yes_no

    answers = [a for a in trajectory.task.answers if a.strip()]
    if not answers or any(is_yes_no(a) for a in answers):
        return None
    return any(s.valid and s.observation and find_name(s.observation, answers) is not None for s in trajectory.steps)


def score_trajectory(trajectory: Any, rubric_reward: Callable[[Any], Any] | None = None,
                     reward: Callable[[Any], Any] | None = None) -> EpisodeScore:
    """Score one finished (or truncated) episode; ``reward`` (the training reward) adds its value."""
    return score_episode(trajectory, rubric_reward, reward)[0]


def score_episode(trajectory: Any, rubric_reward: Callable[[Any], Any] | None = None,
                  reward: Callable[[Any], Any] | None = None) -> tuple[EpisodeScore, dict[str, Any]]:
    """The episode's scores and its whole record (``episode_record``) for the HTML report."""
    from searchgym.rewards.outcome import exact_match, f1_score
    from searchgym.train.episode_log import episode_record

    task: Task = trajectory.task
    prediction = trajectory.final_answer
    text = prediction or ""
    precision, recall = citation_scores(trajectory.cited_ids, task.support_ids)
    rubric_result = rubric_reward(trajectory) if rubric_reward is not None else None
    reward_result = reward(trajectory) if reward is not None else None
    rubric = float(rubric_result.value) if rubric_result is not None else None
    score = EpisodeScore(
        task_id=task.id,
        question=task.question,
        answers=tuple(task.answers),
        prediction=prediction,
        em=float(exact_match(text, task.answers)) if prediction is not None else 0.0,
        f1=float(f1_score(text, task.answers)) if prediction is not None else 0.0,
        citation_precision=precision,
        citation_recall=recall,
        rubric=rubric,
        searches=int(trajectory.num_searches),
        steps=len(trajectory.steps),
        invalid=int(trajectory.num_invalid),
        reward=float(reward_result.value) if reward_result is not None else None,
        cited=tuple(trajectory.cited_ids),
        gold_support=tuple(task.support_ids),
        answer_shown=answer_shown(trajectory),
    )
    record = episode_record(trajectory, rubric=rubric_result, reward=reward_result,
                            extra={"citation_precision": precision, "citation_recall": recall})
    return score, record


def _mean(values: Sequence[float | None]) -> float:
    kept = [v for v in values if v is not None and not math.isnan(v)]
    return sum(kept) / len(kept) if kept else float("nan")


def summarize(scores: Sequence[EpisodeScore]) -> dict[str, float]:
    """Means over episodes (NaN when nothing could be measured)."""
    return {
        "episodes": float(len(scores)),
        "em": _mean([s.em for s in scores]),
        "f1": _mean([s.f1 for s in scores]),
        "citation_precision": _mean([s.citation_precision for s in scores]),
        "citation_recall": _mean([s.citation_recall for s in scores]),
        "recall_tasks": float(sum(1 for s in scores if s.citation_recall is not None)),
        "rubric": _mean([s.rubric for s in scores]),
        "reward": _mean([s.reward for s in scores]),
        "answered": _mean([1.0 if s.prediction is not None else 0.0 for s in scores]),
        "searches_per_episode": _mean([float(s.searches) for s in scores]),
        "steps_per_episode": _mean([float(s.steps) for s in scores]),
        "invalid_per_episode": _mean([float(s.invalid) for s in scores]),
        # found vs read: how often the answer was shown to the agent, and its EM in those episodes
        "answer_shown": _mean([float(s.answer_shown) if s.answer_shown is not None else None for s in scores]),
        "em_when_shown": _mean([s.em for s in scores if s.answer_shown]),
        # share of all turns that were valid actions (a pooled rate, not a mean of per-episode rates)
        "valid_turns": (1.0 - sum(s.invalid for s in scores) / steps) if (steps := sum(s.steps for s in scores))
        else float("nan"),
    }


COMPARED = ("em", "f1", "citation_precision", "answered", "valid_turns", "searches_per_episode", "answer_shown",
            "em_when_shown")


def comparison_table(summaries: Mapping[str, Mapping[str, float]], metrics: Sequence[str] = COMPARED) -> str:
    """A Markdown table of eval summaries side by side (one row per name, in order), each metric's change
    from the first row in parentheses: the before/after view of a training run."""
    names = list(summaries)
    if not names:
        raise ValueError("nothing to compare")
    def metric(row: Mapping[str, float], m: str) -> float:
        value = row.get(m)
        return float("nan") if value is None else float(value)

    first = summaries[names[0]]
    head = "| policy | episodes | " + " | ".join(metrics) + " |"
    lines = [head, "|" + "---|" * (len(metrics) + 2)]
    for name in names:
        row = summaries[name]
        cells = []
        for m in metrics:
            value, base = metric(row, m), metric(first, m)
            cell = _fmt(value)
            if name != names[0] and not math.isnan(value) and not math.isnan(base):
                cell += f" ({value - base:+.3f})"
            cells.append(cell)
        lines.append(f"| {name} | {int(row.get('episodes', 0))} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_episodes(policy: Any, make_env: Callable[[], Any], tasks: Sequence[Task], *, batch_size: int = 8,
                 progress: bool = True) -> list[Any]:
    """Play one episode per task with ``policy`` (batched across episodes); returns the trajectories."""
    from tqdm.auto import tqdm

    trajectories: list[Any] = [None] * len(tasks)
    bar = tqdm(total=len(tasks), desc="episodes", unit="ep", disable=not progress)
    for start in range(0, len(tasks), batch_size):
        chunk = list(range(start, min(start + batch_size, len(tasks))))
        envs = {}
        for i in chunk:
            env = make_env()
            env.reset(options={"task_id": tasks[i].id})
            envs[i] = env
        active = list(chunk)
        while active:
            completions = policy.generate([envs[i].messages for i in active], n=1)
            still = []
            for i, options in zip(active, completions):
                _obs, _reward, terminated, truncated, _info = envs[i].step(options[0].text)
                if terminated or truncated:
                    trajectories[i] = envs[i].trajectory
                    bar.update(1)
                else:
                    still.append(i)
            active = still
    bar.close()
    return trajectories


def evaluate(policy: Any, make_env: Callable[[], Any], tasks: Sequence[Task], *, policy_name: str = "",
             corpus: str = "", split: str = "", rubric_reward: Callable[[Any], Any] | None = None,
             reward: Callable[[Any], Any] | None = None, batch_size: int = 8, progress: bool = True) -> EvalReport:
    """Run and score one episode per task."""
    trajectories = run_episodes(policy, make_env, tasks, batch_size=batch_size, progress=progress)
    scored = [score_episode(t, rubric_reward, reward) for t in trajectories]
    scores = tuple(s for s, _ in scored)
    return EvalReport(policy=policy_name, corpus=corpus, split=split, episodes=scores, summary=summarize(scores),
                      records=tuple(r for _, r in scored))


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def to_markdown(report: EvalReport, max_rows: int = 20) -> str:
    """A Markdown report: the summary table and the first episodes."""
    s = report.summary
    lines = [
        f"# searchgym eval: {report.policy}",
        "",
        f"corpus `{report.corpus}`, split `{report.split}`, {int(s.get('episodes', 0))} episodes",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for key in ("em", "f1", "citation_precision", "citation_recall", "rubric", "reward", "answered",
                "searches_per_episode", "steps_per_episode", "invalid_per_episode"):
        if key == "reward" and all(e.reward is None for e in report.episodes):
            continue  # no training reward was asked for
        lines.append(f"| {key} | {_fmt(s.get(key, float('nan')))} |")
    lines += ["", "| task | gold | prediction | EM | F1 | cit. P | cit. R | searches |", "|---|---|---|---|---|---|---|---|"]
    for e in report.episodes[:max_rows]:
        pred = (e.prediction or "—").replace("|", "\\|").replace("\n", " ")[:60]
        gold = e.answers[0].replace("|", "\\|")[:40]
        lines.append(
            f"| {e.task_id} | {gold} | {pred} | {e.em:.0f} | {e.f1:.2f} | {e.citation_precision:.2f} | "
            f"{_fmt(e.citation_recall)} | {e.searches} |"
        )
    return "\n".join(lines) + "\n"


def write_report(report: EvalReport, out_dir: str | Path, stem: str = "eval") -> dict[str, Path]:
    """Write ``<stem>.json``, ``<stem>.md``, ``<stem>_metrics.png`` / ``<stem>_searches.png``, the
    episodes whole in ``<stem>_episodes.jsonl`` and the self-contained ``<stem>.html`` viewer."""
    import matplotlib

    from searchgym.train.episode_log import write_jsonl
    from searchgym.train.report_html import write_eval_html

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / f"{stem}.json", "markdown": out / f"{stem}.md",
             "metrics_plot": out / f"{stem}_metrics.png", "searches_plot": out / f"{stem}_searches.png"}
    payload = {
        "policy": report.policy, "corpus": report.corpus, "split": report.split,
        "summary": {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in report.summary.items()},
        "episodes": [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(e).items()}
                     for e in report.episodes],
    }
    atomic_write_text(paths["json"], json.dumps(payload, indent=1, allow_nan=False))  # unmeasured is null, never NaN
    atomic_write_text(paths["markdown"], to_markdown(report))
    paths["episodes"] = write_jsonl(out / f"{stem}{EPISODES_SUFFIX}", report.records)

    keys = ["em", "f1", "citation_precision", "citation_recall", "rubric", "answered"]
    values = [report.summary.get(k, float("nan")) for k in keys]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(keys, [0.0 if math.isnan(v) else v for v in values], color="#4C72B0")
    ax.set_ylim(0, 1)
    ax.set_title(f"{report.policy} on {report.corpus} ({report.split})")
    ax.tick_params(axis="x", rotation=20)
    fig.tight_layout()
    with atomic_path(paths["metrics_plot"]) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.2))
    searches = [e.searches for e in report.episodes]
    ax.hist(searches, bins=range(0, max(searches + [1]) + 2), align="left", rwidth=0.8, color="#55A868")
    ax.set_xlabel("searches per episode")
    ax.set_ylabel("episodes")
    fig.tight_layout()
    with atomic_path(paths["searches_plot"]) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    paths["html"] = write_eval_html(paths["json"])
    return paths


__all__ = [
    "EpisodeScore",
    "EvalReport",
    "citation_scores",
    "evaluate",
    "run_episodes",
    "score_episode",
    "score_trajectory",
    "comparison_table",
    "summarize",
    "to_markdown",
    "write_report",
]
