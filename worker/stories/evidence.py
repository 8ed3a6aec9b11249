"""Incident evidence that survives a story's evolution (issue 19).

Word overlap links articles written the same way; a follow-up days or months later says it
differently (the victim now has a name, the place is an address instead of a neighbourhood,
the story is about the trial). What stays the same is *who, where and when*. This module turns
an article into a small set of keys, computed once per article from its raw text and its
publication date, and scores how strongly two sets of keys say "the same incident":

* ``pn:`` a person's full name: a run of two or three capitalised words that the text also
  refers to by its last word alone ("Tavon Abernathy ... Abernathy was shot"), or that is
  followed by an age ("Tavon Abernathy, 20,");
* ``a:`` an age ("a 20-year-old man", "Abernathy, 20,");
* ``pb:`` a block or street address (number rounded to its hundred block + street name, its
  kind left out: "the 3900 block of West Monroe" is "... West Monroe Street"), ``ps:`` a
  street, ``px:`` a corner, ``ph:`` a neighbourhood ("in the Englewood neighborhood"), ``pc:`` the city
  where it happened (a dateline, "Chicago police"), ``pr:`` a city someone is from ("of Chicago"
  after a name and age: in real reports often a suburb or another town, so it supports a
  shared city but never vetoes one);
* ``t:`` a calendar day: weekdays ("Saturday night") resolved against the publication date to
  the most recent such day, "Feb. 3" / "February 3, 2015" with the year inferred; ``tm:`` a
  month ("in March", "in March 2014");
* ``hn:`` a name in the headline of a page whose text tells nothing (a sign-in prompt), see
  :func:`headline_joins`.

Pattern rules only (US/English news conventions), no gazetteer; every rule is general. Scores
are fixed here; see :func:`strength`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta

from worker.model.story import LOOKUP_KINDS, SOURCE_CITIES, when_where_keys

# Evidence weights: a shared full name or block address is nearly decisive, a street or a
# neighbourhood or a day or an age is supporting evidence, a city or a month is a hint.
W_NAME = 2.0
MAX_NAMES = 2
W_BLOCK = 2.0
W_STREET = 1.0
W_HOOD = 1.0
MAX_PLACE = 3.0
W_CITY = 0.5
W_DAY = 1.5
W_MONTH = 0.5
W_AGE = 1.0
W_SURNAME = 1.0  # a surname alone against a full name: half a name
MAX_SURNAMES = 3  # surnames alone kept per article
AGE_CONFLICT = 1.0  # both give ages, none shared: subtract this
DAY_CONFLICT = 1.0  # both resolve days, none shared: subtract this
KIND_CONFLICT = 1.0  # both name the kind of event in their ledes, no kind shared: subtract this
BLOCK_CONFLICT = 1.0  # both give block addresses, none shared: subtract this (and no street credit)
NEAR_STRENGTH = 3.5  # within the linker's window: join on this much evidence
# within the window, this much (a day and a place, a name and an age) lifts the linker's name
# gate and time decay: the article still needs the usual word overlap with the story
SUPPORT_STRENGTH = 3.0
FAR_STRENGTH = 4.0  # beyond it (follow-ups months later): this much, anchored on a name or address
# ...or this much when the evidence is where and when: a place with the day ("the Nov. 11
# shooting on Ashland Road"), or a place, the month and the victim's age ("the March shooting
# that wounded Reginald Palmer, 53, in the Carver Park neighborhood"): what a first report that
# names nobody shares with the arrest or the trial months later
FAR_WHERE_WHEN = 3.0
# ...and within the window, a street (or a block or corner) with the day and the city: a
# follow-up naming the scene by its street and the first report giving the block ("the victim of
# Saturday's shooting on Burleigh" and "shot Saturday in the 2400 block of West Burleigh
# Street") share little else; a neighbourhood with the day is not enough this close in time (a
# city's busy weekend has several shootings in one neighbourhood)
NEAR_WHERE_WHEN = 3.0
# An outlet's home city: a local outlet's articles that name no city are about its own city ("A
# man was shot Saturday in the 2400 block of West Burleigh Street" on a Milwaukee station's
# site, whose other reports say "Milwaukee police"). The city named by at least this share of an
# outlet's earlier articles, and by at least HOME_CITY_MIN of them, stands for the city of its
# articles that name none (see home_city); a wire or national outlet names many cities, none
# that often.
HOME_CITY_SHARE = 0.5
HOME_CITY_MIN = 3
MAX_KEYS = 48  # keys kept per story signature (most frequent first)
# a text this short that names no place, day or age is a prompt, not an article (sign-in and
# newsletter prompts run 20-60 words); a longer one without them is just other news (sports)
PROMPT_WORDS = 80
PROMPT_PAGE = "hq:page"  # the key that marks such a page
# what a sign-in, paywall or newsletter prompt says (see _offer_only), and how many words of its
# other sentences are its offer's terms at most
OFFER_TERMS_WORDS = 12
_PROMPT_SENTENCE_RE = re.compile(r"(?<=[.?!])\s+")
_PROMPT_CUE_RE = re.compile(
    r"\b(?:subscribe|subscribers?|subscription|sign in|sign up|log in|newsletters?|inbox|e-?mail address"
    r"|free articles|digital access|ad ?blocker|create (?:a|an|your) (?:free )?account)\b",
    re.I,
)

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for m in names
}
_WEEKDAYS = {d: i for i, d in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}
_SUFFIXES = {
    "street": "street", "st": "street", "avenue": "avenue", "ave": "avenue", "road": "road", "rd": "road",
    "boulevard": "boulevard", "blvd": "boulevard", "drive": "drive", "dr": "drive", "lane": "lane",
    "ln": "lane", "place": "place", "pl": "place", "court": "court", "ct": "court", "way": "way",
    "parkway": "parkway", "pkwy": "parkway", "highway": "highway", "hwy": "highway", "terrace": "terrace",
    "circle": "circle", "pike": "pike", "expressway": "expressway",
}  # fmt: skip
_SUFFIX_RE = "|".join(sorted({k.capitalize() for k in _SUFFIXES}, key=len, reverse=True))
_STREET_KIND_AFTER_RE = re.compile(rf" (?:{_SUFFIX_RE})\b")
_DIRECTION = r"(?:(?:North|South|East|West|N|S|E|W)\.? )?"
_STREET_NAME = r"((?:[A-Z][a-z]+|[0-9]{1,3}(?:st|nd|rd|th))(?: (?:[A-Z][a-z]+|Jr\.?)){0,3})"
_STREET = _DIRECTION + _STREET_NAME + r" (" + _SUFFIX_RE + r")\b\.?"
# a block's street with or without its kind: "in the 3900 block of West Monroe" (some city
# desks print no "Street"); the name ends at the kind, a weekday or a month (see _block_street)
_BLOCK_RE = re.compile(r"\b([0-9]{1,3})00 block of (?:the )?" + _DIRECTION + _STREET_NAME)
_ADDRESS_RE = re.compile(r"\b([0-9]{2,5}) " + _STREET)
_STREET_RE = re.compile(_STREET)
_SUFFIX_HIT_RE = re.compile(r" (?:" + _SUFFIX_RE + r")\b")
# where someone lives, not where it happened: "Darnell Jackson, 23, of the 3900 block of West
# Monroe Street", "Jackson of 4512 W. Monroe St.", "who lived in the 3900 block of ..." (how
# medical examiners and police identify people; "shot at his home in the ..." is the scene)
# (a name is two capitalised words: "Residents of the 3900 block" are the scene's neighbours)
_RESIDENCE_BEFORE_RE = re.compile(
    r"(?:(?:\b[0-9]{1,3}|\b[A-Z][a-z]+ [A-Z][A-Za-z'’-]+),? of"
    r"|\b(?:lived|lives|resided|resides) (?:in|on|at))(?: the)? \Z"
)
# intersections: "at the intersection of Main Street and Elm Avenue", "near 79th and Halsted
# streets", "at Fifth Avenue and Main Street" (US police reports locate shootings this way)
_X_NAME = _DIRECTION + r"((?:[A-Z][a-z]+|[0-9]{1,3}(?:st|nd|rd|th))(?: [A-Z][a-z]+){0,2}?)"
_X_SUFFIX = r"(?: (?:" + _SUFFIX_RE + r")\b\.?)"
# (each of these starts with a literal or a capital letter rather than \b, so the regex engine
# skips ahead to candidates: with \b first they cost 50 us an article each)
_CROSS_RES = (
    re.compile(r"(?:intersection|corner) of " + _X_NAME + _X_SUFFIX + "? and " + _X_NAME + _X_SUFFIX + "?"),
    re.compile(r" (?:at|near|on) " + _X_NAME + _X_SUFFIX + " and " + _X_NAME + _X_SUFFIX),
    re.compile(
        r" (?:at|near) "
        + _X_NAME
        + " and "
        + _X_NAME
        + r" (?:streets|avenues|roads|boulevards|drives|lanes|Streets|Avenues|Roads|Boulevards)\b"
    ),
)
# "near 79th and Halsted", "at Monroe and 79th Street": a numbered street names a corner
# without either kind (cities with a numbered grid); see _corners
_BARE_CROSS_RE = re.compile(
    r" (?:at|near) " + _X_NAME + _X_SUFFIX + "? and " + _X_NAME + _X_SUFFIX + r"?(?![A-Za-z0-9]| [A-Z])"
)
_ORDINAL_RE = re.compile(r"[0-9]{1,3}(?:st|nd|rd|th)")
_NUMBERED_CORNER_HINT_RE = re.compile(r"[0-9](?:st|nd|rd|th)\b")
# words that name no street elsewhere but do beside a numbered one ("near 35th and Center",
# "at 12th and State", "27th and Lake")
_GRID_STREET_WORDS = frozenset({"center", "state", "lake", "court"})
_CORNER_CUES = ("ntersection of", "orner of", " streets", " avenues")
# a place's name: one to three capitalised words, the first maybe "St.", "Ft." or "Mt." ("St. Louis")
_PLACE_NAME = r"(?:St\. |Ft\. |Mt\. )?[A-Z][a-z]+(?: [A-Z][a-z]+){0,2}"
# "shot and killed Tuesday in Oak Hill": a place named after the deed without its kind; it counts
# as a neighbourhood only against a side that calls it one ("in the Oak Hill neighborhood")
_IN_PLACE_RE = re.compile(rf" (?:in|near) ({_PLACE_NAME})\b")
# a full stop that ends a sentence, not an AP abbreviation ("shot and killed Nov. 11 in Fruitvale")
_SENTENCE_END_RE = re.compile(
    r"(?<!Jan)(?<!Feb)(?<!Aug)(?<!Sep)(?<!Sept)(?<!Oct)(?<!Nov)(?<!Dec)(?<!\bSt)(?<!\bFt)(?<!\bMt)(?<!\bJr)(?<!\bSr)"
    r"(?<!\b[ap])(?<!\b[ap]\.m)\.|\n"
)
_DEED_WORDS = "shot|killed|wounded|slain|gunned down|died|shooting|killing|homicide"
_DEED_RE = re.compile(rf"\b(?:{_DEED_WORDS})\b")
# the place naming the deed itself: "arrest made in Kensington shooting", "victim of the Hough
# shooting identified" (a deed word in lower case: a Title Cased headline's "In Deadly Shooting"
# never matches)
_PLACE_DEED_RE = re.compile(rf"\b(?:in|of) (?:the )?({_PLACE_NAME}) (?:shooting|killing|homicide|slaying)s?\b")
# a part of a city in lower case ("shot in southwest Atlanta"): the same key as "in Southwest
# Atlanta" (a part of a city, _CITY_PARTS), which other desks capitalise; as there, not "north",
# "south", "east", "west" + a name ("in east Oakland": no key either way)
_LOWER_PART_RE = re.compile(
    r"\b(?:in|of|from|across) (northeast|northwest|southeast|southwest) "
    r"((?:St\. )?[A-Z][a-z]+(?: [A-Z][a-z]+)?)\b"
)
_HOOD_WORDS = ("neighborhood", "neighbourhood", "area", "section", "community", "subdivision", "district")
# ("in the Englewood neighborhood"; "in the city's Kensington section", "in Milwaukee's Sherman
# Park neighborhood": not its city, which may be a borough, "Brooklyn's Brownsville", and would
# veto "New York police")
_HOOD_RE = re.compile(
    r"\b(?:in|of|near|from) (?:the |(?:the )?(?:city|town)['’]s |(?:St\. )?[A-Z][a-z]+(?: [A-Z][a-z]+)?['’]s )"
    r"([A-Z][a-z]+(?: [A-Z][a-z]+){0,2}) (?:" + "|".join(_HOOD_WORDS) + r")\b"
)
# US states as news writes them after a city: names, AP abbreviations, postal codes
_US_STATES = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|Hawaii"
    "|Idaho|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan"
    "|Minnesota|Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|New Mexico"
    "|New York|North Carolina|North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|Rhode Island"
    "|South Carolina|South Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington|West Virginia"
    "|Wisconsin|Wyoming"
    r"|Ala\.|Ariz\.|Ark\.|Calif\.|Colo\.|Conn\.|Del\.|Fla\.|Ga\.|Ill\.|Ind\.|Kan\.|Ky\.|La\.|Md\.|Mass\."
    r"|Mich\.|Minn\.|Miss\.|Mo\.|Mont\.|Neb\.|Nev\.|N\.H\.|N\.J\.|N\.M\.|N\.Y\.|N\.C\.|N\.D\.|Okla\.|Ore\."
    r"|Pa\.|R\.I\.|S\.C\.|S\.D\.|Tenn\.|Vt\.|Va\.|Wash\.|W\.Va\.|Wis\.|Wyo\."
    "|AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM"
    "|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY"
)
# the first words of two-word city names that the capitalised word after them needs ("New York",
# "San Antonio", "St. Louis")
_CITY_PREFIX = r"(?:St\. |Ft\. |New |Los |Las |San |Santa |El |Fort |Port )?"
# one city's two names in news copy
_CITY_ALIASES = {"new york city": "new york"}
# (regex, kind of key, a string every match contains: tested first, it costs far less than a
# regex that starts with \b, and most texts lack it; "" for regexes that are cheap anyway)
_CITY_RES = (
    (
        re.compile(r"^\s*([A-Z][A-Z.'’]+(?: [A-Z][A-Z.'’]+){0,2})(?:, [A-Z][a-z]+\.?)?\s*(?:\([A-Z]+\)\s*)?[—–-]"),
        "pc",
        "",
    ),
    (
        # ("New York City police", "Louisville Metro Police are investigating": a capitalised
        # "Police" before a verb in lower case, which a Title Cased headline never has)
        re.compile(
            rf"\b({_CITY_PREFIX}[A-Z][a-z]+(?: [A-Z][a-z]+)?) (?:police\b|Police (?:Department|Dept\b|"
            r"(?=(?:said|say|says|are|were|is|was|have|had|believe|responded|arrested|found|identified"
            r"|investigat)\b)))"
        ),
        "pc",
        "olice",
    ),
    (re.compile(rf", [0-9]{{1,2}}, of ({_CITY_PREFIX}[A-Z][a-z]+(?: [A-Z][a-z]+)?)\b"), "pr", ""),
    # "a 24-year-old Milwaukee man", "a Cleveland woman": where the person is from
    (
        re.compile(
            r"\b(?:[Aa]n?|[Tt]he) (?:[0-9]{1,2}-year-old )?(?!(?:Black|White|Hispanic|Latino|Latina|Asian|African"
            r"|Arab|Native|Muslim|Jewish|Christian|Catholic)\b)"
            rf"({_CITY_PREFIX}[A-Z][a-z]+(?: [A-Z][a-z]+)?) "
            r"(?:man|woman|men|women|boy|girl|teen|teenager|resident|youth)\b"
        ),
        "pr",
        "",
    ),
    # a dateline as web pages print it: "Milwaukee, Wis. —", "Gary, IN (WGN) --"
    (re.compile(rf"^\s*({_PLACE_NAME}), (?:{_US_STATES})\s*(?:\([A-Z]+\)\s*)?[—–-]"), "pc", ""),
)
# words before "police" that name a force or a nationality, not a place ("riot police", "State
# police", "Greek police", "Capitol Police Department"): seen as cities in ECB+ and news pages
_NOT_CITY_WORDS = frozenset(
    [
        "riot",
        "state",
        "capitol",
        "transit",
        "metro",
        "park",
        "parks",
        "university",
        "campus",
        "military",
        "border",
        "secret",
        "tribal",
        "airport",
        "port",
        "harbor",
        "housing",
        "school",
        "traffic",
        "highway",
        "federal",
        "local",
        "national",
        "village",
        "township",
        "town",
        "railway",
        "railroad",
        "amtrak",
        "mounted",
        "undercover",
        "plainclothes",
        "royal",
        "provincial",
        "municipal",
        "regional",
        "area",
        "district",
        "county",
        "city",
        "greek",
        "french",
        "british",
        "italian",
        "german",
        "spanish",
        "mexican",
        "israeli",
        "palestinian",
        "sicilian",
        "although",
        "though",
        "because",
        "those",
        "breaking",
        "indian",
        "chinese",
        "iranian",
        "iraqi",
        "afghan",
        "turkish",
        "russian",
        "egyptian",
        "syrian",
        "somali",
        "kenyan",
        "nigerian",
        "pakistani",
        "american",
        "canadian",
        "australian",
        "irish",
        "scottish",
        "welsh",
        "english",
        "japanese",
        "korean",
        "thai",
        "dutch",
        "swiss",
        "belgian",
        "swedish",
        "norwegian",
        "danish",
        "polish",
        "brazilian",
        "colombian",
        "venezuelan",
        "haitian",
        "jamaican",
        "cuban",
        "filipino",
        "greece",
        "france",
        "britain",
        "italy",
        "germany",
        "spain",
        "mexico",
        "israel",
        "india",
        "china",
        "iran",
        "iraq",
        "russia",
        "egypt",
        "syria",
    ]
)
# last words of forces named for a state or a body, not a city ("Oregon State Police said",
# "Hyogo Prefectural Police")
_FORCE_LAST = frozenset(
    {"state", "prefectural", "provincial", "national", "federal", "transit", "university", "campus"}
)
# a "Court", "Drive" or "Highway" after these words is an institution or a brand, not a street:
# "Superior Court", "Crown Court", "Highway Patrol" (news pages in the extraction sets)
_INSTITUTION = frozenset(
    [
        "supreme",
        "superior",
        "district",
        "circuit",
        "county",
        "municipal",
        "federal",
        "family",
        "juvenile",
        "appeals",
        "appellate",
        "crown",
        "high",
        "magistrate",
        "magistrates",
        "criminal",
        "city",
        "state",
        "traffic",
        "probate",
        "housing",
        "tax",
        "claims",
        "bankruptcy",
        "drug",
        "general",
        "sessions",
        "pleas",
        "justice",
        "chancery",
        "youth",
        "civil",
        "international",
    ]
)
# (with a capital's apostrophe: "D'Andre O'Neal, 19,"; after the first capital, so that the regex
# engine still skips ahead to capitals)
_CAP = r"(?:[A-Z](?:['’](?=[A-Z]))?[a-z]*[A-Z]?[a-z]+(?:[-'’][A-Z][a-z]+)?)"
_NAME_SUFFIXES = frozenset({"Jr", "Sr"})
_RUN_RE = re.compile(_CAP + r"(?: (?:[A-Z]\. )?" + _CAP + r")*")
_AGE_AFTER_RE = re.compile(r"\A,? ([0-9]{1,2})\b(?!,[0-9]| ?%| ?-| years? ago| (?:percent|miles?|feet|times))")
# a participant's name follows these words ("the killing of", "identified as", "charged", "victim")
# (not "said": a spokesman quoted in every story of a city is no evidence of one of them)...
_PERSON_BEFORE_RE = re.compile(
    r"(?:\b(?:killing|killed|shooting|shot|murder|death|identified|named|victim|suspect|defendant|trial|"
    r"sentenced|charged|arrested|convicted|accused|against|of|as|by|for|with|mother|father|son|daughter|"
    r"brother|sister|wife|husband|girlfriend|boyfriend|friend|cousin|uncle|aunt|grandmother|attorney|"
    r"lawyer|remember|remembers|mourns|mourn|convicts|acquits|indicts|sentences)|[0-9]{1,2}-year-old),? \Z"
)
# offices whose holders speak in many stories of their city (see _OFFICE_BEFORE_RE)
_OFFICES = frozenset(
    {"superintendent", "commander", "alderman", "alderwoman", "pastor", "reverend", "bishop", "spokesman",
     "spokeswoman", "spokesperson", "sergeant", "lieutenant", "coroner", "prosecutor", "commissioner",
     "councilman", "councilwoman", "chaplain", "activist"}
)  # fmt: skip
_NUMBER_RUNS = frozenset({"One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten"})
# ranks written before a name: with an age after it the person is in the story (an officer shot),
# not speaking for the force
_RANKS = frozenset({"officer", "detective", "deputy", "trooper", "sgt", "lt", "agent", "firefighter", "constable"})
# common surnames that are also words of places and institutions (so never names elsewhere):
# one ends a name when an age follows it ("Demetrius Hall, 25,"; "Marcus West, 19,")
_SURNAME_WORDS = frozenset({"west", "hall", "lane", "church", "house", "post"})
# ...but not in a credit ("Written by Mary Wisniewski", "Photos by ...": the reporter of every
# story of a desk is no participant of any)
_BYLINE_BEFORE_RE = re.compile(
    r"\b(?:written|reported|posted|story|stories|photos?|video|edited|compiled|produced|updated)\s+by,? \Z",
    re.I,
)
# ...nor a reporter's line about themselves ("Dana Kowalski is a staff writer for ...", "...
# covers public safety for ..."; matched at the name's end: no \A, which match(pos) ignores)
_BIO_AFTER_RE = re.compile(
    r"(?:,? (?:is|was) (?:a|an|the)(?: [\w-]+){0,4}? (?:reporter|writer|correspondent|editor|journalist"
    r"|photographer|columnist|producer|contributor|intern|anchor)s?\b"
    r"| (?:has covered|covers|writes for|reports for|has written for|can be reached|may be reached)\b)"
)
# ...nor someone named by an office ("Supt. Eddie Johnson", "Ald. Howard Brookins", "the Rev.
# Michael Pfleger", "police spokesman Anthony Guglielmi"): officials and community leaders speak
# in many stories of their city, so their names are no evidence of any one incident (not
# "Officer", "Dr." or "captain": officers and doctors are shot too, captains play)
_OFFICE_BEFORE_RE = re.compile(
    r"(?:\b(?:supt|cmdr|ald|rev|capt|det|sgt|lt|insp|cmsr|atty|fr|msgr)\.|\b(?:"
    + "|".join(sorted(_OFFICES))
    + r"))\s+\Z",
    re.I,
)
# ...or comes before these ("Tavon Abernathy was", "Grant, who", "Grant pleaded")
_PERSON_AFTER_RE = re.compile(r"\A(?:'s\b|’s\b|,? who\b| (?:was|is|has|had|pleaded|faces|died|remains|will|would)\b)")
# headline verbs after a surname ("Grant sentenced to 45 years", "Grant found guilty")
_HEADLINE_AFTER_RE = re.compile(
    r"\A (?:sentenced|charged|convicted|acquitted|arrested|indicted|found|pleads|pleaded|gets|held|faces|"
    r"testifies|admits|denies|appears|ordered|released|identified|mourned|remembered|laid|goes on trial)\b"
)
# sentence-initial words that the participant cues above also follow ("He was", "Nobody has")
_NOT_SURNAME = frozenset(
    [
        "let",
        "why",
        "how",
        "top",
        "people",
        "one",
        "some",
        "today",
        "week",
        "around",
        "he",
        "she",
        "it",
        "they",
        "we",
        "you",
        "his",
        "her",
        "its",
        "their",
        "our",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "nobody",
        "someone",
        "everyone",
        "anyone",
        "nothing",
        "everything",
        "officers",
        "investigators",
        "authorities",
        "witnesses",
        "neighbors",
        "residents",
        "detectives",
        "prosecutors",
        "deputies",
        "relatives",
        "family",
        "friends",
        "police",
        "he's",
        "she's",
        "it's",
        "what",
        "who",
        "which",
    ]
)
# the kind of event, from the headline and the lede (the background drifts to other events):
# a fire and a shooting on one street on one night are two incidents. "fire" alone is not a
# kind ("opened fire", "fire department")
_KINDS = (
    ("shooting", ("shot", "shoot", "shooting", "shootings", "gunfire", "gunman", "gunmen", "gunshot", "gunshots",
                  "opened fire")),
    ("stabbing", ("stabbed", "stabbing", "stabbings")),
    ("crash", ("crash", "crashes", "collision", "collided", "wreck")),
    ("fire", ("blaze", "firefighters", "house fire", "arson", "burned down")),
    ("theft", ("burglary", "burglar", "burglars", "burgled", "thieves", "theft", "stole", "stolen")),
    ("missing", ("missing", "last seen")),
    ("drowning", ("drowned", "drowning")),
)  # fmt: skip
# each kind's words, whole and in any case; the words themselves are the cheap test first (a
# search of 400 characters costs 10-25 us: most ledes name no kind, or one)
_KIND_RES = tuple((kind, words, re.compile(r"\b(?:" + "|".join(words) + r")\b", re.I)) for kind, words in _KINDS)
# re.I matches these to "i" and "s", str.lower() does not
_FOLDS_APART = ("İ", "ı", "ſ")
LEAD_CHARS = 400  # the lede: about two sentences
_YEAR_OLD_RE = re.compile(r"\b([0-9]{1,2})-year-old\b")
_AGES_PAIR_RE = re.compile(
    r"\b(?:men|women|boys|girls|teens|teenagers|victims|brothers|sisters|cousins|friends),? (?:ages |aged )?"
    r"([0-9]{1,2}) and ([0-9]{1,2}),"
)
_AGE_APPOSITION_RE = re.compile(r", aged? ([0-9]{1,2})\b(?![0-9.,]?[0-9])")
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEKDAY_RE = re.compile(r"\b(" + "|".join(_WEEKDAY_NAMES) + r")\b")
# a page's own stamp ("Posted: Jun 21, 2016 10:31 PM CDT Updated: Jun 22, 2016", "By Jane Doe |
# Published June 21, 2016"): when it went out or changed, never the day of the incident
_STAMP_BEFORE_RE = re.compile(r"\b(?:posted|updated|published|modified)\b:?(?: on)?:?\s*(?:\w+,?\s*)?\Z", re.I)
# a weekday after these in its sentence is one to come, not a day past
# ("will be held Friday", "is scheduled to resume Monday", "next Sunday", "due in court Tuesday";
# not "the next night ... on Wednesday", "due to low light on Saturday")
_FUTURE_BEFORE_RE = re.compile(
    r"(?:(?:\bwill|['’]ll|\bexpected to)\b[^.,;:]{0,30}|\b(?:scheduled|slated|planned)(?: to \w+)?(?: for| on)? "
    r"|\bset (?:for|to \w+(?: on)?) "
    r"|\bdue (?:in court|back|to appear|to be \w+)(?: on)? |\bnext |\b(?:is|are) to be \w+(?: on)? )\Z"
)
# every match of the three month regexes below names a month by these letters at least: the
# cheap test before them (half the pages name no month; these start with \b and scan slowly)
_MONTH_CUE_RE = re.compile("Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec")
_MONTH_DAY_RE = re.compile(
    r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)[a-z]*\.? ([0-9]{1,2})(?:st|nd|rd|th)?\b(?:,? ([0-9]{4}))?"
)
# "the July 2015 shooting", "the March killing", "in May 2014": a back-reference to the month
_MONTH_REF_RE = re.compile(
    r"(January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Aug|"
    r"Sept?|Oct|Nov|Dec)\.?(?:,? ([0-9]{4})\b|(?: ([0-9]{4}))?,? (?:fatal |deadly |double |triple )?"
    r"(?:shooting|killing|slaying|homicide|murder|death|attack|robbery|stabbing)s?\b)"
)
_MONTH_RE = re.compile(
    r"\b(?:in|since|during|last|from) (January|February|March|April|May|June|July|August|September|October|"
    r"November|December)(?![a-z]| [0-9]{1,2}\b)(?:,? ([0-9]{4}))?"
)
# the same without their leading \b: the regex engine skips ahead to the letters that can start
# them only without it (see _matches)
_SKIP_AHEAD = {rx: re.compile(rx.pattern.removeprefix(r"\b")) for rx in (_MONTH_DAY_RE, _MONTH_RE)}
# capitalised words that start or end runs that are not people
_NOT_FIRST = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "but",
        "for",
        "in",
        "on",
        "at",
        "of",
        "to",
        "by",
        "from",
        "with",
        "after",
        "before",
        "police",
        "officers",
        "officer",
        "county",
        "city",
        "state",
        "mayor",
        "sheriff",
        "judge",
        "detective",
        "sgt",
        "lt",
        "chief",
        "gov",
        "governor",
        "president",
        "sen",
        "rep",
        "says",
        "said",
        "when",
        "while",
        "north",
        "south",
        "east",
        "west",
        "new",
        "saint",
        "st",
        "fort",
        "mount",
        "lake",
        "port",
        "crime",
        "jury",
        "court",
        "district",
        "attorney",
        "prosecutors",
        "university",
        "hospital",
        "medical",
        "center",
        "department",
        "office",
        "news",
        "associated",
        "press",
        "daily",
        "sign",
        "follow",
        "download",
        "have",
        "comments",
        "copyright",
        "read",
        "loved",
        "family",
        "friends",
        "vigil",
        "funeral",
        "trial",
        "police",
        "jury",
        "arrest",
        "charges",
        "man",
        "woman",
        "victim",
        "suspect",
    ]
)
_NOT_LAST = frozenset(
    [
        "street",
        "avenue",
        "road",
        "boulevard",
        "drive",
        "lane",
        "place",
        "court",
        "way",
        "parkway",
        "highway",
        "terrace",
        "circle",
        "county",
        "city",
        "park",
        "hospital",
        "center",
        "centre",
        "department",
        "police",
        "office",
        "school",
        "church",
        "jail",
        "stoppers",
        "side",
        "neighborhood",
        "station",
        "store",
        "market",
        "bar",
        "club",
        "university",
        "college",
        "house",
        "hall",
        "news",
        "press",
        "times",
        "herald",
        "tribune",
        "post",
        "daily",
        "courier",
        "sentinel",
        "report",
        "newswire",
        "watch",
        "group",
        "media",
        "twitter",
        "facebook",
        "service",
        "services",
        "team",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
)
# first words of multi-word city names ("of San Antonio", "for Los Angeles" read as names by
# their cues), as "new", "fort" and "saint" in _NOT_FIRST; not there, as streets start with them
_CITY_FIRST = frozenset({"los", "las", "san", "santa"})
# ...and those that are in _NOT_FIRST (no name starts with them) but start places ("killed in St.
# Louis shooting", "shot in New Orleans", "in Fort Worth") and cities ("New York police")
_CITY_NAME_FIRST = frozenset({"st", "ft", "mt", "saint", "fort", "mount", "lake", "port", "new"})
_NOT_PLACE_FIRST = _NOT_FIRST - _CITY_NAME_FIRST
_NOT_CITY_FIRST = _NOT_PLACE_FIRST - {"north", "south", "east", "west"}
# a part of a city ("of Northeast Philadelphia" beside "Philadelphia police", the city alone then
# reading as a surname seen alone): a neighbourhood-grain place, no person (a region several
# incidents of one week share: as a name with the day it joined them). "North", "East", ...
# are in _NOT_FIRST: no name and, as before, no part ("in East End" as a part: -0.001 on the
# --realism stream, seed 7)
_CITY_PARTS = frozenset(
    {"northeast", "northwest", "southeast", "southwest", "downtown", "uptown", "midtown", "central", "greater",
     "upper", "lower"}
)  # fmt: skip
_PART_BEFORE_RE = re.compile(r"\b(?:in|of|from|near|across|throughout|to) \Z")
_NOT_NAME_WORDS = _NOT_FIRST | _NOT_LAST | _CITY_FIRST | _CITY_PARTS | frozenset(_MONTHS) | frozenset(_WEEKDAYS)


_METRO_TAIL = re.compile(r" (?:metropolitan|metro)$")


def _norm(s: str) -> str:
    return " ".join(s.lower().replace("’", "'").replace(".", "").split())


def _street_key(name: str) -> str:
    """A street's name without its kind: desks that print "West Monroe" and desks that print
    "West Monroe Street" name one street (and rarely two streets of one name near one day)."""
    return _norm(name)


def _block_street(name: str) -> str:
    """The street of "the 3900 block of <name>": its words up to its kind, a weekday or a
    month ("South Halsted Wednesday night"); "" if nothing is left."""
    words = name.split()
    for i, w in enumerate(words):
        low = w.lower()
        if (i and low in _SUFFIXES) or low in _WEEKDAYS or low in _MONTHS:
            words = words[:i]
            break
    return _norm(" ".join(words))


_SUFFIX_WORDS = frozenset(_SUFFIXES.values())


def _unsuffixed(value: str) -> str:
    """A stored ``pb:``/``ps:`` value without the street's kind that keys carried before the
    kind was left out ("3900|monroe street"), so stories linked then still meet new articles."""
    head, _, last = value.rpartition(" ")
    return head if head and last in _SUFFIX_WORDS else value


def _same_street(a: Iterable[str], b: Iterable[str]) -> bool:
    return not {_unsuffixed(v) for v in a}.isdisjoint(_unsuffixed(v) for v in b)


def _corner_street(a: Mapping[str, list[str]], b: Mapping[str, list[str]]) -> bool:
    """One side gives a corner ("near 79th and Halsted"), the other a block or a street on it
    ("the 7900 block of South Halsted Street")."""
    if "px" not in a or "ps" not in b:
        return False
    streets = {s for corner in a["px"] for s in corner.split("|")}
    return not streets.isdisjoint(_unsuffixed(v) for v in b["ps"])


def _day(d: date, keys: set[str]) -> None:
    keys.add(f"t:{d.isoformat()}")
    keys.add(f"tm:{d.year}-{d.month:02d}")  # months later, "the March shooting"


def _month_year(month: int, year: int | None, pub: date) -> int:
    if year is not None:
        return year
    return pub.year if month <= pub.month else pub.year - 1


def _institution(name: str, suffix: str, after: str) -> bool:
    """ "Superior Court", "Google Drive", "California Highway Patrol": not streets."""
    last, kind = name.split()[-1].lower(), suffix.lower().rstrip(".")
    if kind in ("court", "ct"):
        return last in _INSTITUTION  # "High Court", "Superior Court"; "High Street" is a street
    return (kind == "drive" and last == "google") or (kind in ("highway", "hwy") and after.startswith(" Patrol"))


# "shot on West Monroe": after "on" and a direction, a street even without its kind (desks that
# print no "Street"); not a state or a country ("on South Korea"), nor where someone lives
_ON_DIRECTION_CUES = (" on North ", " on South ", " on East ", " on West ")
_ON_DIR_STREET_RE = re.compile(r" on (?:North|South|East|West) ([A-Z][a-z]+(?: [A-Z][a-z]+){0,2})")
_NOT_STREET_AFTER_DIRECTION = frozenset(
    (
        "virginia", "carolina", "dakota", "korea", "africa", "america", "side", "coast", "bank", "end", "shore",
        "pole", "sudan", "timor", "jerusalem", "asia", "europe", "germany", "texas", "indies", "village", "london",
        "berlin", "macedonia", "ossetia", "pacific", "atlantic",
    )
)  # fmt: skip


# "shots fired on Burleigh", "shot at a gas station on Salem": a street named without its kind,
# where the clause tells of the deed (see _bare_streets)
_ON_BARE_STREET_RE = re.compile(r" on ([A-Z][a-z]+(?: [A-Z][a-z]+)?)\b(?!['’])")  # not "on Chicago's West Side"
_FIRED_OR_DEED_RE = re.compile(rf"\b(?:{_DEED_WORDS}|shots (?:were )?fired|gunfire|found)\b")
_NOT_BARE_STREET = frozenset(
    (
        "facebook", "twitter", "instagram", "snapchat", "youtube", "tiktok", "christmas", "thanksgiving",
        "easter", "halloween", "new", "independence", "memorial", "labor", "veterans", "valentine", "mother",
        "father", "interstate", "highway", "route", "earth", "campus", "duty", "scene", "juneteenth", "election",
        "super",
    )
)  # fmt: skip


def _bare_streets(text: str, keys: set[str]) -> None:
    """ "shots fired on Burleigh": a street without its kind or a direction, after the deed in
    the same sentence (not a day, a holiday, a network, nor where someone lives)."""
    for m in _ON_BARE_STREET_RE.finditer(text):
        before = _SENTENCE_END_RE.split(text[max(0, m.start() - 70) : m.start()])[-1]
        if not _FIRED_OR_DEED_RE.search(before):
            continue
        name = _block_street(m.group(1))
        first = name.split()[0] if name else ""
        if first and first not in _NOT_BARE_STREET and first not in _NOT_FIRST and not _residence(text, m.start() + 4):
            keys.add(f"ps:{name}")


def _direction_streets(text: str, keys: set[str]) -> None:
    """ "shot on West Monroe": a street without its kind after a direction (see _block_street)."""
    for m in _ON_DIR_STREET_RE.finditer(text):
        name = _block_street(m.group(1))
        if name and name.split()[0] not in _NOT_STREET_AFTER_DIRECTION and not _residence(text, m.start() + 4):
            keys.add(f"ps:{name}")


def _places(text: str, keys: set[str]) -> None:
    if any(c in text for c in _ON_DIRECTION_CUES):  # (far cheaper than the regex)
        _direction_streets(text, keys)
    if " on " in text:
        _bare_streets(text, keys)
    if _SUFFIX_HIT_RE.search(text) or "00 block of " in text:  # blocks, addresses, streets, most corners
        _streets(text, keys)
    elif any(c in text for c in _CORNER_CUES):
        _corners(text, keys)
    else:
        _numbered_corners(text, keys)
    _areas(text, keys)


_PLURAL_KINDS = tuple(sorted(f" {kind}s" for kind in _SUFFIX_WORDS))  # "11th and Poplar streets"


def _add_corner(keys: set[str], a: str, b: str, allowed: frozenset[str] = frozenset()) -> None:
    # "at 11th and Poplar streets": the kind both streets share, after the second
    a, b = (next((w.removesuffix(p) for p in _PLURAL_KINDS if w.endswith(p)), w) for w in (a, b))
    if a != b and all(w.split()[0] not in _NOT_FIRST or w.split()[0] in allowed for w in (a, b)):
        keys.add(f"px:{min(a, b)}|{max(a, b)}")


def _corners(text: str, keys: set[str]) -> None:
    crossing = "ntersection of" in text or "orner of" in text
    for rx in _CROSS_RES if crossing else _CROSS_RES[1:]:
        for m in rx.finditer(text):
            _add_corner(keys, _norm(m.group(1)), _norm(m.group(2)))
    _numbered_corners(text, keys)


def _numbered_corners(text: str, keys: set[str]) -> None:
    """Corners without the streets' kinds, one of them numbered (see _BARE_CROSS_RE)."""
    if not _NUMBERED_CORNER_HINT_RE.search(text):
        return
    for m in _BARE_CROSS_RE.finditer(text):
        a, b = _block_street(m.group(1)), _block_street(m.group(2))  # "Halsted Wednesday night"
        if a and b and (_ORDINAL_RE.fullmatch(m.group(1)) or _ORDINAL_RE.fullmatch(m.group(2))):
            _add_corner(keys, a, b, _GRID_STREET_WORDS)


