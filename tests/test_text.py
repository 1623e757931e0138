"""Name matching: one token matcher under the agent-text and the data-set normalisations."""

from __future__ import annotations

from searchgym.text import (
    contains_tokens,
    find_name,
    mask_names,
    mentions,
    mentions_title,
    name_like_words,
    same_entity,
    tokens,
)


def test_contains_tokens_matches_whole_token_runs_only():
    assert contains_tokens(["born", "in", "new", "york", "city"], ["new", "york"])
    assert not contains_tokens(["born", "in", "newyork"], ["new", "york"])
    assert not contains_tokens(["a", "b"], [])
    assert not contains_tokens(["ab"], ["a"])


def test_find_name_reads_agent_text_through_markup():
    assert find_name("<answer>**Ricky Glenn**</answer>", ("Glenn Ricky", "Ricky Glenn")) == "Ricky Glenn"
    assert find_name("the Hork\u2011Bajir war", ["Hork-Bajir"]) == "Hork-Bajir"  # non-breaking hyphen
    assert find_name("a Parisian cafe", ("Paris",)) is None


def test_data_set_matching_folds_accents_entities_and_ampersands():
    assert tokens("Beyonc\u00e9 &amp; Jay-Z") == ["beyonce", "and", "jay", "z"]
    assert mentions("Songs by Beyonce and Jay Z.", "Beyonc\u00e9 & Jay-Z")
    assert not mentions("Songs by Beyonces", "Beyonc\u00e9")
    assert mentions_title("Kiss and Tell was released in 1945.", "Kiss and Tell (1945 film)")
    assert same_entity("Lee Hazlewood", "Barton Lee Hazlewood") and not same_entity("Lee", "Lee Hazlewood")


def test_mask_names_replaces_longest_names_first_and_only_whole_words():
    text = "Where was Ada Lovelace born? Adam asked Ada."
    assert mask_names(text, ["Ada", "Ada Lovelace"], "<E1>") == "Where was <E1> born? Adam asked <E1>."


def test_name_like_words_are_the_capitalised_words_and_numbers():
    assert name_like_words("Limard Vustoow was born in 1921 in ceilstad, not 3.") == ["Limard", "Vustoow", "1921", "3"]
