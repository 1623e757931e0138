"""The HTML reports of eval and training runs, `searchgym view`, and the page in a real headless Chromium.

The episodes come from a real synthetic world, BM25 and the env, played by a scripted policy whose
behaviour depends on the task: solved (the oracle), wrong (cites a seen non-gold document and an id it
never saw), invalid turns (text without an action, with markup in it) and truncated (searches forever).
"""

from __future__ import annotations

import json
import struct
import threading
import zlib
from pathlib import Path

import pytest

from searchgym.policies.policy import Completion

MARKUP = "</script><b id=injected>bold</b>"


class MixedPolicy:
    """Per task (by position in ``tasks``): 0, 1 oracle; 2 wrong answer; 3 invalid turns; 4 endless search."""

    def __init__(self, tasks):
        from searchgym.policies.oracle import OraclePolicy

        self.oracle = OraclePolicy(tasks)
        self.role = {t.id: i % 5 for i, t in enumerate(tasks)}

    def next_turn(self, conversation):
        from searchgym.envs.prompts import parse_hits

        task = self.oracle.task_for(conversation)
        role = self.role[task.id]
        turns = sum(1 for m in conversation if m["role"] == "assistant")
        if role in (0, 1):
            return self.oracle.next_turn(conversation)
        if role == 2:
            if turns == 0:
                return self.oracle.next_turn(conversation)
            shown = [d for d, _t, _x in parse_hits(conversation[-1]["content"])]
            other = next(d for d in shown if d not in task.support_ids)
            return f"I guess. <answer>Nobody [{other}] [zz-never-seen]</answer>"
        if role == 3:
            return f"I am not sure what to do {MARKUP}"
        return f"<search>{task.question} more</search>"

    def generate(self, conversations, n=1):
        return [[Completion(self.next_turn(c))] * n for c in conversations]


@pytest.fixture(scope="module")
def world():
    from searchgym.corpora.synthetic import WorldConfig, generate_world
    from searchgym.search import build_searcher

    ts = generate_world(WorldConfig(seed=0, num_passages=120, num_tasks=10, hops=(2,)))
    return ts, build_searcher("bm25", ts.documents)


def make_env(world, max_turns=4):
    from searchgym.envs import DeepSearchEnv

    ts, searcher = world
    return DeepSearchEnv(ts.tasks, searcher, max_turns=max_turns)


@pytest.fixture(scope="module")
def eval_dir(world, tmp_path_factory):
    from searchgym.eval.report import evaluate, write_report
    from searchgym.rewards.rubric import CitationRubricReward
    from searchgym.train.config import TrainConfig
    from searchgym.train.training import build_reward

    ts, _ = world
    report = evaluate(MixedPolicy(ts.tasks), lambda: make_env(world), ts.tasks, policy_name="mixed", corpus="synthetic",
                      split="all", rubric_reward=CitationRubricReward(), reward=build_reward(TrainConfig(judge_weight=0.2)),
                      progress=False)
    out = tmp_path_factory.mktemp("eval")
    write_report(report, out)
    return out


def _records(eval_dir):
    return [json.loads(line) for line in (eval_dir / "eval_episodes.jsonl").read_text().splitlines()]