def _residence(text: str, start: int) -> bool:
    """The block or address starting at ``start`` is where someone lives (see _RESIDENCE_BEFORE_RE)."""
    return _RESIDENCE_BEFORE_RE.search(text, max(0, start - 40), start) is not None


def _streets(text: str, keys: set[str]) -> None:
    homes: list[tuple[int, int]] = []  # spans of residence addresses: their streets are no scene
    if "00 block of " in text:  # (in every block; far cheaper than the regex)
        for m in _BLOCK_RE.finditer(text):
            if _residence(text, m.start()):
                homes.append(m.span())
                continue
            street = _block_street(m.group(2))
            if not street:
                continue
            keys.add(f"pb:{int(m.group(1)) * 100}|{street}")
            keys.add(f"ps:{street}")
    for m in _ADDRESS_RE.finditer(text):
        if _residence(text, m.start()):
            homes.append(m.span())
            continue
        number = int(m.group(1))
        if 1900 <= number <= 2099 and m.start() > 0 and text[m.start() - 1 : m.start()] == " ":
            prev = text[max(0, m.start() - 12) : m.start()].lower()
            if any(x in prev for x in ("in ", "since ", "of ")):
                continue  # "in 2014 Main Street ..." is rare; "since 2014" is a year
        street = _street_key(m.group(2))
        keys.add(f"pb:{number // 100 * 100}|{street}")
        keys.add(f"ps:{street}")
    for m in _STREET_RE.finditer(text):
        if homes and any(a <= m.start() < b for a, b in homes):
            continue
        if not m.group(1).startswith("The ") and not _institution(m.group(1), m.group(2), text[m.end() : m.end() + 8]):
            keys.add(f"ps:{_street_key(m.group(1))}")
    _corners(text, keys)


