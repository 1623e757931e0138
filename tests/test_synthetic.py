"""The synthetic world: determinism, exact gold hops, unique answers, near-miss distractors, lazy documents."""

from __future__ import annotations

import collections
import hashlib
import os
import re
import subprocess
import sys

import pytest

from searchgym.corpora.records import Document, Task
from searchgym.corpora.synthetic import WorldConfig, WorldDocuments, generate_world
from searchgym.corpora.taskset import TaskSet

CONFIG = WorldConfig(seed=0, num_passages=800, num_tasks=150, hops=(2, 3, 4))


@pytest.fixture(scope="module")
def world() -> TaskSet:
    return generate_world(CONFIG)


@pytest.fixture(scope="module")
def docs(world: TaskSet) -> list[Document]:
    return list(world.documents)


@pytest.fixture(scope="module")
def by_title(docs: list[Document]) -> dict[str, Document]:
    return {d.title: d for d in docs}


def _digest(ts: TaskSet) -> str:
    h = hashlib.sha256()
    for d in ts.documents:
        h.update(f"{d.id}\x00{d.title}\x00{d.text}\x01".encode())
    for t in ts.tasks:
        h.update(repr(t).encode())
    return h.hexdigest()


def test_contract(world: TaskSet) -> None:
    assert isinstance(world, TaskSet) and world.name == "synthetic"
    assert len(world.documents) == 800 and len(world.tasks) == 150
    assert all(isinstance(t, Task) and t.source == "synthetic" for t in world.tasks)
    assert {t.kind for t in world.tasks} == {"chain", "comparison", "intersection"}
    assert len({t.id for t in world.tasks}) == 150
    assert len({t.question for t in world.tasks}) == 150


def test_same_seed_same_world_across_processes(world: TaskSet) -> None:
    again = generate_world(CONFIG)
    assert again == world and repr(again.documents) == "WorldDocuments(seed=0, passages=800, distractors=True)"
    assert list(again.documents[:50]) == list(world.documents[:50])
    assert list(again.tasks) == list(world.tasks)
    code = (
        f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r}); from test_synthetic import _digest, CONFIG; "
        "from searchgym.corpora.synthetic import generate_world; print(_digest(generate_world(CONFIG)))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # a differently salted hash() must not matter
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == _digest(world)


def test_different_seed_different_world(world: TaskSet) -> None:
    other = generate_world(WorldConfig(seed=1, num_passages=800, num_tasks=150))
    assert [d.title for d in other.documents[:20]] != [d.title for d in world.documents[:20]]
    assert [t.question for t in other.tasks] != [t.question for t in world.tasks]
    assert other.documents[0].id == "w1-000000"


def test_doc_ids(world: TaskSet, docs: list[Document]) -> None:
    ids = [d.id for d in docs]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"w0-\d{6}", i) for i in ids)
    assert ids[123] == "w0-000123"
    big = generate_world(WorldConfig(seed=3, num_passages=60, num_tasks=5))
    assert big.documents[59].id == "w3-000059"


def test_lazy_documents(world: TaskSet, docs: list[Document]) -> None:
    seq = world.documents
    assert isinstance(seq, WorldDocuments)
    assert seq[17] == docs[17] == seq[17 - len(seq)]
    assert seq[10:13] == docs[10:13] and seq[::400] == docs[::400]
    assert seq.id(42) == docs[42].id and seq.index(docs[42].id) == 42 and seq.index(docs[42]) == 42
    assert docs[5] in seq and "w0-999999" not in seq and "nonsense" not in seq
    with pytest.raises(IndexError):
        seq[len(seq)]
    with pytest.raises(ValueError, match="not a passage"):
        seq.index("w1-000001")
    # rendering in another order gives the same passage
    assert [seq[i] for i in (700, 3, 700)] == [docs[700], docs[3], docs[700]]


def test_every_entity_name_is_unique(world: TaskSet, docs: list[Document]) -> None:
    w = world.documents.world
    names = [w.name(i) for i in range(len(w))]
    assert len(set(names)) == len(names)
    aliases = [a for i in range(len(w)) for a in w.aliases(i)]
    assert not set(aliases) & set(names)
    assert [d.title for d in docs] == names


def test_hops_are_supported_by_their_passages(world: TaskSet) -> None:
    seq = world.documents
    for task in world.tasks:
        assert 2 <= len(task.hops) <= 4
        for hop in task.hops:
            assert hop.support, hop
            doc = seq[seq.index(hop.support[0])]
            # the hop names its subject, whose passage it is, and the passage states the answer
            assert doc.title in hop.question, (hop, doc)
            assert doc.title in doc.text
            assert hop.answer in doc.text, (hop, doc)
            assert "{" not in hop.question and hop.question.endswith("?")


