"""Data-set loaders and corpus specs: HotpotQA on the real shared sample, MuSiQue and
2WikiMultihopQA on hand-written records in their published formats, JSONL corpora and task files,
the ``datasets`` path (offline, from local files) and the spec grammar."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from searchgym.corpora import (
    CorpusFormatError,
    Document,
    Hop,
    HubUnavailableError,
    Task,
    TaskSet,
    hop_templates,
    hotpotqa_from_rows,
    load_hotpotqa,
    load_jsonl,
    load_musique,
    load_taskset,
    load_twowiki,
    musique_from_rows,
    parse_spec,
    read_jsonl_corpus,
    read_tasks_jsonl,
    twowiki_from_rows,
    write_jsonl_corpus,
    write_tasks_jsonl,
    write_taskset,
)
from searchgym.corpora.building import fill_references, slugify
from searchgym.corpora.spec import parse_hops

DATA = Path(__file__).parent / "data"
MUSIQUE = DATA / "musique_sample.jsonl"
TWOWIKI = DATA / "twowiki_sample.json"


@pytest.fixture(scope="session")
def hotpot_path(shared_data: Path) -> Path:
    return shared_data / "hotpotqa" / "hotpot_dev_distractor_sample40.json"


@pytest.fixture(scope="session")
def hotpot_raw(hotpot_path: Path) -> list[dict]:
    return json.loads(hotpot_path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def hotpot(hotpot_path: Path) -> TaskSet:
    return load_hotpotqa(hotpot_path)


def _task(ts: TaskSet, task_id: str) -> Task:
    return next(t for t in ts.tasks if t.id == task_id)


def _check_consistent(ts: TaskSet) -> None:
    ids = [d.id for d in ts.documents]
    assert len(ids) == len(set(ids))
    for doc_id in ids:
        assert doc_id and not any(c in doc_id for c in " []\n")
    known = set(ids)
    for task in ts.tasks:
        assert task.hops, task.id
        for hop in task.hops:
            assert hop.question.strip() and hop.answer.strip(), task.id
            assert set(hop.support) <= known, (task.id, hop.support)
        assert len(hop_templates(task)) == len(task.hops)


# ----------------------------------------------------------------------------------------------
# HotpotQA on the real sample


def test_hotpotqa_sample_counts_and_support(hotpot: TaskSet, hotpot_raw: list[dict]) -> None:
    assert len(hotpot_raw) == 40
    # the README says 400 paragraphs; one record (5abd259d55429924427fcf1a) has only its 2 gold ones
    assert sum(len(r["context"]) for r in hotpot_raw) == 392
    distinct = {(c[0], "".join(c[1])) for r in hotpot_raw for c in r["context"]}
    assert hotpot.name == "hotpotqa"
    assert len(hotpot.tasks) == 40
    assert len(hotpot.documents) == len(distinct) == 391  # one paragraph repeats across records
    _check_consistent(hotpot)
    by_id = {d.id: d for d in hotpot.documents}
    for task, raw in zip(hotpot.tasks, hotpot_raw):
        assert task.id == raw["_id"] and task.question == raw["question"].strip()
        assert task.answers == (raw["answer"],) and task.source == "hotpotqa"
        # every supporting paragraph of the record is the support of some hop, and nothing else is
        gold_titles = {t.replace("&amp;", "&") for t, _ in raw["supporting_facts"]}
        assert {by_id[i].title for i in task.support_ids} == gold_titles
        meta = dict(task.metadata)
        assert meta["type"] == raw["type"] and meta["level"] == raw["level"]
        if task.kind == "chain":
            assert task.hops[-1].answer == task.answer
    kinds = [t.kind for t in hotpot.tasks]
    assert kinds.count("comparison") == 13  # 12 typed comparison + one disguised as bridge
    assert kinds.count("chain") == 27


def test_hotpotqa_document_text(hotpot: TaskSet) -> None:
    by_id = {d.id: d for d in hotpot.documents}
    temple = by_id["Shirley_Temple"]
    assert temple.title == "Shirley Temple"
    assert temple.text.startswith("Shirley Temple Black (April 23, 1928")
    # sentences carry their own leading space: joined as published, no double spaces
    assert "draw as a child actress from 1935 to 1938. As an adult" in temple.text
    trolls = by_id["Tunnels_Trolls"]
    assert trolls.title == "Tunnels & Trolls"  # HTML entity of the published title decoded
    assert by_id["Kiss_and_Tell_1945_film"].title == "Kiss and Tell (1945 film)"


def test_hotpotqa_bridge_named_in_other_paragraph(hotpot: TaskSet) -> None:
    # Kiss and Tell's paragraph names Shirley Temple, whose paragraph states the answer.
    t = _task(hotpot, "5a8c7595554299585d9e36b6")
    assert t.kind == "chain" and t.answers == ("Chief of Protocol",)
    h1, h2 = t.hops
    assert h1.answer == "Shirley Temple" and h1.support == ("Kiss_and_Tell_1945_film",)
    assert h2.answer == "Chief of Protocol" and h2.support == ("Shirley_Temple",)
    assert "Shirley Temple" in h2.question and t.question in h1.question
    assert hop_templates(t)[1].endswith("(via #1)")
    assert fill_references(hop_templates(t)[1], [h1.answer]) == h2.question
    # the director of "Big Stone Gap" is the bridge; disambiguated titles show as entity names
    t = _task(hotpot, "5a8e3ea95542995a26add48d")
    assert [h.answer for h in t.hops] == ["Adriana Trigiani", "Greenwich Village, New York City"]
    assert t.hops[0].support == ("Big_Stone_Gap_film",) and t.hops[1].support == ("Adriana_Trigiani",)
    t = _task(hotpot, "5abd94525542992ac4f382d2")  # 2014 S/S -> Winner (band) -> YG Entertainment
    assert t.hops[0].answer == "Winner" and t.hops[0].aliases == ("Winner (band)",)
    assert t.hops[0].names == ("Winner", "Winner (band)")


def test_hotpotqa_bridge_when_answer_is_a_supporting_title(hotpot: TaskSet) -> None:
    # "fight song of the university whose main campus is in Lawrence": the answer is the title of
    # one supporting paragraph (Kansas Song), so the other (University of Kansas) is the bridge and
    # supports hop 1 itself; Kansas Song's paragraph supports hop 2.
    t = _task(hotpot, "5a7166395542994082a3e814")
    h1, h2 = t.hops
    assert (h1.answer, h1.support) == ("University of Kansas", ("University_of_Kansas",))
    assert (h2.answer, h2.support) == ("Kansas Song", ("Kansas_Song",))
    t = _task(hotpot, "5a85ea095542994775f606a8")  # Animorphs via The Hork-Bajir Chronicles
    assert [h.answer for h in t.hops] == ["The Hork-Bajir Chronicles", "Animorphs"]


def test_hotpotqa_bridge_comes_from_the_text_not_the_fact_order(hotpot: TaskSet, hotpot_raw: list[dict]) -> None:
    # HotpotQA happens to list the start paragraph first; the bridge must not depend on that.
    reversed_rows = [dict(r, supporting_facts=r["supporting_facts"][::-1]) for r in hotpot_raw]
    again = hotpotqa_from_rows(reversed_rows)
    chains = [(a, b) for a, b in zip(hotpot.tasks, again.tasks) if a.kind == "chain"]
    assert len(chains) == 27
    for a, b in chains:
        assert a.hops == b.hops, a.id


def test_hotpotqa_comparisons_and_yes_no(hotpot: TaskSet) -> None:
    t = _task(hotpot, "5a8b57f25542995d1e6f1371")  # Scott Derrickson vs Ed Wood: yes
    assert t.kind == "comparison" and t.answers == ("yes",)
    assert [(h.answer, h.support) for h in t.hops] == [
        ("Scott Derrickson", ("Scott_Derrickson",)), ("Ed Wood", ("Ed_Wood",))
    ]
    assert all(h.answer not in ("yes", "no") for h in t.hops)
    no = _task(hotpot, "5adbf0a255429947ff17385a")
    assert no.answers == ("no",) and no.kind == "comparison"
    # typed "bridge" in the file, but a comparison of the two named people
    older = _task(hotpot, "5a7bbb64554299042af8f7cc")
    assert dict(older.metadata)["type"] == "bridge"
    assert older.kind == "comparison"
    assert [h.answer for h in older.hops] == ["Annie Morton", "Terry Richardson"]
    # typed "bridge", names both entities, but the answer is a year: stays a chain
    vcu = _task(hotpot, "5adf37a95542995ec70e8f97")
    assert vcu.kind == "chain"
    assert [h.answer for h in vcu.hops] == ["Virginia Commonwealth University", "1838"]


def test_hotpotqa_limit_and_spec(hotpot_path: Path, hotpot: TaskSet) -> None:
    ts = load_taskset(f"hotpotqa:{hotpot_path},limit=5")
    assert [t.id for t in ts.tasks] == [t.id for t in hotpot.tasks[:5]]
    assert len(ts.documents) == 50
    full = load_taskset(f"hotpot:{hotpot_path}")
    assert full.tasks == hotpot.tasks and full.documents == hotpot.documents


def test_title_collisions_are_disambiguated_deterministically() -> None:
    def row(i: int, ctx: list) -> dict:
        return {"_id": f"q{i}", "question": "Is Poison a band?", "answer": "yes", "type": "comparison",
                "level": "easy", "supporting_facts": [[c[0], 0] for c in ctx[:2]], "context": ctx}

    rows = [
        row(0, [["Poison (band)", ["Poison is a band."]], ["Glam", ["Glam is a style."]]]),
        row(1, [["Poison (band)", ["Poison is a band."]], ["Poison band", ["A different page."]]]),
        row(2, [["Glam", ["Glam rock, a second text."]], ["Poison (band)", ["Poison is a band."]]]),
    ]
    ts = hotpotqa_from_rows(rows)
    assert [(d.id, d.title) for d in ts.documents] == [
        ("Poison_band", "Poison (band)"), ("Glam", "Glam"), ("Poison_band-2", "Poison band"), ("Glam-2", "Glam"),
    ]
    assert ts.tasks[1].support_ids == ("Poison_band", "Poison_band-2")
    assert ts.tasks[2].support_ids == ("Glam-2", "Poison_band")
    assert hotpotqa_from_rows(rows).documents == ts.documents  # same input, same ids
    assert slugify("Charles Eugène (pilot) & co.") == "Charles_Eugene_pilot_co"


def test_hotpotqa_malformed_records_name_file_and_record(tmp_path: Path, hotpot_raw: list[dict]) -> None:
    bad = [dict(hotpot_raw[0]), dict(hotpot_raw[1])]
    del bad[1]["answer"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(CorpusFormatError, match=r"bad\.json: record 1 \(id '5a8c7595554299585d9e36b6'\): missing field 'answer'"):
        load_hotpotqa(path)
    fullwiki = dict(hotpot_raw[1])
    fullwiki["context"] = [c for c in fullwiki["context"] if c[0] != "Shirley Temple"]
    with pytest.raises(CorpusFormatError, match=r"record 0 .*'Shirley Temple'.* not in the record's context"):
        hotpotqa_from_rows([fullwiki], origin="x.json")
    broken = tmp_path / "broken.json"
    broken.write_text('[{"_id": "a",\n "question": }]')
    with pytest.raises(CorpusFormatError, match=r"broken\.json: record 0: not valid JSON \(line 2"):
        load_hotpotqa(broken)
    weird = dict(hotpot_raw[0], context=[["only a title"]])
    with pytest.raises(CorpusFormatError, match="context entry"):
        hotpotqa_from_rows([weird])


# ----------------------------------------------------------------------------------------------
# the datasets path: same mapping code, rows from Arrow


def _hub_shape(row: dict) -> dict:
    """A published HotpotQA record in the shape of the Hub's hotpotqa/hotpot_qa features."""
    return {
        "id": row["_id"], "question": row["question"], "answer": row["answer"], "type": row["type"],
        "level": row["level"],
        "supporting_facts": {"title": [t for t, _ in row["supporting_facts"]],
                             "sent_id": [i for _, i in row["supporting_facts"]]},
        "context": {"title": [t for t, _ in row["context"]], "sentences": [s for _, s in row["context"]]},
    }


