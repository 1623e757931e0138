"""DeepSearchEnv on a real synthetic world with a real BM25 index: turns, info, branching, gym.make."""

from __future__ import annotations

import subprocess
import sys
import time

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import searchgym  # noqa: F401  (registers the gym ids)
from searchgym.envs import DeepSearchEnv
from searchgym.envs.trajectory import INVALID
from searchgym.rewards.base import RewardResult

WORLD = "synthetic:seed=0,passages=2000,tasks=60,hops=2-4"


@pytest.fixture(scope="session")
def world():
    from searchgym.envs.factory import resolve_searcher, resolve_taskset

    taskset = resolve_taskset(WORLD)
    return taskset, resolve_searcher("bm25", taskset)


@pytest.fixture
def env(world):
    taskset, searcher = world
    return DeepSearchEnv(taskset.tasks, searcher, max_turns=6, top_k=5, passage_chars=120)


def _first_hop(env):
    obs, info = env.reset(options={"task_index": 0})
    return info["task"], info["task"].hops[0]


def test_episode_info_and_messages(env):
    obs, info = env.reset(options={"task_index": 0})
    task = info["task"]
    assert task.question in obs and info["turn"] == 0 and info["parse_error"] is None
    assert [m["role"] for m in info["messages"]] == ["system", "user"] and "<search>" in info["messages"][0]["content"]
    hop = task.hops[0]
    obs, r, term, trunc, info = env.step(f"<think>first hop</think><search>{hop.question}</search>")
    assert (r, term, trunc) == (0.0, False, False)
    support = hop.support[0]
    assert f"[{support}]" in obs and support in info["retrieved_ids"] and len(info["retrieved_ids"]) == 5
    for block in obs.split("\n\n")[1:]:  # passages cut at passage_chars
        assert len(block.split("\n", 1)[1]) <= 120 + 4
    obs, *_, info = env.step(f"<open>{support}</open>")
    assert obs.startswith(f"[{support}]") and info["opened_ids"] == (support,)
    obs, r, term, trunc, info = env.step(f"{hop.answer} [{support}]. <answer>{task.answer} [{support}] [nope-1]</answer>")
    assert term and not trunc and r == 1.0
    assert info["cited_ids"] == (support, "nope-1") and info["unseen_citations"] == ("nope-1",)
    assert [m["role"] for m in info["messages"]] == ["system", "user", "assistant", "user", "assistant", "user",
                                                     "assistant"]
    assert info["messages"] == env.messages and info["messages"] is not env.messages
    assert info["trajectory"].final_answer.startswith(task.answer)
    # after the end, step changes nothing
    obs, r, term, _, info2 = env.step("<search>more</search>")
    assert term and r == 0.0 and info2["trajectory"] == info["trajectory"]


def test_wrong_answer_scores_zero_and_reward_result_components(world):
    taskset, searcher = world
    env = DeepSearchEnv(taskset.tasks, searcher, reward=lambda t: RewardResult(0.25, {"em": 0.0, "fmt": 1.0}))
    env.reset(seed=3)
    _, r, term, _, info = env.step("<answer>Nobody</answer>")
    assert term and r == 0.25 and info["reward_components"] == {"em": 0.0, "fmt": 1.0}
    default = DeepSearchEnv(taskset.tasks, searcher)
    default.reset(seed=3)
    assert default.step("<answer>Nobody at all</answer>")[1] == 0.0


@pytest.mark.parametrize("turn, fragment", [
    ("no tags at all", "no action"),
    ("<search>a</search><open>b</open>", "2 action tags"),
    ("<answer>unclosed", "unclosed"),
    ("<open>w9-does-not-exist</open>", "unknown document id"),
    ("<answer>  </answer>", "empty answer"),
    ("z" * 100_000, "characters long"),
])
def test_malformed_turns_are_corrected_recorded_and_counted(env, turn, fragment):
    env.reset(seed=1)
    obs, r, term, trunc, info = env.step(turn)
    assert obs.startswith("Invalid turn:") and fragment in obs and fragment in info["parse_error"]
    assert not term and not trunc and r == 0.0 and info["turn"] == 1
    step = info["trajectory"].steps[-1]
    assert step.kind == INVALID and fragment in step.error and len(step.text) <= 32_768
    assert info["messages"][-1]["content"] == obs


def test_truncates_at_max_turns_counting_invalid_turns(env):
    env.reset(seed=2)
    results = [env.step("<search>anything</search>" if i % 2 else "???") for i in range(6)]
    assert [r[3] for r in results] == [False] * 5 + [True]
    assert not any(r[2] for r in results) and results[-1][4]["turn"] == 6


def test_snapshot_restore_and_independent_forks(env):
    task, hop = _first_hop(env)
    env.step(f"<search>{hop.question}</search>")
    snap = env.snapshot()
    fork = env.fork()
    assert fork.searcher is env.searcher and fork.tasks is env.tasks
    o1 = env.step(f"<open>{hop.support[0]}</open>")[0]
    assert fork.trajectory == snap.trajectory and len(fork.messages) == 4  # the fork did not move
    o2 = fork.step(f"<open>{hop.support[0]}</open>")[0]
    assert o1 == o2
    fork.step("<answer>x</answer>")
    assert not env.done and fork.done
    env.restore(snap)
    assert env.trajectory == snap.trajectory and env.turn == 1 and not env.done
    assert env.step(f"<open>{hop.support[0]}</open>")[0] == o1
    start = time.perf_counter()
    for _ in range(1000):
        env.fork()
    assert (time.perf_counter() - start) / 1000 < 1e-3  # the bench checks the 0.1 ms target


