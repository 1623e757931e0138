"""Objects gym.make records in env.spec are shared, not duplicated, by the copies Gymnasium takes."""

from __future__ import annotations

import copy
import warnings

import gymnasium as gym
import pytest

import searchgym  # noqa: F401  (registers the gym ids)
from searchgym.judges.cache import JudgeCache
from searchgym.rewards.group import GroupReward
from searchgym.sharing import SharedOnCopy


@pytest.fixture(scope="module")
def world():
    from searchgym.envs.factory import resolve_searcher, resolve_taskset

    taskset = resolve_taskset("synthetic:seed=0,passages=200,tasks=10,hops=2")
    return taskset, resolve_searcher("bm25s", taskset)


def test_copies_share_read_only_objects(world, tmp_path) -> None:
    taskset, searcher = world
    cache = JudgeCache(tmp_path / "judge.sqlite")
    for obj in (taskset, searcher, taskset.tasks[0], taskset.documents[0], cache):
        assert isinstance(obj, SharedOnCopy)
        assert copy.deepcopy(obj) is obj and copy.copy(obj) is obj
    # a container is still copied; the shared objects inside it are not
    tasks = list(taskset.tasks)
    copied = copy.deepcopy(tasks)
    assert copied is not tasks and all(a is b for a, b in zip(copied, tasks))
    cache.close()


def test_spec_copies_and_remakes_share_the_searcher_corpus_and_reward(world) -> None:
    taskset, searcher = world
    reward = GroupReward(budget=3)
    env = gym.make("searchgym/DeepSearch-v0", corpus=taskset, searcher=searcher, max_turns=3, reward=reward)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a spec that cannot be copied makes Gymnasium warn
        spec = env.spec  # a wrapper's spec is a deep copy of the env's
    assert spec is not env.unwrapped.spec
    assert spec.kwargs["searcher"] is searcher and spec.kwargs["corpus"] is taskset
    assert spec.kwargs["reward"] is reward
    again = gym.make(spec)  # deep-copies the spec's kwargs again
    assert again.unwrapped.searcher is searcher and again.unwrapped.reward_fn is reward
    assert again.unwrapped.tasks is taskset.tasks
    again.reset(seed=0)
    assert again.step("<answer>x</answer>")[2]  # a working env: the answer ends the episode