def test_datasets_rows_match_file(hotpot: TaskSet, hotpot_raw: list[dict], hotpot_path: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    hub = datasets.Dataset.from_list([_hub_shape(r) for r in hotpot_raw])
    from_hub = hotpotqa_from_rows(hub)
    assert from_hub.tasks == hotpot.tasks and from_hub.documents == hotpot.documents
    as_json = datasets.load_dataset("json", data_files=str(hotpot_path), split="train")
    from_json = hotpotqa_from_rows(as_json)
    assert from_json.tasks == hotpot.tasks and from_json.documents == hotpot.documents
    # the hf: spec goes through datasets.load_dataset; a local data directory needs no network
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "validation.json").write_text(hotpot_path.read_text(encoding="utf-8"), encoding="utf-8")
    via_spec = load_taskset(f"hf:{repo}::validation,limit=7")
    assert via_spec.tasks == hotpot.tasks[:7]
    with pytest.raises(HubUnavailableError, match="local file"):
        load_taskset(f"hf:{repo}::no_such_split")


def test_hub_unreachable_error_says_pass_a_local_file() -> None:
    code = (
        "from searchgym.corpora import load_taskset, HubUnavailableError\n"
        "try:\n    load_taskset('hotpotqa')\n"
        "except HubUnavailableError as e:\n    print('ERR', e)\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ERR could not load 'hotpotqa/hotpot_qa'")
    assert "pass it as a local file" in out.stdout and "hotpotqa:/path/" in out.stdout


