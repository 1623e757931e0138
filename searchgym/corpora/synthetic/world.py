"""The world graph: typed entities, their names and their relations, held in numpy columns.

Entity ``i`` is described by passage ``i``; every relation is a function, so a chain from a uniquely
named entity has exactly one answer. See docs/datasets.md for the kinds and relations.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from searchgym.corpora.synthetic import names as N

KINDS = ("person", "city", "country", "university", "company", "studio", "publisher", "label",
         "product", "film", "book", "album")
K = {k: i for i, k in enumerate(KINDS)}
ORGS = ("company", "studio", "publisher", "label")
WORKS = ("film", "book", "album")

_SHARE = {"person": 0.30, "city": 0.07, "country": 0.015, "university": 0.025, "company": 0.05,
          "studio": 0.03, "publisher": 0.03, "label": 0.03, "product": 0.10, "film": 0.12, "book": 0.12,
          "album": 0.11}
_MINIMUM = {"person": 14, "city": 6, "country": 3, "university": 3, "company": 3, "studio": 3,
            "publisher": 3, "label": 3, "product": 3, "film": 4, "book": 4, "album": 3}

def stable_seed(*parts: int) -> int:
    """A stable 64-bit seed from integers (splitmix64 steps; Python's hash() is salted per process)."""
    x = 0x243F6A8885A308D3
    for p in parts:
        x = (x ^ (p & 0xFFFFFFFFFFFFFFFF)) * 0x9E3779B97F4A7C15 & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 31
        x = x * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 29
    return x


@dataclass
class Pools:
    """Name pools a world draws its entities' names from."""

    given: list[str]
    surname: list[str]
    place: list[str]
    country: list[str]
    stem: list[str]
    brand: list[str]


@dataclass
class World:
    """Entities and relations of one seeded world (columns indexed by passage number)."""

    seed: int
    kind: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    t1: np.ndarray
    t2: np.ndarray
    year: np.ndarray
    pools: Pools
    by_kind: dict[str, np.ndarray]
    # near-miss groups: entities sharing a surname / company stem / place word, as sorted (key, index)
    groups: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.kind.shape[0])

    def kind_of(self, i: int) -> str:
        return KINDS[int(self.kind[i])]

    # ---- names -----------------------------------------------------------------------------
    def name(self, i: int) -> str:
        """The canonical (unique) name of entity ``i``."""
        kind, a, b = KINDS[int(self.kind[i])], int(self.a[i]), int(self.b[i])
        p = self.pools
        if kind == "person":
            return f"{p.given[a]} {p.surname[b]}"
        if kind == "city":
            return N.CITY_FORMS[b].format(p.place[a])
        if kind == "country":
            return p.country[a]
        if kind == "university":
            return N.UNIVERSITY_FORMS[b].format(p.place[a])
        if kind in ORGS:
            return f"{p.stem[a]} {N.ORG_SUFFIXES[kind][b]}"
        if kind == "product":
            return f"{p.brand[a]} {N.PRODUCT_CODES[b]}"
        return self.title(a)

    def aliases(self, i: int) -> tuple[str, ...]:
        """Other accepted surface forms of entity ``i``'s name (may be empty)."""
        kind, c = self.kind_of(i), int(self.c[i])
        if kind == "person" and c >= 0:
            given, surname = self.name(i).split(" ", 1)
            return (f"{given} {self.pools.given[c]} {surname}",)
        if kind == "country":
            return (N.COUNTRY_FORMS[c].format(self.name(i)),)
        if kind in ORGS:
            return (f"{self.name(i)} {N.LEGAL_FORMS[c]}",)
        return ()

    def names(self, i: int) -> tuple[str, ...]:
        return (self.name(i), *self.aliases(i))

    def title(self, u: int) -> str:
        """Decode a work title index (mixed radix over three title templates)."""
        na, nn = len(N.ADJECTIVES), len(N.NOUNS)
        if u < na * nn:
            return f"The {N.ADJECTIVES[u // nn]} {N.NOUNS[u % nn]}"
        u -= na * nn
        if u < nn * nn:
            return f"{N.NOUNS[u // nn]} of the {N.NOUNS[u % nn]}"
        u -= nn * nn
        return f"The {N.NOUNS[u % nn]} of {self.pools.place[u // nn]}"

    def ref(self, i: int) -> str:
        """How questions refer to entity ``i``: works get their kind ("the film X")."""
        kind = self.kind_of(i)
        if kind in WORKS:
            return f"the {'novel' if kind == 'book' else kind} {self.name(i)}"
        if kind == "product":
            return f"the {self.name(i)}"
        return self.name(i)

    # ---- relations -------------------------------------------------------------------------
    def near_misses(self, i: int) -> np.ndarray:
        """Other entities whose names share a word with entity ``i``'s (surname, stem, place word)."""
        kind = self.kind_of(i)
        group = "person" if kind == "person" else "org" if kind in ORGS else "place" if kind in ("city", "university") else None
        if group is None:
            return np.zeros(0, dtype=np.int64)
        keys, idx = self.groups[group]
        key = int(self.a[i]) if group != "person" else int(self.b[i])
        lo, hi = keys.searchsorted(key, "left"), keys.searchsorted(key, "right")
        out = idx[lo:hi]
        return out[out != i]


def _counts(n: int) -> dict[str, int]:
    counts = {k: max(_MINIMUM[k], int(round(_SHARE[k] * n))) for k in KINDS if k != "person"}
    counts["person"] = n - sum(counts.values())
    return counts


