"""Episode records for reports and viewers: one JSON form of a played episode, for eval and training.

:func:`episode_record` turns a ``Trajectory`` into plain JSON; :class:`EpisodeLogCallback` writes them
during training to ``<output_dir>/episodes/step-N.jsonl``. See docs/training.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from searchgym import _io

EPISODES_DIR = "episodes"
EPISODES_SUFFIX = "_episodes.jsonl"  # an eval report's episodes: <stem>_episodes.jsonl beside <stem>.json
MAX_DOC_CHARS = 2000  # per seen document kept in a record: enough to check a citation, bounded in size

SOLVED, WRONG, TRUNCATED = "solved", "wrong", "truncated"


def to_json_value(value: Any) -> Any:
    """``value`` as plain JSON: tuples to lists, NaN/inf to None, mappings with string keys,
    dataclass-like and other objects to their ``str``."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [to_json_value(v) for v in items]
    try:  # numpy / torch scalars
        return to_json_value(value.item())
    except (AttributeError, ValueError, TypeError):
        return str(value)


def task_to_dict(task: Any) -> dict[str, Any]:
    """A ``Task`` with its gold hops."""
    return {
        "id": task.id,
        "question": task.question,
        "answers": list(task.answers),
        "kind": getattr(task, "kind", ""),
        "source": getattr(task, "source", ""),
        "hops": [{"question": h.question, "answer": h.answer, "aliases": list(h.aliases), "support": list(h.support)}
                 for h in getattr(task, "hops", ())],
        "support_ids": list(getattr(task, "support_ids", ())),
    }


def step_to_dict(step: Any, index: int) -> dict[str, Any]:
    """One ``Step``; fields a future ``Step`` lacks come out empty rather than failing."""
    return {
        "index": index,
        "kind": getattr(step, "kind", ""),
        "valid": bool(getattr(step, "valid", getattr(step, "kind", "") != "invalid")),
        "text": getattr(step, "text", ""),
        "reasoning": getattr(step, "reasoning", None) or "",
        "query": getattr(step, "query", None),
        "doc_id": getattr(step, "doc_id", None),
        "answer": getattr(step, "answer", None),
        "citations": list(getattr(step, "citations", ())),
        "hits": list(getattr(step, "hits", ())),
        "observation": getattr(step, "observation", ""),
        "error": getattr(step, "error", None),
    }


def trajectory_to_dict(trajectory: Any, *, max_doc_chars: int = MAX_DOC_CHARS) -> dict[str, Any]:
    """A ``Trajectory`` as JSON: task, turns, seen documents (``gold`` marks supporting ones)."""
    task = trajectory.task
    gold = set(getattr(task, "support_ids", ()))
    steps = list(getattr(trajectory, "steps", ()))
    seen = []
    for doc in getattr(trajectory, "seen", ()):
        text = doc.text if len(doc.text) <= max_doc_chars else doc.text[:max_doc_chars] + " …"
        seen.append({"id": doc.id, "title": doc.title, "text": text, "gold": doc.id in gold})
    return {
        "task": task_to_dict(task),
        "steps": [step_to_dict(s, i) for i, s in enumerate(steps)],
        "seen": seen,
        "final_answer": getattr(trajectory, "final_answer", None),
        "retrieved": list(getattr(trajectory, "retrieved_ids", ())),
        "opened": list(getattr(trajectory, "opened_ids", ())),
        "cited": list(getattr(trajectory, "cited_ids", ())),
    }


def _rubric_part(result: Any) -> tuple[list[dict[str, Any]] | None, Mapping[str, Any] | None, float | None]:
    """(rubric rows, citation verdicts, value) from a rubric ``RewardResult`` or a composite holding one."""
    if result is None:
        return None, None, None
    details = getattr(result, "details", None) or {}
    if "rubrics" in details or "citations" in details:
        value = getattr(result, "value", None)
        return details.get("rubrics"), details.get("citations"), value
    for part in details.values():  # WeightedSum / Gated keep each part's details under its name
        if isinstance(part, Mapping) and "rubrics" in part:
            comps = getattr(result, "components", {}) or {}
            return part.get("rubrics"), part.get("citations"), comps.get("rubric")
    return None, None, None


