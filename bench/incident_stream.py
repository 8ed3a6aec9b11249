"""A development stream that looks like US local crime coverage: shooting incidents rendered
into first reports and follow-ups by several outlet styles (issue 19).

    python -m bench.incident_stream --out /tmp/incidents.jsonl          # write the stream
    python -m bench.incident_stream --incidents 400 --seed 3 --summary  # what it holds

Each incident is a record: city, neighbourhood, street and block, the day and time of day, a
kind of place, victims (name, age, killed or wounded), suspects, and what happened later
(victim identified, vigil or funeral, arrest, charges, trial and sentencing up to a year and a
half later). Outlets render records in their own style: a TV station's short bulletin, a
newspaper's longer piece with background paragraphs, a wire story (copied by other outlets
with their own boilerplate), an aggregator's summary. The hard parts of the real stream are
built in on purpose:

* many incidents of one kind in one city and one week, in the same neighbourhoods, on the
  same streets, taken to the same hospital, with the same tip-line number;
* later articles say it differently: the first report has "a 23-year-old man" in "the
  Englewood neighborhood" on "Saturday night"; the follow-up has a name, an address, a date
  ("the Feb. 3 shooting"), a suspect; the trial story months later names the month only;
* surname-only mentions, common surnames shared by unrelated people;
* per-site boilerplate (newsletter and sign-in prompts, copyright lines) and pages whose text
  is only a sign-in prompt;
* numbers that mean nothing ("the city's 41st homicide this year"), repeated across stories.

Deterministic for a given seed (``random.Random(seed)`` only; no clock, no hash order).
Names, cities and outlets are illustrative: cities are real US cities, people and outlets
are made up.
"""

# ruff: noqa: E501 (sentence templates read better unbroken)
from __future__ import annotations

import argparse
import functools
import json
import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

# --------------------------------------------------------------------------------------
# Gazetteer-ish material (made-up neighbourhoods and streets mixed with common ones)
# --------------------------------------------------------------------------------------
_CITIES: tuple[tuple[str, str, str, int], ...] = (
    # city, state (AP abbreviation), county, weight (share of incidents)
    ("Chicago", "Ill.", "Cook", 18),
    ("Baltimore", "Md.", "Baltimore", 8),
    ("Memphis", "Tenn.", "Shelby", 7),
    ("St. Louis", "Mo.", "St. Louis", 7),
    ("Philadelphia", "Pa.", "Philadelphia", 7),
    ("Detroit", "Mich.", "Wayne", 6),
    ("Milwaukee", "Wis.", "Milwaukee", 5),
    ("New Orleans", "La.", "Orleans", 5),
    ("Houston", "Texas", "Harris", 5),
    ("Indianapolis", "Ind.", "Marion", 4),
    ("Cleveland", "Ohio", "Cuyahoga", 4),
    ("Birmingham", "Ala.", "Jefferson", 3),
    ("Kansas City", "Mo.", "Jackson", 3),
    ("Jacksonville", "Fla.", "Duval", 3),
    ("Louisville", "Ky.", "Jefferson", 2),
    ("Oakland", "Calif.", "Alameda", 2),
    ("Richmond", "Va.", "Richmond", 2),
    ("Dayton", "Ohio", "Montgomery", 1),
    ("Flint", "Mich.", "Genesee", 1),
    ("Gary", "Ind.", "Lake", 1),
    ("Savannah", "Ga.", "Chatham", 1),
    ("Tulsa", "Okla.", "Tulsa", 1),
)
_HOODS = (
    "Englewood", "Austin", "Garfield Park", "Roseland", "Woodlawn", "Sandtown", "Park Heights",
    "Cherry Hill", "Frayser", "Orange Mound", "Hickory Hill", "Walnut Park", "Dutchtown",
    "Kensington", "Strawberry Mansion", "Brightmoor", "Osborn", "Sherman Park", "Harambee",
    "Central City", "Gentilly", "Sunnyside", "Acres Homes", "Haughville", "Glenville",
    "Hough", "Ensley", "Ivanhoe", "Northside", "Westside", "East End", "Fruitvale",
    "Church Hill", "Five Points", "Carver Park", "Riverview", "Midtown", "Eastgate",
    "Highland Park", "Oak Hill", "Southwood", "Lincoln Heights", "Pleasant Grove", "Bayview",
)  # fmt: skip
_STREETS = (
    "Halsted", "Madison", "Pulaski", "Cicero", "Ashland", "Greenmount", "North", "Belair",
    "Chelsea", "Lamar", "Goodfellow", "Natural Bridge", "Kensington", "Lehigh", "Gratiot",
    "Fenkell", "Burleigh", "Claiborne", "Tidwell", "Michigan", "Superior", "Woodland",
    "Troost", "Moncrief", "Dixie", "International", "Hull", "Salem", "Martin Luther King Jr.",
    "Central", "Union", "Jefferson", "Washington", "Lincoln", "Oak", "Elm", "Maple", "Pine",
    "Cedar", "Park", "Market", "Broad", "Main", "Church", "Grand", "Locust", "Walnut",
    "Chestnut", "Spruce", "Highland", "Riverside", "Lake", "Hill", "Franklin", "Monroe",
)  # fmt: skip
_SUFFIX = ("Street", "Avenue", "Road", "Boulevard", "Drive", "Place", "Lane")
_DIRS = ("", "", "North ", "South ", "East ", "West ")
_FIRST_M = (
    "James", "Michael", "Robert", "David", "William", "Anthony", "Marcus", "Darnell", "Terrell",
    "DeShawn", "Jamal", "Andre", "Kevin", "Brandon", "Christopher", "Joshua", "Tyrone", "Derrick",
    "Jerome", "Antonio", "Carlos", "Luis", "Jose", "Demetrius", "Malik", "Isaiah", "Xavier",
    "Cedric", "Reginald", "Travis", "Corey", "Dominique", "Lamar", "Quentin", "Rashad", "Tavon",
    "Keith", "Eric", "Jordan", "Justin", "Devonte", "Javon", "Trevon", "Kendrick", "Maurice",
)  # fmt: skip
_FIRST_F = (
    "Jasmine", "Aaliyah", "Tamika", "Keisha", "Maria", "Ashley", "Brittany", "Diamond", "Destiny",
    "Shanice", "Latoya", "Monique", "Angela", "Patricia", "Imani", "Nia", "Tiara", "Kiara",
)  # fmt: skip
_LAST = (
    "Johnson", "Williams", "Smith", "Brown", "Jones", "Davis", "Jackson", "Harris", "Thomas",
    "Robinson", "Lewis", "Walker", "Allen", "Young", "King", "Wright", "Scott", "Green", "Hill",
    "Moore", "Taylor", "Anderson", "White", "Thompson", "Martin", "Clark", "Mitchell", "Carter",
    "Turner", "Parker", "Collins", "Edwards", "Stewart", "Morris", "Rogers", "Reed", "Cook",
    "Bell", "Murphy", "Bailey", "Cooper", "Richardson", "Howard", "Ward", "Brooks", "Sanders",
    "Price", "Bennett", "Wood", "Barnes", "Ross", "Henderson", "Coleman", "Jenkins", "Perry",
    "Powell", "Patterson", "Hughes", "Washington", "Butler", "Simmons", "Foster", "Gonzalez",
    "Bryant", "Alexander", "Russell", "Griffin", "Hayes", "Myers", "Ford", "Hamilton", "Graham",
    "Sullivan", "Wallace", "Woods", "Cole", "West", "Jordan", "Owens", "Reynolds", "Fisher",
    "Ellis", "Harrison", "Gibson", "McDonald", "Cruz", "Marshall", "Ortiz", "Gomez", "Murray",
    "Freeman", "Wells", "Webb", "Simpson", "Stevens", "Tucker", "Porter", "Hunter", "Hicks",
    "Crawford", "Boyd", "Mason", "Warren", "Dixon", "Ramos", "Burns", "Gordon", "Holmes",
    "Rice", "Robertson", "Hunt", "Black", "Daniels", "Palmer", "Mills", "Nichols", "Grant",
    "Knight", "Ferguson", "Stone", "Hawkins", "Dunn", "Perkins", "Hudson", "Spencer", "Gardner",
    "Stephens", "Payne", "Pierce", "Berry", "Matthews", "Arnold", "Wagner", "Willis", "Ray",
    "Watkins", "Olson", "Carroll", "Duncan", "Snyder", "Hart", "Cunningham", "Bradley", "Lane",
    "Okafor", "Whitfield", "Abernathy", "Delacroix", "Haldane", "Merriweather", "Pettaway",
    "Strickland", "Fontenot", "Boudreaux", "Kowalczyk", "Castellanos", "Villanueva", "Oyelaran",
)  # fmt: skip
_PLACES = (
    "a gas station", "a house party", "an apartment complex", "a convenience store", "a bar",
    "a park", "a bus stop", "a nightclub", "a restaurant parking lot", "a barbershop",
    "a car wash", "a liquor store", "a basketball court", "a laundromat",
)  # fmt: skip
_TIMES = (
    ("early", "about 2:15 a.m.", "morning"),
    ("early", "shortly after 1 a.m.", "morning"),
    ("", "about 11:40 a.m.", "morning"),
    ("", "around 3:30 p.m.", "afternoon"),
    ("", "just before 6 p.m.", "evening"),
    ("late", "about 9:50 p.m.", "night"),
    ("late", "around 11:20 p.m.", "night"),
)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS_AP = ("Jan.", "Feb.", "March", "April", "May", "June", "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec.")
_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
_HOSPITALS = ("County General Hospital", "University Medical Center", "St. Mary's Hospital", "Mercy Hospital")
_CHARGES = (
    ("first-degree murder", "killed"),
    ("second-degree murder", "killed"),
    ("murder", "killed"),
    ("attempted murder", "wounded"),
    ("aggravated battery with a firearm", "wounded"),
    ("aggravated assault", "wounded"),
)
_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    age: int
    male: bool

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def noun(self) -> str:
        if self.age < 18:
            return "boy" if self.male else "girl"
        return "man" if self.male else "woman"

    @property
    def pron(self) -> str:
        return "he" if self.male else "she"

    @property
    def poss(self) -> str:
        return "his" if self.male else "her"


