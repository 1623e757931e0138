"""The env never raises on agent text: any code point, lone surrogates included, in free text, queries,
``<open>`` ids and answers, on a real BM25 index; and no such text is mistaken for a search failure."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchgym.envs import DeepSearchEnv

WORLD = "synthetic:seed=1,passages=300,tasks=10,hops=2"

# every code point: the default alphabet plus surrogates, controls and private use, which st.text() leaves out
ANY_CHAR = st.one_of(st.characters(), st.characters(categories=["Cs"]), st.characters(categories=["Cc", "Co", "Cn"]))
ANY_TEXT = st.text(alphabet=ANY_CHAR, max_size=80)
HOSTILE = ["\ud800", "\udfff", "w0-000001\ud800", "\x00", "\ufffe", "\U0010ffff", "\u202e", "[", "]", "\\", "%00",
           "../../etc/passwd", "d1' OR 1=1", "\ud83d", "\udc00\ud800"]


@pytest.fixture(scope="module")
def env():
    from searchgym.envs.factory import resolve_searcher, resolve_taskset

    taskset = resolve_taskset(WORLD)
    return DeepSearchEnv(taskset.tasks, resolve_searcher("bm25", taskset), max_turns=6, top_k=3)


def turns_strategy():
    real_id = st.sampled_from(["w0-000001", "w1-000002", "d1"])
    doc_id = st.one_of(ANY_TEXT, st.sampled_from(HOSTILE), st.tuples(real_id, st.sampled_from(HOSTILE)).map("".join))
    return st.lists(st.one_of(
        ANY_TEXT,
        doc_id.map(lambda d: f"<open>{d}</open>"),
        st.one_of(ANY_TEXT, st.sampled_from(HOSTILE)).map(lambda q: f"<search>{q}</search>"),
        st.tuples(ANY_TEXT, doc_id).map(lambda a: f"<answer>{a[0]} [{a[1]}]</answer>"),
        st.tuples(ANY_TEXT, ANY_TEXT).map(lambda t: f"<think>{t[0]}</think><search>{t[1]}</search>"),
    ), min_size=1, max_size=7)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(turns=turns_strategy())
def test_any_code_points_never_raise(env, turns):
    env.reset(seed=0)
    for turn in turns:
        obs, reward, term, trunc, info = env.step(turn)
        assert isinstance(obs, str) and obs in env.observation_space
        assert info["search_errors"] == [], info["search_errors"]  # odd text is never a backend fault
        if term or trunc:
            break


@pytest.mark.parametrize("doc_id", HOSTILE)
def test_hostile_open_ids_are_unknown_documents(env, doc_id):
    env.reset(seed=0)
    obs, *_, info = env.step(f"<open>{doc_id}</open>")
    assert info["search_errors"] == [] and (obs.startswith("Invalid turn") or obs.startswith("["))