def build_world(seed: int, n: int) -> World:
    """Draw the entities, names and relations of a world of ``n`` passages."""
    rng = np.random.default_rng(stable_seed(seed, 1))
    prng = random.Random(stable_seed(seed, 2))
    counts = _counts(n)
    kind = np.repeat(np.arange(len(KINDS), dtype=np.int8), [counts[k] for k in KINDS])
    kind = kind[rng.permutation(n)]
    by_kind = {k: np.flatnonzero(kind == K[k]) for k in KINDS}

    # name pools, sized so that near-miss names (shared surname/stem/place word) are common
    persons, cities, unis = counts["person"], counts["city"], counts["university"]
    orgs = sum(counts[o] for o in ORGS)
    works = sum(counts[w] for w in WORKS)
    taken: set[str] = set()
    n_place = max(8, (cities + unis) // 2, -(-max(0, works - 20000) // len(N.NOUNS)) + 8)
    pools = Pools(
        given=N.make_pool(prng, "given", int(np.clip(persons // 2, 20, 2500)), taken),
        surname=N.make_pool(prng, "surname", max(8, persons // 3), taken),
        place=N.make_pool(prng, "place", n_place, taken),
        country=N.make_pool(prng, "country", counts["country"], taken),
        stem=N.make_pool(prng, "stem", max(4, orgs // 3), taken),
        brand=N.make_pool(prng, "brand", max(4, counts["product"] // 8), taken),
    )
    a = np.zeros(n, dtype=np.int32)
    b = np.zeros(n, dtype=np.int32)
    c = np.full(n, -1, dtype=np.int32)

    def pairs(members: np.ndarray, left: int, right: int) -> None:
        codes = N.unique_codes(rng, len(members), left * right)
        a[members], b[members] = codes // right, codes % right

    idx = by_kind["person"]
    pairs(idx, len(pools.surname), len(pools.given))
    a[idx], b[idx] = b[idx], a[idx].copy()  # a = given, b = surname
    has_middle = rng.random(len(idx)) < 0.5
    c[idx] = np.where(has_middle, rng.integers(0, len(pools.given), len(idx)), -1)
    pairs(by_kind["city"], len(pools.place), len(N.CITY_FORMS))
    pairs(by_kind["university"], len(pools.place), len(N.UNIVERSITY_FORMS))
    idx = by_kind["country"]
    a[idx] = np.arange(len(idx))
    c[idx] = rng.integers(0, len(N.COUNTRY_FORMS), len(idx))
    for o in ORGS:
        idx = by_kind[o]
        pairs(idx, len(pools.stem), len(N.ORG_SUFFIXES[o]))
        c[idx] = rng.integers(0, len(N.LEGAL_FORMS), len(idx))
    pairs(by_kind["product"], len(pools.brand), len(N.PRODUCT_CODES))
    work_idx = np.concatenate([by_kind[w] for w in WORKS])
    na, nn = len(N.ADJECTIVES), len(N.NOUNS)
    a[work_idx] = N.unique_codes(rng, len(work_idx), na * nn + nn * nn + nn * len(pools.place))

    # relations and years; years respect causality (founders are born before they found)
    t1 = np.full(n, -1, dtype=np.int32)
    t2 = np.full(n, -1, dtype=np.int32)
    year = np.zeros(n, dtype=np.int32)

    def pick(members: np.ndarray, target: str) -> np.ndarray:
        pool = by_kind[target]
        return pool[rng.integers(0, len(pool), len(members))]

    idx = by_kind["country"]
    year[idx] = rng.integers(1780, 1996, len(idx))
    idx = by_kind["city"]
    t1[idx], year[idx] = pick(idx, "country"), rng.integers(700, 1950, len(idx))
    idx = by_kind["university"]
    t1[idx], year[idx] = pick(idx, "city"), rng.integers(1450, 1990, len(idx))
    idx = by_kind["person"]
    t1[idx], t2[idx], year[idx] = pick(idx, "city"), pick(idx, "university"), rng.integers(1880, 1996, len(idx))
    for o in ORGS:
        idx = by_kind[o]
        t1[idx], t2[idx] = pick(idx, "person"), pick(idx, "city")
        year[idx] = np.minimum(year[t1[idx]] + rng.integers(22, 56, len(idx)), 2023)
    idx = by_kind["product"]
    t1[idx] = pick(idx, "company")
    year[idx] = np.minimum(np.maximum(year[t1[idx]], 1950) + rng.integers(0, 25, len(idx)), 2024)
    for w, org in (("film", "studio"), ("book", "publisher"), ("album", "label")):
        idx = by_kind[w]
        t1[idx], t2[idx] = pick(idx, "person"), pick(idx, org)
        start = np.maximum(year[t1[idx]] + 20, year[t2[idx]])
        year[idx] = np.minimum(start + rng.integers(0, 20, len(idx)), 2024)

    groups = {}
    for group, members, col in (("person", by_kind["person"], b),
                                ("org", np.concatenate([by_kind[o] for o in ORGS]), a),
                                ("place", np.concatenate([by_kind["city"], by_kind["university"]]), a)):
        keys = col[members].astype(np.int64)  # int64 so that searching a Python int never copies the keys
        order = np.argsort(keys, kind="stable")
        groups[group] = (keys[order], members[order])
    return World(seed, kind, a, b, c, t1, t2, year, pools, by_kind, groups)