@dataclass(frozen=True)
class Victim:
    person: Person
    killed: bool


@dataclass
class Incident:
    id: str
    city: str
    state: str
    county: str
    hood: str
    street: str  # "South Halsted Street"
    block: int  # 6500 (block number)
    place: str
    at: datetime  # when it happened
    time_word: tuple[str, str, str]
    victims: list[Victim]
    suspects: list[Person]
    hospital: str
    tip_line: str
    outcomes: list[tuple[str, datetime]] = field(default_factory=list)  # (stage, day)

    @property
    def dead(self) -> int:
        return sum(v.killed for v in self.victims)

    @property
    def wounded(self) -> int:
        return sum(not v.killed for v in self.victims)


@dataclass(frozen=True)
class Outlet:
    host: str
    name: str
    style: str  # tv | paper | wire | aggregator
    city: str | None  # None: covers every city
    boiler: tuple[str, ...]
    paywall: bool


@dataclass(frozen=True)
class StreamDoc:
    """One article of the stream, with its gold incident and the stage it reports."""

    id: str
    incident: str
    stage: str
    url: str
    title: str
    text: str
    source: str
    published_at: datetime

    def to_json(self) -> dict[str, str]:
        return {
            "url": self.url,
            "title": self.title,
            "text": self.text,
            "published_at": self.published_at.isoformat(),
            "source": self.source,
        }


# --------------------------------------------------------------------------------------
# Incidents
# --------------------------------------------------------------------------------------
def _person(rng: random.Random, lo: int, hi: int, male_share: float = 0.85) -> Person:
    male = rng.random() < male_share
    first = rng.choice(_FIRST_M if male else _FIRST_F)
    return Person(first, rng.choice(_LAST), rng.randint(lo, hi), male)


def _city_map(rng: random.Random) -> dict[str, tuple[list[str], list[str], str]]:
    """Each city gets its neighbourhoods, its streets (shared names across cities) and one
    tip line (every story of that city prints it)."""
    out = {}
    for city, _, _, _ in _CITIES:
        hoods = rng.sample(_HOODS, 7)
        streets = [f"{rng.choice(_DIRS)}{s} {rng.choice(_SUFFIX)}" for s in rng.sample(_STREETS, 16)]
        tip = f"{rng.randint(200, 989)}-{rng.randint(200, 989)}-{rng.randint(1000, 9999)}"
        out[city] = (hoods, streets, tip)
    return out


def make_incidents(n: int, seed: int, start: datetime, days: int) -> list[Incident]:
    rng = random.Random(seed)
    cmap = _city_map(rng)
    weights = [w for *_, w in _CITIES]
    out = []
    for i in range(n):
        city, state, county, _ = rng.choices(_CITIES, weights)[0]
        hoods, streets, tip = cmap[city]
        at = start + timedelta(days=rng.randrange(days))
        tw = rng.choice(_TIMES)
        hour = {"morning": rng.choice((1, 2, 3, 10, 11)), "afternoon": 15, "evening": 18, "night": 22}[tw[2]]
        at = at.replace(hour=hour, minute=rng.randrange(60))
        r = rng.random()
        n_vict = 1 if r < 0.72 else 2 if r < 0.88 else 3 if r < 0.95 else rng.randint(4, 9)
        victims = []
        for _ in range(n_vict):
            p = _person(rng, 14, 62)
            victims.append(Victim(p, rng.random() < (0.45 if n_vict == 1 else 0.3)))
        n_susp = 0 if rng.random() < 0.35 else 1 if rng.random() < 0.8 else 2
        suspects = [_person(rng, 16, 40, 0.93) for _ in range(n_susp)]
        inc = Incident(
            id=f"inc-{seed}-{i}",
            city=city,
            state=state,
            county=county,
            hood=rng.choice(hoods),
            street=rng.choice(streets),
            block=rng.choice((1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 21, 33, 47, 56, 63, 79)) * 100,
            place=rng.choice(_PLACES),
            at=at,
            time_word=tw,
            victims=victims,
            suspects=suspects,
            hospital=rng.choice(_HOSPITALS),
            tip_line=tip,
        )
        inc.outcomes = _outcomes(rng, inc)
        out.append(inc)
    return out