def _add_area(keys: set[str], name: str) -> None:
    """A place named with the deed (``pi:``), without a trailing day ("in Queens Friday")."""
    words = _norm(name).split()
    while words and (words[-1] in _WEEKDAYS or words[-1] in _MONTHS):
        words.pop()
    if words and words[0] not in _NOT_PLACE_FIRST and words[0] not in _MONTHS and words[0] not in _WEEKDAYS:
        keys.add(f"pi:{' '.join(words)}")


def _areas(text: str, keys: set[str]) -> None:
    for m in _IN_PLACE_RE.finditer(text):
        before = _SENTENCE_END_RE.split(text[max(0, m.start() - 45) : m.start()])[-1]
        if not _DEED_RE.search(before):
            continue
        _add_area(keys, m.group(1))
    if "ing" in text or "homicide" in text:  # (far cheaper than the regex)
        for m in _PLACE_DEED_RE.finditer(text):
            _add_area(keys, m.group(1))
    if "east " in text or "west " in text:  # (far cheaper than the regex)
        for m in _LOWER_PART_RE.finditer(text):
            # "in southwest Atlanta": the part of the city "Southwest Atlanta" names (see _CITY_PARTS)
            words = _norm(m.group(2)).split()
            if words[0] not in _NOT_FIRST and words[-1] not in _NOT_LAST and words[-1] not in _SUFFIXES:
                keys.add(f"ph:{m.group(1)} {' '.join(words)}")
    if any(w in text for w in _HOOD_WORDS):  # (far cheaper than the regex; most pages have none)
        for m in _HOOD_RE.finditer(text):
            name = _norm(m.group(1))
            if name.split()[0] not in _NOT_FIRST:
                keys.add(f"ph:{name}")
    head = text[:4000]
    for rx, kind, cue in _CITY_RES:
        if cue not in head:
            continue
        for m in rx.finditer(head):
            city = _METRO_TAIL.sub("", _norm(m.group(1)))  # "Indianapolis Metropolitan Police"
            city = _CITY_ALIASES.get(city, city)
            first = city.split()[0] if city else ""
            if (
                city
                and first not in _NOT_CITY_FIRST
                and first not in _NOT_CITY_WORDS
                and city.rsplit(" ", 1)[-1] not in _FORCE_LAST
                and len(city) > 2
            ):
                keys.add(f"{kind}:{city}")


