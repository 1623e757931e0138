"""Citation-aware rubric reward (CaRR) and C-GRPO on synthetic chains, real HotpotQA tasks and the
real CaRR fixture."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from searchgym.corpora.records import Document, Hop, Task
from searchgym.envs.trajectory import ANSWER, OPEN, SEARCH, Step, Trajectory
from searchgym.judges.base import JudgeError, JudgeRequest, Judgment
from searchgym.rewards.cgrpo import cgrpo_results, cgrpo_rewards
from searchgym.rewards.outcome import OutcomeReward
from searchgym.rewards.rubric import (
    CitationRubricReward,
    CitationValidityReward,
    JudgeGrounder,
    Rubric,
    check_citations,
    connected_rubrics,
    placeholders,
    rubrics_from_task,
)

# --- a fictional 3-hop chain: Zorblax Corp -founded by-> Mira Quell -born in-> Tarnville -in-> Osteria
DOCS = {
    "w0-1": Document("w0-1", "Zorblax Corp", "Zorblax Corp is a company founded by Mira Quell in 1950."),
    "w0-2": Document("w0-2", "Mira Quell", "Mira Quell is an engineer who was born in Tarnville."),
    "w0-3": Document("w0-3", "Tarnville", "Tarnville is a city in Osteria."),
    "w0-4": Document("w0-4", "Mira Quellson", "Mira Quellson was born in Dunmore."),
    "w0-5": Document("w0-5", "Tarnvale", "Tarnvale is a town in Belmark."),
}
CHAIN = Task(
    id="chain-1", question="In which country is the city where the founder of Zorblax Corp was born?",
    answers=("Osteria", "Republic of Osteria"), kind="chain", source="test",
    hops=(Hop("Who founded Zorblax Corp?", "Mira Quell", ("M. Quell",), ("w0-1",)),
          Hop("Where was Mira Quell born?", "Tarnville", (), ("w0-2",)),
          Hop("Which country is Tarnville in?", "Osteria", (), ("w0-3",))),
)
RUBRIC = CitationRubricReward()


def search(text: str, query: str, hits: tuple[str, ...], cites: tuple[str, ...] = ()) -> tuple[Step, tuple[Document, ...]]:
    return Step(text=f"{text} <search>{query}</search>", kind=SEARCH, query=query, hits=hits, citations=cites), tuple(DOCS[h] for h in hits)


def opened(doc_id: str, text: str = "", cites: tuple[str, ...] = ()) -> tuple[Step, tuple[Document, ...]]:
    return Step(text=f"{text} <open>{doc_id}</open>", kind=OPEN, doc_id=doc_id, citations=cites), (DOCS[doc_id],)


def answer(text: str, ans: str, cites: tuple[str, ...] = ()) -> tuple[Step, tuple[Document, ...]]:
    return Step(text=f"{text} <answer>{ans}</answer>", kind=ANSWER, answer=ans, citations=cites), ()


def episode(task: Task, *turns: tuple[Step, tuple[Document, ...]]) -> Trajectory:
    t = Trajectory(task=task)
    for step, docs in turns:
        t = t.extend(step, docs)
    return t


def full_chain(task: Task = CHAIN, cites=("w0-1", "w0-2", "w0-3"), final="Osteria") -> Trajectory:
    c1, c2, c3 = (((c,) if c else ()) for c in cites)
    return episode(
        task,
        search("Find the founder first.", "founder of Zorblax Corp", ("w0-1", "w0-4")),
        search(f"Zorblax Corp was founded by Mira Quell {'[w0-1]' if c1 else ''}.", "Mira Quell birthplace", ("w0-2", "w0-4"), c1),
        search(f"Mira Quell was born in Tarnville {'[w0-2]' if c2 else ''}.", "Tarnville country", ("w0-3", "w0-5"), c2),
        answer(f"Tarnville is in Osteria {'[w0-3]' if c3 else ''}.", final, c3),
    )


# ------------------------------------------------------------------ rubrics from gold hops


def test_rubrics_from_chain_form_a_path_to_e0():
    rubrics = rubrics_from_task(CHAIN)
    assert [r.entities for r in rubrics] == [("E1",), ("E1", "E2"), ("E0", "E2")]
    assert [r.support for r in rubrics] == [("w0-1",), ("w0-2",), ("w0-3",)]
    assert rubrics[1].text == "<E2> answers: Where was <E1> born?"
    assert dict(rubrics[0].names)["E1"] == ("Mira Quell", "M. Quell")
    assert dict(rubrics[2].names)["E0"][:2] == ("Osteria", "Republic of Osteria")
    assert rubrics_from_task(Task(id="x", question="q?", answers=("a",))) == ()


def test_rubrics_from_comparison_and_intersection_are_stars():
    comp = Task(id="c", question="Which was founded first, Zorblax Corp or Quell Works?", answers=("Zorblax Corp",),
                kind="comparison", hops=(Hop("When was Zorblax Corp founded?", "Zorblax Corp", (), ("w0-1",)),
                                         Hop("When was Quell Works founded?", "Quell Works", (), ("w0-9",))))
    r = rubrics_from_task(comp)
    assert [x.entities for x in r] == [("E0",), ("E0", "E1")]
    inter = Task(id="i", question="Which engineer was born in Tarnville and founded Zorblax Corp?", answers=("Mira Quell",),
                 kind="intersection", hops=(Hop("Who was born in Tarnville?", "Mira Quell", (), ("w0-2",)),
                                            Hop("Who founded Zorblax Corp?", "Mira Quell", (), ("w0-1",))))
    assert [x.entities for x in rubrics_from_task(inter)] == [("E0",), ("E0",)]


def test_rubric_record_validation():
    assert placeholders("<E3> and <E10> met <E3> at <E0>; <X1>") == ("E0", "E3", "E10")
    with pytest.raises(ValueError):
        Rubric(text="  ")
    with pytest.raises(ValueError):
        Rubric(text="<E1> x", names=(("X1", ("a",)),))
    assert Rubric("<E1> was born in <E2>").fill({"E1": "Mira Quell"}) == "Mira Quell was born in <E2>"
    assert Rubric("<E1> x", names=(("E1", "Mira Quell"),)).names_of("E1") == ("Mira Quell",)  # a str, not its letters


# ------------------------------------------------------------------ the reward on synthetic chains


def test_correct_chain_gets_full_credit():
    r = RUBRIC(full_chain())
    assert r.value == 1.0
    assert r.components["n_rubrics"] == 3 and r.components["n_supported"] == 3 and r.components["n_connected"] == 3
    rows = r.details["rubrics"]
    assert [row["grounded_by"] for row in rows] == [["w0-1"], ["w0-2"], ["w0-3"]]
    assert all(row["connected"] and row["all_identified"] for row in rows)
    assert r.details["entities"] == {"E0": "Osteria", "E1": "Mira Quell", "E2": "Tarnville"}


def test_missing_citations_score_zero():
    r = RUBRIC(full_chain(cites=(None, None, None)))
    assert r.value == 0.0 and r.components["n_supported"] == 0
    assert all(row["reason"] == "no valid citation" for row in r.details["rubrics"])


def test_citing_unseen_documents_earns_nothing():
    # the agent never retrieves w0-3 but cites it for the last hop: that hop fails, and with it the
    # whole chain (the earlier hops no longer connect to the answer)
    t = episode(
        CHAIN,
        search("", "founder of Zorblax Corp", ("w0-1",)),
        search("Zorblax Corp was founded by Mira Quell [w0-1].", "Mira Quell", ("w0-2",), ("w0-1",)),
        answer("Mira Quell was born in Tarnville [w0-2], which is in Osteria [w0-3].", "Osteria", ("w0-2", "w0-3")),
    )
    r = RUBRIC(t)
    assert r.details["citations"]["rejected"] == {"w0-3": "not seen in this episode"}
    assert r.components["n_supported"] == 2 and r.value == 0.0


def test_citation_before_the_document_was_seen_is_rejected():
    t = episode(
        CHAIN,
        search("Guessing: it is [w0-3].", "founder of Zorblax Corp", ("w0-1", "w0-2", "w0-3"), ("w0-3",)),
        answer("Mira Quell [w0-1] born in Tarnville [w0-2].", "Osteria", ("w0-1", "w0-2")),
    )
    valid, rejected = check_citations(t)
    assert valid == ("w0-1", "w0-2") and "before it was shown" in rejected["w0-3"]
    assert RUBRIC(t).value == 0.0
    # citing it again once it has been seen repairs it
    t2 = t.extend(Step(text="[w0-3]", kind=ANSWER, answer="Osteria", citations=("w0-1", "w0-2", "w0-3")))
    assert RUBRIC(t2).value == 1.0


def test_right_answer_without_evidence_gets_no_rubric_credit():
    t = episode(CHAIN, answer("I just know it.", "Osteria"))
    r = RUBRIC(t)
    assert OutcomeReward()(t).value == 1.0 and r.value == 0.0
    assert cgrpo_rewards([1], [r.value]) == [pytest.approx(0.7)]


def test_partial_chain_gets_partial_connected_credit():
    r = RUBRIC(full_chain(cites=(None, "w0-2", "w0-3")))
    assert r.value == pytest.approx(2 / 3)
    assert [row["connected"] for row in r.details["rubrics"]] == [False, True, True]


def test_disconnected_evidence_gets_nothing():
    # hops 1 and 2 are supported, but the link to the answer (hop 3) is not
    r = RUBRIC(full_chain(cites=("w0-1", "w0-2", None)))
    assert r.components["n_supported"] == 2 and r.components["n_connected"] == 0 and r.value == 0.0
    assert r.details["rubrics"][0]["reason"] == "supported but not connected to <E0>"


def test_unnamed_hidden_entity_zeroes_its_rubrics():
    t = episode(
        CHAIN,
        search("", "founder of Zorblax Corp", ("w0-1", "w0-2", "w0-3")),
        answer("The founder was born in Tarnville [w0-1][w0-2], in Osteria [w0-3].", "Osteria", ("w0-1", "w0-2", "w0-3")),
    )
    r = RUBRIC(t)
    rows = r.details["rubrics"]
    assert [row["all_identified"] for row in rows] == [False, False, True]
    assert rows[0]["reason"] == "not identified: <E1>"
    assert r.value == pytest.approx(1 / 3)


def test_alias_and_whole_token_identification():
    # "M. Quell" is an alias; "Mira Quellson" (a near miss) must not count as naming Mira Quell
    t = full_chain()
    steps = list(t.steps)
    steps[1] = Step(text="Zorblax Corp was founded by M. Quell [w0-1]. <search>q</search>", kind=SEARCH, query="q",
                    hits=("w0-2", "w0-4"), citations=("w0-1",))
    assert RUBRIC(Trajectory(CHAIN, tuple(steps), t.seen)).value == 1.0
    steps[1] = Step(text="Zorblax Corp was founded by Mira Quellson [w0-1]. <search>q</search>", kind=SEARCH,
                    query="q", hits=("w0-2", "w0-4"), citations=("w0-1",))
    steps[2] = Step(text="born in Tarnville [w0-2] <search>Tarnville</search>", kind=SEARCH, query="Tarnville",
                    hits=("w0-3", "w0-5"), citations=("w0-2",))
    r = RUBRIC(Trajectory(CHAIN, tuple(steps), t.seen))
    assert r.details["entities"]["E1"] is None and r.value == pytest.approx(1 / 3)


def test_wrong_answer_zero_under_cgrpo():
    t = full_chain(final="Belmark")
    r = RUBRIC(t)
    assert r.value == 0.0 and r.details["entities"]["E0"] is None  # E0 unidentified: nothing connects
    res = cgrpo_results([OutcomeReward()(t)], [r])
    assert res[0].value == 0.0 and res[0].components["outcome.em"] == 0.0


def test_scope_final_only_counts_the_final_turn():
    final_only = CitationRubricReward(scope="final")
    # the final turn names Tarnville and cites w0-3 only: hops 1-2 were named/cited in earlier turns
    assert final_only(full_chain()).value == pytest.approx(1 / 3)
    t = full_chain().extend(Step(text="Mira Quell [w0-1] was born in Tarnville [w0-2], in Osteria [w0-3].", kind=ANSWER,
                                 answer="Osteria", citations=("w0-1", "w0-2", "w0-3")))
    assert final_only(t).value == 1.0


def test_open_counts_as_seen_and_answer_match_modes():
    t = episode(
        CHAIN,
        opened("w0-1"), opened("w0-2", "Founded by Mira Quell [w0-1]", ("w0-1",)), opened("w0-3", "born in Tarnville [w0-2]", ("w0-2",)),
        answer("It is in Osteria [w0-3].", "Osteria, a country", ("w0-3",)),
    )
    assert RUBRIC(t).value == 0.0  # the answer is not exactly an alias of <E0>
    assert CitationRubricReward(answer_match="contains")(t).value == 1.0


def test_citation_validity_gate():
    gate = CitationValidityReward()
    assert gate(full_chain()).value == 1.0
    assert gate(full_chain(cites=(None, None, None))).value == 0.0
    bad = full_chain().extend(Step(text="[w0-9]", kind=ANSWER, answer="Osteria", citations=("w0-9",)))
    assert gate(bad).value == 0.0 and gate(bad).components["n_rejected"] == 1


# ------------------------------------------------------------------ C-GRPO


def test_cgrpo_group_normalisation():
    out = cgrpo_rewards([1, 1, 0, 1], [0.5, 0.25, 1.0, 0.0])
    assert out == [pytest.approx(0.7 + 0.3 * 0.5), pytest.approx(0.7 + 0.3 * 0.25), 0.0, pytest.approx(0.7)]
    out = cgrpo_rewards([True, True], [0.5, 0.25])  # max over the group: the best correct one gets 1
    assert out == [pytest.approx(1.0), pytest.approx(0.85)]
    assert cgrpo_rewards([1, 0, 1], [0.0, 0.0, 0.0]) == [pytest.approx(0.7), 0.0, pytest.approx(0.7)]
    assert cgrpo_rewards([1, 1], [0.4, 0.2], alpha=0.0) == [1.0, 1.0]
    nan = cgrpo_rewards([1, 1], [math.nan, 0.2])
    assert math.isnan(nan[0]) and nan[1] == pytest.approx(1.0)
    assert cgrpo_rewards([0.9, 0.2], [1.0, 1.0], threshold=0.8) == [pytest.approx(1.0), 0.0]
    with pytest.raises(ValueError):
        cgrpo_rewards([0.5], [0.1])  # graded outcome without a threshold
    with pytest.raises(ValueError):
        cgrpo_rewards([1], [0.1, 0.2])
    with pytest.raises(ValueError):
        cgrpo_rewards([1], [1.5])


def test_cgrpo_over_a_group_of_real_trajectories():
    group = [full_chain(), full_chain(cites=(None, "w0-2", "w0-3")), episode(CHAIN, answer("", "Osteria")),
             full_chain(final="Belmark")]
    res = cgrpo_results([OutcomeReward()(t) for t in group], [RUBRIC(t) for t in group])
    assert [r.value for r in res] == [pytest.approx(1.0), pytest.approx(0.7 + 0.3 * 2 / 3), pytest.approx(0.7), 0.0]
    assert res[0].components["rubric.n_connected"] == 3 and res[0].components["rubric_group_max"] == 1.0


# ------------------------------------------------------------------ judge-grounded rubrics


@dataclass
class LexicalJudge:
    """A deterministic Judge for tests: supports a statement iff every content word of it occurs in the evidence."""

    name: str = "lexical"
    calls: int = 0
    fail: bool = False

    def judge(self, requests):
        self.calls += 1
        if self.fail:
            raise JudgeError("backend down")
        out = []
        for req in requests:
            assert isinstance(req, JudgeRequest) and req.kind == "support"
            words = {w.strip(".,?").lower() for w in req.target.split() if len(w.strip(".,?")) > 3}
            text = " ".join(d.text.lower() for d in req.evidence)
            out.append(Judgment(score=1.0 if all(w in text for w in words) else -1.0))
        return out

    async def ajudge(self, requests):
        return self.judge(requests)


JUDGE_RUBRICS = (
    Rubric("<E1> founded Zorblax Corp", names=(("E1", ("Mira Quell",)),)),
    Rubric("<E1> was born in <E2>", names=(("E1", ("Mira Quell",)), ("E2", ("Tarnville",)))),
    Rubric("<E2> is a city in <E0>", names=(("E2", ("Tarnville",)),)),
)


def test_judge_grounded_rubrics():
    judge = LexicalJudge()
    reward = CitationRubricReward(rubrics=lambda task: JUDGE_RUBRICS, grounder=JudgeGrounder(judge))
    r = reward(full_chain())
    assert r.value == 1.0 and judge.calls == 1  # one batch for all rubrics
    assert r.details["rubrics"][1]["filled"] == "Mira Quell was born in Tarnville"
    # without citations the judge is not even asked
    assert reward(full_chain(cites=(None, None, None))).value == 0.0 and judge.calls == 1
    with pytest.raises(ValueError, match="no gold support"):  # checked up front, whatever the agent did
        CitationRubricReward(rubrics=lambda task: JUDGE_RUBRICS)(episode(CHAIN, answer("", "Osteria")))


def test_judge_failure_policy():
    failing = JudgeGrounder(LexicalJudge(fail=True))
    with pytest.raises(JudgeError):
        CitationRubricReward(rubrics=lambda t: JUDGE_RUBRICS, grounder=failing)(full_chain())
    r = CitationRubricReward(rubrics=lambda t: JUDGE_RUBRICS, grounder=failing, on_judge_error="skip")(full_chain())
    assert r.scored is False and math.isnan(r.value)


# ------------------------------------------------------------------ real HotpotQA tasks


@pytest.fixture(scope="module")
def hotpot(shared_data):
    from searchgym.corpora.hotpotqa import load_hotpotqa

    return load_hotpotqa(shared_data / "hotpotqa" / "hotpot_dev_distractor_sample40.json")


def _hotpot_episode(taskset, task, cite_hops, final, name_bridge=True, distractor_cite=False):
    docs = {d.id: d for d in taskset.documents}
    gold = list(task.support_ids)
    distractor = next(d for d in docs if d not in gold)
    t = Trajectory(task=task)
    t = t.extend(Step(text=f"<search>{task.question}</search>", kind=SEARCH, query=task.question,
                      hits=(*gold, distractor)), tuple(docs[i] for i in (*gold, distractor)))
    cites = tuple(h.support[0] for i, h in enumerate(task.hops) if i in cite_hops)
    if distractor_cite:
        cites += (distractor,)
    names = " and ".join(h.answer for h in task.hops[:-1]) if name_bridge else "it"
    body = f"The evidence points through {names} " + " ".join(f"[{c}]" for c in cites)
    return t.extend(Step(text=f"{body} <answer>{final}</answer>", kind=ANSWER, answer=final, citations=cites))


def test_hotpotqa_bridge_chains(hotpot):
    chains = [t for t in hotpot.tasks if t.kind == "chain" and len(t.hops) == 2][:8]
    assert len(chains) >= 5
    for task in chains:
        full = RUBRIC(_hotpot_episode(hotpot, task, {0, 1}, task.answer))
        assert full.value == 1.0, (task.question, full.details)
        assert RUBRIC(_hotpot_episode(hotpot, task, set(), task.answer)).value == 0.0
        # only the answer hop cited: half the chain, connected
        assert RUBRIC(_hotpot_episode(hotpot, task, {1}, task.answer)).value == 0.5
        # only the bridge hop cited: supported but not connected
        part = RUBRIC(_hotpot_episode(hotpot, task, {0}, task.answer))
        assert part.components["n_supported"] == 1 and part.value == 0.0
        # the right answer, every gold doc cited, but the bridge entity never named: both rubrics
        # use <E1> (hop 2 links the bridge to the answer), so nothing counts
        unnamed = RUBRIC(_hotpot_episode(hotpot, task, {0, 1}, task.answer, name_bridge=False))
        if not any(n.lower() in task.question.lower() for n in task.hops[0].names):
            assert unnamed.value == 0.0 and unnamed.components["n_identified"] == 0
        assert RUBRIC(_hotpot_episode(hotpot, task, {0, 1}, "certainly not this")).value == 0.0
        # a cited distractor supports no rubric: full coverage, citation precision 2/3
        padded = RUBRIC(_hotpot_episode(hotpot, task, {0, 1}, task.answer, distractor_cite=True))
        assert padded.components["coverage"] == 1.0 and padded.value == pytest.approx(2 / 3)


def test_hotpotqa_comparisons(hotpot):
    comps = [t for t in hotpot.tasks if t.kind == "comparison"][:5]
    assert comps
    for task in comps:
        assert RUBRIC(_hotpot_episode(hotpot, task, {0, 1}, task.answer)).value == 1.0
        one = RUBRIC(_hotpot_episode(hotpot, task, {0}, task.answer)).value
        assert one == 0.5
        wrong = "no" if task.answer == "yes" else "yes" if task.answer == "no" else "neither"
        assert RUBRIC(_hotpot_episode(hotpot, task, {0, 1}, wrong)).value == 0.0


# ------------------------------------------------------------------ the real CaRR fixture


@pytest.fixture(scope="module")
def carr(shared_data):
    from searchgym.rewards.carr_import import load_carr_episodes, load_carr_rubrics

    names = {"E1": ["Ricky Glenn"], "E2": ["Myles Jury"], "E3": ["John McCarthy", "Big John McCarthy"]}
    rubrics = load_carr_rubrics(shared_data / "carr" / "browsecomp_example_rubrics.json", names)
    (episode_,) = load_carr_episodes(shared_data / "carr" / "browsecomp_example.json")
    return episode_, rubrics


def test_carr_import(carr):
    ep, rubrics = carr
    t = ep.trajectory
    assert len(rubrics) == 10 and ep.label == "UFC 219: Cyborg vs. Holm" and ep.reported_reward == 1.0
    assert [r.entities for r in rubrics][:3] == [("E0",), ("E0", "E1", "E2"), ("E0", "E1")]
    assert sum(1 for s in t.steps if s.kind != ANSWER) == 45 and t.num_searches == 31
    assert t.final_answer == "UFC 219: Cyborg vs. Holm"
    assert t.task.question.startswith("Can you tell me the name of the MMA event")
    valid, rejected = check_citations(t)
    assert "https://en.wikipedia.org/wiki/UFC_219" in valid and not rejected
    assert all(u.startswith("http") and " " not in u for u in t.seen_ids)


def test_carr_connectivity_bfs(carr):
    _, rubrics = carr
    ents = [r.entities for r in rubrics]
    all_true = [True] * 10
    assert connected_rubrics(ents, all_true) == set(range(10))
    # E1/E2-only rubrics (6, 7) are cut off without a rubric that joins them to E0 ...
    assert connected_rubrics(ents, [i in (6, 7) for i in range(10)]) == set()
    # ... and rubric 5 (E0, E1, E2) is such a rubric
    assert connected_rubrics(ents, [i in (5, 6, 7) for i in range(10)]) == {5, 6, 7}
    sup = [i in (2, 6, 7) for i in range(10)]
    assert connected_rubrics(ents, sup) == {2, 6, 7}  # 2 links E1 to E0; 6 and 7 hang off E1
    sup = [i in (6, 7, 9) for i in range(10)]
    assert connected_rubrics(ents, sup) == {9}
    assert connected_rubrics(ents, [False] * 10) == set()
    assert connected_rubrics([(), ("E0",)], [True, True]) == {1}  # no placeholders: never connected


def test_carr_identification_and_full_reward(carr, shared_data):
    ep, rubrics = carr
    judge = LexicalJudge()
    r = CitationRubricReward(rubrics=lambda task: rubrics, grounder=JudgeGrounder(judge))(ep.trajectory)
    assert r.details["entities"] == {"E0": "UFC 219: Cyborg vs. Holm", "E1": "Ricky Glenn", "E2": "Myles Jury",
                                     "E3": "John McCarthy"}
    assert r.components["n_identified"] == 10 and judge.calls == 1
    rows = r.details["rubrics"]
    assert all(row["connected"] <= row["supported"] for row in rows)
    assert r.value == r.components["n_connected"] / 10
    # without names for the hidden entities only <E0>-only rubrics can be identified
    from searchgym.rewards.carr_import import load_carr_rubrics

    bare = load_carr_rubrics(shared_data / "carr" / "browsecomp_example_rubrics.json")
    r2 = CitationRubricReward(rubrics=lambda task: bare, grounder=JudgeGrounder(LexicalJudge()))(ep.trajectory)
    assert r2.components["n_identified"] == 1


# ------------------------------------------------------------------ the real synthetic world


@pytest.fixture(scope="module")
def world():
    from searchgym.corpora.synthetic import WorldConfig, generate_world

    return generate_world(WorldConfig(seed=3, num_passages=300, num_tasks=40, hops=(2, 3, 4)))


def _oracle(world, task, skip_hop=None, name_entities=True):
    docs = world.documents
    t = Trajectory(task=task)
    for doc_id in task.support_ids:
        t = t.extend(Step(text=f"<open>{doc_id}</open>", kind=OPEN, doc_id=doc_id), (docs[docs.index(doc_id)],))
    cites = tuple(dict.fromkeys(d for i, h in enumerate(task.hops) if i != skip_hop for d in h.support))
    names = "; ".join(h.answer for h in task.hops) if name_entities else ""
    text = f"Found: {names} " + " ".join(f"[{c}]" for c in cites)
    return t.extend(Step(text=f"{text} <answer>{task.answer}</answer>", kind=ANSWER, answer=task.answer, citations=cites))


def test_synthetic_world_rubrics(world):
    kinds = {t.kind for t in world.tasks}
    assert kinds == {"chain", "comparison", "intersection"}
    for task in world.tasks:
        rubrics = rubrics_from_task(task)
        assert len(rubrics) == len(task.hops) and all(r.support for r in rubrics)
        assert RUBRIC(_oracle(world, task)).value == 1.0, (task.question, RUBRIC(_oracle(world, task)).details)
        assert RUBRIC(episode(task, answer("", task.answer))).value == 0.0
        unnamed = RUBRIC(_oracle(world, task, name_entities=False))
        if task.kind == "chain":
            assert unnamed.value == 0.0  # every chain rubric touches a hidden entity the agent never named
        else:
            only_e0 = sum(1 for r in rubrics if r.entities == ("E0",))
            assert unnamed.value == only_e0 / len(rubrics)
        last = len(task.hops) - 1
        dropped = RUBRIC(_oracle(world, task, skip_hop=last))
        shared = any(set(task.hops[last].support) & set(h.support) for h in task.hops[:last])
        if not shared:
            assert dropped.value < 1.0
            if task.kind == "chain":
                assert dropped.value == 0.0  # the link to the answer is gone: nothing connects
        wrong = _oracle(world, task)
        wrong = Trajectory(task, wrong.steps[:-1] + (Step(text="x", kind=ANSWER, answer="Nobody", citations=wrong.steps[-1].citations),), wrong.seen)
        assert RUBRIC(wrong).value == 0.0


# ------------------------------------------------------------------ through the real environment


class TitleSearcher:
    """A tiny real ``Searcher``: documents whose title occurs in the query, in id order."""

    def __init__(self, docs):
        self.docs = dict(docs)

    def search(self, query, k=10):
        from searchgym.search.base import Hit

        q = query.lower()
        found = [d for d in self.docs.values() if d.title.lower() in q][:k]
        return [Hit(doc_id=d.id, score=1.0, title=d.title, text=d.text) for d in found]

    def batch_search(self, queries, k=10):
        return [self.search(q, k) for q in queries]

    def doc(self, doc_id):
        return self.docs.get(doc_id)


def test_rewards_on_env_trajectories():
    import searchgym.envs as envs

    DeepSearchEnv = getattr(envs, "DeepSearchEnv", None)
    if DeepSearchEnv is None:
        pytest.skip("searchgym.envs.DeepSearchEnv has not landed yet")

    def play(actions):
        env = DeepSearchEnv([CHAIN], TitleSearcher(DOCS), max_turns=8, top_k=5)
        env.reset(seed=0)
        for a in actions:
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                break
        return env.trajectory

    honest = play([
        "<search>Zorblax Corp</search>",
        "Zorblax Corp was founded by Mira Quell [w0-1]. <search>Mira Quell</search>",
        "Mira Quell was born in Tarnville [w0-2]. <search>Tarnville</search>",
        "Tarnville is in Osteria [w0-3]. <answer>Osteria</answer>",
    ])
    assert honest.final_answer.strip() == "Osteria"
    r = RUBRIC(honest)
    assert r.value == 1.0, r.details
    shortcut = play(["It is Osteria [w0-3]. <answer>Osteria</answer>"])
    r = RUBRIC(shortcut)
    assert r.value == 0.0 and "w0-3" in r.details["citations"]["rejected"]
    assert cgrpo_rewards([OutcomeReward()(honest).value, OutcomeReward()(shortcut).value],
                         [RUBRIC(honest).value, r.value]) == [pytest.approx(1.0), pytest.approx(0.7)]


@pytest.mark.parametrize("loader", ["musique", "twowiki"])
def test_loader_samples_full_credit_for_the_oracle(loader):
    from pathlib import Path

    from searchgym import corpora

    data = Path(__file__).parent / "data"
    ts = corpora.load_musique(data / "musique_sample.jsonl") if loader == "musique" else \
        corpora.load_twowiki(data / "twowiki_sample.json")
    docs = {d.id: d for d in ts.documents}
    for task in ts.tasks:
        rubrics = rubrics_from_task(task)
        assert len(rubrics) == len(task.hops) and all(r.support for r in rubrics)
        t = Trajectory(task=task).extend(
            Step(text="<search>q</search>", kind=SEARCH, query="q", hits=task.support_ids),
            tuple(docs[i] for i in task.support_ids))
        names = "; ".join(h.answer for h in task.hops)
        cites = task.support_ids
        t = t.extend(Step(text=f"{names} " + "".join(f"[{c}]" for c in cites), kind=ANSWER, answer=task.answer,
                          citations=cites))
        assert RUBRIC(t).value == 1.0, (task.question, RUBRIC(t).details)
        assert RUBRIC(episode(task, answer("", task.answer))).value == 0.0


def test_oracle_policy_in_the_real_env_earns_full_credit(world):
    import searchgym.envs as envs

    DeepSearchEnv = getattr(envs, "DeepSearchEnv", None)
    if DeepSearchEnv is None:
        pytest.skip("searchgym.envs.DeepSearchEnv has not landed yet")
    from searchgym.policies.oracle import OraclePolicy

    searcher, policy = TitleSearcher({d.id: d for d in world.documents}), OraclePolicy(world)
    kinds = set()
    for task in world.tasks:
        env = DeepSearchEnv([task], searcher, max_turns=12, top_k=5)
        env.reset(seed=0)
        for _ in range(12):
            _, _, terminated, truncated, _ = env.step(policy.generate([env.messages])[0][0].text)
            if terminated or truncated:
                break
        t = env.trajectory
        if OutcomeReward()(t).value == 1.0:  # the oracle found every hop's support
            r = RUBRIC(t)
            assert r.value == 1.0, (task.question, r.details["rubrics"])
            kinds.add(task.kind)
    assert kinds == {"chain", "comparison", "intersection"}
