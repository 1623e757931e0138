"""Encyclopedia-style passages, rendered on demand from the world graph.

Passage ``i`` depends only on the world and a generator seeded by ``(seed, i)``, so any passage can
be rendered alone, in any order, in any process, and always reads the same. Each passage states
its entity's own facts (several wordings per relation, sentence order shuffled) and mentions one
or two other entities in passing, often near-misses (same surname, company stem or place word),
in sentences that never state one of the relations questions ask about.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import overload

from searchgym.corpora.records import Document
from searchgym.corpora.synthetic import names as N
from searchgym.corpora.synthetic.world import ORGS, WORKS, World, stable_seed

_FEMININE = ("a", "ia", "ine", "ette", "ana", "is", "el")


def doc_id(seed: int, i: int, width: int) -> str:
    """The document id of passage ``i``: ``w<seed>-<i zero-padded>``."""
    return f"w{seed}-{i:0{width}d}"


def id_width(n: int) -> int:
    """Digits in a document id of a world with ``n`` passages (at least 6)."""
    return max(6, len(str(n - 1)))


class _Ctx:
    """What one passage needs: its world, entity, generator and pronouns."""

    def __init__(self, world: World, i: int, distractors: bool) -> None:
        self.w, self.i, self.distractors = world, i, distractors
        self.rng = random.Random(stable_seed(world.seed, 3, i))
        self.name = world.name(i)
        self.kind = world.kind_of(i)
        if self.kind == "person":
            given = self.name.split(" ", 1)[0]
            she = given.endswith(_FEMININE)
            self.pron, self.poss = ("she", "her") if she else ("he", "his")
            self.surname = self.name.split(" ", 1)[1]
        else:
            self.pron, self.poss = "it", "its"

    def word(self) -> str:
        place = self.w.pools.place
        return place[self.rng.randrange(len(place))]

    def prize(self) -> str:
        return f"{self.word()} {self.pick('Prize', 'Medal', 'Award')}"

    def topic(self) -> str:
        return self.pick(*N.TOPICS)

    def pick(self, *options: str) -> str:
        return self.rng.choice(options)

    def subject(self) -> str:
        """How a fact sentence names its subject: full name mostly, else pronoun or short form."""
        r = self.rng.random()
        if r < 0.55:
            return self.name
        if self.kind == "person":
            return self.surname if r < 0.8 else self.pron.capitalize()
        if self.kind in ORGS:
            return "The " + N.ORG_NOUN[self.kind] if r < 0.8 else "It"
        if self.kind in WORKS:
            return "The " + ("book" if self.kind == "book" else self.kind) if r < 0.8 else "It"
        if self.kind == "product":
            return "The " + self.name if r < 0.8 else "It"
        return "The " + self.kind if r < 0.8 else "It"

    def other(self, kind: str, near: bool = False) -> int | None:
        """Another entity to mention in passing: a near-miss one (any kind) when ``near`` and one
        exists, else a random entity of ``kind``."""
        if near:
            cands = self.w.near_misses(self.i)
            if len(cands):
                return int(cands[self.rng.randrange(len(cands))])
        pool = self.w.by_kind[kind]
        for _ in range(3):
            j = int(pool[self.rng.randrange(len(pool))])
            if j != self.i:
                return j
        return None


def _demonym_of_city(w: World, city: int) -> str:
    return N.demonym(w.name(int(w.t1[city])))


def _person(x: _Ctx) -> tuple[str, list[str], list[str]]:
    w, i = x.w, x.i
    year, city, uni = int(w.year[i]), int(w.t1[i]), int(w.t2[i])
    occupation = N.OCCUPATIONS[x.rng.randrange(len(N.OCCUPATIONS))]
    art = "an" if occupation[0] in "aeiou" else "a"
    dem = _demonym_of_city(w, city)
    full = w.aliases(i)
    be = "was" if year < 1940 else "is"  # the old are written about in the past tense
    if full:
        intro = f"{x.name} (full name {full[0]}; born {year}) {be} a {dem} {occupation}."
    else:
        intro = x.pick(f"{x.name} (born {year}) {be} a {dem} {occupation}.",
                       f"{x.name}, born in {year}, {be} {art} {occupation} from {w.name(int(w.t1[city]))}.")
    cname, uname = w.name(city), w.name(uni)
    facts = [
        x.pick(f"{x.subject()} was born in {cname}.",
               f"{x.subject()} was born and raised in {cname}.",
               f"{x.poss.capitalize()} birthplace is {cname}.",
               f"{x.subject()} grew up in {cname}, the city where {x.pron} was born."),
        x.pick(f"{x.subject()} studied at {uname}.",
               f"{x.subject()} graduated from {uname}.",
               f"{x.pron.capitalize()} attended {uname}.",
               f"{x.subject()} received {x.poss} education at {uname}."),
    ]
    passing = [x.pick(f"{x.subject()} is best known for {x.poss} work on {x.topic()}.",
                      f"{x.subject()} received the {x.prize()} in {year + x.rng.randrange(28, 60)}.",
                      f"Over a long career, {x.pron} wrote extensively about {x.topic()}.")]
    if x.distractors:
        rel = x.other("person", near=True)
        if rel is not None and x.rng.random() < 0.7:
            kin = N.RELATIVES[x.rng.randrange(len(N.RELATIVES))]
            passing.append(f"{x.poss.capitalize()} {kin} {w.name(rel)} is also known in public life.")
        j = x.other(x.pick("city", "university"))
        if j is not None and x.rng.random() < 0.6:
            if w.kind_of(j) == "city":
                passing.append(f"In {year + x.rng.randrange(20, 45)}, {x.pron} moved to {w.name(j)}.")
            else:
                passing.append(f"{x.subject()} later lectured at {w.name(j)}.")
    return intro, facts, passing


def _city(x: _Ctx) -> tuple[str, list[str], list[str]]:
    w, i = x.w, x.i
    country = w.name(int(w.t1[i]))
    intro = x.pick(f"{x.name} is a city in {country}.",
                   f"{x.name} is a town in {country}.",
                   f"{x.name} is a provincial city of {country}.")
    facts = [x.pick(f"{x.subject()} was founded in {int(w.year[i])}.",
                    f"The settlement was founded in {int(w.year[i])}.",
                    f"{x.subject()} was founded as a market town in {int(w.year[i])}.")]
    passing = [x.pick(f"It has a population of about {x.rng.randrange(8, 900) * 1000:,}.",
                      f"The city lies on the {x.word()} River.",
                      f"Its economy is based on {x.pick('fishing', 'textiles', 'tourism', 'mining', 'trade', 'farming')}.")]
    if x.distractors:
        j = x.other("city", near=True)
        if j is not None and x.rng.random() < 0.7:
            twinned = w.kind_of(j) == "city" and x.rng.random() < 0.5
            passing.append(f"It is twinned with {w.name(j)}." if twinned else f"It is not to be confused with {w.name(j)}.")
        j = x.other("person")
        if j is not None and x.rng.random() < 0.5:
            passing.append(f"Notable residents have included {w.name(j)}.")
    return intro, facts, passing


def _country(x: _Ctx) -> tuple[str, list[str], list[str]]:
    w, i = x.w, x.i
    official = w.aliases(i)[0]
    intro = f"{x.name}, officially the {official}, is a sovereign state."
    facts = [x.pick(f"{x.subject()} became independent in {int(w.year[i])}.",
                    f"{x.subject()} has been independent since {int(w.year[i])}.",
                    f"The {official} was proclaimed in {int(w.year[i])}, when {x.name} became independent.")]
    passing = [x.pick(f"Its official language is {N.demonym(x.name)}.",
                      f"It has a population of about {x.rng.randrange(1, 90)} million.",
                      f"It is a {x.pick('parliamentary republic', 'constitutional monarchy', 'federal republic')}.")]
    if x.distractors:
        j = x.other("country")
        if j is not None:
            passing.append(x.pick(f"It shares a border with {w.name(j)}.", f"Its largest trading partner is {w.name(j)}."))
    return intro, facts, passing


def _university(x: _Ctx) -> tuple[str, list[str], list[str]]:
    w, i = x.w, x.i
    city, year = w.name(int(w.t1[i])), int(w.year[i])
    intro = x.pick(f"{x.name} is a public university located in {city}.",
                   f"{x.name} is a private research university located in {city}.",
                   f"{x.name} is an institution of higher education located in {city}.")
    facts = [x.pick(f"{x.subject()} was founded in {year}.", f"{x.subject()} was founded as a college in {year}.",
                    f"The university was founded in {year}.")]
    passing = [x.pick(f"It enrols about {x.rng.randrange(2, 60) * 1000:,} students.",
                      f"It is best known for its faculty of {x.topic()}.")]
    if x.distractors:
        j = x.other("university", near=True)
        if j is not None and x.rng.random() < 0.6:
            if w.kind_of(j) == "university":
                passing.append(f"It maintains an exchange programme with {w.name(j)}.")
            else:
                passing.append(f"It is not to be confused with {w.name(j)}.")
        j = x.other("person")
        if j is not None and x.rng.random() < 0.5:
            passing.append(f"{w.name(j)} gave a series of public lectures there.")
    return intro, facts, passing


def _org(x: _Ctx) -> tuple[str, list[str], list[str]]:
    w, i = x.w, x.i
    founder, hq, year = w.name(int(w.t1[i])), w.name(int(w.t2[i])), int(w.year[i])
    noun = N.ORG_NOUN[x.kind]
    fields = N.ORG_FIELDS[x.kind]
    field = fields[x.rng.randrange(len(fields))]
    legal = w.aliases(i)[0]
    article = "an" if field[0] in "aeiou" else "a"
    intro = x.pick(f"{x.name} ({legal}) is a {_demonym_of_city(w, int(w.t2[i]))} {field} {noun}.",
                   f"{x.name}, registered as {legal}, is {article} {field} {noun}.")
    facts = [
        x.pick(f"{x.subject()} was founded in {year} by {founder}.",
               f"{founder} founded {x.name} in {year}.",
               f"It was founded by {founder} in {year}.",
               f"{founder} founded the {noun} in {year}."),
        x.pick(f"{x.subject()} is headquartered in {hq}.",
               f"Its headquarters are in {hq}.",
               f"The {noun} is based in {hq}, where it has its headquarters."),
    ]
    passing = [x.pick(f"The {noun} employs about {x.rng.randrange(20, 9000):,} people.",
                      f"In {min(year + x.rng.randrange(5, 40), 2024)}, it received the {x.prize()}.",
                      f"It grew rapidly during the {x.rng.randrange(195, 202)}0s.")]
    if x.distractors:
        j = x.other(x.kind, near=True)
        if j is not None and x.rng.random() < 0.7:
            passing.append(x.pick(f"It is unrelated to {w.name(j)}.", f"It later acquired a minority stake in {w.name(j)}."))
        j = x.other(x.pick("person", "city"))
        if j is not None and x.rng.random() < 0.6:
            if w.kind_of(j) == "person":
                passing.append(f"Its early investors included {w.name(j)}.")
            else:
                passing.append(f"It also operates a regional office in {w.name(j)}.")
    return intro, facts, passing


def _product(x: _Ctx) -> tuple[str, list[str], list[str]]:
    w, i = x.w, x.i
    maker, year = w.name(int(w.t1[i])), int(w.year[i])
    kind = N.PRODUCT_KINDS[x.rng.randrange(len(N.PRODUCT_KINDS))]
    intro = x.pick(f"The {x.name} is a {kind} made by {maker}.",
                   f"The {x.name} is a {kind} manufactured by {maker}.",
                   f"The {x.name} is a {kind} produced by the manufacturer {maker}.")
    facts = [x.pick(f"It was introduced in {year}.", f"{maker} introduced the {x.name} in {year}.",
                    f"The {x.name} was first introduced in {year}.")]
    passing = [x.pick(f"About {x.rng.randrange(2, 900) * 100:,} units were sold.",
                      f"It was praised for its {x.pick('reliability', 'low price', 'compact design', 'durability')}.")]
    if x.distractors:
        j = x.other("product")
        if j is not None and x.rng.random() < 0.6:
            passing.append(f"It competed with the {w.name(j)}.")
        j = x.other("city")
        if j is not None and x.rng.random() < 0.5:
            passing.append(f"Early units were assembled in {w.name(j)}.")
    return intro, facts, passing


def _work(x: _Ctx) -> tuple[str, list[str], list[str]]:
    w, i = x.w, x.i
    creator, org, year = w.name(int(w.t1[i])), w.name(int(w.t2[i])), int(w.year[i])
    genres = N.GENRES[x.kind]
    genre = genres[x.rng.randrange(len(genres))]
    if x.kind == "film":
        intro = x.pick(f"{x.name} is a {year} {genre} directed by {creator}.",
                       f"{x.name} is a {genre} film directed by {creator}.")
        facts = [x.pick(f"It was produced by {org}.", f"{org} produced the film.",
                        f"The film was produced by {org}.")]
        if str(year) not in intro:
            facts.append(x.pick(f"It was released in {year}.", f"The film was released in {year}."))
        extra = ("It was shot on location in {city}.", "{person} appears in a supporting role.")
    elif x.kind == "book":
        intro = x.pick(f"{x.name} is a {genre} written by {creator}.", f"{x.name} is a {genre} by {creator}.")
        facts = [x.pick(f"It was published by {org} in {year}.", f"{org} published it in {year}.",
                        f"The book was first published in {year} by {org}.")]
        extra = ("The story is set in {city}.", "It was later translated by {person}.")
    else:
        intro = x.pick(f"{x.name} is a {genre} recorded by {creator}.", f"{x.name} is a {genre} by {creator}.")
        facts = [x.pick(f"It was released by {org} in {year}.", f"{org} released the album in {year}.",
                        f"The album was released in {year} on the label {org}.")]
        extra = ("It was recorded in {city}.", "{person} played on several tracks.")
    passing = [x.pick({"film": f"The film runs for {x.rng.randrange(80, 170)} minutes.",
                       "book": f"It runs to {x.rng.randrange(120, 900)} pages.",
                       "album": f"It contains {x.rng.randrange(7, 16)} tracks."}[x.kind],
                      f"It received {x.pick('generally positive', 'mixed', 'enthusiastic', 'lukewarm')} reviews.",
                      f"It won the {x.prize()} in {min(year + 1, 2024)}.")]
    if x.distractors:
        j = x.other(x.pick("city", "person"))
        if j is not None and x.rng.random() < 0.7:
            template = extra[0] if w.kind_of(j) == "city" else extra[1]
            passing.append(template.format(city=w.name(j), person=w.name(j)))
    return intro, facts, passing


_RENDER = {"person": _person, "city": _city, "country": _country, "university": _university,
           "product": _product, **{o: _org for o in ORGS}, **{k: _work for k in WORKS}}


def render_passage(world: World, i: int, *, distractors: bool = True, width: int | None = None) -> Document:
    """The passage about entity ``i``: its title is the entity's canonical name."""
    x = _Ctx(world, i, distractors)
    intro, facts, passing = _RENDER[x.kind](x)
    body = facts + passing
    x.rng.shuffle(body)
    text = " ".join([intro, *body])
    return Document(id=doc_id(world.seed, i, width or id_width(len(world))), title=x.name, text=text)


