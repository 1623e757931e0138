"""The loaders on the real shared samples (MuSiQue, 2WikiMultihopQA, wiki-18), bad files of every
format, and question/answer-only task files over a real corpus."""

from __future__ import annotations

import collections
import gzip
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from searchgym.corpora import (
    CorpusFileNotFoundError,
    CorpusFormatError,
    TaskSet,
    hop_templates,
    load_musique,
    load_taskset,
    load_twowiki,
    read_jsonl_corpus,
    read_qa_tasks,
)
from searchgym.corpora.building import fill_references


@pytest.fixture(scope="module")
def paths(shared_data: Path) -> dict[str, Path]:
    return {
        "hotpotqa": shared_data / "hotpotqa" / "hotpot_dev_distractor_sample40.json",
        "musique2": shared_data / "musique" / "musique_ans_v1.0_dev_2hop_sample40.jsonl",
        "musique34": shared_data / "musique" / "musique_ans_v1.0_dev_3to4hop_sample35.jsonl",
        "2wiki": shared_data / "2wiki" / "2wikimultihopqa_dev_sample40.json",
        "wiki18": shared_data / "wiki18" / "flashrag_wiki18_sample_corpus1000.jsonl",
    }


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _every_support_is_a_document(ts: TaskSet) -> None:
    ids = [d.id for d in ts.documents]
    assert len(ids) == len(set(ids))
    known = set(ids)
    for task in ts.tasks:
        assert task.hops, task.id
        for hop in task.hops:
            assert hop.support and set(hop.support) <= known, (task.id, hop)


# ----------------------------------------------------------------------------------------------
# MuSiQue


@pytest.mark.parametrize(("key", "count", "shapes"), [
    ("musique2", 40, {2: 40}),
    ("musique34", 35, {3: 18, 4: 17}),
])
def test_musique_real_sample(paths: dict[str, Path], key: str, count: int, shapes: dict[int, int]) -> None:
    raw = _lines(paths[key])
    ts = load_musique(paths[key])
    assert len(raw) == len(ts.tasks) == count
    assert collections.Counter(len(t.hops) for t in ts.tasks) == shapes
    # identical paragraphs shared by records are stored once; every other one is a document
    distinct = {(p["title"], p["paragraph_text"].strip()) for r in raw for p in r["paragraphs"]}
    assert len(ts.documents) == len(distinct)
    _every_support_is_a_document(ts)
    docs = {d.id: d for d in ts.documents}
    for task, r in zip(ts.tasks, raw):
        assert task.id == r["id"] and task.question == r["question"] and task.kind == "chain"
        assert task.answers[0] == r["answer"] and set(r["answer_aliases"]) <= set(task.answers)
        assert int(r["id"][0]) == len(task.hops)  # "2hop__", "3hop1__", "4hop3__"
        assert hop_templates(task) == tuple(s["question"] for s in r["question_decomposition"])
        answers = [s["answer"] for s in r["question_decomposition"]]
        for k, (hop, step) in enumerate(zip(task.hops, r["question_decomposition"])):
            assert hop.answer == step["answer"]
            gold = r["paragraphs"][step["paragraph_support_idx"]]
            (doc,) = (docs[i] for i in hop.support)
            assert (doc.title, doc.text) == (gold["title"], gold["paragraph_text"].strip()) and gold["is_supporting"]
            # "#k" references resolved to the earlier answers, none left over
            assert not re.search(r"#\d", hop.question), hop.question
            for ref in map(int, re.findall(r"#(\d+)", step["question"])):
                assert ref <= k and answers[ref - 1] in hop.question
        assert task.hops[-1].answer == task.answer


