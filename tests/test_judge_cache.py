"""A verdict cache that cannot take training down (issue 15 item 5): concurrent opens, corruption, errors."""

from __future__ import annotations

import logging
import multiprocessing as mp
import sqlite3
from pathlib import Path

import pytest

from judge_fixtures import TASK
from searchgym.judges.base import JudgeError, JudgeRequest, Judgment
from searchgym.judges.cache import CacheError, JudgeCache
from searchgym.judges.model import ModelJudge

PROCESSES, ROUNDS = 4, 20


def _opener(root: str, worker: int, barrier, failures) -> None:
    for r in range(ROUNDS):
        barrier.wait(60)  # every process opens the same brand-new file at the same moment
        try:
            cache = JudgeCache(Path(root) / f"new-{r}.sqlite")
            cache.put(f"w{worker}", Judgment(1.0, f"w{worker}"))
            cache.close()
        except Exception as exc:  # noqa: BLE001 - every failure is reported to the parent
            failures.put(f"round {r}, worker {worker}: {exc!r}")


def test_many_processes_open_the_same_new_file_at_once(tmp_path):
    ctx = mp.get_context("spawn")
    barrier, failures = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [ctx.Process(target=_opener, args=(str(tmp_path), w, barrier, failures)) for w in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    errors = []
    while not failures.empty():
        errors.append(failures.get())
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    assert errors == [], f"{len(errors)} of {PROCESSES * ROUNDS} opens failed: {errors[:3]}"
    for r in range(ROUNDS):
        cache = JudgeCache(tmp_path / f"new-{r}.sqlite")
        assert len(cache) == PROCESSES and cache.get("w3").rationale == "w3"


def _filled(path: Path, n: int) -> None:
    cache = JudgeCache(path)
    for i in range(n):
        cache.put(f"k{i}", Judgment(float(i % 3 - 1), "x" * 200, raw="{}"))
    cache.close()  # the last connection checkpoints the WAL into the main file


def _corrupt(path: Path, start: int, length: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    end = len(data) if length is None else start + length
    data[start:end] = bytes((i * 37 + 11) % 251 for i in range(end - start))
    path.write_bytes(bytes(data))


def _moved(path: Path) -> list[Path]:
    return sorted(p for p in path.parent.glob(path.name + ".corrupt-*") if not p.name.endswith(("-wal", "-shm")))


def test_a_file_that_is_not_a_database_is_moved_aside_and_rebuilt(tmp_path, caplog):
    path = tmp_path / "j.sqlite"
    _filled(path, 10)
    _corrupt(path, 0, 100)  # the header
    with caplog.at_level(logging.WARNING, logger="searchgym.judges.cache"):
        cache = JudgeCache(path)
    (aside,) = _moved(path)
    assert "corrupt" in caplog.text and str(aside) in caplog.text
    assert aside.stat().st_size > 0 and cache.rebuilt == 1
    assert len(cache) == 0 and cache.get("k1") is None  # nothing survives, nothing is invented
    cache.put("fresh", Judgment(0.0, "ok"))
    assert JudgeCache(path).get("fresh").score == 0.0


def test_pages_corrupted_behind_a_valid_header_are_found_on_use(tmp_path, caplog):
    path = tmp_path / "j.sqlite"
    _filled(path, 2000)
    page = 4096
    assert path.stat().st_size > 20 * page
    _corrupt(path, 4 * page)  # every page after the first four
    cache = JudgeCache(path)
    with caplog.at_level(logging.WARNING, logger="searchgym.judges.cache"):
        found = [cache.get(f"k{i}") for i in range(0, 2000, 50)]
    assert cache.rebuilt == 1 and len(_moved(path)) == 1 and "corrupt" in caplog.text
    # a verdict read before the damage was found is a true one; none afterwards
    assert all(v is None or v.score == float(i * 50 % 3 - 1) for i, v in enumerate(found))
    assert found[-1] is None
    cache.put("after", Judgment(1.0, "ok"))
    assert cache.get("after").score == 1.0


def test_a_second_cache_object_reconnects_instead_of_moving_the_rebuilt_file(tmp_path, caplog):
    path = tmp_path / "j.sqlite"
    _filled(path, 2000)
    first, second = JudgeCache(path), JudgeCache(path)  # as two training processes would hold it
    _corrupt(path, 4 * 4096)
    with caplog.at_level(logging.WARNING, logger="searchgym.judges.cache"):
        for i in range(0, 2000, 50):
            first.get(f"k{i}")
        assert first.rebuilt == 1
        first.put("new", Judgment(-1.0, "after rebuild"))
        for i in range(0, 2000, 50):
            second.get(f"k{i}")
    assert second.rebuilt == 0 and len(_moved(path)) == 1  # the fresh file was not moved aside again
    assert second.get("new").score == -1.0


def test_a_row_that_is_not_a_verdict_is_dropped_not_scored(tmp_path):
    path = tmp_path / "j.sqlite"
    cache = JudgeCache(path)
    cache.put("ok", Judgment(1.0, "fine"))
    with sqlite3.connect(path) as raw:
        raw.execute("INSERT INTO verdicts VALUES ('bad', 5.0, '', '', '[]')")
        raw.execute("INSERT INTO verdicts VALUES ('badmeta', 1.0, '', '', 'not json')")
    assert cache.get("bad") is None and cache.get("badmeta") is None and cache.get("ok").score == 1.0
    assert len(cache) == 1
    with pytest.raises(ValueError, match="in \\[-1, 1\\]"):
        cache.put("x", Judgment(7.0))


def test_cache_errors_are_judge_errors(tmp_path):
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(CacheError, match="cannot open"):
        JudgeCache(tmp_path / "dir.sqlite")
    path = tmp_path / "j.sqlite"
    cache = JudgeCache(path, timeout=0.1)
    cache.put("a", Judgment(1.0))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock past our timeout
    try:
        with pytest.raises(JudgeError, match="locked"):
            cache.put("b", Judgment(0.0))
        assert cache.get("a").score == 1.0  # WAL: readers are not blocked
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    cache.put("b", Judgment(0.0))
    assert len(cache) == 2


class _Scripted(ModelJudge):
    name, model = "scripted", "none"

    def __init__(self, reply: str, **kw):
        super().__init__(**kw)
        self.reply, self.calls = reply, 0

    async def _complete_batch(self, messages, attempt, on_done):
        for j in range(len(messages)):
            self.calls += 1
            on_done(j, self.reply)


def test_a_failing_cache_never_costs_a_verdict(tmp_path, caplog):
    path = tmp_path / "j.sqlite"
    cache = JudgeCache(path, timeout=0.1)
    judge = _Scripted('{"score": -1, "rationale": "no"}', cache=cache)
    reqs = [JudgeRequest("think", TASK.question, f"thought {i}") for i in range(3)]
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # blocks writes (WAL readers are never blocked)
    try:
        with caplog.at_level(logging.WARNING, logger="searchgym.judges.model"):
            verdicts = judge.judge(reqs)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert [v.score for v in verdicts] == [-1.0] * 3 and judge.calls == 3
    assert judge.cache_errors == 3  # the 3 writes failed ...
    assert caplog.text.count("verdict cache failed") == 1  # ... and were reported once
    judge.judge(reqs)
    assert judge.calls == 6 and len(cache) == 3  # cached again once the lock is gone
    assert all(v.cached for v in judge.judge(reqs)) and judge.calls == 6