# ----------------------------------------------------------------------------------------------
# MuSiQue (hand-written records in the published format)


def test_musique_hops_substitution_and_support() -> None:
    ts = load_musique(MUSIQUE)
    assert ts.name == "musique"
    assert [t.id for t in ts.tasks] == ["2hop__1001_1002", "3hop1__2001_2002_2003", "2hop__4001_4002"]
    _check_consistent(ts)
    t = ts.tasks[0]
    assert t.answers == ("Marlowe Vance", "M. Vance") and t.kind == "chain" and t.source == "musique"
    assert [h.question for h in t.hops] == ["What is the record label of Glass Harbor?", "Who founded Tidewater Records?"]
    assert hop_templates(t) == ("Glass Harbor >> record label", "Who founded #1?")
    assert [h.support for h in t.hops] == [("Glass_Harbor",), ("Tidewater_Records",)]
    assert t.hops[-1].names == ("Marlowe Vance", "M. Vance")
    t3 = ts.tasks[1]
    assert [h.question for h in t3.hops] == [
        "What is the author of The Salt Ledger?",
        "Which university did Ines Calloway attend?",
        "When was Northmere University founded?",
    ]
    assert hop_templates(t3)[2] == "When was #2 founded?"
    assert t3.hops[-1].answer == t3.answer == "1871"
    t4 = ts.tasks[2]
    assert t4.hops[1].question == "What is Tidewater Records located in?"
    # same title, other text: a second id; identical paragraphs across records: one document
    titles = [d.title for d in ts.documents]
    assert titles.count("Marlowe Vance") == 2 and titles.count("Tidewater Records") == 1
    assert {d.id for d in ts.documents if d.title == "Marlowe Vance"} == {"Marlowe_Vance", "Marlowe_Vance-2"}