def test_musique_reference_resolution_on_real_records(paths: dict[str, Path]) -> None:
    ts = load_musique(paths["musique34"])
    by_id = {t.id: t for t in ts.tasks}
    t = by_id["3hop1__53690_161697_73916"]
    assert [h.question for h in t.hops][1:] == [
        "What nationality was Betty Friedan?", "what is the average yearly income for an American"]
    # a sub-question naming two earlier answers, and a possessive after the reference
    t = by_id["3hop2__127483_84553_10557"]
    assert t.hops[2].question == "What was the Latin of Charlemagne's era later known as?"
    assert fill_references(hop_templates(t)[2], ["Latin", "Charlemagne"]) == "What was the Latin of Charlemagne 's era later known as?"
    t = by_id["4hop3__387712_132409_146285_35031"]
    assert t.hops[3].question == "In the top five largest urban areas in California, where does San Diego rank?"
    # Wikidata-style relation paths read as questions
    t = by_id["4hop1__638706_765799_282674_759393"]
    assert t.hops[0].question == "What is the location of formation of Tenement?"
    assert t.hops[3].question == "What is the capital of Brown County?"


# ----------------------------------------------------------------------------------------------
# 2WikiMultihopQA


def test_twowiki_real_sample(paths: dict[str, Path]) -> None:
    raw = json.loads(paths["2wiki"].read_text(encoding="utf-8"))
    ts = load_twowiki(paths["2wiki"])
    assert len(raw) == len(ts.tasks) == 40
    assert collections.Counter(dict(t.metadata)["type"] for t in ts.tasks) == {
        "comparison": 24, "bridge_comparison": 9, "compositional": 7}
    assert collections.Counter(t.kind for t in ts.tasks) == {"comparison": 33, "chain": 7}
    _every_support_is_a_document(ts)
    docs = {d.id: d for d in ts.documents}
    for task, r in zip(ts.tasks, raw):
        assert task.id == r["_id"] and task.answers == (r["answer"],)
        # one hop per evidence triple, its entity the triple's object, asked of its subject
        assert [(h.answer, h.question) for h in task.hops] == [
            (o, f"What is the {rel} of {s}?") for s, rel, o in r["evidences"]]
        gold_titles = {t for t, _ in r["supporting_facts"]}
        support_titles = [docs[i].title for h in task.hops for i in h.support]
        assert set(support_titles) == gold_titles, task.id  # every supporting paragraph is used, nothing else
        for hop, (_s, _rel, _o) in zip(task.hops, r["evidences"]):
            assert len(hop.support) == 1
        if task.kind == "chain":
            assert task.hops[-1].answer == task.answer
    by_id = {t.id: t for t in ts.tasks}
    # the subject is not spelled as the title: the paragraph is still found
    t = by_id["6f01d12c0bda11eba7f7acde48001122"]
    assert [docs[h.support[0]].title for h in t.hops] == [
        "William Annesley, 3rd Earl Annesley", "Richard Annesley, 2nd Earl Annesley"]
    assert hop_templates(t)[1] == "What is the date of death of #1?"
    t = by_id["5760bd8208b311ebbd86ac1f6bf848b6"]  # bridge comparison: two directors, two birthdays
    assert [docs[h.support[0]].title for h in t.hops] == ["S Durga", "Sweet Emma, Dear Böbe", "Sanal Kumar Sasidharan",
                                                          "István Szabó"]
    assert hop_templates(t)[2:] == ("What is the date of birth of #1?", "What is the date of birth of #2?")


def test_real_samples_through_specs(paths: dict[str, Path]) -> None:
    for spec, n in ((f"musique:{paths['musique34']},limit=5", 5), (f"2wiki:{paths['2wiki']},limit=3", 3),
                    (f"hotpotqa:{paths['hotpotqa']}", 40)):
        ts = load_taskset(spec)
        assert len(ts.tasks) == n
        _every_support_is_a_document(ts)


def test_wiki18_sample_corpus(paths: dict[str, Path]) -> None:
    docs = read_jsonl_corpus(paths["wiki18"])
    assert len(docs) == 1000 and [d.id for d in docs] == [str(i) for i in range(1000)]
    assert docs[0].title == "Evan Morris" and docs[0].text.startswith("Evan Morris Evan L. Morris (January 26, 1977")
    assert all(d.title and not d.title.startswith('"') for d in docs)  # FlashRAG's quoted titles unquoted
    ts = load_taskset(f"jsonl:{paths['wiki18']}")
    assert ts.tasks == [] and ts.documents == docs


# ----------------------------------------------------------------------------------------------
# bad files: every format, every way a file can be broken