def test_episode_records_keep_every_turn_citation_verdict_rubric_and_component(eval_dir):
    records = _records(eval_dir)
    assert [r["status"] for r in records] == ["solved", "solved", "wrong", "truncated", "truncated"] * 2
    assert [r["invalid_turns"] > 0 for r in records[:5]] == [False, False, False, True, False]

    solved, wrong, invalid = records[0], records[2], records[3]
    assert solved["em"] == 1.0 and solved["rubric_value"] == 1.0
    assert {v["verdict"] for v in solved["citations"].values()} == {"valid"}
    assert all(solved["citations"][d] for d in solved["task"]["support_ids"])
    assert [s["kind"] for s in solved["steps"]][-1] == "answer"
    search = solved["steps"][0]
    assert search["kind"] == "search" and search["query"] and search["hits"]
    seen = {d["id"]: d for d in solved["seen"]}
    assert all(seen[d]["gold"] for d in solved["task"]["support_ids"])  # gold documents are marked
    assert any(not d["gold"] for d in solved["seen"])
    rows = solved["rubric"]
    assert len(rows) == 2 and all(r["supported"] and r["connected"] for r in rows)
    assert all(set(r) >= {"identified", "supported", "connected", "grounded_by", "rubric"} for r in rows)
    # every component of the training reward (C-GRPO outcome, rubric, judge process reward) and of the rubric
    assert {"outcome", "em", "rubric", "process", "rubric.n_connected", "process.r_think"} <= set(solved["components"])
    assert solved["reward"] == pytest.approx(1.0 + 0.2 * solved["components"]["process"])  # a group of one: C = 1

    verdicts = {d: v["verdict"] for d, v in wrong["citations"].items()}
    assert verdicts.pop("zz-never-seen") == "unseen"
    assert list(verdicts.values()) == ["unsupported"]  # seen, but no rubric rests on it
    assert "not seen" in wrong["citations"]["zz-never-seen"]["reason"]
    assert wrong["final_answer"].startswith("Nobody") and wrong["em"] == 0.0

    assert all(s["kind"] == "invalid" and s["error"] for s in invalid["steps"])
    assert MARKUP in invalid["steps"][0]["text"]
    eval_json = json.loads((eval_dir / "eval.json").read_text())
    assert [e["task_id"] for e in eval_json["episodes"]] == [r["task"]["id"] for r in records]


def test_html_report_is_self_contained_and_escapes_agent_text(eval_dir):
    page = (eval_dir / "eval.html").read_text()
    assert "<script src" not in page and "<link rel=\"stylesheet\"" not in page and "@import" not in page
    assert MARKUP not in page  # agent text cannot close the data script or inject markup
    data = page.split('<script type="application/json" id="sg-data">', 1)[1].split("</script>", 1)[0]
    parsed = json.loads(data)
    assert len(parsed["plots"]) == 3 and all(p.startswith("<svg") for p in parsed["plots"])  # inline plots
    assert len(parsed["steps"][0]["episodes"]) == 10
    assert MARKUP in parsed["steps"][0]["episodes"][3]["steps"][0]["text"]


def test_view_builds_rebuilds_and_rejects(eval_dir, tmp_path, capsys):
    import os

    from searchgym.cli.main import main

    html = eval_dir / "eval.html"
    html.unlink()
    assert main(["view", str(eval_dir), "--no-serve"]) == 0
    assert capsys.readouterr().out.strip() == str(html) and html.exists()
    # up to date: left alone; a newer source: rebuilt
    os.utime(html, (5, 5))
    os.utime(eval_dir / "eval.json", (2, 2))
    os.utime(eval_dir / "eval_episodes.jsonl", (2, 2))
    main(["view", str(eval_dir), "--no-serve"])
    assert html.stat().st_mtime == 5
    os.utime(eval_dir / "eval_episodes.jsonl", (9, 9))
    main(["view", str(eval_dir), "--no-serve"])
    assert html.stat().st_mtime > 9

    assert main(["view", str(tmp_path), "--no-serve"]) == 2
    assert "neither an eval report" in capsys.readouterr().err
    assert main(["view", str(tmp_path / "missing"), "--no-serve"]) == 2
    assert "not a directory" in capsys.readouterr().err
    (tmp_path / "eval.json").write_text(json.dumps({"policy": "p", "summary": {}, "episodes": []}))
    (tmp_path / "eval_episodes.jsonl").write_text('{"task": \n')
    assert main(["view", str(tmp_path), "--no-serve"]) == 2
    assert "eval_episodes.jsonl: line 1" in capsys.readouterr().err