def test_chains_connect(world: TaskSet) -> None:
    chains = [t for t in world.tasks if t.kind == "chain"]
    assert chains
    for task in chains:
        for prev, hop in zip(task.hops, task.hops[1:]):
            assert prev.answer in hop.question, task
        assert task.hops[-1].answer == task.answers[0]
        # the task names its starting entity, never an intermediate one
        assert task.hops[0].support and all(h.answer not in task.question for h in task.hops[:-1])


def test_comparisons_pick_the_right_side(world: TaskSet) -> None:
    comps = [t for t in world.tasks if t.kind == "comparison"]
    assert comps
    for task in comps:
        years = [(int(h.answer), h.question) for h in task.hops if h.answer.isdigit()]
        assert len(years) == 2 and years[0][0] != years[1][0]
        later = " later, " in task.question
        pick = max(years) if later else min(years)
        assert task.answers[0] in pick[1], task  # the chosen year hop is about the answer entity


_CONSTRAINTS = {
    r"was born in (.+)": "born",
    r"attended (.+)": "attended",
    r"founded an? (company|film studio|publishing house|record label) headquartered in (.+)": "founded",
    r"directed a film produced by (.+)": "film",
    r"wrote a book published by (.+)": "book",
    r"recorded an album released by (.+)": "album",
}


def _satisfies(w, p: int, clause: str, index: dict[str, int]) -> bool:
    """Brute-force check of one intersection clause against the world graph, independent of the generator."""
    for pattern, key in _CONSTRAINTS.items():
        m = re.fullmatch(pattern, clause)
        if m is None:
            continue
        target = index[m.group(m.lastindex)]
        if key == "born":
            city = int(w.t1[p])
            return target in (city, int(w.t1[city]))
        if key == "attended":
            return int(w.t2[p]) == target
        kinds = {"founded": {"company": "company", "film studio": "studio", "publishing house": "publisher",
                             "record label": "label"}.get(m.group(1)), "film": "film", "book": "book", "album": "album"}
        kind = kinds[key]
        return any(w.kind_of(j) == kind and int(w.t1[j]) == p and int(w.t2[j]) == target for j in range(len(w)))
    raise AssertionError(f"unparsed clause {clause!r}")


def test_intersections_have_exactly_one_answer(world: TaskSet) -> None:
    w = world.documents.world
    index = {w.name(i): i for i in range(len(w))}
    persons = [i for i in range(len(w)) if w.kind_of(i) == "person"]
    inter = [t for t in world.tasks if t.kind == "intersection"]
    assert inter
    for task in inter:
        body = re.fullmatch(r"Which person (.+)\?", task.question).group(1)
        head, _, last = body.rpartition(" and ")
        clauses = [c for c in head.split(", ") if c] + [last]
        assert len(clauses) >= 2
        matching = [w.name(p) for p in persons if all(_satisfies(w, p, c, index) for c in clauses)]
        assert matching == [task.answers[0]], (task.question, matching)


def test_hop_count_distribution(world: TaskSet) -> None:
    counts = collections.Counter(len(t.hops) for t in world.tasks)
    assert counts == {2: 50, 3: 50, 4: 50}
    kinds = collections.Counter(t.kind for t in world.tasks)
    assert kinds["chain"] > kinds["comparison"] > 0 and kinds["intersection"] > 0
    assert dict(world.tasks[0].metadata)["hops"] == str(len(world.tasks[0].hops))


def test_aliases_are_accepted_and_written(world: TaskSet, by_title: dict[str, Document]) -> None:
    with_alias = [t for t in world.tasks if len(t.answers) > 1]
    assert len(with_alias) >= 10
    for task in world.tasks:
        if task.answers[0].isdigit():
            continue
        doc = by_title[task.answers[0]]  # the answer entity's own passage names it in every accepted form
        for alias in task.answers:
            assert alias in doc.text, (alias, doc)
    hop_aliases = [h for t in world.tasks for h in t.hops if h.aliases]
    assert hop_aliases and all(h.names[0] == h.answer for h in hop_aliases)