def _wiki_small(tmp_path: Path, paths: dict[str, Path]) -> Path:
    out = tmp_path / "wiki_small.jsonl"
    out.write_text("".join(paths["wiki18"].read_text(encoding="utf-8").splitlines(keepends=True)[:3]), encoding="utf-8")
    return out


# format -> (file suffix, layout, id key, text key for the latin-1 byte, schema mutation)
FORMATS: dict[str, tuple[str, str, str, str, Callable[[dict], None]]] = {
    "hotpotqa": (".json", "array", "_id", "question", lambda r: r.update(context=5)),
    "2wiki": (".json", "array", "_id", "question", lambda r: r.update(evidences=7)),
    "musique": (".jsonl", "lines", "id", "question", lambda r: r.update(paragraphs="text")),
    "jsonl": (".jsonl", "lines", "id", "contents", lambda r: r.update(contents={"a": 1})),
    "qa": (".jsonl", "lines", "id", "question", lambda r: r.update(golden_answers={"a": 1})),
    "tasks": (".jsonl", "lines", "id", "question", lambda r: r.update(hops="x")),
}
CASES = ("truncated", "schema", "duplicate_id", "missing", "binary", "latin1", "fake_gz", "truncated_gz", "deep")


def _records(fmt: str, paths: dict[str, Path]) -> list[dict]:
    if fmt == "hotpotqa":
        return json.loads(paths["hotpotqa"].read_text(encoding="utf-8"))[:3]
    if fmt == "2wiki":
        return json.loads(paths["2wiki"].read_text(encoding="utf-8"))[:3]
    if fmt == "musique":
        return _lines(paths["musique2"])[:3]
    if fmt == "jsonl":
        return _lines(paths["wiki18"])[:3]
    if fmt == "qa":
        return [{"id": f"q{i}", "question": f"Question {i}?", "golden_answers": [f"answer {i}"]} for i in range(3)]
    return [{"id": f"t{i}", "question": f"Question {i}?", "answers": [f"answer {i}"],
             "hops": [{"question": f"Question {i}?", "answer": f"answer {i}", "support": [str(i)]}]} for i in range(3)]


def _loader(fmt: str, tmp_path: Path, paths: dict[str, Path]) -> Callable[[Path], Any]:
    if fmt == "qa":
        return lambda p: load_taskset(f"qa:{p},corpus=jsonl:{_wiki_small(tmp_path, paths)}")
    if fmt == "tasks":
        return lambda p: load_taskset(f"jsonl:{_wiki_small(tmp_path, paths)},tasks={p}")
    return lambda p: load_taskset(f"{fmt}:{p}")


def _dump(parts: list[str], layout: str) -> str:
    return "[\n" + ",\n".join(parts) + "\n]\n" if layout == "array" else "\n".join(parts) + "\n"