def test_old_eval_json_without_episode_records_still_renders(eval_dir, tmp_path):
    from searchgym.train.report_html import write_eval_html

    (tmp_path / "eval.json").write_text((eval_dir / "eval.json").read_text())
    page = write_eval_html(tmp_path / "eval.json").read_text()
    assert '"missing_turns":true' in page.replace(" ", "")


# ---------------------------------------------------------------------------------------------
# the page in a real browser


@pytest.fixture(scope="module")
def browser():
    from cdp_browser import Browser, find_chromium

    binary = find_chromium()
    if binary is None:
        pytest.fail("no Chromium found: the viewer is tested in a real headless browser. Install the Debian package "
                    "(apt-get install chromium; scripts/setup.sh does it where apt-get is available) or point "
                    "SEARCHGYM_CHROMIUM at a Chrome/Chromium binary")
    with Browser(binary) as b:
        yield b


@pytest.fixture()
def served(eval_dir):
    from searchgym.cli.view import make_server

    server = make_server(eval_dir, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _rows(b):
    return b.eval("Array.from(document.querySelectorAll('#episode-list tbody tr')).map(r => r.dataset.status)")


def test_page_in_headless_chromium_filters_opens_and_screenshots(browser, served, tmp_path):
    b = browser
    b.goto(f"{served}/eval.html")
    b.wait_for("document.body.dataset.ready === '1'")
    assert b.console_errors() == []
    assert b.requested_urls() == [f"{served}/eval.html"]  # self-contained: nothing else is fetched
    assert _rows(b) == ["solved", "solved", "wrong", "truncated", "truncated"] * 2
    assert b.eval("document.querySelectorAll('#plots svg').length") == 3

    b.click("button[data-filter=wrong]")
    b.wait_for("document.body.dataset.filter === 'wrong'")
    assert _rows(b) == ["wrong", "wrong"]
    assert b.eval("location.hash") == "#filter=wrong"
    b.click("button[data-filter=invalid]")
    b.wait_for("document.body.dataset.filter === 'invalid'")
    assert b.eval("Array.from(document.querySelectorAll('#episode-list tbody tr')).map(r => +r.dataset.index)") == [3, 8]

    b.click("#episode-list tbody tr")  # opens episode 3: invalid turns with markup in them
    b.wait_for("document.querySelector('#detail').dataset.open === '3'")
    assert b.eval("document.getElementById('injected')") is None  # shown as text, never parsed
    assert MARKUP in b.eval("document.querySelector('#detail .turn .text').textContent")
    assert b.eval("document.querySelectorAll('#detail .turn.k-invalid').length") == 4

    # the hash hook: filter, search text and open in one URL
    b.goto(f"{served}/eval.html#filter=solved&open=1")
    b.wait_for("document.querySelector('#detail').dataset.open === '1'")
    assert _rows(b) == ["solved"] * 4
    detail = b.eval("document.getElementById('detail').innerText")
    for text in ("Gold hops", "Turns", "Citations", "Rubric", "Reward components", "gold support", "exact match"):
        assert text in detail, text
    assert b.eval("document.querySelectorAll('#detail table.rubric tbody tr').length") == 2
    assert b.eval("document.querySelectorAll('#detail .hits li.gold').length") >= 2
    assert b.eval("document.querySelectorAll('#detail [data-verdict=valid]').length") == 2
    b.goto(f"{served}/eval.html#filter=wrong&open=0")
    b.wait_for("document.querySelector('#detail').dataset.open === '2'")
    verdicts = b.eval("Array.from(document.querySelectorAll('#detail .chips [data-verdict]')).map(c => c.dataset.verdict)")
    assert sorted(verdicts) == ["unseen", "unsupported"]
    b.click("#search")
    b.eval("(function(){var s=document.getElementById('search'); s.value='zzz-no-such';"
           "s.dispatchEvent(new Event('input'));})()")
    assert _rows(b) == [] and b.eval("document.getElementById('empty').hidden") is False

    b.goto(f"{served}/eval.html#filter=all&open=0")
    b.wait_for("document.querySelector('#detail').dataset.open === '0'")
    shot = b.screenshot(tmp_path / "eval.png")
    assert png_size(shot) == (1360, 900)
    raw = shot.read_bytes()
    assert len(raw) > 30_000 and len(zlib.compress(raw)) > 20_000  # a real page, not a blank frame
    assert b.console_errors() == []


def test_page_opens_as_a_file_without_a_server(browser, eval_dir):
    browser.goto((eval_dir / "eval.html").as_uri() + "#filter=truncated")
    browser.wait_for("document.body.dataset.ready === '1'")
    assert _rows(browser) == ["truncated"] * 4
    assert browser.console_errors() == []


def test_view_serves_on_loopback_and_prints_the_url(eval_dir):
    import os
    import subprocess
    import sys
    import urllib.request

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "searchgym.cli.main", "view", str(eval_dir), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/eval.html"), url
        with urllib.request.urlopen(url, timeout=10) as reply:
            assert reply.status == 200
            assert 'id="sg-data"' in reply.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_episode_log_callback_writes_chosen_steps_and_tolerates_missing_fields(world, tmp_path):
    from types import SimpleNamespace

    from searchgym.train.episode_log import logs_episodes_at, make_episode_log_callback
    from searchgym.train.samples import TrainingSample

    ts, _ = world
    env = make_env(world)
    policy = MixedPolicy(ts.tasks)
    env.reset(options={"task": ts.tasks[0]})
    while not env.done:
        env.step(policy.generate([env.messages])[0][0].text)
    sample = TrainingSample(group_id=f"{ts.tasks[0].id}#r0", prompt_ids=(1,), completion_ids=(2, 3),
                            completion_mask=(1, 1), logprobs=(0.0, 0.0), reward=1.5, advantage=0.7,
                            components={"outcome": 1.0}, text="turns")
    bare = SimpleNamespace(group_id="toy-1#step0")  # a sample of another shape: only a group id
    rollout = SimpleNamespace(mode="trajectory", last_samples=[sample, bare],
                              sampler=SimpleNamespace(last_trajectories=[env.trajectory]))
    callback = make_episode_log_callback(rollout, tmp_path, every=3)
    for step in range(1, 8):
        state = SimpleNamespace(global_step=step, max_steps=7, is_world_process_zero=True)
        callback.on_step_end(None, state, None)
    callback.on_train_end(None, state, None)
    assert sorted(p.name for p in (tmp_path / "episodes").iterdir()) == ["step-1.jsonl", "step-3.jsonl",
                                                                         "step-6.jsonl", "step-7.jsonl"]
    assert [s for s in range(1, 8) if logs_episodes_at(s, 3, 7)] == [1, 3, 6, 7]
    assert not any(logs_episodes_at(s, 0, 7) for s in range(1, 8))
    lines = [json.loads(x) for x in (tmp_path / "episodes" / "step-3.jsonl").read_text().splitlines()]
    assert [x["type"] for x in lines] == ["header", "sample", "sample", "episode"]
    assert lines[2]["text"] == "" and lines[2]["reward"] is None and lines[2]["task_id"] == "toy-1"
    episode = lines[3]
    assert episode["status"] == "solved" and episode["reward"] == 1.5 and episode["advantage"] == 0.7
    assert episode["group_id"] == sample.group_id and episode["rubric"][0]["connected"]
    page = (tmp_path / "report.html").read_text()
    assert '"label": "step 7"' in page

    # nothing sampled yet (a resumed run that had nothing left to do): no file, no error
    empty = make_episode_log_callback(SimpleNamespace(), tmp_path / "empty", every=1)
    empty.on_step_end(None, SimpleNamespace(global_step=1, max_steps=1, is_world_process_zero=True), None)
    assert not (tmp_path / "empty" / "episodes").exists()
