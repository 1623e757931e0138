"""Made-up names and the small English vocabulary the synthetic world is written with.

Names come from a syllable generator: pools of distinct words per style (given names, surnames,
place words, country names, company stems, product brands), drawn once per world from its seed.
Full names are pairs of pool words assigned through an affine permutation, so they are unique by
construction at any scale without a set of every name in memory.
"""

from __future__ import annotations

import math
import random
import re

import numpy as np

_ONSETS = ("b", "br", "c", "d", "dr", "f", "g", "gr", "h", "k", "kr", "l", "m", "n", "p", "r", "s",
           "st", "t", "tr", "v", "w", "z", "th", "sh", "j", "y", "qu")
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "a", "i", "ai", "ei")
_CODAS = ("", "", "", "", "", "", "n", "r", "l", "s", "m", "k", "nd", "rk")

# endings give each kind of name its own flavour (and keep the pools mostly apart)
_ENDINGS = {
    "given": ("a", "o", "en", "ia", "is", "an", "el", "ine", "ard", "us", "ette", "im", "ric", "ana"),
    "surname": ("in", "ov", "ek", "ard", "ston", "mann", "ez", "ski", "ley", "sen", "ari", "eau", "ick", "ow"),
    "place": ("holm", "ford", "mere", "vik", "burg", "dale", "ora", "ton", "wick", "stad", "ria", "port",
              "mouth", "field", "haven", "ene"),
    "country": ("ia", "ara", "land", "istan", "ora", "avia", "enia", "ovia", "ania", "esia"),
    "stem": ("ex", "on", "ix", "a", "ar", "is", "um", "ane", "ell", "ent", "os", "ia", "ic"),
    "brand": ("o", "ax", "ion", "ra", "yx", "an", "eon", "ik"),
}


_AWKWARD = re.compile(r"aa|ii|uu|ee|kk|rkr|[aeiou]{3}|(.)\1\1", re.I)


# words of the passage and question templates: a made-up name must never be one of them, or a
# query word ("year", "label") would match every passage about, say, "Year Records"
_TEMPLATE_WORDS = """
about acquired active album also appears artist assembled attend attended author award based became become been
best birthplace book books border born career city college company competed confused contains country design
directed director during earlier early economy educated education employs enrols exchange faculty farming federal
field film first fishing founded founder from full gave graduated grew have headquartered headquarters higher
included independent institution introduced investors known label language largest later lectured lectures legal
life lies located location made maintains makes manufactured manufacturer market medal million mining minority
minutes mixed monarchy moved name notable novel office official officially operates over pages parliamentary
partner people person played population praised press price private prize proclaimed produced product programme
provincial public published publisher raised received record recorded records regional registered released
republic research residents reviews river role runs series settlement shares shot since sold sound sovereign stake
state story students studied studio supporting textiles there town tracks trade trading translated twinned units
university unrelated were what when where which who whom with work works written wrote year years music house group
""".split()
_RESERVED = frozenset(w.lower() for w in (*_TEMPLATE_WORDS, "port", "new", "upper", "lower", "saint", "fort", "falls",
                                            "springs", "institute", "technology", "kingdom", "federation",
                                            "commonwealth", "mark", "the", "and"))


def _word(rng: random.Random, style: str, syllables: int) -> str:
    parts = []
    for _ in range(syllables):
        parts.append(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS))
    return ("".join(parts) + rng.choice(_ENDINGS[style])).capitalize()


def make_pool(rng: random.Random, style: str, size: int, taken: set[str]) -> list[str]:
    """``size`` distinct words of ``style``, none already in ``taken`` (which is updated)."""
    pool: list[str] = []
    syllables, misses = 1, 0
    while len(pool) < size:
        w = _word(rng, style, syllables + (rng.random() < 0.3))
        if w in taken or len(w) > 7 + 3 * syllables or _AWKWARD.search(w) or w.lower() in _RESERVED:
            misses += 1
            if misses > 200:  # short words are running out: allow longer ones
                syllables, misses = syllables + 1, 0
            continue
        misses = 0
        taken.add(w)
        pool.append(w)
    return pool