# a nickname in quotes inside a name ("Marcus 'Mookie' Green", "Tyrone “T-Bone” Smith"): the name is
# the one other reports print without it
_NICKNAME_RE = re.compile(r"(?<=[a-z]) [\"'“‘]([A-Z][\w.-]{0,15})[\"'”’] (?=[A-Z][a-z])")


def _people(text: str, keys: set[str], head: int = 0) -> None:
    """``head``: the length of the headline at the start of ``text`` (a headline's verb cues a
    name: "Marcus Grant charged with murder")."""
    if " '" in text or ' "' in text or " “" in text or " ‘" in text:
        headline = _NICKNAME_RE.sub(" ", text[:head])
        text, head = headline + _NICKNAME_RE.sub(" ", text[head:]), len(headline)
    runs = [(m.group(0), m.end()) for m in _RUN_RE.finditer(text)]
    full: set[str] = set()  # surnames of the full names found
    officials: set[str] = set()  # surnames of people named by an office (see _OFFICE_BEFORE_RE)
    alone: dict[str, int] = {}  # surnames used alone, cued, and how often
    singles: dict[str, int] = {}
    for run, _ in runs:
        if " " not in run and run not in _NUMBER_RUNS:  # "One man is dead" names no "Regional One"
            singles[run] = singles.get(run, 0) + 1
    for run, end in runs:
        if " " not in run:  # one word (most runs): no full name
            continue
        start = end - len(run)
        words = [w for w in run.split() if not (len(w) == 2 and w.endswith("."))]
        if len(words) > 2 and words[-1] in _NAME_SUFFIXES:  # "Marcus T. Williams Jr., 22,"
            words = words[:-1]
            end += text.startswith(".", end)
            if _STREET_KIND_AFTER_RE.match(text, end):
                continue  # "on Martin Luther King Jr. Place": a street
        if not 2 <= len(words) <= 3:
            continue
        low = [w.lower().replace("’", "'") for w in words]
        if low[0] in _CITY_PARTS:
            if low[-1] not in _NOT_NAME_WORDS and _PART_BEFORE_RE.search(text, max(0, start - 12), start):
                keys.add(f"ph:{' '.join(low)}")
            continue
        age = _AGE_AFTER_RE.match(text[end : end + 24])
        if len(low) == 3 and low[0] in _RANKS:
            # "Officer Jason Moore, 31,", "the killing of Deputy Jerry Ortiz": the name other
            # reports print without the rank (one that speaks for the force has no cue: skipped)
            words, low = words[1:], low[1:]
        if any(w in _NOT_NAME_WORDS for w in low) and not (
            age is not None and low[-1] in _SURNAME_WORDS and not any(w in _NOT_NAME_WORDS for w in low[:-1])
        ):
            continue
        surname = words[-1].replace("’s", "").replace("'s", "")
        # (the cues last: the age or the surname alone elsewhere settle most runs)
        if (
            age is None
            and not singles.get(surname)
            and not (
                (
                    _PERSON_BEFORE_RE.search(before := text[max(0, start - 24) : start])
                    and not _BYLINE_BEFORE_RE.search(before)
                )
                or _PERSON_AFTER_RE.match(text[end : end + 12])
                or (end < head and _HEADLINE_AFTER_RE.match(text[end : end + 16]))
            )
        ):
            continue
        # then who the name is (only for runs that would be names: a run the cues reject has no
        # surname seen alone, so it matters to none of the surnames below)
        if _BIO_AFTER_RE.match(text, end, end + 80):
            continue  # the reporter, not a participant
        if low[0] in _OFFICES or _OFFICE_BEFORE_RE.search(text, max(0, start - 24), start):
            officials.add(low[-1])  # an official speaking for the city, not a participant
            continue
        keys.add(f"pn:{' '.join(low)}")
        full.add(low[-1])
        if age is not None:
            keys.add(f"a:{int(age.group(1))}")
    # a surname alone, cued as a participant ("Grant pleaded", "Grant, 29,", a headline's "Grant
    # sentenced"): matched against the full names of the other side (see strength)
    for run, end in runs:
        if " " in run or len(run) < 3:
            continue
        low1 = run.lower().replace("’", "'")
        if low1 in full:  # "Omar Mateen ... Mateen, 29, told": the age is that person's
            if (age := _AGE_AFTER_RE.match(text[end : end + 24])) is not None:
                keys.add(f"a:{int(age.group(1))}")
            continue
        if low1 in officials or low1 in _NOT_NAME_WORDS or low1 in _NOT_SURNAME:
            continue
        after = text[end : end + 16]
        if _AGE_AFTER_RE.match(after) or _PERSON_AFTER_RE.match(after) or _HEADLINE_AFTER_RE.match(after):
            alone[low1] = alone.get(low1, 0) + 1
    # the few most cued ("Apple is", "India has" are cued too: keep the stored keys few)
    keys.update(f"sn:{w}" for w, _ in sorted(alone.items(), key=lambda x: (-x[1], x[0]))[:MAX_SURNAMES])


