"""``searchgym._io``: cache root, atomic writes and JSON lines, shared by every module that writes files."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from searchgym import SearchgymError
from searchgym._io import (
    JsonlError,
    atomic_dir,
    atomic_path,
    atomic_write_text,
    cache_root,
    iter_jsonl,
    read_jsonl,
    write_jsonl,
)


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SEARCHGYM_CACHE", str(tmp_path))
    assert cache_root() == tmp_path
    monkeypatch.setenv("SEARCHGYM_CACHE", "")  # empty counts as unset
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "searchgym"


def test_every_cache_user_shares_the_root(monkeypatch, tmp_path):
    from searchgym.judges.cache import default_cache_path
    from searchgym.models import cache_root as models_root
    from searchgym.search.cache import default_cache_dir

    monkeypatch.setenv("SEARCHGYM_CACHE", str(tmp_path))
    assert models_root() == default_cache_dir() == tmp_path
    assert default_cache_path() == tmp_path / "judges.sqlite"


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    path = tmp_path / "sub" / "report.json"
    atomic_write_text(path, "old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert path.read_text() == "old"
    assert os.listdir(path.parent) == ["report.json"]  # the temp file is gone
    atomic_write_text(path, "new")
    assert path.read_text() == "new" and os.listdir(path.parent) == ["report.json"]


def test_jsonl_round_trip_plain_and_gzip(tmp_path):
    records = [{"a": 1, "t": "é"}, {"b": [1, 2]}, "x"]
    for name in ("r.jsonl", "r.jsonl.gz"):
        path = write_jsonl(tmp_path / name, records)
        assert read_jsonl(path) == records
    assert "é" in (tmp_path / "r.jsonl").read_text(encoding="utf-8")  # ensure_ascii off by default
    with gzip.open(tmp_path / "r.jsonl.gz", "rt", encoding="utf-8") as fh:
        assert [json.loads(line) for line in fh] == records


def test_strict_reader_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n\n{"b": \n')
    assert next(iter_jsonl(path)) == (1, {"a": 1})  # a leading BOM is dropped
    with pytest.raises(JsonlError, match=r"bad\.jsonl: line 3: not valid JSON") as info:
        read_jsonl(path)
    assert isinstance(info.value, ValueError) and isinstance(info.value, SearchgymError)
    path.write_bytes(b'{"a": "\xff"}\n')
    with pytest.raises(JsonlError, match="line 1: not UTF-8"):
        read_jsonl(path)
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress(b'{"a": 1}\n' * 100)[:-12])
    with pytest.raises(JsonlError, match="gzip"):
        read_jsonl(tmp_path / "cut.jsonl.gz")


def test_strict_reader_raises_the_callers_error_class(tmp_path):
    class MyError(ValueError):
        pass

    path = tmp_path / "deep.jsonl"
    path.write_text("[" * 100_000 + "\n")
    with pytest.raises(MyError, match="nested too deeply"):
        list(iter_jsonl(path, error=MyError))


def test_tolerant_reader_skips_torn_lines_and_keeps_glued_records(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"step": 1}\n{"step": 2, "rew{"step": 3}\n{"ste\xff\n{"step": 4}\n{"step": 5, "r')
    assert read_jsonl(path, tolerant=True) == [{"step": 1}, {"step": 3}, {"step": 4}]
    with pytest.raises(JsonlError, match="line 2"):
        read_jsonl(path)


def test_writers_leave_no_temp_files(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"x": 1}])
    with pytest.raises(TypeError):
        write_jsonl(tmp_path / "a.jsonl", [{"x": 2}, {"y": object()}])  # fails mid-file
    assert read_jsonl(tmp_path / "a.jsonl") == [{"x": 1}]
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["a.jsonl"]


def test_atomic_dir_publishes_whole_and_yields_to_an_earlier_publisher(tmp_path):
    final = tmp_path / "index"
    with pytest.raises(RuntimeError), atomic_dir(final, published=lambda p: (p / "done").exists()) as tmp:
        (tmp / "part").write_text("x")
        raise RuntimeError("crash mid-build")
    assert list(tmp_path.iterdir()) == []
    with atomic_dir(final, published=lambda p: (p / "done").exists()) as tmp:
        (tmp / "done").write_text("ours")
        (final / "done").parent.mkdir()
        (final / "done").write_text("theirs")  # another process published first
    assert (final / "done").read_text() == "theirs" and os.listdir(tmp_path) == ["index"]
    with pytest.raises(OSError), atomic_dir(tmp_path / "other", published=lambda p: False) as tmp:
        (tmp_path / "other").mkdir()
        (tmp_path / "other" / "junk").write_text("not a published entry")
    assert sorted(os.listdir(tmp_path)) == ["index", "other"]
