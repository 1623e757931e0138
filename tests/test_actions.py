"""The action grammar: valid turns, every kind of malformed turn, and arbitrary text (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searchgym.envs.actions import MAX_TURN_CHARS, parse_action


def test_search_with_reasoning_and_citations():
    a = parse_action("<think>Mira founded it [w0-1].</think> Next the city. <search> Mira Quell birthplace </search>")
    assert (a.kind, a.query, a.citations, a.error) == ("search", "Mira Quell birthplace", ("w0-1",), None)
    assert "Mira founded it [w0-1]." in a.reasoning and "<think>" not in a.reasoning


def test_open_and_answer():
    assert parse_action("<open>w0-12</open>").doc_id == "w0-12"
    assert parse_action("<OPEN> [w0-12] </Open>").doc_id == "w0-12"  # case, spaces and brackets tolerated
    a = parse_action("It is Osteria [w0-3]. <answer>Osteria [w0-3] [w0-9]</answer>")
    assert (a.kind, a.answer, a.citations) == ("answer", "Osteria [w0-3] [w0-9]", ("w0-3", "w0-9"))


def test_citations_must_be_well_formed():
    a = parse_action("see [the doc] and [link](http://x) and [ok-1] [ok-1] [] <answer>x</answer>")
    assert a.citations == ("ok-1",)


@pytest.mark.parametrize("text, fragment", [
    ("I think it is Paris.", "no action found"),
    ("<search>a</search><search>b</search>", "2 action tags"),
    ("<search>a</search> <answer>b</answer>", "2 action tags"),
    ("<search>unfinished", "unclosed"),
    ("done</answer>", "unclosed"),
    ("<search>a</open>", "mismatched"),
    ("</search>a<search>", "mismatched"),
    ("<search>   </search>", "empty search"),
    ("<answer> [w0-1] </answer>", "empty answer"),
    ("<open></open>", "empty open"),
    ("<open>two words</open>", "not a document id"),
    ("x" * (MAX_TURN_CHARS + 1), "characters long"),
    ("<search>" + "q " * 600 + "</search>", "characters long"),
    (None, "must be text"),
    (b"<answer>x</answer>", "must be text"),
])
def test_malformed_turns_are_invalid_with_a_reason(text, fragment):
    a = parse_action(text)
    assert a.kind == "invalid" and not a.valid and fragment in a.error


_tagged = st.lists(st.one_of(
    st.text(max_size=40),
    st.sampled_from(["<search>", "</search>", "<open>", "</open>", "<answer>", "</answer>", "<think>", "</think>",
                     "[w0-1]", "[", "]", "< search >", "</ANSWER>", "\x00", "\ud800", "\u202e"]),
), max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), _tagged, st.binary().map(lambda b: b.decode("latin-1"))))
def test_arbitrary_text_never_raises_and_keeps_invariants(text):
    a = parse_action(text)
    assert a.kind in ("search", "open", "answer", "invalid")
    assert (a.error is None) == a.valid
    if a.kind == "search":
        assert a.query and a.query == a.query.strip() and a.query in text
    if a.kind == "open":
        assert a.doc_id and not any(c.isspace() or c in "[]" for c in a.doc_id)
    if a.kind == "answer":
        assert a.answer and a.answer in text
    for c in a.citations:
        assert f"[{c}]" in text and not any(ch.isspace() for ch in c)


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=MAX_TURN_CHARS - 5, max_value=MAX_TURN_CHARS * 4))
def test_huge_turns_are_rejected_cheaply(n):
    a = parse_action("<answer>" + "a" * n + "</answer>")
    assert a.kind == "invalid"
