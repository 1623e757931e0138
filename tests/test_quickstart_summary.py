"""scripts/quickstart.sh ends with a summary written in Python inside the script; nothing else runs it before a
new user does, so it is run here on two small eval reports."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _summary_program() -> str:
    script = (ROOT / "scripts" / "quickstart.sh").read_text(encoding="utf-8")
    match = re.search(r"<<'PY'\n(.*?)\nPY\n", script, re.S)
    assert match, "quickstart.sh should end with its summary as a <<'PY' here-document"
    return match.group(1)


def _report(path: Path, em: dict[str, float]) -> None:
    path.mkdir(parents=True)
    summary = {"episodes": float(len(em)), "em": sum(em.values()) / len(em), "f1": sum(em.values()) / len(em),
               "citation_precision": 1.0, "answered": 1.0, "valid_turns": 1.0, "searches_per_episode": 2.0,
               "answer_shown": 1.0, "em_when_shown": sum(em.values()) / len(em)}
    episodes = [{"task_id": task, "em": value} for task, value in em.items()]
    (path / "eval.json").write_text(json.dumps({"summary": summary, "episodes": episodes}), encoding="utf-8")


def test_the_summary_prints_the_table_the_paired_counts_and_the_rewards(tmp_path):
    _report(tmp_path / "eval-before", {"t1": 1.0, "t2": 0.0, "t3": 0.0, "t4": 1.0})
    _report(tmp_path / "eval", {"t1": 1.0, "t2": 1.0, "t3": 1.0, "t4": 0.0})
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "reward": 0.25}\n{"step": 2, "reward": 0.5}\n'
                                            '{"train_runtime": 9.0}\n', encoding="utf-8")
    run = subprocess.run([sys.executable, "-c", _summary_program(), str(tmp_path)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "| warm start | 4 | 0.500 |" in out and "| after GRPO | 4 | 0.750 (+0.250) |" in out
    assert "tasks solved by GRPO only: 2, by the warm start only: 1" in out and "of 4 tasks" in out
    assert "training reward per step: +0.25 +0.50" in out