def test_musique_unanswerable_skipped_by_default() -> None:
    kept = load_taskset(f"musique:{MUSIQUE},unanswerable=keep")
    assert len(kept.tasks) == 4
    t = _task(kept, "2hop__3001_3002")
    assert dict(t.metadata)["answerable"] == "false"
    assert t.hops[0].support == ("Oren_Pike",) and t.hops[1].support == ()
    assert t.hops[1].question == "Where was Oren Pike born?"
    assert len(load_taskset(f"musique:{MUSIQUE},limit=2").tasks) == 2


def test_musique_malformed(tmp_path: Path) -> None:
    row = json.loads(MUSIQUE.read_text().splitlines()[0])
    row["question_decomposition"][1]["paragraph_support_idx"] = 42
    with pytest.raises(CorpusFormatError, match=r"m\.jsonl: record 0 \(id '2hop__1001_1002'\): sub-question 2 cites paragraph 42"):
        musique_from_rows([row], origin="m.jsonl")
    path = tmp_path / "m.jsonl"
    path.write_text(MUSIQUE.read_text().splitlines()[0] + "\n{not json\n")
    with pytest.raises(CorpusFormatError, match=r"m\.jsonl: line 2: not valid JSON"):
        load_musique(path)


def test_musique_datasets_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    ds = datasets.load_dataset("json", data_files=str(MUSIQUE), split="train")
    assert musique_from_rows(ds).tasks == load_musique(MUSIQUE).tasks