def _matches(rx: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    r"""``rx.finditer(text)`` for a regex of _SKIP_AHEAD, several times cheaper: started where the regex
    without its leading \b first matches (no match of ``rx`` starts before; \b still sees the
    character before the start), and nothing where it never does (most texts)."""
    first = _SKIP_AHEAD[rx].search(text)
    return rx.finditer(text, first.start()) if first else iter(())


def _dates(text: str, published: datetime | None, keys: set[str]) -> None:
    if published is None:
        return
    pub = (published if published.tzinfo else published.replace(tzinfo=UTC)).date()
    if any(d in text for d in _WEEKDAY_NAMES):  # (far cheaper than the regex; most pages name none)
        for m in _WEEKDAY_RE.finditer(text):
            before = text[max(0, m.start() - 50) : m.start()]
            if _FUTURE_BEFORE_RE.search(_SENTENCE_END_RE.split(before)[-1]) or _STAMP_BEFORE_RE.search(before):
                continue  # "a vigil will be held Friday", "Published: Tuesday, ...": no day of the incident
            back = (pub.weekday() - _WEEKDAYS[m.group(1).lower()]) % 7
            _day(pub - timedelta(days=back), keys)
    if not _MONTH_CUE_RE.search(text):
        return
    for m in _matches(_MONTH_DAY_RE, text):
        if _STAMP_BEFORE_RE.search(text, max(0, m.start() - 40), m.start()):
            continue
        month = _MONTHS.get(m.group(1).lower())
        day = int(m.group(2))
        if month is None or not 1 <= day <= 31:
            continue
        year = int(m.group(3)) if m.group(3) else pub.year
        try:
            d = date(year, month, day)
        except ValueError:
            continue
        if not m.group(3) and d > pub + timedelta(days=2):
            try:
                d = date(year - 1, month, day)
            except ValueError:
                continue
        _day(d, keys)
    for m in _matches(_MONTH_RE, text):
        month = _MONTHS[m.group(1).lower()]
        keys.add(f"tm:{_month_year(month, int(m.group(2)) if m.group(2) else None, pub)}-{month:02d}")
    for m in _MONTH_REF_RE.finditer(text):
        if m.start() and text[m.start() - 1].isalpha():
            continue  # inside a word
        month = _MONTHS[m.group(1).lower()]
        stated = m.group(2) or m.group(3)
        year = _month_year(month, int(stated) if stated else None, pub)
        if 1900 <= year <= pub.year:
            keys.add(f"tm:{year}-{month:02d}")


def _offer_only(body: str, keys: set[str], headline: str) -> bool:
    """A short text that speaks of subscribing, signing in or a newsletter and of nothing else
    (its other sentences a few words of the offer's terms: "Offer ends Sunday."), of no deed, no
    police and no one: a prompt, whatever days and sums its offer names. (A short report with a
    site's "Subscribe to ..." line under it says something else: it stays an article.)"""
    if not _PROMPT_CUE_RE.search(body) or _DEED_RE.search(body) or "olice" in body:
        return False
    other = sum(len(s.split()) for s in _PROMPT_SENTENCE_RE.split(body) if not _PROMPT_CUE_RE.search(s))
    if other > OFFER_TERMS_WORDS:
        return False
    return not any(k.startswith("pn:") and k[3:] not in headline for k in keys)  # ``headline``: normalised


def incident_keys(title: str, text: str, published: datetime | None) -> tuple[str, ...]:
    """The article's who/where/when keys (sorted, deterministic)."""
    keys: set[str] = set()
    body = _without_other_headlines(text or "")
    _people(f"{title}.\n{body}" if title else body, keys, len(title or ""))  # a headline names people too
    told: set[str] = set()  # where, when and ages the text itself tells
    _places(body, told)
    _dates(body, published, told)
    if "-year-old" in body:  # (far cheaper than the regex)
        for m in _YEAR_OLD_RE.finditer(body):
            told.add(f"a:{int(m.group(1))}")
    if ", age" in body:  # "The victim, age 31, ..."
        for m in _AGE_APPOSITION_RE.finditer(body):
            told.add(f"a:{int(m.group(1))}")
    if " and " in body:  # "The men, 19 and 23, were standing ...", "two women, ages 34 and 41,"
        for m in _AGES_PAIR_RE.finditer(body):
            told.update((f"a:{int(m.group(1))}", f"a:{int(m.group(2))}"))
    headline = _norm(title) if title else ""
    if title and len(body.split()) <= PROMPT_WORDS and (not told or _offer_only(body, keys, headline)):
        # a page whose short text tells nothing (a sign-in or newsletter prompt): its
        # headline's names are all it says (see headline_joins); the days of its offer ("ends
        # Sunday", "Monday through Friday") are no days of the incident
        told = set()
        keys.update([f"hn:{k[3:]}" for k in keys if k.startswith("pn:") and k[3:] in headline])
        keys.add(PROMPT_PAGE)  # its headline's places too (see headline_place_joins)
    keys |= told
    _places(title or "", keys)
    _dates(title or "", published, keys)
    lead = f"{title or ''}\n{body[:LEAD_CHARS]}"
    keys.update(_kinds_of(lead))
    if _roundup(keys, body):
        # several incidents in one article ("3 shot in separate weekend shootings"): evidence of
        # none of them; its blocks and days would join their stories into one through it
        return tuple(sorted(k for k in keys if k.startswith(ROUNDUP_KEEPS)))
    places = {k.split(":", 1)[1] for k in keys if k.startswith(("pc:", "pr:", "ph:"))}
    return tuple(sorted(k for k in keys if not (k.startswith("sn:") and k[3:] in places)))  # "Cleveland has"


# A round-up of several incidents: scenes (blocks and corners on different streets) in this
# number, or two with the text saying the incidents were separate ("in separate shootings"), or
# two neighbourhoods with it. Of its keys only these stay: the kind, the city, the month.
ROUNDUP_SCENES = 3
ROUNDUP_KEEPS = ("k:", "pc:", "tm:")
_SEPARATE_RE = re.compile(
    r"\b(?:separate|unrelated|different) (?:shootings|incidents|attacks|shooting incidents)\b"
    r"|\bin (?:two|three|four|five|six|seven|eight|nine|ten|\d+) (?:separate |different |other )?"
    r"(?:shootings|incidents)\b",
    re.I,
)


def _roundup(keys: set[str], body: str) -> bool:
    """The article tells of several incidents (see ROUNDUP_SCENES)."""
    streets = {_unsuffixed(k[3:].split("|", 1)[1]) for k in keys if k.startswith("pb:")}
    corners = {frozenset(_unsuffixed(v) for v in k[3:].split("|")) for k in keys if k.startswith("px:")}
    scenes = len(streets) + sum(1 for c in corners if c.isdisjoint(streets))
    if scenes >= ROUNDUP_SCENES:
        return True
    if scenes < 2 and sum(1 for k in keys if k.startswith("ph:")) < 2:
        return False
    return _SEPARATE_RE.search(body) is not None


# A line inside the text that reads as a headline, not a sentence: at most this many words, no
# closing punctuation ("Man wounded in East End shooting" between two paragraphs, a "Related"
# link whose label the page or the scrape lost). It tells of another story: no evidence of this one.
HEADLINE_LINE_WORDS = 16
_HEADLINE_LINE_CHARS = 16 * 16  # longer than any line of that many words but very long ones


def _headline_line(par: str) -> bool:
    """See HEADLINE_LINE_WORDS; an embedded post's attribution ("— Milwaukee Police
    (@MilwaukeePolice) May 21, 2016") is no headline."""
    if len(par) > _HEADLINE_LINE_CHARS:
        return False
    end = par.rstrip()[-1:]
    return end.isascii() and end.isalnum() and len(par.split()) <= HEADLINE_LINE_WORDS and "(@" not in par


def _without_other_headlines(body: str) -> str:
    """``body`` without the headline-like lines after its first paragraph (see HEADLINE_LINE_WORDS)."""
    if "\n\n" not in body:
        return body
    paras = body.split("\n\n")
    kept = [paras[0]] + [p for p in paras[1:] if not _headline_line(p)]
    return body if len(kept) == len(paras) else "\n\n".join(kept)


def _kinds_of(lead: str) -> list[str]:
    """``k:`` keys of the kinds of event the lede names. A kind's regex runs only where one of
    its words is in the lower-cased lede: whatever re.I matches to a word lower-cases to it,
    but for the characters of _FOLDS_APART, when the regexes run on every kind."""
    low = lead.lower()
    every = not lead.isascii() and any(c in lead for c in _FOLDS_APART)
    return [f"k:{kind}" for kind, words, rx in _KIND_RES if (every or any(w in low for w in words)) and rx.search(lead)]


def strength(a: Iterable[str], b: Mapping[str, int] | Iterable[str], near: bool = True) -> tuple[float, bool]:
    """(how strongly two key sets say "the same incident", whether the evidence is anchored on
    a shared full name or block address, which long-range joins require). Names and ages
    alone are no evidence (two events may involve the same people): a place or a day must be
    shared too; months apart (``near`` False), a shared month will do."""
    w, anchored, _ = _strength(a, b, near)
    return w, anchored


def _strength(a: Iterable[str], b: Mapping[str, int] | Iterable[str], near: bool) -> tuple[float, bool, bool]:
    """:func:`strength` and whether the evidence is where and when: within the window a street,
    block or corner with the day (NEAR_WHERE_WHEN); beyond it a place with the day, or a place, a
    month and an age (FAR_WHERE_WHEN)."""
    ka, kb = set(a), set(b)
    shared = ka & kb
    if not shared:
        return 0.0, False, False
    gs, ga, gb = _kinds(shared), _kinds(ka), _kinds(kb)  # one pass each: this runs per candidate
    names = len(gs.get("pn", ()))
    surname = names == 0 and _surname_match(ga, gb)
    block = "pb" in gs or "px" in gs  # a hundred block or a corner
    if not block and "pb" in ga and "pb" in gb:
        block = _same_street(ga["pb"], gb["pb"])
    # two blocks, or two corners, and none shared: two scenes (a block and a corner may be one)
    other_block = not block and any(x in ga and x in gb for x in ("pb", "px"))
    same_street = "ps" in gs or ("ps" in ga and "ps" in gb and _same_street(ga["ps"], gb["ps"]))
    if not same_street and not block and (("px" in ga and "ps" in gb) or ("px" in gb and "ps" in ga)):
        same_street = _corner_street(ga, gb) or _corner_street(gb, ga)
    street = W_STREET if same_street and not other_block else 0.0
    hood = "ph" in gs or _loose_hood(ga, gb) or _loose_hood(gb, ga)
    place = min(MAX_PLACE, (W_BLOCK if block else street) + (W_HOOD if hood else 0.0))
    day = "t" in gs
    age = "a" in gs or (not near and "a" in ga and "a" in gb and _ages_close(ga["a"], gb["a"]))
    month = "tm" in gs
    support = place > 0 or day or (month and not near)
    if not support:
        return 0.0, False, False
    w = W_NAME * min(names, MAX_NAMES) + place + (W_SURNAME if surname else 0.0)
    w += W_CITY if _same_city(ga, gb) else 0.0
    w += W_DAY if day else (W_MONTH if month else 0.0)
    w += W_AGE if age else 0.0
    if not age and near and "a" in ga and "a" in gb:  # months later, people are a year older
        w -= AGE_CONFLICT
    if near and not day and "t" in ga and "t" in gb:  # months later, days are the follow-up's own
        w -= DAY_CONFLICT
    if other_block:
        w -= BLOCK_CONFLICT
    if "k" in ga and "k" in gb and "k" not in gs:  # a fire and a shooting
        w -= KIND_CONFLICT
    if _cities_conflict(ga.get("pc", ()), gb.get("pc", ())):
        return 0.0, False, False  # two cities: two incidents, however alike
    anchored = names > 0 or block or (day and place > 0)
    # (the age exactly: a victim's age stays as reported; one of several ages within two years
    # of another is chance)
    if near:
        return w, anchored, (block or street > 0) and day
    return w, anchored, place > 0 and (day or (month and "a" in gs))


def _same_city(a: Mapping[str, list[str]], b: Mapping[str, list[str]]) -> bool:
    """Both name one city, where it happened or where someone is from ("Harvey police" and
    "Smith, 20, of Harvey")."""
    ca = {*a.get("pc", ()), *a.get("pr", ())}
    return bool(ca) and not ca.isdisjoint([*b.get("pc", ()), *b.get("pr", ())])


def _kinds(keys: Iterable[str]) -> dict[str, list[str]]:
    """Keys grouped by kind, the kind's prefix dropped: {"pn": ["marcus grant"], ...}."""
    out: dict[str, list[str]] = {}
    for k in keys:
        kind, _, value = k.partition(":")
        out.setdefault(kind, []).append(value)
    return out


def _loose_hood(a: Mapping[str, list[str]], b: Mapping[str, list[str]]) -> bool:
    """ "killed in Oak Hill" on one side, "in the Oak Hill neighborhood" on the other."""
    return "pi" in a and "ph" in b and not set(a["pi"]).isdisjoint(b["ph"])


def _surname_match(a: Mapping[str, list[str]], b: Mapping[str, list[str]]) -> bool:
    """One side names someone by surname alone ("Grant pleaded guilty"), the other in full
    ("Marcus Grant, 29,")."""
    for x, y in ((a, b), (b, a)):
        if "sn" in x and "pn" in y and not set(x["sn"]).isdisjoint(n.rsplit(" ", 1)[-1] for n in y["pn"]):
            return True
    return False


def _ages_close(a: Iterable[str], b: Iterable[str]) -> bool:
    """An age given months later may be a year (or two) higher: "Grant, 29," at his arrest is
    "Grant, 30," at his trial."""
    xs = {int(v) for v in a if v.isdigit()}
    return any(abs(x - int(v)) <= 2 for v in b if v.isdigit() for x in xs)


def cities_conflict(a: Iterable[str], b: Iterable[str]) -> bool:
    """Both say where it happened (dateline, "X police") and no city in common."""
    return _cities_conflict(cities_named(a), cities_named(b))


def _cities_conflict(a: Iterable[str], b: Iterable[str]) -> bool:
    # a county or parish is no conflict: the sheriff's and the city police's words for one place
    ca = {k for k in a if not k.endswith((" county", " parish"))}
    cb = {k for k in b if not k.endswith((" county", " parish"))}
    return bool(ca) and bool(cb) and not (ca & cb)


def headline_joins(a: Iterable[str], b: Mapping[str, int] | Iterable[str]) -> bool:
    """A page whose text tells nothing (``hn:`` keys: a sign-in prompt under a headline that
    names someone, "Marcus Grant charged in Englewood killing") and a story naming that person,
    in no other city. Only a headline that names someone is specific enough: "Man killed in
    Englewood shooting" fits every week's stories."""
    names = {k[3:] for k in a if k.startswith("hn:")}
    if not names:
        return False
    kb = set(b)
    if not any(f"pn:{n}" in kb for n in names):
        return False
    return not cities_conflict(a, kb)


_HEADLINE_PLACES = ("ps:", "pb:", "px:", "ph:", "pi:")


def headline_place_joins(a: Iterable[str], b: Mapping[str, int] | Iterable[str]) -> bool:
    """A page whose text tells nothing under a headline that names a place and the kind of
    event ("7 shot on West Hill Place", "Woman killed in Dutchtown shooting") and a story of
    that kind naming that place (a neighbourhood named either way), the day the headline names
    if it names one, in no other city. The caller asks it of stories a few days around the page
    only, and joins only the one story that fits."""
    ka = set(a)
    if PROMPT_PAGE not in ka:
        return False
    places = [k for k in ka if k.startswith(_HEADLINE_PLACES)]
    if not places:
        return False
    kb = set(b)
    if not any(k.startswith("k:") and k in kb for k in ka):
        return False  # a street in a short page's title ("Park Avenue menu") is no incident
    loose = {k.split(":", 1)[1] for k in kb if k.startswith(("ph:", "pi:", "pc:"))}
    if not any(k in kb or (k.startswith(("ph:", "pi:")) and k[3:] in loose) for k in places):
        return False
    days = [k for k in ka if k.startswith("t:")]
    if days and any(k.startswith("t:") for k in kb) and not any(k in kb for k in days):
        return False
    return not cities_conflict(ka, kb)


def joins(a: Iterable[str], b: Mapping[str, int] | Iterable[str], near: bool) -> float:
    """The evidence strength if it is enough to join (``near``: within the linker's window),
    else 0."""
    if near:
        return near_evidence(a, b)[0]
    w, anchored, where_when = _strength(a, b, near)
    return w if (w >= FAR_STRENGTH and anchored) or (w >= FAR_WHERE_WHEN and where_when) else 0.0


def near_evidence(a: Iterable[str], b: Mapping[str, int] | Iterable[str]) -> tuple[float, float]:
    """(the strength if it is enough to join within the linker's window, else 0; the strength)."""
    w, _, where_when = _strength(a, b, True)
    joined = w >= NEAR_STRENGTH or (where_when and w >= NEAR_WHERE_WHEN)
    return (w if joined else 0.0), w


def cities_named(keys: Iterable[str]) -> list[str]:
    """The cities where it happened that keys name (what cities veto, what an outlet's tally counts)."""
    return sorted({k[3:] for k in keys if k.startswith("pc:")})


def home_city(cities: Mapping[str, int], articles: int) -> str | None:
    """The outlet's home city, from the cities its ``articles`` earlier articles named (see
    HOME_CITY_SHARE), or None."""
    if not cities:
        return None
    city, named = min(cities.items(), key=_most_named)
    return city if named >= HOME_CITY_MIN and named >= HOME_CITY_SHARE * articles else None


def with_home_city(keys: Sequence[str], home: str | None) -> tuple[str, ...]:
    """An article's keys, with its outlet's home city as the city where it happened when the
    article names none (a stated city always wins, and so vetoes as before)."""
    if home is None or any(k.startswith("pc:") for k in keys):
        return tuple(keys)
    return tuple(sorted({*keys, "pc:" + home}))


def count_cities(cities: Mapping[str, int], named: Iterable[str]) -> dict[str, int]:
    """An outlet's tally after one more article naming ``named``: the SOURCE_CITIES most named
    kept (ties by name), as storage keeps them."""
    out = dict(cities)
    for c in named:
        out[c] = out.get(c, 0) + 1
    if len(out) > SOURCE_CITIES:
        out = dict(sorted(out.items(), key=_most_named)[:SOURCE_CITIES])
    return out


def _most_named(item: tuple[str, int]) -> tuple[int, str]:
    """An outlet's cities in order: the most named first, ties by name (storage orders alike)."""
    return -item[1], item[0]


def lookup_keys(keys: Iterable[str]) -> list[str]:
    """Keys that reach archived stories: names, addresses, corners, and month x place."""
    ks = list(keys)
    return sorted([k for k in ks if k.startswith(LOOKUP_KINDS)] + when_where_keys(dict.fromkeys(ks, 1)))


def add_keys(acc: Mapping[str, int], keys: Iterable[str]) -> dict[str, int]:
    out = dict(acc)
    for k in keys:
        if k != PROMPT_PAGE:  # the article's own mark: a story it joins tells things
            out[k] = out.get(k, 0) + 1
    return out


def top_keys(acc: Mapping[str, int], k: int = MAX_KEYS) -> dict[str, int]:
    if len(acc) <= k:
        return dict(acc)

    # names and addresses first: they are what a follow-up months later still shares
    def rank(item: tuple[str, int]) -> tuple[int, int, str]:
        key, count = item
        return (0 if key.startswith(("pn:", "pb:", "px:")) else 1, -count, key)

    return dict(sorted(acc.items(), key=rank)[:k])