def unique_codes(rng: np.random.Generator, count: int, space: int) -> np.ndarray:
    """``count`` distinct integers in ``[0, space)``: an affine permutation of the first ``count``."""
    if count > space:
        raise ValueError(f"name space too small: {count} names from {space} combinations")
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    while True:
        a = int(rng.integers(max(1, space // 3), max(2, space)))
        if math.gcd(a, space) == 1:
            break
    b = int(rng.integers(0, space))
    return (a * np.arange(count, dtype=np.int64) + b) % space


def demonym(country: str) -> str:
    """An adjective for a made-up country name: Dravonia -> Dravonian."""
    if country.endswith("ia") or country.endswith("a"):
        return country + "n"
    if country.endswith("land"):
        return country[:-4] + "lander"
    if country.endswith("stan"):
        return country + "i"
    return country + "ian"


CITY_FORMS = ("Port {}", "New {}", "{} Falls", "Upper {}", "Saint {}", "Fort {}", "Lower {}", "{} Springs")
UNIVERSITY_FORMS = ("{} University", "{} Institute of Technology", "{} College", "University of {}")
COUNTRY_FORMS = ("Republic of {}", "Kingdom of {}", "Federation of {}", "Commonwealth of {}")
LEGAL_FORMS = ("Ltd.", "Inc.", "Group", "AG")

# organisation kinds: (suffixes, noun in questions, descriptions)
ORG_SUFFIXES = {
    "company": ("Industries", "Motors", "Systems", "Dynamics", "Works", "Technologies", "Instruments", "Engineering"),
    "studio": ("Pictures", "Studios", "Films", "Cinema"),
    "publisher": ("Press", "Books", "Publishing", "House"),
    "label": ("Records", "Music", "Sound", "Recordings"),
}
ORG_NOUN = {"company": "company", "studio": "film studio", "publisher": "publishing house", "label": "record label"}
ORG_FIELDS = {
    "company": ("engineering", "manufacturing", "electronics", "machinery", "optics", "shipbuilding", "aerospace"),
    "studio": ("independent", "animation", "documentary", "feature"),
    "publisher": ("literary", "academic", "independent", "educational"),
    "label": ("independent", "jazz", "electronic music", "classical music", "folk"),
}

PRODUCT_CODES = tuple(
    [f"{x}-{n}" for x in ("X", "V", "R", "T", "Z", "M") for n in (10, 20, 40, 80, 100, 300, 500, 900)]
    + [str(n) for n in (100, 200, 250, 400, 600, 700, 800, 1000, 2000, 3000)]
    + [f"Mark {r}" for r in ("II", "III", "IV", "V", "VI")]
)
PRODUCT_KINDS = ("camera", "motorcycle", "typewriter", "sailboat", "tractor", "synthesizer", "wristwatch",
                 "telescope", "sewing machine", "locomotive", "radio receiver", "bicycle", "drone", "microscope")

OCCUPATIONS = ("architect", "engineer", "novelist", "film director", "composer", "painter", "economist",
               "physician", "chemist", "journalist", "diplomat", "photographer", "entrepreneur", "historian",
               "sculptor", "poet", "singer", "mathematician", "inventor", "lawyer", "botanist", "pianist")
GENRES = {
    "film": ("drama", "thriller", "comedy", "science fiction film", "war film", "romance", "documentary", "western"),
    "book": ("novel", "short story collection", "memoir", "historical novel", "crime novel", "poetry collection"),
    "album": ("studio album", "jazz album", "folk album", "live album", "concept album"),
}
TOPICS = ("urban design", "public health", "modern poetry", "naval history", "folk music", "optics",
          "labour law", "glaciology", "medieval trade", "bridge engineering", "children's literature",
          "printing", "coastal ecology", "monetary policy", "stage lighting", "orchestration")
RELATIVES = ("sibling", "cousin", "niece", "nephew", "uncle", "aunt")

ADJECTIVES = (
    "Silent", "Crimson", "Hollow", "Golden", "Broken", "Distant", "Quiet", "Burning", "Frozen", "Hidden", "Last",
    "Lost", "Pale", "Restless", "Secret", "Silver", "Velvet", "Wandering", "Bitter", "Bright", "Dark", "Endless",
    "Fallen", "Gentle", "Glass", "Iron", "Lonely", "Midnight", "Northern", "Painted", "Patient", "Scarlet",
    "Shattered", "Sleeping", "Southern", "Stolen", "Summer", "Wintry", "Autumn", "Tender", "Unseen", "Violet",
    "Wild", "Wooden", "Amber", "Ashen", "Blue", "Copper", "Emerald", "Faded", "Final", "Forgotten", "Green",
    "Grey", "Invisible", "Marble", "Narrow", "Open", "Paper", "Radiant", "Salt", "Shallow", "Slow", "Stone",
    "Strange", "Sunken", "Twisted", "Uncertain", "Vanishing", "Waking", "White", "Yellow", "Electric", "Ivory",
    "Lunar", "Solar", "Brave", "Careless", "Crooked", "Drifting", "Eastern", "Western", "Fragile", "Honest",
)
NOUNS = (
    "Harbor", "Lantern", "Meridian", "Orchard", "River", "Garden", "Mirror", "Window", "Bridge", "Compass",
    "Tide", "Forest", "Island", "Letter", "Machine", "Mountain", "Ocean", "Promise", "Shadow", "Signal",
    "Station", "Storm", "Tower", "Valley", "Voyage", "Winter", "Archive", "Atlas", "Ballad", "Beacon", "Cathedral",
    "Chorus", "Circus", "Clockwork", "Coast", "Crown", "Desert", "Dream", "Empire", "Engine", "Estate", "Feather",
    "Festival", "Field", "Flame", "Fortress", "Fountain", "Frontier", "Gate", "Glacier", "Horizon", "Hunter",
    "Journey", "Kingdom", "Labyrinth", "Lighthouse", "Map", "Market", "Meadow", "Melody", "Monument", "Night",
    "Passage", "Pilgrim", "Quarry", "Rain", "Requiem", "Road", "Ruin", "Sail", "Season", "Serpent", "Shore",
    "Sky", "Song", "Spring", "Star", "Stranger", "Symphony", "Theatre", "Thread", "Throne", "Traveller", "Tunnel",
    "Verse", "Village", "Vineyard", "Wall", "Wave", "Well", "Wheel", "Wind", "Witness", "Wolf", "Anchor",
)

_RESERVED = _RESERVED | {w.lower() for w in (*ADJECTIVES, *NOUNS, *OCCUPATIONS, *PRODUCT_KINDS, *RELATIVES)}
_RESERVED = _RESERVED | {w.lower() for group in (*ORG_SUFFIXES.values(), *ORG_FIELDS.values(), *GENRES.values())
                         for phrase in group for w in phrase.split()}
