"""One registry and spec grammar for corpora, searchers, judges, policies and rewards."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from searchgym.corpora import CorpusFormatError, parse_spec
from searchgym.corpora.spec import CORPORA
from searchgym.judges.specs import JUDGES
from searchgym.policies.specs import POLICIES, parse_policy_spec
from searchgym.registry import Registry, SpecError
from searchgym.rewards import load_reward
from searchgym.rewards.specs import REWARDS
from searchgym.search.specs import SEARCHERS, build_searcher

REPO = Path(__file__).resolve().parents[1]


def _echo(arg, **kwargs):
    return arg, kwargs


def test_grammar_peels_declared_options_from_the_right(tmp_path: Path) -> None:
    reg: Registry = Registry("thing", "searchgym.test-things")
    reg.register("file", _echo, aliases=("f",), options=("limit", "mode"), rest_option="inner")
    reg.register("opts", _echo, options=None, arg="none")
    assert reg.build("file:/a,b/c.json,limit=3") == ("/a,b/c.json", {"limit": "3"})
    assert reg.build("F:x:y@z,mode=fast,limit=1", extra=1) == ("x:y@z", {"mode": "fast", "limit": "1", "extra": 1})
    assert reg.build("file") == (None, {})
    # the rest option takes everything after it, commas and colons included
    assert reg.build("file:q.jsonl,limit=2,inner=synthetic:seed=1,passages=5") == \
        ("q.jsonl", {"limit": "2", "inner": "synthetic:seed=1,passages=5"})
    assert reg.build("opts:a=1, b = two") == (None, {"a": "1", "b": "two"})
    with pytest.raises(SpecError, match="expected key=value, got 'a'"):
        reg.parse("opts:a")
    with pytest.raises(SpecError, match="option 'limit' given twice"):
        reg.parse("file:x,limit=1,limit=2")
    with pytest.raises(SpecError, match=r"unknown option 'limt' for file; file takes limit and mode\. "
                                        r"Did you mean 'limit'\?"):
        reg.parse("file:x,limt=2")
    # a path that exists may contain anything after a comma
    odd = tmp_path / "a,b=c"
    odd.write_text("")
    assert reg.parse(f"file:{odd}").arg == str(odd)


def test_unknown_names_suggest_the_closest_of_every_kind() -> None:
    cases = [(CORPORA, "hotpotq:/x.json", "hotpotqa"), (SEARCHERS, "bm52", "bm25"), (JUDGES, "rulez", "rules"),
             (POLICIES, "oracel", "oracle"), (REWARDS, "exact_mach", "exact_match")]
    for registry, spec, suggestion in cases:
        with pytest.raises(ValueError, match=rf"unknown {registry.kind} .*Did you mean '{suggestion}'\?"):
            registry.parse(spec)
    with pytest.raises(CorpusFormatError):  # each kind keeps its own error class
        CORPORA.parse("wikipedia")
    with pytest.raises(SpecError) as info:
        SEARCHERS.parse("zzz")
    assert "Did you mean" not in str(info.value) and "known: bm25, bm25s, dense, hybrid, remote" in str(info.value)


def test_bare_model_ids_are_hf_policies_but_typos_are_not() -> None:
    assert parse_policy_spec("smollm2") == ("hf", "smollm2", None)
    assert parse_policy_spec("HuggingFaceTB/SmolLM2-135M-Instruct") == ("hf", "HuggingFaceTB/SmolLM2-135M-Instruct", None)
    assert parse_policy_spec("openai:m@http://h:1/v1") == ("openai", "m", "http://h:1/v1")
    for bad in ("openai", "openai:@http://h", "hf:", "oracle:x", "opena:m"):
        with pytest.raises(SpecError):
            parse_policy_spec(bad)


def test_searcher_options_are_checked_and_typed() -> None:
    with pytest.raises(ValueError, match="k1='x' is not a float"):
        build_searcher("bm25:k1=x", [])
    with pytest.raises(SpecError, match="bm25 takes no argument"):
        build_searcher("bm25:fast", [])
    with pytest.raises(ValueError, match="needs documents"):
        build_searcher("bm25")


def test_rewards_by_spec() -> None:
    from searchgym.rewards.outcome import FormatReward, OutcomeReward
    from searchgym.rewards.rubric import CitationRubricReward, JudgeGrounder

    assert load_reward("em") == OutcomeReward("em") and load_reward("exact_match") == OutcomeReward("em")
    assert load_reward("f1") == OutcomeReward("f1")
    assert load_reward("format:mode=search_r1") == FormatReward("search_r1")
    rubric = load_reward("rubric:scope=final,precision=false,judge=rules")
    assert isinstance(rubric, CitationRubricReward) and isinstance(rubric.grounder, JudgeGrounder)
    assert (rubric.scope, rubric.citation_precision) == ("final", False)
    with pytest.raises(SpecError, match="expected true or false"):
        load_reward("rubric:precision=maybe")


def _install_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, group: str, source: str) -> str:
    """A distribution publishing ``mine`` in ``group``; its module is named after the group (unique per test)."""
    module = "plugin_" + group.rpartition(".")[2]
    (tmp_path / f"{module}.py").write_text(source)
    dist = tmp_path / f"{module}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{group}]\nmine = {module}:factory\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return module


def test_a_searcher_from_an_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_entry_point(tmp_path, monkeypatch, "searchgym.searchers",
                         "class S:\n    def __init__(self, arg, docs): self.arg, self.docs = arg, docs\n"
                         "    def search(self, q, k=5): return []\n    def doc(self, i): return None\n"
                         "def factory(arg, documents=None, **kw):\n    return S(arg, documents)\n")
    searcher = build_searcher("mine:x,y=1", ["d"])
    assert (searcher.arg, searcher.docs) == ("x,y=1", ["d"])  # an entry point parses its own body
    assert "mine" in SEARCHERS.names()


def test_a_reward_from_an_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_entry_point(tmp_path, monkeypatch, "searchgym.rewards", "def factory(arg, **kw):\n    return 7\n")
    with pytest.raises(TypeError, match="not callable"):
        load_reward("mine")


def test_every_documented_spec_still_parses() -> None:
    corpora = ["synthetic", "synthetic:seed=0,passages=2000,tasks=200,hops=2-4", "synthetic:passages=100000",
               "synthetic:seed=0,passages=200,tasks=64,hops=2", "hotpotqa:data/hotpot.json,limit=100",
               "musique:m.jsonl,unanswerable=keep", "2wiki:dev.json", "jsonl:wiki18.jsonl,tasks=t.jsonl",
               "qa:nq.jsonl,corpus=jsonl:wiki18.jsonl", "hotpotqa:split=train,limit=100",
               "hf:hotpotqa/hotpot_qa:distractor:validation,limit=5"]
    config = yaml.safe_load((REPO / "configs" / "default.yaml").read_text())
    for spec in [*corpora, config["corpus"]]:
        parse_spec(spec)
    for spec in ("bm25", "bm25:k1=0.9,b=0.4", "bm25s", "bm25s:k1=1.5,b=0.9", "dense", "dense:/models/enc",
                 "hybrid", "remote:http://127.0.0.1:8000", config["searcher"]):
        SEARCHERS.parse(spec)
    for spec in ("rules", "gold", "openai:gpt-4o-mini@http://127.0.0.1:8000/v1", "openai:gpt-4o-mini",
                 "transformers", "transformers:smollm2"):
        JUDGES.parse(spec)
    for spec in ("oracle", "smollm2", "hf:runs/searchgym/final", "openai:m@http://127.0.0.1:8000/v1"):
        parse_policy_spec(spec)


def test_a_broken_entry_point_names_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_entry_point(tmp_path, monkeypatch, "searchgym.policies", "import no_such_module_here\n")
    with pytest.raises(SpecError, match=r"policy entry point 'mine' \(plugin_policies:factory\) failed to load: "
                                        "ModuleNotFoundError"):
        POLICIES.parse("mine:x")


def test_bf16_reaches_a_local_model_and_spares_factories_that_predate_it(tmp_path, tokenizer) -> None:
    from helpers import tiny_llama
    from searchgym.policies.specs import load_policy, register_policy

    tiny_llama(tokenizer).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    assert load_policy(f"hf:{tmp_path}", bf16=True).autocast_bf16
    assert not load_policy(f"hf:{tmp_path}").autocast_bf16
    assert load_policy("oracle", tasks=[], bf16=True) is not None  # nothing of its own to compute in bf16

    def older(arg, *, tasks=None, searcher=None, max_new_tokens=64, temperature=0.0, seed=0):
        return ("older", arg)

    register_policy("older-factory", older, arg="required")
    try:
        assert load_policy("older-factory:x") == ("older", "x")  # bf16 is only passed when asked for
    finally:
        POLICIES._entries.pop("older-factory", None)