# ----------------------------------------------------------------------------------------------
# 2WikiMultihopQA (hand-written records in the published format)


def test_twowiki_hops_from_evidences() -> None:
    ts = load_twowiki(TWOWIKI)
    assert ts.name == "2wiki" and len(ts.tasks) == 5
    _check_consistent(ts)
    comp = ts.tasks[0]
    assert comp.kind == "chain" and comp.answers == ("Lidia Verhal",) and comp.source == "2wiki"
    assert [(h.question, h.answer, h.support) for h in comp.hops] == [
        ("What is the director of The Lantern Keeper?", "Tomas Verhal", ("The_Lantern_Keeper_film",)),
        ("What is the mother of Tomas Verhal?", "Lidia Verhal", ("Tomas_Verhal",)),
    ]
    assert hop_templates(comp)[1] == "What is the mother of #1?"
    cmp_ = ts.tasks[1]
    assert cmp_.kind == "comparison"
    assert [(h.answer, h.support) for h in cmp_.hops] == [
        ("1958", ("The_Lantern_Keeper_film",)), ("1964", ("Morning_Over_Skarn",))
    ]
    assert ts.tasks[2].kind == "chain" and ts.tasks[2].hops[-1].answer == "Halvard Osk"
    bridge_cmp = ts.tasks[3]
    assert bridge_cmp.kind == "comparison" and len(bridge_cmp.hops) == 4
    assert hop_templates(bridge_cmp)[2:] == ("What is the date of birth of #1?", "What is the date of birth of #2?")
    assert bridge_cmp.hops[3].support == ("Ada_Fenn",)
    yes_no = ts.tasks[4]
    assert yes_no.answers == ("no",)
    # "Ada Fenn" has another text in this record than in the previous one: a second id
    assert [h.support for h in yes_no.hops] == [("Ada_Fenn-2",), ("Tomas_Verhal-2",)]


def test_twowiki_hub_columns_match_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    raw = json.loads(TWOWIKI.read_text())
    hub_rows = [{
        "id": r["_id"], "type": r["type"], "question": r["question"], "answer": r["answer"],
        "context": {"title": [c[0] for c in r["context"]], "content": [c[1] for c in r["context"]]},
        "supporting_facts": {"title": [f[0] for f in r["supporting_facts"]], "sent_id": [f[1] for f in r["supporting_facts"]]},
        "evidences": {"fact": [e[0] for e in r["evidences"]], "relation": [e[1] for e in r["evidences"]],
                      "entity": [e[2] for e in r["evidences"]]},
    } for r in raw]
    ds = datasets.Dataset.from_list(hub_rows)
    assert twowiki_from_rows(ds).tasks == load_twowiki(TWOWIKI).tasks
    # copies that store the nested fields as strings (JSON or Python literals) read the same
    as_strings = [dict(r, context=str(r["context"]), supporting_facts=json.dumps(r["supporting_facts"]),
                       evidences=str(r["evidences"])) for r in raw]
    assert twowiki_from_rows(as_strings).tasks == load_twowiki(TWOWIKI).tasks
    # a copy without evidences falls back to the HotpotQA mapping of the supporting paragraphs
    bare = twowiki_from_rows([{k: v for k, v in r.items() if k != "evidences"} for r in raw[:1]])
    assert bare.tasks[0].source == "2wiki" and bare.tasks[0].hops[-1].answer == "Lidia Verhal"


# ----------------------------------------------------------------------------------------------
# JSONL corpora and task files