class WorldDocuments(Sequence[Document]):
    """The passages of a world as a lazy sequence: passage ``i`` is rendered when asked for."""

    def __init__(self, world: World, *, distractors: bool = True) -> None:
        self.world = world
        self.distractors = distractors
        self.width = id_width(len(world))

    def __len__(self) -> int:
        return len(self.world)

    def __repr__(self) -> str:
        return f"WorldDocuments(seed={self.world.seed}, passages={len(self)}, distractors={self.distractors})"

    def __eq__(self, other: object) -> bool:
        # a world is a pure function of (seed, size); comparing them avoids rendering every passage
        if not isinstance(other, WorldDocuments):
            return NotImplemented
        return (self.world.seed, len(self), self.distractors) == (other.world.seed, len(other), other.distractors)

    __hash__ = None  # type: ignore[assignment]

    @overload
    def __getitem__(self, index: int) -> Document: ...
    @overload
    def __getitem__(self, index: slice) -> list[Document]: ...

    def __getitem__(self, index: int | slice) -> Document | list[Document]:
        if isinstance(index, slice):
            return [self[j] for j in range(*index.indices(len(self)))]
        n = len(self)
        j = index.__index__()
        if j < 0:
            j += n
        if not 0 <= j < n:
            raise IndexError(f"passage index {index} out of range for a world of {n} passages")
        return render_passage(self.world, j, distractors=self.distractors, width=self.width)

    def __iter__(self) -> Iterator[Document]:
        for j in range(len(self)):
            yield render_passage(self.world, j, distractors=self.distractors, width=self.width)

    def id(self, i: int) -> str:
        """The id of passage ``i`` without rendering it."""
        return doc_id(self.world.seed, i, self.width)

    def ids(self) -> Iterator[str]:
        return (self.id(j) for j in range(len(self)))

    def index(self, doc_id_or_doc: object, start: int = 0, stop: int | None = None) -> int:
        """Position of a document id (or Document) in the world, in constant time."""
        key = doc_id_or_doc.id if isinstance(doc_id_or_doc, Document) else doc_id_or_doc
        prefix = f"w{self.world.seed}-"
        if isinstance(key, str) and key.startswith(prefix) and key[len(prefix):].isdigit():
            j = int(key[len(prefix):])
            if 0 <= j < len(self) and key == self.id(j) and start <= j < (len(self) if stop is None else stop):
                return j
        raise ValueError(f"{key!r} is not a passage of this world")

    def __contains__(self, item: object) -> bool:
        try:
            self.index(item)
        except ValueError:
            return False
        return not isinstance(item, Document) or item == self[self.index(item)]