def citation_verdicts(trajectory: Any, rubric_rows: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    """Each cited id as ``valid`` (seen before it was cited, and supports a rubric), ``unseen`` (never
    shown, or cited before it was shown; with why) or ``unsupported`` (seen, but grounds no rubric).
    Without rubric rows support is unknown and seen citations are all ``valid``."""
    from searchgym.rewards.rubric import check_citations

    valid, rejected = check_citations(trajectory)
    grounding = {d for row in (rubric_rows or ()) for d in (row.get("grounded_by") or ())}
    verdicts: dict[str, dict[str, Any]] = {}
    for doc_id in valid:
        if rubric_rows is None or doc_id in grounding:
            verdicts[doc_id] = {"verdict": "valid", "reason": "seen before it was cited"
                                + ("" if rubric_rows is None else "; grounds a rubric")}
        else:
            verdicts[doc_id] = {"verdict": "unsupported", "reason": "seen, but supports no rubric"}
    for doc_id, why in rejected.items():
        verdicts[doc_id] = {"verdict": "unseen", "reason": why}
    return verdicts


def episode_status(answered: bool, em: float) -> str:
    """``solved`` (exact match), ``wrong`` (answered, no exact match) or ``truncated`` (never answered)."""
    if not answered:
        return TRUNCATED
    return SOLVED if em >= 1.0 else WRONG


def episode_record(trajectory: Any, *, rubric: Any = None, reward: Any = None,
                   extra: Mapping[str, Any] | None = None, max_doc_chars: int = MAX_DOC_CHARS) -> dict[str, Any]:
    """The viewer's record of one episode.

    ``rubric``: the ``RewardResult`` of a ``CitationRubricReward`` (its per-rubric table and citation
    verdicts); ``reward``: the training reward's ``RewardResult`` (value and every component; when it
    contains the rubric part and ``rubric`` is not given, that part's table is used). ``extra`` is
    merged last (training adds group id, advantage, ...).
    """
    from searchgym.rewards.outcome import exact_match, f1_score

    record = trajectory_to_dict(trajectory, max_doc_chars=max_doc_chars)
    task = trajectory.task
    answer = record["final_answer"]
    em = float(exact_match(answer, task.answers)) if answer is not None else 0.0
    f1 = float(f1_score(answer, task.answers)) if answer is not None else 0.0
    rows, _citations, rubric_value = _rubric_part(rubric)
    if rows is None and rubric is None:
        rows, _citations, rubric_value = _rubric_part(reward)
    steps = record["steps"]
    record.update(
        status=episode_status(answer is not None, em),
        em=em,
        f1=f1,
        searches=sum(1 for s in steps if s["kind"] == "search"),
        invalid_turns=sum(1 for s in steps if not s["valid"]),
        citations=citation_verdicts(trajectory, rows),
        rubric=rows,
        rubric_value=rubric_value,
        reward=getattr(reward, "value", None) if reward is not None else None,
        scored=bool(getattr(reward, "scored", True)) if reward is not None else None,
        components=dict(getattr(reward, "components", {}) or {}),
    )
    if rubric is not None:
        record["components"].update({f"rubric.{k}": v for k, v in (getattr(rubric, "components", {}) or {}).items()})
    if extra:
        record.update(extra)
    return to_json_value(record)


def write_jsonl(path: str | Path, records: Iterable[Mapping[str, Any]]) -> Path:
    """Write records as JSON lines, atomically (a viewer never reads a half-written file)."""
    return _io.write_jsonl(path, (to_json_value(record) for record in records))


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Records of a JSONL file; a clear error names the file and line of a malformed one."""
    return _io.read_jsonl(path)


# ---------------------------------------------------------------------------------------------
# training: episodes/step-N.jsonl


def _task_of_group(group_id: str) -> str:
    """The task id a sampler's group id starts with (``<task>#r0``, ``<task>#e3/t1``)."""
    return str(group_id).split("#", 1)[0]


def sample_to_dict(sample: Any, index: int) -> dict[str, Any]:
    """A ``TrainingSample`` without its token ids (text, reward, advantage, components, flags)."""
    return {
        "type": "sample",
        "index": index,
        "group_id": str(getattr(sample, "group_id", "")),
        "task_id": _task_of_group(getattr(sample, "group_id", "")),
        "text": getattr(sample, "text", ""),
        "reward": getattr(sample, "reward", None),
        "advantage": getattr(sample, "advantage", None),
        "scored": bool(getattr(sample, "scored", True)),
        "finished": bool(getattr(sample, "finished", True)),
        "components": dict(getattr(sample, "components", {}) or {}),
        "tokens": len(getattr(sample, "completion_ids", ()) or ()),
    }


def rollout_records(rollout: Any, step: int, *, rubric: Any = None) -> list[dict[str, Any]]:
    """The records of one training step: a header, every sample of the rollout, every episode.

    In ``trajectory`` mode each episode is paired with its sample (same task, in order) and carries
    its group id, reward, advantage and components; in ``step`` mode the samples are the SLATE
    candidates (grouped by ``group_id``) and the episodes are the continued trajectories.
    """
    mode = getattr(rollout, "mode", None)
    samples = list(getattr(rollout, "last_samples", None) or [])
    sampler = getattr(rollout, "sampler", None)
    trajectories = list(getattr(sampler, "last_trajectories", None) or [])
    header = {"type": "header", "step": step, "mode": mode, "samples": len(samples), "episodes": len(trajectories),
              "rollout_stats": dict(getattr(rollout, "last_stats", None) or {}),
              "sampler_stats": dict(getattr(sampler, "last_stats", None) or {})}
    out: list[dict[str, Any]] = [header]
    sample_dicts = [sample_to_dict(s, i) for i, s in enumerate(samples)]
    out.extend(sample_dicts)
    unused: dict[str, list[dict[str, Any]]] = {}
    for sd in sample_dicts:
        unused.setdefault(sd["task_id"], []).append(sd)
    for i, traj in enumerate(trajectories):
        extra: dict[str, Any] = {"type": "episode", "step": step, "index": i}
        task_id = traj.task.id
        if mode == "trajectory" and unused.get(task_id):
            sd = unused[task_id].pop(0)
            extra.update(sample=sd["index"], group_id=sd["group_id"], advantage=sd["advantage"])
            sample_reward, sample_components = sd["reward"], sd["components"]
        else:
            sample_reward, sample_components = None, {}
            extra["groups"] = list(dict.fromkeys(sd["group_id"] for sd in sample_dicts if sd["task_id"] == task_id))
        rubric_result = None
        if rubric is not None:
            try:
                rubric_result = rubric(traj)
            except Exception as exc:  # noqa: BLE001 - a task the rubric cannot score still gets its record
                extra["rubric_error"] = f"{type(exc).__name__}: {exc}"
        record = episode_record(traj, rubric=rubric_result, extra=extra)
        if sample_reward is not None or sample_components:
            record["reward"] = to_json_value(sample_reward)
            record["components"] = {**to_json_value(sample_components), **record["components"]}
        out.append(record)
    return out


def logs_episodes_at(step: int, every: int, max_steps: int) -> bool:
    """Whether optimizer step ``step`` logs its episodes: step 1, every ``every``-th step and the last
    (``every`` <= 0: never)."""
    return every > 0 and step >= 1 and (step == 1 or step % every == 0 or step >= max_steps)


def make_episode_log_callback(rollout: Any, output_dir: str | Path, every: int, *, title: str = "",
                              html: bool = True):
    """A ``TrainerCallback`` writing ``episodes/step-N.jsonl`` from ``rollout`` (the trainer's
    ``SamplerRollout``) at step 1, every ``every`` steps and the last step (``every`` <= 0: never),
    and, at the end of training, the run's HTML report (``report.html``, see
    :func:`searchgym.train.report_html.write_train_html`). Only the main process writes; its records
    are its own rollout's (other processes sample other tasks)."""
    from transformers import TrainerCallback

    root = Path(output_dir)

    class EpisodeLogCallback(TrainerCallback):
        def __init__(self) -> None:
            self.rubric: Any = None
            self.written: set[int] = set()

        def _write(self, step: int) -> None:
            if step in self.written or not getattr(rollout, "last_samples", None):
                return
            if self.rubric is None:
                from searchgym.rewards.rubric import CitationRubricReward

                self.rubric = CitationRubricReward()
            write_jsonl(root / EPISODES_DIR / f"step-{step}.jsonl", rollout_records(rollout, step, rubric=self.rubric))
            self.written.add(step)

        def on_step_end(self, args, state, control, **kwargs):
            step = int(state.global_step)
            if state.is_world_process_zero and logs_episodes_at(step, every, int(state.max_steps)):
                self._write(step)
            return control

        def on_train_end(self, args, state, control, **kwargs):
            if not state.is_world_process_zero:
                return
            if every > 0 and state.global_step > 0:
                self._write(int(state.global_step))  # a run stopped early (max_seconds) still logs its last step
            if html:
                from searchgym.train.report_html import write_train_html

                write_train_html(root, title=title)

    return EpisodeLogCallback()


__all__ = [
    "EPISODES_DIR",
    "citation_verdicts",
    "logs_episodes_at",
    "episode_record",
    "episode_status",
    "make_episode_log_callback",
    "read_jsonl",
    "rollout_records",
    "sample_to_dict",
    "step_to_dict",
    "task_to_dict",
    "to_json_value",
    "trajectory_to_dict",
    "write_jsonl",
]