def test_near_miss_distractors(world: TaskSet, docs: list[Document]) -> None:
    w = world.documents.world
    persons = [i for i in range(len(w)) if w.kind_of(i) == "person"]
    surnames = collections.Counter(w.name(p).split(" ")[1] for p in persons)
    assert sum(c for c in surnames.values() if c > 1) > len(persons) / 2  # most people share a surname
    orgs = ("company", "studio", "publisher", "label")
    stems = collections.Counter(d.title.split(" ")[0] for i, d in enumerate(docs) if w.kind_of(i) in orgs)
    assert sum(c for c in stems.values() if c > 1) > sum(stems.values()) / 2  # e.g. "X Records" and "X Press"
    places = collections.Counter(d.title for d in docs if w.kind_of(docs.index(d)) == "city")
    bases = collections.Counter(w.pools.place[int(w.a[i])] for i in range(len(w)) if w.kind_of(i) == "city")
    assert len(bases) < len(places)  # "Port X" and "Upper X"
    # shared attributes: people born in the same city, in the same year
    assert any(c > 1 for c in collections.Counter((int(w.t1[p]), int(w.year[p])) for p in persons).values())
    # passages that mention a hop's subject in passing, without being its support
    passing = 0
    hops = [h for t in world.tasks for h in t.hops]
    for hop in hops:
        subject = docs[world.documents.index(hop.support[0])].title
        passing += any(subject in d.text for d in docs if d.id not in hop.support)
    assert passing > len(hops) / 4


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_passages=10), "too small"),
        (dict(num_passages=100, num_tasks=101), "exceeds num_passages"),
        (dict(hops=(0,)), "hop count"),
        (dict(hops=(9,)), "hop count"),
        (dict(hops=()), "hop count"),
        (dict(kinds=("chain", "riddle")), "choose from"),
        (dict(seed=-1), "seed"),
        (dict(num_tasks=-3), "num_tasks"),
        (dict(comparison_share=0.8, intersection_share=0.5), "must not exceed"),
        (dict(hops=(1, 2), kinds=("comparison",)), "can only be chains"),
        (dict(num_passages="1000"), "must be an integer"),
    ],
)
def test_bad_config(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_world(WorldConfig(**kwargs))


def test_world_too_small_for_the_tasks_asked() -> None:
    with pytest.raises(ValueError, match="could not make 60 distinct comparison tasks with 5 hops"):
        generate_world(WorldConfig(seed=0, num_passages=60, num_tasks=60, hops=(5,), kinds=("comparison",)))


def test_kinds_and_single_hops() -> None:
    only = generate_world(WorldConfig(seed=2, num_passages=300, num_tasks=30, hops=(2, 3), kinds=("comparison",)))
    assert {t.kind for t in only.tasks} == {"comparison"}
    inter = generate_world(WorldConfig(seed=2, num_passages=300, num_tasks=20, hops=(2,), kinds=("intersection",)))
    assert {t.kind for t in inter.tasks} == {"intersection"}
    one = generate_world(WorldConfig(seed=2, num_passages=100, num_tasks=20, hops=(1,)))
    assert all(t.kind == "chain" and len(t.hops) == 1 for t in one.tasks)
    five = generate_world(WorldConfig(seed=2, num_passages=300, num_tasks=10, hops=(5,)))
    assert all(len(t.hops) == 5 for t in five.tasks)


def test_small_worlds_used_by_other_parts() -> None:
    for n, k in ((120, 8), (200, 64), (200, 120)):
        ts = generate_world(WorldConfig(seed=0, num_passages=n, num_tasks=k, hops=(2,)))
        assert len(ts.tasks) == k and all(len(t.hops) == 2 for t in ts.tasks)


def test_no_distractors_option() -> None:
    plain = generate_world(WorldConfig(seed=0, num_passages=200, num_tasks=10, distractors=False))
    rich = generate_world(WorldConfig(seed=0, num_passages=200, num_tasks=10))
    assert plain.tasks == rich.tasks
    assert sum(len(d.text) for d in plain.documents) < sum(len(d.text) for d in rich.documents)


def test_large_world_is_lazy() -> None:
    import tracemalloc

    tracemalloc.start()
    ts = generate_world(WorldConfig(seed=5, num_passages=200_000, num_tasks=50))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(ts.documents) == 200_000 and peak < 60 * 2**20
    last = ts.documents[-1]
    assert last.id == "w5-199999" and last.title in last.text


@pytest.mark.slow
def test_every_two_hop_sub_question_finds_its_passage_with_bm25(tmp_path) -> None:
    """The oracle's acceptance criterion: each hop question retrieves its support in BM25 top-5."""
    from searchgym.search import build_searcher

    ts = generate_world(WorldConfig(seed=11, num_passages=1500, num_tasks=60, hops=(2,)))
    searcher = build_searcher("bm25", ts.documents, cache_dir=tmp_path)
    hops = [h for t in ts.tasks for h in t.hops]
    results = searcher.batch_search([h.question for h in hops], 5)
    missed = [h.question for h, hits in zip(hops, results) if not set(h.support) & {x.doc_id for x in hits}]
    assert not missed
    # a lazy search with the whole chain question does not reach the hidden entity's passage
    chains = [t for t in ts.tasks if t.kind == "chain"]
    lazy = searcher.batch_search([t.question for t in chains], 5)
    found = sum(t.hops[-1].support[0] in {x.doc_id for x in hits} for t, hits in zip(chains, lazy))
    assert found < len(chains) / 4