def test_jsonl_corpus_conventions(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    lines = [
        {"id": "0", "contents": '"Aaron"\nAaron is a prophet.'},  # FlashRAG / Search-R1 wiki-18
        {"id": "d1", "contents": "Plain Title\nBody line one.\nBody line two."},  # pyserini
        {"id": "d2", "contents": "no title here"},
        {"id": "d3", "title": "T3", "text": "text three"},
        {"id": 7, "title": "Seven", "contents": "Seven\nseven's text"},
        {"id": "d8", "title": "Eight", "contents": "only the body"},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    docs = read_jsonl_corpus(path)
    assert docs == [
        Document("0", "Aaron", "Aaron is a prophet."),
        Document("d1", "Plain Title", "Body line one.\nBody line two."),
        Document("d2", "", "no title here"),
        Document("d3", "T3", "text three"),
        Document("7", "Seven", "seven's text"),
        Document("d8", "Eight", "only the body"),
    ]


@pytest.mark.parametrize("name", ["c.jsonl", "c.jsonl.gz"])
def test_jsonl_corpus_round_trip(tmp_path: Path, hotpot: TaskSet, name: str) -> None:
    path = write_jsonl_corpus(hotpot.documents, tmp_path / name)
    assert read_jsonl_corpus(path) == list(hotpot.documents)
    if name.endswith(".gz"):
        first = json.loads(gzip.open(path, "rt", encoding="utf-8").readline())
    else:
        first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert first["contents"] == f"{first['title']}\n{first['text']}"
    quoted = write_jsonl_corpus(hotpot.documents[:3], tmp_path / "q.jsonl", quote_titles=True)
    row = json.loads(quoted.read_text(encoding="utf-8").splitlines()[0])
    assert row["contents"].startswith(f'"{row["title"]}"\n')
    # readers that only know id + contents (pyserini, FlashRAG) get the same documents back
    only_contents = tmp_path / "oc.jsonl"
    only_contents.write_text("".join(
        json.dumps({"id": r["id"], "contents": r["contents"]}) + "\n"
        for r in map(json.loads, quoted.read_text(encoding="utf-8").splitlines())
    ))
    assert read_jsonl_corpus(only_contents) == list(hotpot.documents[:3])
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write leaves no temp file


def test_jsonl_errors_name_file_and_line(tmp_path: Path) -> None:
    dup = tmp_path / "dup.jsonl"
    dup.write_text('{"id": "a", "contents": "x"}\n{"id": "b", "contents": "y"}\n{"id": "a", "contents": "z"}\n')
    with pytest.raises(CorpusFormatError, match=r"dup\.jsonl: line 3: duplicate id 'a' \(first on line 1\)"):
        read_jsonl_corpus(dup)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "contents": "x"}\n{"id": "b"}\n')
    with pytest.raises(CorpusFormatError, match=r"bad\.jsonl: line 2: needs 'contents'"):
        read_jsonl_corpus(bad)
    noid = tmp_path / "noid.jsonl"
    noid.write_text('["not", "an", "object"]\n')
    with pytest.raises(CorpusFormatError, match=r"noid\.jsonl: line 1: expected a JSON object"):
        read_jsonl_corpus(noid)
    with pytest.raises(FileNotFoundError, match="missing.jsonl"):
        read_jsonl_corpus(tmp_path / "missing.jsonl")


def test_tasks_jsonl_round_trip_and_spec(tmp_path: Path, hotpot: TaskSet) -> None:
    corpus_path, tasks_path = write_taskset(hotpot, tmp_path / "set")
    assert read_tasks_jsonl(tasks_path) == list(hotpot.tasks)  # hops, kind, metadata included
    ts = load_taskset(f"jsonl:{corpus_path},tasks={tasks_path}")
    assert ts.name == "jsonl" and ts.tasks == list(hotpot.tasks) and ts.documents == list(hotpot.documents)
    assert load_taskset(f"jsonl:{corpus_path},tasks={tasks_path},limit=3").tasks == list(hotpot.tasks[:3])
    corpus_only = load_taskset(f"jsonl:{corpus_path}")
    assert corpus_only.tasks == [] and len(corpus_only.documents) == 391
    # a task citing a document the corpus lacks is caught at load time
    stray = Task("t1", "Q?", ("A",), (Hop("Q?", "A", support=("Nowhere",)),))
    stray_path = write_tasks_jsonl([stray], tmp_path / "stray.jsonl")
    with pytest.raises(CorpusFormatError, match=r"stray\.jsonl: task 't1' cites document id\(s\) \['Nowhere'\]"):
        load_jsonl(corpus_path, stray_path)
    bad = tmp_path / "badtasks.jsonl"
    bad.write_text('{"id": "x", "question": "Q?", "answers": []}\n')
    with pytest.raises(CorpusFormatError, match=r"badtasks\.jsonl: line 1: task 'x' has no accepted answer"):
        read_tasks_jsonl(bad)


# ----------------------------------------------------------------------------------------------
# spec grammar


def test_parse_spec_grammar(tmp_path: Path) -> None:
    assert parse_spec("synthetic").kind == "synthetic"
    s = parse_spec("synthetic:seed=1,passages=5000,tasks=100,hops=2-4")
    assert s.options == {"seed": "1", "passages": "5000", "tasks": "100", "hops": "2-4"}
    s = parse_spec("hotpotqa:/data/a,b/hotpot.json,limit=10")
    assert (s.kind, s.target, s.options) == ("hotpotqa", "/data/a,b/hotpot.json", {"limit": "10"})
    assert parse_spec("2WikiMultihopQA:/x/dev.json").kind == "2wiki"
    assert parse_spec("hotpotqa").target == "" and parse_spec("hotpotqa:split=train").options == {"split": "train"}
    s = parse_spec("hf:hotpotqa/hotpot_qa:distractor:validation,limit=5")
    assert (s.kind, s.target, s.options) == ("hf", "hotpotqa/hotpot_qa:distractor:validation", {"limit": "5"})
    s = parse_spec("jsonl:/c.jsonl,tasks=/t.jsonl")
    assert (s.target, s.options) == ("/c.jsonl", {"tasks": "/t.jsonl"})
    assert parse_hops("3") == (3,) and parse_hops("2-4") == (2, 3, 4) and parse_hops("2+4") == (2, 4)


@pytest.mark.parametrize(
    ("spec", "error", "pattern"),
    [
        ("", CorpusFormatError, "empty corpus spec"),
        ("wikipedia:/x", CorpusFormatError, "unknown corpus 'wikipedia'"),
        ("hotpotqa:/x.json,lmit=3", CorpusFormatError, "unknown option 'lmit' for hotpotqa"),
        ("musique:/x.jsonl,limit=-1", CorpusFormatError, "must not be negative"),
        ("musique:/x.jsonl,limit=ten", CorpusFormatError, "not an integer"),
        ("hotpotqa:/definitely/missing.json", FileNotFoundError, "missing.json not found"),
        ("hotpotqa:someone/hotpot", FileNotFoundError, "use 'hf:someone/hotpot'"),
        ("jsonl", CorpusFormatError, "jsonl needs a corpus path"),
        ("hf:", CorpusFormatError, "hf spec needs a repository"),
        ("synthetic:seed", CorpusFormatError, "expected key=value"),
        ("synthetic:hops=4-2", CorpusFormatError, "hops='4-2'"),
    ],
)
def test_bad_specs(spec: str, error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        load_taskset(spec)


def test_split_on_a_local_file_is_an_error(hotpot_path: Path) -> None:
    with pytest.raises(CorpusFormatError, match="apply to Hub specs"):
        load_taskset(f"hotpotqa:{hotpot_path},split=train")


def test_synthetic_spec() -> None:
    synthetic = pytest.importorskip("searchgym.corpora.synthetic")
    ts = load_taskset("synthetic:seed=1,passages=300,tasks=12,hops=2")
    ref = synthetic.generate_world(synthetic.WorldConfig(seed=1, num_passages=300, num_tasks=12, hops=(2,)))
    assert ts.name == "synthetic"
    assert [t.id for t in ts.tasks] == [t.id for t in ref.tasks]
    assert [d.id for d in ts.documents] == [d.id for d in ref.documents]
    assert len(load_taskset("synthetic:seed=1,passages=300,tasks=12,limit=5").tasks) == 5
    with pytest.raises(CorpusFormatError, match="unknown option 'colour'"):
        load_taskset("synthetic:colour=blue")