def _outcomes(rng: random.Random, inc: Incident) -> list[tuple[str, datetime]]:
    """Follow-up events in time: identification, vigil/funeral, arrest, charges, trial, sentence."""
    out: list[tuple[str, datetime]] = []
    day = inc.at
    if inc.dead and rng.random() < 0.8:
        out.append(("identified", day + timedelta(days=rng.choice((0, 1, 1, 2, 3)), hours=rng.uniform(2, 10))))
    if inc.dead and rng.random() < 0.35:
        out.append(("vigil", day + timedelta(days=rng.randint(2, 10), hours=rng.uniform(0, 10))))
    if inc.suspects and rng.random() < 0.75:
        arrest = day + timedelta(days=rng.choice((0, 1, 2, 3, 5, 8, 13, 21, 40, 75, 120)), hours=rng.uniform(3, 12))
        out.append(("arrest", arrest))
        if rng.random() < 0.8:
            out.append(("charged", arrest + timedelta(days=rng.choice((0, 1, 1, 2)), hours=rng.uniform(1, 8))))
        if rng.random() < 0.45:
            trial = arrest + timedelta(days=rng.randint(150, 420))
            out.append(("trial", trial))
            if rng.random() < 0.4:
                out.append(("verdict", trial + timedelta(days=rng.randint(2, 8))))
            if rng.random() < 0.75:
                out.append(("sentenced", trial + timedelta(days=rng.randint(25, 90))))
    return sorted(out, key=lambda x: x[1])


