"""Multi-hop questions over the world graph, each with exact gold hops.

Chain, comparison and intersection tasks; every ``Hop.question`` names the entity it starts from and
has a unique answer. See docs/datasets.md.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from searchgym.corpora.records import Hop, Task
from searchgym.corpora.synthetic import names as N
from searchgym.corpora.synthetic.config import WorldConfig
from searchgym.corpora.synthetic.world import KINDS, ORGS, WORKS, K, World


@dataclass(frozen=True)
class Rel:
    """One relation column of some kinds, with its sub-question and noun phrase."""

    name: str
    src: tuple[str, ...]
    column: str  # "t1" or "t2"
    question: str
    phrase: str


RELATIONS = (
    Rel("made_by", ("product",), "t1", "Which company makes {x}?", "the company that makes {x}"),
    Rel("directed_by", ("film",), "t1", "Who directed {x}?", "the director of {x}"),
    Rel("produced_by", ("film",), "t2", "Which studio produced {x}?", "the studio that produced {x}"),
    Rel("written_by", ("book",), "t1", "Who wrote {x}?", "the author of {x}"),
    Rel("published_by", ("book",), "t2", "Which publisher published {x}?", "the publisher of {x}"),
    Rel("recorded_by", ("album",), "t1", "Which artist recorded {x}?", "the artist who recorded {x}"),
    Rel("released_by", ("album",), "t2", "Which record label released {x}?", "the record label that released {x}"),
    Rel("founded_by", ORGS, "t1", "Who founded {x}?", "the founder of {x}"),
    Rel("headquartered_in", ORGS, "t2", "In which city is {x} headquartered?", "the city that hosts the headquarters of {x}"),
    Rel("born_in", ("person",), "t1", "In which city was {x} born?", "the birthplace of {x}"),
    Rel("educated_at", ("person",), "t2", "Which university did {x} attend?", "the alma mater of {x}"),
    Rel("located_in", ("university",), "t1", "In which city is {x} located?", "the city that is home to {x}"),
    Rel("in_country", ("city",), "t1", "In which country is {x}?", "the country that contains {x}"),
)
_OUT = {k: tuple(r for r in RELATIONS if k in r.src) for k in KINDS}

_FOUNDED = ("In which year was {x} founded?", "founded")
YEAR = {
    "person": ("In which year was {x} born?", "born"),
    "city": _FOUNDED, "university": _FOUNDED, **{o: _FOUNDED for o in ORGS},
    "country": ("In which year did {x} become independent?", "became independent"),
    "product": ("In which year was {x} introduced?", "introduced"),
    "film": ("In which year was {x} released?", "released"),
    "album": ("In which year was {x} released?", "released"),
    "book": ("In which year was {x} published?", "published"),
}
# kinds compared with each other, and how the question asks
_COMPARE = {"person": ("person",), "city": ("city",), "university": ("university",), "country": ("country",),
            "product": ("product",), **{o: ORGS for o in ORGS}, **{w: (w,) for w in WORKS}}


# question, answers, hops, relation summary, and the key that tells distinct tasks apart
_Made = tuple[str, tuple[str, ...], list[Hop], str, object]


class _Gen:
    def __init__(self, world: World, cfg: WorldConfig, doc_id: Callable[[int], str], rng: random.Random) -> None:
        self.w, self.cfg, self.doc_id, self.rng = world, cfg, doc_id, rng

    # ---- helpers -------------------------------------------------------------------------
    def any_of(self, kinds: tuple[str, ...]) -> int:
        kind = self.rng.choice(kinds)
        pool = self.w.by_kind[kind]
        return int(pool[self.rng.randrange(len(pool))])

    def step(self, rel: Rel, i: int) -> int:
        return int(getattr(self.w, rel.column)[i])

    def rel_hop(self, rel: Rel, i: int) -> Hop:
        j = self.step(rel, i)
        names = self.w.names(j)
        return Hop(rel.question.format(x=self.w.ref(i)), names[0], names[1:], (self.doc_id(i),))

    def year_hop(self, i: int) -> Hop:
        question = YEAR[self.w.kind_of(i)][0].format(x=self.w.ref(i))
        return Hop(question, str(int(self.w.year[i])), (), (self.doc_id(i),))

    def walk(self, start: int, length: int, end_kinds: tuple[str, ...] | None = None) -> list[tuple[Rel, int]] | None:
        """``length`` random relation steps from ``start`` as (relation, source entity); None at a dead end."""
        path, cur = [], start
        for _ in range(length):
            options = _OUT[self.w.kind_of(cur)]
            if not options:
                return None
            rel = self.rng.choice(options)
            path.append((rel, cur))
            cur = self.step(rel, cur)
        if end_kinds is not None and self.w.kind_of(cur) not in end_kinds:
            return None
        return path

    def phrase(self, start: int, path: list[tuple[Rel, int]]) -> str:
        text = self.w.ref(start)
        for rel, _ in path:
            text = rel.phrase.format(x=text)
        return text

    def end(self, start: int, path: list[tuple[Rel, int]]) -> int:
        return self.step(path[-1][0], path[-1][1]) if path else start

    # ---- task kinds ----------------------------------------------------------------------
    def chain(self, hops: int) -> _Made | None:
        with_year = hops == 1 or self.rng.random() < 0.25
        steps = hops - 1 if with_year else hops
        starts = ("product",) + WORKS if self.rng.random() < 0.7 else tuple(k for k in KINDS if _OUT[k])
        start = self.any_of(starts)
        path = self.walk(start, steps)
        if path is None:
            return None
        hop_list = [self.rel_hop(rel, i) for rel, i in path]
        last = self.end(start, path)
        if with_year:
            hop_list.append(self.year_hop(last))
            question = YEAR[self.w.kind_of(last)][0].format(x=self.phrase(start, path))
            answers: tuple[str, ...] = (str(int(self.w.year[last])),)
        else:
            question = path[-1][0].question.format(x=self.phrase(start, path[:-1]))
            answers = self.w.names(last)
        rels = ">".join([r.name for r, _ in path] + (["year"] if with_year else []))
        return question, answers, hop_list, rels, question

    def comparison(self, hops: int) -> _Made | None:
        if hops < 2:
            return None
        extra = hops - 2
        n1 = self.rng.randint(max(0, extra - 3), min(3, extra))
        n2 = extra - n1
        kind = self.rng.choice(tuple(_COMPARE))
        sides = []
        for n in (n1, n2):
            start = self.any_of(_COMPARE[kind]) if n == 0 else self.any_of(tuple(k for k in KINDS if _OUT[k]))
            path = self.walk(start, n, _COMPARE[kind])
            if path is None:
                return None
            sides.append((start, path, self.end(start, path)))
        (s1, p1, e1), (s2, p2, e2) = sides
        if e1 == e2 or int(self.w.year[e1]) == int(self.w.year[e2]):
            return None
        later = self.rng.random() < 0.3
        first = e1 if (self.w.year[e1] < self.w.year[e2]) != later else e2
        who = "Who" if kind == "person" else "Which"
        verb = YEAR[kind][1]
        question = f"{who} {'was ' if verb != 'became independent' else ''}{verb} {'later' if later else 'earlier'}, " \
                   f"{self.phrase(s1, p1)} or {self.phrase(s2, p2)}?"
        hop_list = [self.rel_hop(r, i) for r, i in p1] + [self.year_hop(e1)]
        hop_list += [self.rel_hop(r, i) for r, i in p2] + [self.year_hop(e2)]
        rels = f"{kind}:{'>'.join(r.name for r, _ in p1) or '-'}|{'>'.join(r.name for r, _ in p2) or '-'}"
        key = ("comparison", frozenset((self.phrase(s1, p1), self.phrase(s2, p2))))  # "A or B" = "B or A"
        return question, self.w.names(first), hop_list, rels, key

    def intersection(self, hops: int, strict: bool) -> _Made | None:
        if hops < 2:
            return None
        w = self.w
        person = self.any_of(("person",))
        options = self._constraints(person)
        self.rng.shuffle(options)
        roles = [c for c in options if c[0].startswith("role")]
        if not roles:
            return None
        chosen, total = [roles[0]], len(roles[0][2])
        for c in options:
            if total == hops:
                break
            if c in chosen or total + len(c[2]) > hops:
                continue
            if c[0].startswith("born") and any(x[0].startswith("born") for x in chosen):
                continue
            if any(x[1] == c[1] for x in chosen):
                continue
            chosen.append(c)
            total += len(c[2])
        if total != hops or len(chosen) < 2:
            return None
        sets = [c[3]() for c in chosen]
        if strict and any(len(s) < 2 for s in sets):
            return None  # a genuine intersection: no single constraint names the person on its own
        both = sets[0]
        for s in sets[1:]:
            both = np.intersect1d(both, s)
        if both.tolist() != [person]:
            return None
        chosen.sort(key=lambda c: not c[0].startswith("role"))
        phrases = [c[1] for c in chosen]
        text = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
        hop_list = [h for c in chosen for h in c[2]]
        key = ("intersection", frozenset(phrases))  # the same clauses in another order are the same task
        return f"Which person {text}?", w.names(person), hop_list, "+".join(c[0] for c in chosen), key

    def _constraints(self, p: int) -> list[tuple[str, str, list[Hop], Callable[[], np.ndarray]]]:
        w = self.w
        persons = w.by_kind["person"]
        city, uni = int(w.t1[p]), int(w.t2[p])
        country = int(w.t1[city])
        name = w.names(p)
        born = Hop(f"In which city was {w.ref(p)} born?", *self._names(city), (self.doc_id(p),))
        out = [
            ("born_in", f"was born in {w.name(city)}", [born], lambda: persons[w.t1[persons] == city]),
            ("educated_at", f"attended {w.name(uni)}",
             [Hop(f"Which university did {w.ref(p)} attend?", *self._names(uni), (self.doc_id(p),))],
             lambda: persons[w.t2[persons] == uni]),
            ("born_country", f"was born in {w.name(country)}",
             [born, Hop(f"In which country is {w.ref(city)}?", *self._names(country), (self.doc_id(city),))],
             lambda: persons[np.isin(w.t1[persons], np.flatnonzero((w.kind == K["city"]) & (w.t1 == country)))]),
        ]
        made = np.flatnonzero(w.t1 == p)
        for j in made[:6].tolist():
            kind = w.kind_of(j)
            if kind in ORGS:
                hq = int(w.t2[j])
                phrase = f"founded {'an' if N.ORG_NOUN[kind][0] in 'aeiou' else 'a'} {N.ORG_NOUN[kind]} headquartered in {w.name(hq)}"
                hop = Hop(f"Who founded {w.ref(j)}?", name[0], name[1:], (self.doc_id(j),))
                out.append(("role_founder", phrase, [hop], self._makers(K[kind], hq)))
            elif kind in WORKS:
                org = int(w.t2[j])
                verb, noun, org_verb = {"film": ("directed", "a film", "produced by"),
                                        "book": ("wrote", "a book", "published by"),
                                        "album": ("recorded", "an album", "released by")}[kind]
                rel = next(r for r in RELATIONS if r.src == (kind,) and r.column == "t1")
                hop = Hop(rel.question.format(x=w.ref(j)), name[0], name[1:], (self.doc_id(j),))
                out.append((f"role_{kind}", f"{verb} {noun} {org_verb} {w.name(org)}", [hop], self._makers(K[kind], org)))
        return out

    def _makers(self, kind_id: int, target: int) -> Callable[[], np.ndarray]:
        w = self.w
        return lambda: np.unique(w.t1[(w.kind == kind_id) & (w.t2 == target)])

    def _names(self, i: int) -> tuple[str, tuple[str, ...]]:
        names = self.w.names(i)
        return names[0], names[1:]


def make_tasks(world: World, cfg: WorldConfig, doc_id: Callable[[int], str], rng: random.Random) -> list[Task]:
    """``cfg.num_tasks`` distinct tasks, hop counts cycling through ``cfg.hops``."""
    gen = _Gen(world, cfg, doc_id, rng)
    tasks: list[Task] = []
    seen: set[object] = set()  # what makes tasks distinct (see each kind's key)
    enabled = cfg.kinds
    for t in range(cfg.num_tasks):
        hops = cfg.hops[t % len(cfg.hops)]
        r = rng.random()
        wanted = ("comparison" if r < cfg.comparison_share
                  else "intersection" if r < cfg.comparison_share + cfg.intersection_share else "chain")
        order = [wanted] + [k for k in ("chain", "comparison", "intersection") if k != wanted]
        made = None
        for kind in (k for k in order if k in enabled):
            for attempt in range(200):
                if kind == "chain":
                    made = gen.chain(hops)
                elif kind == "comparison":
                    made = gen.comparison(hops)
                else:
                    made = gen.intersection(hops, strict=attempt < 120)
                if made is not None and made[4] not in seen:
                    break
                made = None
            if made is not None:
                break
        if made is None:
            raise ValueError(
                f"could not make {cfg.num_tasks} distinct {'/'.join(enabled)} tasks with {hops} hops in a world of "
                f"{len(world)} passages (made {len(tasks)}); use more passages or fewer tasks"
            )
        question, answers, hop_list, rels, key = made
        seen.add(key)
        tasks.append(Task(
            id=f"s{cfg.seed}-t{t:05d}",
            question=question,
            answers=answers,
            hops=tuple(hop_list),
            source="synthetic",
            kind=kind,
            metadata=(("hops", str(len(hop_list))), ("relations", rels)),
        ))
    return tasks