def _bad_file(fmt: str, case: str, tmp_path: Path, paths: dict[str, Path]) -> tuple[Path, str]:
    """A broken file of ``fmt`` and a regex for where the error must point."""
    suffix, layout, id_key, text_key, mutate = FORMATS[fmt]
    records = _records(fmt, paths)
    parts = [json.dumps(r) for r in records]  # ASCII only: non-ASCII escaped
    second = r"(record 1\b|line 2\b)"
    path = tmp_path / f"bad_{fmt}_{case}{suffix}"
    if case == "truncated":
        head = parts[:1] + [parts[1][: len(parts[1]) // 2]]
        text = _dump(head, layout)
        path.write_text(text[: text.rindex(parts[1][:10]) + len(parts[1]) // 2], encoding="utf-8")
        return path, second
    if case == "schema":
        mutate(records[1])
        path.write_text(_dump([json.dumps(r) for r in records], layout), encoding="utf-8")
        return path, second
    if case == "duplicate_id":
        records[2][id_key] = records[0][id_key]
        path.write_text(_dump([json.dumps(r) for r in records], layout), encoding="utf-8")
        return path, r"(record 2\b|line 3\b).*duplicate"
    if case == "missing":
        return tmp_path / f"absent{suffix}", ""
    if case == "binary":
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
        return path, r"line 1\b.*(binary|UTF-8)"
    if case == "latin1":
        key = f'"{text_key}": "'
        parts[1] = parts[1].replace(key, key + "caf\u00e9 ", 1)
        path.write_bytes(_dump(parts, layout).encode("latin-1"))
        return path, second + r".*not UTF-8"
    if case == "fake_gz":
        path = path.with_name(path.name + ".gz")
        path.write_text(_dump(parts, layout), encoding="utf-8")
        return path, r"not a gzip file"
    if case == "truncated_gz":
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(_dump(parts, layout).encode("utf-8"))
        path.write_bytes(data[: len(data) * 2 // 3])
        return path, r"(record|line) \d+.*truncated"
    assert case == "deep"
    parts[1] = parts[1][:-1] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}"
    path.write_text(_dump(parts, layout), encoding="utf-8")
    return path, second + r".*nested too deeply"


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_bad_files_raise_one_clear_error(fmt: str, case: str, tmp_path: Path, paths: dict[str, Path]) -> None:
    path, where = _bad_file(fmt, case, tmp_path, paths)
    load = _loader(fmt, tmp_path, paths)
    with pytest.raises(CorpusFormatError) as info:
        load(path)
    message = str(info.value)
    assert path.name in message, message
    if case == "missing":
        assert isinstance(info.value, CorpusFileNotFoundError) and isinstance(info.value, FileNotFoundError)
        assert "not found" in message
    else:
        assert re.search(where, message), message
    assert isinstance(info.value, ValueError)
    assert "Traceback" not in message and len(message) < 600, message  # no dump of the file in the message


def test_good_versions_of_the_bad_files_load(tmp_path: Path, paths: dict[str, Path]) -> None:
    # the same builders without the damage: the errors above come from the damage alone
    for fmt, (suffix, layout, *_rest) in FORMATS.items():
        path = tmp_path / f"good_{fmt}{suffix}"
        path.write_text(_dump([json.dumps(r) for r in _records(fmt, paths)], layout), encoding="utf-8")
        ts = _loader(fmt, tmp_path, paths)(path)
        assert len(ts.tasks) == (0 if fmt == "jsonl" else 3) and ts.documents
        gz = path.with_name(path.name + ".gz")
        gz.write_bytes(gzip.compress(path.read_bytes()))
        assert _loader(fmt, tmp_path, paths)(gz) == ts


def test_truncated_array_names_the_record_after_the_last_good_id(tmp_path: Path, paths: dict[str, Path]) -> None:
    path, _ = _bad_file("hotpotqa", "truncated", tmp_path, paths)
    first = json.loads(paths["hotpotqa"].read_text(encoding="utf-8"))[0]["_id"]
    with pytest.raises(CorpusFormatError, match=rf"record 1 \(after id '{first}'\): not valid JSON .*the file ends inside this record"):
        load_taskset(f"hotpotqa:{path}")


def test_musique_schema_errors_name_the_record(tmp_path: Path, paths: dict[str, Path]) -> None:
    row = _lines(paths["musique2"])[0]
    cases = [
        (dict(row, answer_aliases="Kris"), "'answer_aliases' must be a list of strings"),
        (dict(row, question_decomposition={"a": 1}), "'question_decomposition' must be a list"),
        (dict(row, question_decomposition=[dict(row["question_decomposition"][0], paragraph_support_idx="x")]),
         "paragraph_support_idx 'x' is not an integer"),
        (dict(row, paragraphs=[dict(p, idx=0) for p in row["paragraphs"]]), "duplicate idx 0"),
        (dict(row, question_decomposition=[dict(s, question=s["question"].replace("#1", "#2"))
                                           for s in row["question_decomposition"]]),
         "refers to #2, which is not an earlier sub-question"),
        (dict(row, id=["x"]), "field 'id' must be a string"),
        (dict(row, paragraphs=[5]), "paragraph 0 lacks a 'paragraph_text' string"),
    ]
    for bad, problem in cases:
        path = tmp_path / "m.jsonl"
        path.write_text(json.dumps(bad) + "\n", encoding="utf-8")
        with pytest.raises(CorpusFormatError, match=r"m\.jsonl: record 0\b.*" + re.escape(problem)):
            load_musique(path)


# ----------------------------------------------------------------------------------------------
# question/answer-only data over the wiki-18 sample


QA_ROWS = [
    {"id": "nq-1", "question": "Which company did Evan Morris lobby for?", "golden_answers": ["Genentech", "Roche"]},
    {"id": "nq-2", "question": "In what year was the construction of Pavia Cathedral begun?", "golden_answers": ["1488"]},
    {"question": "what is the horse mesa dam", "golden_answers": "a concrete arch dam"},  # no id: one is made
]


@pytest.fixture()
def qa_file(tmp_path: Path) -> Path:
    path = tmp_path / "nq_small.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in QA_ROWS), encoding="utf-8")
    return path


def test_qa_spec_over_wiki18(qa_file: Path, paths: dict[str, Path]) -> None:
    ts = load_taskset(f"qa:{qa_file},corpus=jsonl:{paths['wiki18']}")
    assert ts.name == "qa" and len(ts.documents) == 1000
    assert [t.id for t in ts.tasks] == ["nq-1", "nq-2", "nq_small-2"]
    assert ts.tasks[0].answers == ("Genentech", "Roche") and ts.tasks[2].answers == ("a concrete arch dam",)
    assert all(t.hops == () and t.support_ids == () and t.kind == "qa" and t.source == "nq_small" for t in ts.tasks)
    assert dict(ts.tasks[0].metadata) == {"gold_hops": "none"}
    assert len(load_taskset(f"qa:{qa_file},limit=2,corpus=jsonl:{paths['wiki18']}").tasks) == 2
    # the corpus spec takes the rest of the string, commas and its own options included
    over = load_taskset(f"qa:{qa_file},corpus=hotpotqa:{paths['hotpotqa']},limit=2")
    assert len(over.tasks) == 3 and len(over.documents) == 20


def test_qa_bamboogle_csv(tmp_path: Path, paths: dict[str, Path]) -> None:
    path = tmp_path / "bamboogle.csv"
    path.write_text('Question,Answer\n"Who founded the company that Evan Morris lobbied for, Genentech?",'
                    '"[""Robert A. Swanson"", ""Herbert Boyer""]"\nWhat is 2+2?,4\n', encoding="utf-8")
    tasks = read_qa_tasks(path)
    assert [t.id for t in tasks] == ["bamboogle-0", "bamboogle-1"]
    assert tasks[0].answers == ("Robert A. Swanson", "Herbert Boyer") and tasks[1].answers == ("4",)
    bad = tmp_path / "noq.csv"
    bad.write_text("Prompt,Answer\nx,y\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError, match=r"noq\.csv: line 1: .*no Question column"):
        read_qa_tasks(bad)


@pytest.mark.parametrize(("spec", "pattern"), [
    ("qa:{qa}", "qa needs corpus="),
    ("qa:corpus=jsonl:{wiki}", "qa needs a question/answer file"),
    ("qa:{qa},corpus=qa:{qa},corpus=jsonl:{wiki}", "cannot itself be a qa spec"),
    ("qa:{qa},corpus=jsonl:/definitely/absent.jsonl", "absent.jsonl not found"),
])
def test_qa_spec_errors(spec: str, pattern: str, qa_file: Path, paths: dict[str, Path]) -> None:
    with pytest.raises(CorpusFormatError, match=pattern):
        load_taskset(spec.format(qa=qa_file, wiki=paths["wiki18"]))


def test_qa_record_errors(tmp_path: Path) -> None:
    for rows, problem in [
        ([{"question": "Q?"}], "record 0: no answer field"),
        ([{"question": "Q?", "golden_answers": []}], "record 0: no accepted answer"),
        ([{"query": "  ", "answers": ["a"]}], "record 0: empty question"),
        ([{"id": "a", "question": "Q?", "answer": "x"}, {"id": "a", "question": "R?", "answer": "y"}],
         r"record 1 \(id 'a'\): duplicate task id 'a' \(first in record 0\)"),
        ([{"text": "Q?", "answer": "x"}], "record 0: no question field"),
    ]:
        path = tmp_path / "q.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        with pytest.raises(CorpusFormatError, match=r"q\.jsonl: " + problem):
            read_qa_tasks(path)