# --------------------------------------------------------------------------------------
# Outlets
# --------------------------------------------------------------------------------------
def make_outlets(rng: random.Random) -> list[Outlet]:
    out: list[Outlet] = []
    letters = "ABCDEFGHJKLMNOPRSTVWXYZ"
    for city, _, _, w in _CITIES:
        slug = city.lower().replace(" ", "").replace(".", "")
        for k in range(1 + min(3, w // 3)):
            call = ("W" if rng.random() < 0.6 else "K") + "".join(rng.choice(letters) for _ in range(3))
            out.append(_outlet(rng, f"{call.lower()}.example", call, "tv", city))
            if k == 0:
                paper = f"{city} {rng.choice(('Herald', 'Tribune', 'Courier', 'Post', 'Sentinel'))}"
                out.append(
                    _outlet(rng, f"{slug}{rng.choice(('herald', 'news', 'times'))}.example", paper, "paper", city)
                )
    out.append(_outlet(rng, "apnews.example", "The Associated Press", "wire", None))
    for name in ("Crime Watch Daily", "US Gun Report", "Metro Newswire"):
        out.append(_outlet(rng, f"{name.lower().replace(' ', '')}.example", name, "aggregator", None))
    return out


def _outlet(rng: random.Random, host: str, name: str, style: str, city: str | None) -> Outlet:
    options = [
        f"Sign up for the {name} newsletter to get breaking news delivered to your inbox every morning.",
        f"Copyright {{year}} {name}. All rights reserved. This material may not be published, broadcast,"
        " rewritten or redistributed.",
        "Download our free news app to get alerts when news breaks in your neighborhood.",
        f"Follow {name} on Facebook and Twitter for the latest updates on this developing story.",
        "Have a news tip? Send it to our newsroom and include photos or video if you have them.",
        "Comments are moderated. Please keep the conversation civil and on topic.",
    ]
    k = rng.randint(1, 3)
    return Outlet(host, name, style, city, tuple(rng.sample(options, k)), rng.random() < 0.25)


_SIGN_IN = (
    "Sign in to continue reading. Already a subscriber? Log in to your account to read this story. "
    "Get unlimited digital access for 99 cents for the first month. Cancel anytime.",
    "You have reached your limit of free articles this month. Subscribe now for unlimited access "
    "to local news, sports and weather. Already have an account? Sign in.",
    "This content is available to subscribers only. Please log in or create a free account to "
    "continue reading and get our daily newsletter.",
)
# ``--realism``: a third of those pages show the outlet's newsletter prompt instead, which
# normalisation drops as boilerplate (the first two) or keeps (the third): a page with a
# headline and no text at all, or a page whose text is only the prompt
_NEWSLETTER = (
    "Sign up for the {name} newsletter to get breaking news delivered to your inbox every morning.",
    "Get the day's top stories delivered to your inbox. Enter your email address to sign up for our free newsletter.",
    "Want more local news? Sign up for {name} alerts and get the stories that matter to you first.",
)


# ``--realism``: 40% of those prompts end with their offer's terms, which name days and dates
# as real prompts do (a prompt names no day of the incident)
_OFFERS = (
    "This offer ends {weekday}.",
    "Our morning newsletter arrives Monday through Friday.",
    "Sale ends {month} {day}: subscribe today.",
    "New subscribers get their first {weekday} edition free.",
)


def _offer(seed: int, serial: int) -> str:
    rng = random.Random(f"offer {seed} {serial}")
    weekday = rng.choice(("Sunday", "Monday", "Friday", "Saturday"))
    return rng.choice(_OFFERS).format(weekday=weekday, month=rng.choice(_MONTHS_AP), day=rng.randint(1, 28))


def is_prompt_page(text: str) -> bool:
    """A page whose text is only a sign-in or newsletter prompt."""
    return any(text.startswith(t) for t in _SIGN_IN) or any(text.startswith(t.split("{name}")[0]) for t in _NEWSLETTER)


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------
def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _ap_date(t: datetime) -> str:
    return f"{_MONTHS_AP[t.month - 1]} {t.day}"


def _relative_day(when: datetime, pub: datetime) -> str:
    """How an article published at ``pub`` names the day ``when``: "Saturday", "last week",
    "Feb. 3", "in March"."""
    gap = (pub.date() - when.date()).days
    if gap == 0:
        return _WEEKDAYS[when.weekday()]
    if gap < 7:
        return _WEEKDAYS[when.weekday()]
    if gap < 60:
        return _ap_date(when)
    if gap < 330:
        return f"{_MONTHS[when.month - 1]}"
    return f"{_MONTHS[when.month - 1]} {when.year}"


def _count_phrase(rng: random.Random, inc: Incident) -> str:
    d, w = inc.dead, inc.wounded
    if len(inc.victims) == 1:
        v = inc.victims[0]
        return f"a {v.person.age}-year-old {v.person.noun} was {'shot and killed' if v.killed else 'wounded'}"
    parts = []
    if d:
        parts.append(f"{_WORDS.get(d, str(d)) if d > 1 else 'one person'} {'were' if d > 1 else 'was'} killed")
    if w:
        parts.append(f"{_WORDS.get(w, str(w)) if w > 1 else 'one person'} {'were' if w > 1 else 'was'} wounded")
    return " and ".join(parts) if rng.random() < 0.5 else f"{len(inc.victims)} people were shot, " + " and ".join(parts)


def _where(rng: random.Random, inc: Incident, grain: str) -> str:
    if grain == "block":
        return f"in the {inc.block} block of {inc.street}"
    if grain == "hood":
        return f"in the {inc.hood} neighborhood"
    if grain == "place":
        return f"at {inc.place} on {inc.street}"
    if grain == "street":
        return f"on {inc.street}"
    return f"in {inc.city}"


def _victim_ref(v: Victim, full: bool) -> str:
    return f"{v.person.name}, {v.person.age}," if full else f"a {v.person.age}-year-old {v.person.noun}"


def _background(rng: random.Random, inc: Incident, pub: datetime) -> list[str]:
    n = rng.randint(8, 140)
    opts = [
        f"The shooting was the city's {_ordinal(n)} homicide this year, according to police records.",
        f"{inc.city} has seen a rise in gun violence this year, with more than {rng.randint(2, 9) * 100}"
        " people shot since January.",
        f"Police have increased patrols in {rng.choice(_HOODS)} and surrounding neighborhoods after a string of"
        " shootings.",
        f"Mayor's office officials said the city would add {rng.randint(2, 6) * 10} officers to night patrols.",
        "Community leaders have called for more youth programs to stop the violence.",
        f"It was at least the {_ordinal(rng.randint(3, 30))} shooting in the city over the weekend.",
    ]
    return rng.sample(opts, rng.randint(1, 2))


def _tip(inc: Incident) -> str:
    return f"Anyone with information is asked to call {inc.city} police or Crime Stoppers at {inc.tip_line}."


def _spokesman(inc: Incident, pub: datetime) -> list[str]:
    """The city's police spokesman, quoted in many stories of that city (a name that is no
    evidence of any one incident). Drawn from its own generators, so the rest of the stream
    does not depend on it."""
    city = random.Random(f"spokesman {inc.city}")
    name = f"{city.choice(_FIRST_M)} {city.choice(_LAST)}"
    rng = random.Random(f"{inc.id} {pub.isoformat()}")
    if rng.random() < 0.6:
        return []
    quote = rng.choice(
        (
            "detectives are following several leads",
            "it was not a random act",
            "officers would step up patrols in the area",
            "investigators were still trying to establish a motive",
        )
    )
    if rng.random() < 0.5:
        return [f"Police spokesman {name} said {quote}."]
    return [f'"{quote.capitalize()}," said {name}, a spokesman for the {inc.city} Police Department.']


def _initial(rng: random.Random, inc: Incident, pub: datetime, style: str) -> tuple[str, list[str]]:
    day = _relative_day(inc.at, pub)
    tw = inc.time_word
    when = f"{tw[0] + ' ' if tw[0] else ''}{day} {tw[2]}".strip()
    grain = rng.choice(("block", "hood", "hood", "place", "street"))
    v0 = inc.victims[0]
    named = rng.random() < 0.15
    lead = (
        f"{_count_phrase(rng, inc).capitalize()} {when} {_where(rng, inc, grain)}"
        f"{' on the city' + chr(39) + 's ' + rng.choice(('South', 'West', 'North', 'East')) + ' Side' if rng.random() < 0.3 else ''},"
        f" {rng.choice(('police said', 'authorities said', 'according to police'))}."
    )
    if named:
        lead += f" Police identified the victim as {v0.person.name}, {v0.person.age}."
    body = [lead]
    body.append(
        f"Officers responded {tw[1]} to reports of shots fired {_where(rng, inc, 'block' if grain != 'block' else 'hood')}"
        f" and found {'the victim' if len(inc.victims) == 1 else 'the victims'}"
        f" with gunshot wounds, police said."
    )
    if v0.killed:
        body.append(f"The {v0.person.noun} was taken to {inc.hospital}, where {v0.person.pron} was pronounced dead.")
    else:
        body.append(
            f"The {v0.person.noun} was taken to {inc.hospital} in {rng.choice(('stable', 'critical', 'serious'))} condition."
        )
    if rng.random() < 0.5:
        body.append(f"Witnesses told investigators the gunfire started near {inc.place}.")
    if inc.suspects and rng.random() < 0.5:
        s = inc.suspects[0]
        body.append(
            f"Police said a {s.noun} in a dark {rng.choice(('sedan', 'SUV', 'pickup'))} was seen fleeing the scene."
        )
    else:
        body.append("No arrests have been made and police did not release a motive.")
    body.extend(_spokesman(inc, pub))
    if style != "tv":
        body.extend(_background(rng, inc, pub))
    body.append(_tip(inc))
    head_where = {"block": inc.street.split()[-2] if len(inc.street.split()) > 1 else inc.city, "hood": inc.hood}
    hw = head_where.get(grain, inc.city)
    title = rng.choice(
        (
            f"{'Man' if v0.person.male else 'Woman'} {'killed' if v0.killed else 'wounded'} in {hw} shooting",
            f"Police investigate {when} shooting in {inc.city}",
            f"{len(inc.victims)} shot {'on ' + inc.street if grain in ('block', 'street', 'place') else 'in ' + inc.hood}",
            f"Shooting {'leaves ' + str(inc.dead) + ' dead' if inc.dead else 'injures ' + str(len(inc.victims))} in {hw}",
        )
    )
    return title, body


def _identified(rng: random.Random, inc: Incident, pub: datetime, style: str) -> tuple[str, list[str]]:
    day = _relative_day(inc.at, pub)
    dead = [v for v in inc.victims if v.killed] or inc.victims
    v = dead[0]
    grain = rng.choice(("block", "hood", "street"))
    who = rng.choice(("The medical examiner's office", f"The {inc.county} County coroner", "Police"))
    body = [
        f"{who} has identified the {v.person.noun} killed in {day}'s shooting {_where(rng, inc, grain)} as"
        f" {v.person.name}, {v.person.age}, of {inc.city}.",
        f"{v.person.last} was shot {rng.choice(('several times', 'in the chest', 'in the head', 'multiple times'))}"
        f" {inc.time_word[1]} {_where(rng, inc, 'place' if rng.random() < 0.5 else 'block')}.",
    ]
    if len(inc.victims) > 1:
        body.append(
            f"{_WORDS.get(len(inc.victims) - 1, 'Another')} other people were also hurt in the shooting.".capitalize()
        )
    if rng.random() < 0.5:
        body.append(
            f"Relatives described {v.person.last} as a {rng.choice(('loving father', 'hard worker', 'devoted son', 'good friend'))}"
            f" who {rng.choice(('loved basketball', 'had just started a new job', 'was planning to go back to school'))}."
        )
    body.extend(_spokesman(inc, pub))
    body.append(
        "Police have not announced any arrests."
        if not any(s == "arrest" and d <= pub for s, d in inc.outcomes)
        else "A suspect is in custody."
    )
    if style != "tv":
        body.extend(_background(rng, inc, pub)[:1])
    body.append(_tip(inc))
    title = rng.choice(
        (
            f"Victim in {inc.hood} shooting identified",
            f"{v.person.name} identified as victim of {day} shooting",
            f"Coroner IDs {v.person.age}-year-old killed in {inc.city} shooting",
            f"Police name {v.person.noun} killed on {inc.street}",
        )
    )
    return title, body


def _vigil(rng: random.Random, inc: Incident, pub: datetime, style: str) -> tuple[str, list[str]]:
    v = ([x for x in inc.victims if x.killed] or inc.victims)[0]
    day = _relative_day(inc.at, pub)
    what = rng.choice(("a vigil", "a balloon release", "the funeral", "a memorial service"))
    body = [
        f"Family and friends gathered {_WEEKDAYS[pub.weekday()]} for {what} for {v.person.name}, the"
        f" {v.person.age}-year-old {v.person.noun} shot and killed {day} in {inc.hood}.",
        f'"{v.person.pron.capitalize()} didn\'t deserve this," said'
        f" {v.person.poss} {rng.choice(('mother', 'aunt', 'grandmother', 'sister'))},"
        f' {rng.choice(_FIRST_F)} {v.person.last}. "We just want justice."',
        f"{v.person.last} was {rng.choice(('a senior at a local high school', 'a father of two', 'a youth football coach', 'working at a warehouse'))}.",
        f"Mourners released balloons near {inc.place} on {inc.street}, where {v.person.pron} was killed."
        if rng.random() < 0.5
        else f"No one has been charged in {v.person.last}'s death.",
    ]
    body.append(_tip(inc))
    title = rng.choice(
        (
            f"Loved ones remember {v.person.name}",
            f"'We want justice': Family mourns {v.person.age}-year-old killed in {inc.hood}",
            f"Vigil held for {v.person.first} {v.person.last}",
        )
    )
    return title, body


def _arrest(rng: random.Random, inc: Incident, pub: datetime, style: str, stage: str) -> tuple[str, list[str]]:
    s = inc.suspects[0]
    v = inc.victims[0]
    when = _relative_day(inc.at, pub)
    charge = rng.choice([c for c, k in _CHARGES if (k == "killed") == v.killed])
    identified = any(st == "identified" and d <= pub for st, d in inc.outcomes) or not v.killed or rng.random() < 0.5
    vref = f"{v.person.name}, {v.person.age}," if identified else _victim_ref(v, False)
    if stage == "arrest":
        lead = (
            f"{inc.city} police have arrested {s.name}, {s.age}, in connection with the {when} shooting"
            f" {rng.choice(('death', 'that killed')) if v.killed else 'that wounded'} {vref.rstrip(',')}"
            f" {_where(rng, inc, rng.choice(('block', 'hood', 'street')))}."
        ).replace("death " + vref.rstrip(","), "death of " + vref.rstrip(","))
        title = rng.choice(
            (
                f"Arrest made in {inc.hood} shooting",
                f"{s.age}-year-old arrested in {when} shooting death of {v.person.name}"
                if v.killed
                else f"Suspect arrested in {inc.street} shooting",
                f"Police arrest suspect in killing of {v.person.last}"
                if v.killed
                else f"Man arrested after {inc.city} shooting",
            )
        )
    else:
        lead = (
            f"{s.name}, {s.age}, of {inc.city}, has been charged with {charge} in the {when} shooting of"
            f" {vref.rstrip(',')} {_where(rng, inc, rng.choice(('block', 'place', 'street')))}, prosecutors said."
        )
        title = rng.choice(
            (
                f"{s.name} charged with {charge} in {inc.city} shooting",
                f"Charges filed in {when} shooting of {v.person.last}",
                f"{s.last} held without bail in {inc.hood} shooting",
            )
        )
    body = [lead]
    body.append(
        f"Prosecutors say {s.last} shot {v.person.last if identified else 'the victim'} after an argument"
        f" {rng.choice(('over money', 'at a party', 'outside a store', 'about a girlfriend', 'over a parking spot'))}."
    )
    if rng.random() < 0.6:
        body.append(
            f"{v.person.last if identified else 'The victim'} {'died at ' + inc.hospital if v.killed else 'survived'}"
            f" after being shot {inc.time_word[1]} on {_WEEKDAYS[inc.at.weekday()]}."
        )
    if len(inc.suspects) > 1 and rng.random() < 0.7:
        s2 = inc.suspects[1]
        body.append(
            f"A second suspect, {s2.name}, {s2.age}, {'was also arrested' if rng.random() < 0.5 else 'remains at large'}."
        )
    body.append(
        f"{s.last} is being held at the {inc.county} County jail{' on $' + str(rng.randint(1, 20) * 50) + ',000 bond' if rng.random() < 0.5 else ' without bond'}."
    )
    if style == "paper":
        body.extend(_background(rng, inc, pub)[:1])
    return title, body


def _court(rng: random.Random, inc: Incident, pub: datetime, style: str, stage: str) -> tuple[str, list[str]]:
    s = inc.suspects[0]
    v = inc.victims[0]
    when = _relative_day(inc.at, pub)
    verb = "killing" if v.killed else "shooting"
    if stage == "trial":
        lead = (
            f"Jury selection began {_WEEKDAYS[pub.weekday()]} in the trial of {s.name}, accused of {verb}"
            f" {v.person.name} {_where(rng, inc, rng.choice(('block', 'hood', 'place')))} in {when}."
        )
        title = rng.choice((f"Trial begins for man accused in {v.person.last} {verb}", f"{s.name} goes on trial"))
    elif stage == "verdict":
        lead = (
            f"A {inc.county} County jury found {s.name}, {s.age + 1}, guilty {_WEEKDAYS[pub.weekday()]} of"
            f" {verb} {v.person.name} in {when}."
        )
        title = rng.choice((f"{s.last} found guilty in {inc.city} {verb}", f"Jury convicts {s.name}"))
    else:
        years = rng.choice((12, 18, 20, 25, 30, 35, 40, 45, 50, 60))
        lead = (
            f"{s.name} was sentenced {_WEEKDAYS[pub.weekday()]} to {years} years in prison for the {when}"
            f" {'shooting death' if v.killed else 'shooting'} of {v.person.name} {_where(rng, inc, rng.choice(('hood', 'block', 'street')))}."
        )
        title = rng.choice(
            (
                f"{s.last} gets {years} years for {inc.city} {verb}",
                f"Man sentenced to {years} years in {v.person.last} {verb}",
                f"{s.name} sentenced in {when} shooting",
            )
        )
    body = [
        lead,
        f"Prosecutors said {s.last} opened fire {rng.choice(('after an argument', 'from a passing car', 'during a robbery'))}"
        f" near {inc.place}, striking {v.person.last}{' ' + str(len(inc.victims) - 1) + ' others' if len(inc.victims) > 1 else ''}.",
        f"{v.person.last}'s {rng.choice(('mother', 'father', 'sister', 'grandmother'))} told the court the family"
        " still struggles every day."
        if rng.random() < 0.6
        else f"{s.last}'s attorney argued there was no physical evidence tying him to the shooting.",
    ]
    if style == "paper":
        body.append(f"{s.last} was arrested {rng.choice(('days', 'weeks', 'a month'))} after the shooting.")
    return title, body


def _wire_wrap(rng: random.Random, inc: Incident, title: str, body: list[str]) -> tuple[str, list[str]]:
    body = list(body)
    body[0] = f"{inc.city.upper()} (AP) — {body[0]}"
    return title, body


_RENDER = {
    "initial": _initial,
    "identified": _identified,
    "vigil": _vigil,
}


def _render(rng: random.Random, inc: Incident, stage: str, pub: datetime, outlet: Outlet) -> tuple[str, str]:
    if stage in _RENDER:
        title, body = _RENDER[stage](rng, inc, pub, outlet.style)
    elif stage in ("arrest", "charged"):
        title, body = _arrest(rng, inc, pub, outlet.style, stage)
    else:
        title, body = _court(rng, inc, pub, outlet.style, stage)
    if outlet.style == "wire":
        title, body = _wire_wrap(rng, inc, title, body)
    if outlet.style == "aggregator":
        body = [*body[:2], f"Read more at {rng.choice(('the local station', 'the local newspaper'))}'s website."]
    if outlet.style == "tv" and rng.random() < 0.5:
        body = body[: max(2, len(body) - 2)] + body[-1:]
    tail = [b.replace("{year}", str(pub.year)) for b in outlet.boiler]
    return title, "\n\n".join([*body, *tail])


def _outlets_for(rng: random.Random, outlets: Sequence[Outlet], city: str) -> list[Outlet]:
    local = [o for o in outlets if o.city == city]
    national = [o for o in outlets if o.city is None]
    return local * 4 + national


# --------------------------------------------------------------------------------------
# Realism (``--realism``): real reports tell less, and say it in more ways, than the
# templates above. Applied to the rendered text with its own generator, so the stream without
# it stays exactly what it was (the figures measured on it stay comparable).
# --------------------------------------------------------------------------------------
_BLOCK_PHRASE = re.compile(r"in the ([0-9]+) block of ((?:[A-Z][a-z.]+ ?)+)")
_HOOD_PHRASE = re.compile(r"in the ([A-Z][a-z]+(?: [A-Z][a-z]+)?) neighborhood")
_AGE_NOUN = re.compile(r"\b[aA] ([0-9]{1,2})-year-old (man|woman|boy|girl)\b")
_NAME_AGE = re.compile(r"\b([A-Z][a-z]+ [A-Z][a-z]+), ([0-9]{1,2}),")
# "Darnell Jackson, 23, of Chicago." as many city desks print it: "..., 23, of the 3900 block of
# West Monroe Street." (where the victim or the accused lives, not where it happened)
_NAME_AGE_CITY = re.compile(
    r"\b([A-Z][a-z]+ [A-Z][a-z]+, [0-9]{1,2}), of ((?:St\. )?[A-Z][a-z]+(?: [A-Z][a-z]+)?)(?=[.,])"
)
_LEAD_REWRITES = (
    # (pattern on the first sentence, rewrite): how other newsrooms open the same report
    (
        re.compile(
            r"^(.+?) (was|were) (shot and killed|killed|wounded) (.+?), (police said|authorities said|according to police)\.$"
        ),
        r"Police are investigating after \1 \2 \3 \4.",
    ),
    (
        re.compile(
            r"^(.+?) (was|were) (shot and killed|killed|wounded) (.+?), (police said|authorities said|according to police)\.$"
        ),
        r"\1 \2 \3 \4, and police are looking for whoever did it.",
    ),
    (re.compile(r"^(.+?) police have arrested (.+?), in connection with (.+)$"), r"Police in \1 arrested \2 in \3"),
)


def _home(rng: random.Random, m: re.Match[str]) -> str:
    """Half the time, the person's home block instead of their city (local desks, not the wire)."""
    if rng.random() >= 0.5:
        return m.group(0)
    street = f"{rng.choice(_DIRS)}{rng.choice(_STREETS)} {rng.choice(_SUFFIX)}"
    return f"{m.group(1)}, of the {rng.randint(1, 99)}00 block of {street}"


_CREDITS = ("Written by {}", "Story by {}", "Reported by {}", "Posted by {}")
_BIOS = ("{} is a staff writer for {}.", "{} covers public safety for {}.", "{} can be reached at the {} newsroom.")


_SPOKESMAN = re.compile(
    r"[Pp]olice spokesman [A-Z][a-z]+ ([A-Z][a-z]+) said|said [A-Z][a-z]+ ([A-Z][a-z]+), a spokesman"
)


def _second_reference(text: str, key: str) -> str:
    """Real reports name the spokesman again by surname ("Guglielmi said no arrests had been
    made"), as they do the people of the story: more than half of them here."""
    m = _SPOKESMAN.search(text)
    rng = random.Random(f"{key} again")
    if m is None or rng.random() >= 0.6:
        return text
    end = text.find("\n\n", m.end())
    line = f"{m.group(1) or m.group(2)} {rng.choice(('said no arrests had been made', 'added that the investigation continues', 'asked witnesses to come forward'))}."
    return f"{text}\n\n{line}" if end < 0 else f"{text[:end]}\n\n{line}{text[end:]}"


@functools.cache
def _desk(host: str) -> tuple[str, ...]:
    """The outlet's two or three reporters (the same for every story it runs)."""
    desk = random.Random(host)
    return tuple(f"{desk.choice(_FIRST_F + _FIRST_M)} {desk.choice(_LAST)}" for _ in range(desk.randint(2, 3)))


def _credit(text: str, key: str, outlet: Outlet) -> str:
    """A third of local stories carry their reporter's credit ("Written by Dana Kowalski") or a
    line about them at the end ("Dana Kowalski is a staff writer for the Gazette."), one of the
    two or three reporters of the outlet's desk: the same name over many incidents."""
    rng = random.Random(f"{key} credit")
    if rng.random() >= 1 / 3 or "(AP)" in text:
        return text
    reporter = rng.choice(_desk(outlet.host))
    if rng.random() < 0.35:
        return f"{text}\n\n{rng.choice(_BIOS).format(reporter, outlet.name)}"
    line = rng.choice(_CREDITS).format(reporter)
    return f"{line}\n\n{text}" if rng.random() < 0.5 else f"{text}\n\n{line}"


def _cross_street(inc: Incident) -> str:
    """The street crossing the incident's block, the same in every outlet's story: a numbered
    street half the time ("79th Street"), as in the cities whose grid is numbered."""
    rng = random.Random(f"cross {inc.id}")
    if rng.random() < 0.5:
        return f"{_ordinal(rng.randint(2, 119))} {rng.choice(('Street', 'Avenue'))}"
    own = inc.street.split()
    name = rng.choice([s for s in _STREETS if s not in own])
    return f"{name} {rng.choice(_SUFFIX)}"


def _bare(street: str) -> str:
    """A street as desks writing short print it: "West Monroe Street" -> "West Monroe"."""
    return street.rsplit(" ", 1)[0] if street.rsplit(" ", 1)[-1] in _SUFFIX else street


def _house_style(text: str, inc: Incident, outlet: Outlet, key: str) -> str:
    """How a local desk prints the scene: 30% of the outlets leave the street's kind out
    ("in the 3900 block of West Monroe", as some city papers do), and a quarter of the stories
    give the corner instead of the block ("near West Monroe Street and 79th Street"; short:
    "near Monroe and 79th"). Own random draws: the rest of the stream stays as it was."""
    if outlet.style == "wire" or "(AP)" in text:
        return text
    short = random.Random(f"short streets {outlet.host}").random() < 0.3
    block = f"in the {inc.block} block of {inc.street}"
    if block in text and random.Random(f"{key} corner").random() < 0.25:
        cross = _cross_street(inc)
        if short:
            a = _bare(inc.street).removeprefix(next((d for d in _DIRS if d and inc.street.startswith(d)), ""))
            corner = f"near {a} and {_bare(cross)}"
        else:
            corner = f"near {inc.street} and {cross}"
        text = text.replace(block, corner)
    return text.replace(inc.street, _bare(inc.street)) if short else text


def _realism(text: str, key: str) -> str:
    """Partial information and paraphrase, as real coverage varies from outlet to outlet: the
    block number left out ("on Madison Lane"), the neighbourhood without its kind ("in
    Englewood"), the victim's age or a name's age not given, the tip line (and with it the city)
    dropped, the lede said another way, some outlets running only a two-sentence brief, and
    people identified by their home block rather than their city ("Darnell Jackson, 23, of the
    3900 block of West Monroe Street"); the police spokesman named again by surname
    (:func:`_second_reference`); a third of the local stories credit their reporter
    (:func:`_credit`); and 40% of the outlets end their titles with their name ("... - The
    Gazette", in :func:`render_stream`)."""
    rng = random.Random(key)
    homes = random.Random(f"{key} home")  # its own draws: the other rewrites stay as they were
    paras = text.split("\n\n")
    out = []
    for i, p in enumerate(paras):
        if rng.random() < 0.4:
            p = _BLOCK_PHRASE.sub(lambda m: f"on {m.group(2).rstrip()}{' ' * m.group(2).endswith(' ')}", p)
        if rng.random() < 0.3:
            p = _HOOD_PHRASE.sub(r"in \1", p)
        if rng.random() < 0.25:
            p = _AGE_NOUN.sub(lambda m: f"{m.group(0)[0]} {m.group(2)}", p)
        if rng.random() < 0.2:
            p = _NAME_AGE.sub(r"\1,", p)
        if "(AP)" not in text:
            p = _NAME_AGE_CITY.sub(lambda m: _home(homes, m), p)
        if i == 0 and "(AP)" not in p and rng.random() < 0.5:
            rx, rep = rng.choice(_LEAD_REWRITES)
            p = rx.sub(rep, p)
        if p.startswith("Anyone with information") and rng.random() < 0.4:
            continue
        out.append(p)
    if len(out) > 3 and rng.random() < 0.15:
        tail = [p for p in out if p.startswith(("Sign up", "Copyright", "Download", "Follow", "Have a", "Comments"))]
        out = out[:2] + tail
    return "\n\n".join(out)


def render_stream(
    incidents: Sequence[Incident], seed: int, realism: bool = False, related: bool = False, roundups: bool = False
) -> list[StreamDoc]:
    """Every incident's articles, in publication order (``realism``: see :func:`_realism`;
    ``related``: see :func:`_with_related_headlines`; ``roundups``: see :func:`_roundups`)."""
    rng = random.Random(seed * 7919 + 1)
    outlets = make_outlets(rng)
    docs: list[StreamDoc] = []
    headlines: dict[str, tuple[str, str, bool]] = {}  # id -> (city, bare title, a prompt page)
    serial = 0
    for inc in incidents:
        pool = _outlets_for(rng, outlets, inc.city)
        size = len(inc.victims) + inc.dead
        r = rng.random()
        n_first = 1 if r < 0.8 else 2 if r < 0.94 else 3
        n_first += size // 3 * rng.randint(0, 3)
        stages: list[tuple[str, datetime]] = []
        for _ in range(n_first):
            pub = inc.at + timedelta(hours=rng.uniform(1.5, 30 if rng.random() < 0.75 else 60))
            stages.append(("initial", pub))
        for stage, day in inc.outcomes:
            # most outcomes are covered by nobody; bigger incidents draw more follow-ups
            cover = {"identified": 0.3, "vigil": 0.2, "arrest": 0.3, "charged": 0.2, "trial": 0.12,
                     "verdict": 0.15, "sentenced": 0.2}[stage] + 0.1 * (size - 1)  # fmt: skip
            k = 0
            while rng.random() < cover and k < 1 + size // 2:
                stages.append((stage, day + timedelta(hours=rng.uniform(0, 20))))
                k += 1
        wire_text: tuple[str, str] | None = None
        for stage, pub in stages:
            outlet = rng.choice(pool)
            serial += 1
            if wire_text is not None and rng.random() < 0.25:
                # a wire copy: the AP text under another outlet's name and boilerplate
                title, text = wire_text
                text = text + "\n\n" + "\n\n".join(b.replace("{year}", str(pub.year)) for b in outlet.boiler)
            else:
                title, text = _render(rng, inc, stage, pub, outlet)
                if outlet.style == "wire":
                    wire_text = (title, text.split("\n\nSign up")[0])
            if outlet.paywall and rng.random() < 0.2:
                text = rng.choice(_SIGN_IN)
                if realism and (pick := random.Random(f"newsletter {seed} {serial}").random()) < 1 / 3:
                    text = _NEWSLETTER[int(pick * 9) % 3].format(name=outlet.name)
                if realism and random.Random(f"offer? {seed} {serial}").random() < 0.4:
                    text = f"{text} {_offer(seed, serial)}"
            elif realism:
                key = f"{seed} {serial}"
                text = _credit(_house_style(_second_reference(_realism(text, key), key), inc, outlet, key), key, outlet)
            if realism and random.Random(f"suffix {outlet.host}").random() < 0.4:
                title = f"{title} - {outlet.name}"  # as its <title> shows it: the outlet's name appended
            slug = "-".join(title.lower().replace("'", "").replace(",", "").split()[:8])
            url = f"https://{outlet.host}/news/{pub:%Y/%m/%d}/{slug}-{serial}"
            docs.append(StreamDoc(f"d{serial}", inc.id, stage, url, title, text, outlet.host, pub))
            headlines[f"d{serial}"] = (inc.city, title.removesuffix(f" - {outlet.name}"), is_prompt_page(text))
    if roundups:
        docs.extend(_roundups(incidents, outlets, seed))
    docs.sort(key=lambda d: (d.published_at, d.id))
    return _with_related_headlines(docs, headlines, seed) if related else docs


ROUNDUP_SHARE = 0.5  # the city-weekends with two or more shootings that a local desk rounds up


def _roundups(incidents: Sequence[Incident], outlets: Sequence[Outlet], seed: int) -> list[StreamDoc]:
    """A local desk's Monday round-up of a weekend's shootings in its city ("3 shot in separate
    weekend shootings across Milwaukee"), one paragraph per incident with its block, neighbourhood,
    day and victims. Its gold incident is the first it tells of (a corpus labels a page once); it
    names the others' scenes and days as plainly, which is what makes it a bridge between their
    stories. Own draws: the incidents' own articles stay as they are."""
    weekends: dict[tuple[str, datetime], list[Incident]] = {}
    for inc in incidents:
        day = inc.at.replace(hour=0, minute=0, second=0, microsecond=0)
        if day.weekday() >= 4:  # Friday to Sunday: the Monday after
            monday = day + timedelta(days=7 - day.weekday())
            weekends.setdefault((inc.city, monday), []).append(inc)
    out = []
    for (city, monday), incs in sorted(weekends.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        rng = random.Random(f"roundup {seed} {city} {monday:%Y-%m-%d}")
        if len(incs) < 2 or rng.random() >= ROUNDUP_SHARE:
            continue
        local = [o for o in outlets if o.city == city and o.style != "wire"]
        if not local:
            continue
        outlet = rng.choice(local)
        incs = sorted(incs, key=lambda i: i.at)[: rng.randint(2, 4)]
        pub = monday + timedelta(hours=rng.uniform(7, 12))
        shot = sum(len(i.victims) for i in incs)
        dead = sum(i.dead for i in incs)
        title = rng.choice(
            (
                f"{shot} shot in separate weekend shootings across {city}",
                f"{shot} shot, {dead} killed in weekend violence in {city}",
                f"Weekend violence: {shot} people shot in {city}",
            )
        )
        paras = [
            f"{city} police are investigating {_WORDS.get(len(incs), str(len(incs)))} separate shootings over the weekend."
        ]
        for inc in incs:
            grain = rng.choice(("block", "block", "hood"))
            paras.append(
                f"{_count_phrase(rng, inc).capitalize()} {_WEEKDAYS[inc.at.weekday()]} {_where(rng, inc, grain)}."
            )
        paras.append("No arrests have been made in any of the shootings, police said.")
        text = "\n\n".join(paras + [b.replace("{year}", str(pub.year)) for b in outlet.boiler])
        slug = "-".join(title.lower().replace(",", "").replace(":", "").split()[:8])
        ident = f"r{city.lower().replace(' ', '')}{monday:%Y%m%d}"
        url = f"https://{outlet.host}/news/{pub:%Y/%m/%d}/{slug}-{ident}"
        out.append(StreamDoc(ident, incs[0].id, "roundup", url, title, text, outlet.host, pub))
    return out


RELATED_SHARE = 0.25  # the local reports that carry a link to another story inside their text
RELATED_DAYS = 30  # ...to one of the outlet's city's stories of the month before


def _with_related_headlines(
    docs: list[StreamDoc], headlines: Mapping[str, tuple[str, str, bool]], seed: int
) -> list[StreamDoc]:
    """A quarter of the reports carry, between their paragraphs, the bare headline of an earlier
    story about another shooting in the same city: a page's "Related" link whose label the
    scrape lost ("Man wounded in East End shooting"), which names that incident's place, day,
    victim or suspect inside this one's text. Own draws: the stream is otherwise unchanged."""
    by_city: dict[str, list[StreamDoc]] = {}
    out = []
    for d in docs:
        if d.id not in headlines:  # a round-up (see _roundups): left as it is, and linked to by none
            out.append(d)
            continue
        city, _, prompt = headlines[d.id]
        rng = random.Random(f"related {seed} {d.id}")
        earlier = [
            o
            for o in by_city.get(city, ())
            if o.incident != d.incident and d.published_at - o.published_at <= timedelta(days=RELATED_DAYS)
        ]
        paras = d.text.split("\n\n")
        if not prompt and earlier and len(paras) >= 3 and "(AP)" not in d.text and rng.random() < RELATED_SHARE:
            other = headlines[rng.choice(earlier[-40:]).id][1]
            at = rng.randint(1, min(3, len(paras) - 1))
            d = replace(d, text="\n\n".join([*paras[:at], other, *paras[at:]]))
        by_city.setdefault(city, []).append(d)
        out.append(d)
    return out


def build_stream(
    n_incidents: int = 2000,
    seed: int = 19,
    days: int = 730,
    realism: bool = False,
    related: bool = False,
    roundups: bool = False,
) -> list[StreamDoc]:
    start = datetime(2014, 1, 1, tzinfo=UTC)
    return render_stream(make_incidents(n_incidents, seed, start, days), seed, realism, related, roundups)


def summary(docs: Sequence[StreamDoc]) -> str:
    by_inc = Counter(d.incident for d in docs)
    sizes = Counter(min(c, 10) for c in by_inc.values())
    stages = Counter(d.stage for d in docs)
    gaps: Counter[str] = Counter()
    groups: dict[str, list[StreamDoc]] = {}
    for d in docs:
        groups.setdefault(d.incident, []).append(d)
    for g in groups.values():
        for i in range(len(g)):
            for j in range(i + 1, len(g)):
                gaps[gap_bucket(g[i].published_at, g[j].published_at)] += 1
    total = sum(gaps.values()) or 1
    return (
        f"{len(docs)} articles, {len(by_inc)} incidents; sizes {dict(sorted(sizes.items()))}; "
        f"stages {dict(stages)}; same-incident pairs by gap "
        + ", ".join(f"{k} {gaps[k] / total:.2f}" for k in GAP_BUCKETS)
    )


GAP_BUCKETS = ("same day", "1-3 days", "4-10 days", "11-30 days", ">30 days")


def gap_bucket(a: datetime, b: datetime) -> str:
    days = abs((a.date() - b.date()).days)
    if days == 0:
        return GAP_BUCKETS[0]
    if days <= 3:
        return GAP_BUCKETS[1]
    if days <= 10:
        return GAP_BUCKETS[2]
    if days <= 30:
        return GAP_BUCKETS[3]
    return GAP_BUCKETS[4]


def write_jsonl(docs: Sequence[StreamDoc], path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for d in docs:
            fh.write(json.dumps(d.to_json(), ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--incidents", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--summary", action="store_true")
    ap.add_argument("--show", type=int, default=0, help="print the first N articles")
    ap.add_argument("--realism", action="store_true", help="partial information and paraphrase (see _realism)")
    args = ap.parse_args(argv)
    docs = build_stream(args.incidents, args.seed, realism=args.realism)
    if args.out:
        write_jsonl(docs, args.out)
    if args.summary or not args.out:
        print(summary(docs))
    for d in docs[: args.show]:
        print(f"--- {d.incident} {d.stage} {d.published_at:%Y-%m-%d %a} {d.source}\n{d.title}\n{d.text}\n")


if __name__ == "__main__":
    main()