def test_same_seed_same_actions_same_observations(world):
    taskset, searcher = world

    def play(seed):
        e = DeepSearchEnv(taskset.tasks, searcher)
        out = [e.reset(seed=seed)[0]]
        for a in ("<search>founded</search>", "junk", "<open>w0-000007</open>"):
            out.append(e.step(a)[0])
        return out

    assert play(7) == play(7)
    seeded = DeepSearchEnv(taskset.tasks, searcher)
    seeded.reset(seed=5)
    twins = [seeded.fork(), seeded.fork().fork()]
    assert {e.reset()[1]["task"].id for e in (seeded, *twins)} == {twins[0].trajectory.task.id}  # same stream
    assert DeepSearchEnv(taskset.tasks, searcher).reset(seed=1)[0] != DeepSearchEnv(taskset.tasks, searcher).reset(seed=2)[0] \
        or len(taskset.tasks) == 1


def test_reset_options_pick_tasks(env, world):
    taskset, _ = world
    assert env.reset(options={"task_id": taskset.tasks[5].id})[1]["task"] == taskset.tasks[5]
    assert env.reset(options={"task_index": -1})[1]["task"] == taskset.tasks[-1]
    with pytest.raises(ValueError, match="no such task"):
        env.reset(options={"task_id": "nope"})
    with pytest.raises(RuntimeError, match="before reset"):
        DeepSearchEnv(taskset.tasks, env.searcher).step("<answer>x</answer>")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(turns=st.lists(st.one_of(
    st.text(max_size=200),
    st.sampled_from(["<search>novel</search>", "<open>w0-000001</open>", "<open>[x]</open>", "<answer>x [w0-1]</answer>",
                     "<search></search>", "<answer>", "<search>a</search><search>b</search>", "\x00\ud800",
                     "<search>" + "é" * 900 + "</search>", "<search>" + "x" * 5000 + "</search>"]),
    st.text(min_size=1, max_size=30).map(lambda q: f"<search>{q}</search>"),
), min_size=1, max_size=9))
def test_arbitrary_turns_never_raise_and_keep_invariants(env, turns):
    obs, info = env.reset(seed=0)
    done = False
    for i, turn in enumerate(turns, start=1):
        if done:
            break
        obs, r, term, trunc, info = env.step(turn)
        assert isinstance(obs, str) and obs in env.observation_space
        assert info["turn"] == i == len(info["trajectory"].steps)
        step = info["trajectory"].steps[-1]
        assert term == (step.kind == "answer") and (info["parse_error"] is None) == step.valid
        assert trunc == (not term and i >= env.max_turns)
        assert r == 0.0 or (term or trunc)
        assert len(info["messages"]) == 2 + 2 * i - (1 if term else 0)
        done = term or trunc


@pytest.fixture(scope="module")
def small_world_kwargs():
    return dict(seed=0, passages=200, num_tasks=10, hops="2")


def test_check_env_on_registered_ids(world, small_world_kwargs, shared_data):
    taskset, searcher = world
    envs = [
        gym.make("searchgym/SyntheticWorld-v0", **small_world_kwargs),
        gym.make("searchgym/DeepSearch-v0", corpus=taskset, searcher=searcher, max_turns=3, top_k=2),
        gym.make("searchgym/HotpotQA-v0", path=shared_data / "hotpotqa" / "hotpot_dev_distractor_sample40.json",
                 limit=5),
    ]
    for e in envs:
        check_env(e.unwrapped, skip_close_check=True)
        obs, info = e.reset(seed=0)
        assert obs in e.observation_space and info["task"].hops
    assert envs[1].unwrapped.searcher is searcher and envs[1].unwrapped.top_k == 2
    # a string spec is built once per process and shared by later gym.make calls
    again = gym.make("searchgym/SyntheticWorld-v0", **small_world_kwargs)
    assert again.unwrapped.searcher is envs[0].unwrapped.searcher


@pytest.mark.parametrize("code", [
    "import searchgym, gymnasium as gym; print(sorted(i for i in gym.registry if i.startswith('searchgym/')))",
    "import gymnasium as gym, searchgym; print(sorted(i for i in gym.registry if i.startswith('searchgym/')))",
    "import gymnasium as gym; gym.make('searchgym:searchgym/MuSiQue-v0', path='/nonexistent')",
])
def test_registration_in_a_fresh_process(code):
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    if "MuSiQue" in code:  # the id resolved through the module prefix; the missing file is the error
        assert "FileNotFoundError" in proc.stderr and "nonexistent" in proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    assert "searchgym/SyntheticWorld-v0" in proc.stdout and "searchgym/2WikiMultihopQA-v0" in proc.stdout


def test_import_searchgym_does_not_import_gymnasium():
    code = "import sys, searchgym; print('gymnasium' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
