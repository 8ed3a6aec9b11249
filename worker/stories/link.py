"""Online story linking: attach each new article to a recent story or start a new one.

The pure half of issue 8. :func:`story_features` turns an article into raw, deterministic
features (stemmed words, capitalised phrases as entity-ish features, numbers, years and
calendar dates, per-sentence so that site boilerplate can be dropped later). The rest of the
stream state — document frequencies, per-source sentence counts, story centroids and an
inverted index of story terms — lives behind the :class:`StoryIndex` protocol: in memory
(:class:`MemoryStoryIndex`, for tests and the quality bench) or in SQL
(``storage.story_index.SqlStoryIndex``). :func:`link_article` is the one per-article step
both use, so the quality measured in memory is the quality of the database path.

Why these features: on ECB+ every error of a plain TF-IDF linker mixes two look-alike
events of one kind (two rehab check-ins, two earthquakes); what tells them apart is who,
where, when and how many, so entities, numbers and dates carry extra weight and a
story must share some of them before an article may join it.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Protocol

import snowballstemmer

from worker.model.story import (
    BOILERPLATE_MIN_DOCS,
    DF_EAGER_DOCS,
    DF_FOLD_EVERY,
    KEY_PREFIX,
    WINDOW,
    LinkResult,
    Member,
    SentenceFeatures,
    StoryFeatures,
    StoryState,
    number_terms,
)
from worker.model.story import dot as _dot
from worker.model.story import norm as _norm
from worker.model.story import specific_part as _specific
from worker.model.story import top_terms as _top
from worker.model.story import unit_vector as _unit
from worker.stories import evidence as incident

# --------------------------------------------------------------------------------------
# Tunables. FIXED here (chosen once on ECB+ and the synthetic time-ordered stream, see
# bench/story_quality.py); nothing is tuned per run.
# --------------------------------------------------------------------------------------
TITLE_BOOST = 2.0  # title words count this many times a body mention
LEAD_BOOST = 1.0  # the lede says who/what/where; background paragraphs drift to other events
LEAD_DECAY = 5.0  # sentence i weighs 1 + LEAD_BOOST * exp(-i / LEAD_DECAY)
# w: word stem, e: capitalised name, n: number, y: year, d: calendar date / weekday.
# Numbers (counts, ages, magnitudes, amounts) separate look-alike events best on ECB+.
KIND_BOOST: Mapping[str, float] = {"w": 1.0, "e": 1.6, "n": 4.0, "y": 2.0, "d": 2.0}
MAX_DOC_TERMS = 160  # features kept per article vector
CENTROID_TERMS = 200  # features kept per story centroid
QUERY_TERMS = 16  # article features used to look up candidates
MAX_CANDIDATES = 12  # stories scored exactly per article
LINK_THRESHOLD = 0.30  # cosine(article, story centroid) needed to join
ENTITY_MIN = 0.12  # the entity/number/date parts must agree at least this much...
ENTITY_PENALTY = 0.5  # ...or the similarity is multiplied by this
ANCHORS = 5  # one of the article's 5 strongest names must be in the story, or the same penalty
# Terms are stored in VARCHAR(200) columns (story_terms, story_df); no real name or word comes
# near these bounds, and nothing longer is ever produced.
MAX_TERM_CHARS = 120
MAX_NAME_WORDS = 6  # "Tyler Cup Obituary Kensington CT ..." is a title-cased line, not one name
ANCHOR_KINDS = ("e:",)  # names only: ages and counts coincide by chance in a dense stream
SMALL_STORY_MARGIN = 0.0  # joining a story of n articles needs threshold + margin / n
NUMBER_CONFLICT = 0.8  # both give numbers/dates, none shared: multiply by this
MERGE_THRESHOLD = 0.45  # an article this close to two stories bridges them...
MERGE_CENTROID_MIN = 0.35  # ...if the two stories are also this close to each other
# A story stays joinable by strong who/where/when evidence (worker.stories.evidence) this long
# after its last article: arrests, charges, trials and sentencing come weeks to a year later.
LONG_WINDOW = timedelta(days=550)
KEY_CANDIDATES = 8  # stories reached through shared names, addresses and days
# a name in more documents than this is a spokesman's or a mayor's, not evidence of one incident
COMMON_NAME_DOCS = 50
HALF_LIFE = timedelta(days=5)  # beyond one day apart, similarity halves every HALF_LIFE
GRACE = timedelta(days=1)
MIN_SENTENCE_TOKENS = 4  # shorter sentences are not tracked as boilerplate
# the words of an article's first 150 sentences (~2,500 words; the median real page has 39, ECB+'s
# longest 161): what a very long page (a long read, a live blog, a listing) says after them costs
# linear CPU and drifts from its story; its incident evidence still reads the whole text
MAX_SENTENCES = 150


_STOPWORDS_EN = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "aren",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "cannot",
        "could",
        "did",
        "didn",
        "do",
        "does",
        "doesn",
        "doing",
        "don",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "hadn",
        "has",
        "hasn",
        "have",
        "haven",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "isn",
        "it",
        "its",
        "itself",
        "just",
        "let",
        "ll",
        "me",
        "more",
        "most",
        "mr",
        "mrs",
        "ms",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "ought",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "re",
        "s",
        "same",
        "she",
        "should",
        "shouldn",
        "so",
        "some",
        "such",
        "t",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "upon",
        "us",
        "ve",
        "very",
        "via",
        "was",
        "wasn",
        "we",
        "were",
        "weren",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "won",
        "would",
        "wouldn",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "said",
        "says",
        "say",
        "told",
        "tell",
        "tells",
        "according",
        "reported",
        "report",
        "reports",
        "reporting",
        "news",
        "new",
        "one",
        "two",
        "three",
        "also",
        "year",
        "years",
        "old",
        "week",
        "weeks",
        "day",
        "days",
        "today",
        "yesterday",
        "tomorrow",
        "time",
        "like",
        "get",
        "got",
        "going",
        "go",
        "goes",
        "went",
        "make",
        "made",
        "many",
        "much",
        "may",
        "might",
        "must",
        "per",
        "since",
        "still",
        "though",
    ]
)
_MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for name in names
}
_WEEKDAYS = {
    name: i
    for i, names in enumerate(
        [
            ("monday", "mon"),
            ("tuesday", "tue", "tues"),
            ("wednesday", "wed"),
            ("thursday", "thu"),
            ("friday", "fri"),
            ("saturday", "sat"),
            ("sunday", "sun"),
        ]
    )
    for name in names
    if len(name) > 3
}
# English counts written as words; "one", "two" and "three" are left out: they are in every
# other article ("one of", "the two teams") and would make unrelated numbers agree
_NUMBER_WORDS = {
    "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_ENTITY_CONNECTORS = frozenset({"of", "de", "del", "la", "le", "van", "von", "der", "da", "al"})
_STEMMER_LANG = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
    "sv": "swedish",
    "da": "danish",
    "no": "norwegian",
    "nb": "norwegian",
    "fi": "finnish",
    "ru": "russian",
    "tr": "turkish",
    "ro": "romanian",
    "hu": "hungarian",
    "id": "indonesian",
}

_TOKEN_RE = re.compile(
    r"[0-9]{1,4}[/.-][0-9]{1,2}[/.-][0-9]{2,4}\b"  # numeric date
    r"|[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?"  # time of day
    r"|[0-9]+[^\W\d_][^\W_]*"  # "76ers", "12th": words
    r"|[0-9]+(?:[.,][0-9]+)*"
    # a word: its letters read once (possessive: no backtracking into them), then either digits
    # ("IE8", "G20") or apostrophe parts ("O'Neil"); the two could share no prefix anyway
    r"|[^\W\d_]++(?:[0-9][^\W_]*|(?:['’][^\W\d_]+)*)",
    re.UNICODE,
)
# the token pattern as one capturing group: re.split() then yields the text between tokens too
_TOKEN_SPLIT_RE = re.compile(f"({_TOKEN_RE.pattern})", re.UNICODE)
_ORDINAL_RE = re.compile(r"([0-9]{1,2})(?:st|nd|rd|th)", re.I)
_NUMERIC_DATE_RE = re.compile(r"([0-9]{1,4})[/.-]([0-9]{1,2})[/.-]([0-9]{2,4})")
_SENTENCE_SPLIT_RE = re.compile(r"\n+|(?<=[.!?])[\"'”’)]*\s+(?=[\"'“‘(]?[^\W\d_a-z])")
_OPENERS = frozenset("\"'“‘(«[-–—:")


Stemmer = Callable[[str], str]


@lru_cache(maxsize=32)
def _stemmer(language: str) -> Stemmer | None:
    """A memoised Snowball stemmer: news vocabulary is Zipfian, stemming dominated the CPU."""
    name = _STEMMER_LANG.get(language.split("-")[0].lower()) if language else "english"
    if not name:
        return None
    stemmer = snowballstemmer.stemmer(name)
    cached: Callable[[str], str] = lru_cache(maxsize=200_000)(stemmer.stemWord)
    return cached


@lru_cache(maxsize=200_000)
def _fold(word: str) -> str:
    """Lower case, no possessive, NFKC (memoised: a feature pass folds ~350 tokens an article,
    most of them words seen before)."""
    word = word.lower().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    return unicodedata.normalize("NFKC", word)


def _number_features(tok: str) -> list[str]:
    digits = tok.replace(",", "")
    try:
        value = float(digits)
    except ValueError:
        return []
    if value.is_integer():
        iv = int(value)
        if len(digits) == 4 and 1900 <= iv <= 2099:
            return [f"y:{iv}"]
        return [f"n:{iv}"]
    return [f"n:{digits}"]


def _numeric_token_features(tok: str, tokens: Sequence[tuple[str, bool, bool]], i: int) -> list[str]:
    if ":" in tok:
        return []  # time of day: says little about which event
    m = _NUMERIC_DATE_RE.fullmatch(tok)
    if m:
        a, b, c = (int(x) for x in m.groups())
        if a > 31:  # yyyy-mm-dd
            return [f"y:{a}", f"d:{b}-{c}"] if 1 <= b <= 12 else [f"y:{a}"]
        year = c + 2000 if c < 100 else c
        month, day = (b, a) if a > 12 else (a, b)  # day first when unambiguous, else US order
        feats = [f"y:{year}"] if 1900 <= year <= 2099 else []
        return [*feats, f"d:{month}-{day}"] if 1 <= month <= 12 else feats
    if tok.isascii() and tok.isdigit() and 1 <= int(tok) <= 31:
        # calendar dates: "May 2" / "2 May"
        low_prev = _fold(tokens[i - 1][0]) if i else ""
        low_next = _fold(tokens[i + 1][0]) if i + 1 < len(tokens) else ""
        on = _MONTHS.get(low_prev) or _MONTHS.get(low_next)
        if on:
            return [f"d:{on}-{int(tok)}"]
    return _number_features(tok)


def _isnum(tok: str) -> bool:
    return "0" <= tok[:1] <= "9"


def _is_cap(tok: str) -> bool:
    return tok[:1].isupper()


def _sentence_tokens(sentence: str) -> list[tuple[str, bool, bool]]:
    """Tokens with flags: starts its sentence (clause); follows punctuation (breaks a name)."""
    # one split gives the text before each token and the token, all in C: [gap, token, gap, ...]
    parts = _TOKEN_SPLIT_RE.split(sentence)
    out: list[tuple[str, bool, bool]] = []
    first = True
    for before, tok in zip(parts[0:-1:2], parts[1::2], strict=True):
        between = before.strip()
        if between and not _OPENERS.isdisjoint(between):
            first = True
        out.append((tok, first, bool(between)))
        first = False
    return out


def _features_of(
    tokens: list[tuple[str, bool, bool]],
    stem: Stemmer | None,
    known_caps: frozenset[str],
    title_cased: bool,
) -> dict[str, float]:
    # (_isnum and _is_cap written out: ~700 calls an article each)
    feats: dict[str, float] = {}

    def add(term: str, w: float = 1.0) -> None:
        if len(term) <= MAX_TERM_CHARS:  # a longer "name" is a title-cased headline, not a name
            feats[term] = feats.get(term, 0.0) + w

    terms = _word_terms(stem)
    n = len(tokens)
    i = 0
    while i < n:
        tok, initial, _ = tokens[i]
        lead = tok[0]  # (tokens are never empty)
        if "0" <= lead <= "9":
            if tok[-1].isdigit():
                for f in _numeric_token_features(tok, tokens, i):
                    add(f)
            else:  # "76ers", "12th": a word that starts with digits, not a count...
                day = _ORDINAL_RE.fullmatch(tok)
                as_date = _numeric_token_features(day.group(1), tokens, i) if day else []
                if as_date and as_date[0].startswith("d:"):  # ...unless "12th May"
                    add(as_date[0])
                else:
                    _add_word(feats, tok, None)
            i += 1
            continue
        # capitalised run -> entity
        if lead.isupper() and not (title_cased and _fold(tok) not in known_caps):
            j = i
            run: list[str] = []  # folded
            raw: list[str] = []  # as written (the term cache's keys)
            while j < n:
                t, ini, punct = tokens[j]
                if "0" <= t[:1] <= "9" or (j > i and punct):
                    break
                low = _fold(t)
                if t[:1].isupper() and (j == i or not ini):
                    if title_cased and low not in known_caps:
                        break
                elif not (
                    run
                    and low in _ENTITY_CONNECTORS
                    and j + 1 < n
                    and tokens[j + 1][0][:1].isupper()
                    and not "0" <= tokens[j + 1][0][:1] <= "9"
                    and not tokens[j + 1][2]
                ):
                    break
                run.append(low)
                raw.append(t)
                j += 1
            while run and run[-1] in _ENTITY_CONNECTORS:
                run.pop()
                raw.pop()
                j -= 1
            if run:
                keep = list(run)
                if initial and len(keep) == 1 and keep[0] not in known_caps:
                    keep = []  # "After", "Police": capitalised only because it starts a sentence
                keep = [w for w in keep if w not in _STOPWORDS_EN and w not in _MONTHS and w not in _WEEKDAYS]
                if keep:
                    if 1 < len(keep) <= MAX_NAME_WORDS:
                        add("e:" + " ".join(keep))
                    for w in keep:
                        if len(w) > 1 and w not in _ENTITY_CONNECTORS:
                            add("e:" + w)
                for w in raw:
                    _add_word(feats, w, stem)
                i = max(j, i + 1)
                continue
        # a plain word: _add_word written out (most tokens come here)
        term = terms.get(tok)
        if term is None:
            term = _token_term(terms, tok, stem)
        if term:
            feats[term] = feats.get(term, 0.0) + 1.0
        i += 1
    return feats


def _add_word(feats: dict[str, float], tok: str, stem: Stemmer | None) -> None:
    terms = _word_terms(stem)
    term = terms.get(tok)
    if term is None:
        term = _token_term(terms, tok, stem)
    if term:
        feats[term] = feats.get(term, 0.0) + 1.0


def _token_term(terms: dict[str, str], tok: str, stem: Stemmer | None) -> str:
    """The feature a token adds, remembered in ``terms`` (``_word_terms(stem)``)."""
    if len(terms) >= _WORD_TERMS_MAX:
        terms.clear()
    term = terms[tok] = _word_term(_fold(tok), stem)
    return term


_WORD_TERMS_MAX = 200_000


@lru_cache(maxsize=32)
def _word_terms(stem: Stemmer | None) -> dict[str, str]:
    """Each token's feature under one stemmer, by the token as written (no fold on a hit),
    memoised: a word is added ~290 times an article, and the same few thousand words come back
    article after article."""
    return {}


def _word_term(word: str, stem: Stemmer | None) -> str:
    """The feature a word adds ("" for none)."""
    if len(word) > MAX_TERM_CHARS:
        return ""
    value = _NUMBER_WORDS.get(word)
    if value is not None:  # "ten dead", "five hurt": counts written out are counts too
        return f"n:{value}"
    if word in _WEEKDAYS:
        return f"d:{word[:3]}"
    if len(word) < 2 or word in _STOPWORDS_EN or word in _MONTHS:
        return ""
    return stem(word) if stem is not None else word


def _sentence_key(sentence: str, tokens: Sequence[tuple[str, bool, bool]]) -> str:
    """A stable hash of the sentence's lower-cased tokens (stored: it must never change).

    Defined as the tokens of ``sentence.lower()``; the sentence's own tokens, lower-cased, are
    the same and cost no second tokenisation, because lower-casing maps every character to one
    character of the same class for _TOKEN_RE (tests/unit/stories checks all of Unicode), with
    two exceptions where the definition is applied as written: "İ" becomes two characters, and
    "Σ" lower-cases by its context (final sigma). Both are letters, hence inside tokens."""
    joined = " ".join([t for t, _, _ in tokens])
    norm = joined.lower()
    if len(norm) != len(joined) or "Σ" in joined:
        norm = " ".join(_TOKEN_RE.findall(sentence.lower()))
    return hashlib.blake2b(norm.encode("utf-8"), digest_size=8).hexdigest()


def _frozen_terms(feats: Mapping[str, float]) -> tuple[tuple[str, float], ...]:
    return tuple(sorted(feats.items()))


def story_features(
    title: str | None,
    text: str | None,
    published_at: datetime | None,
    source: str,
    language: str | None = "en",
) -> StoryFeatures:
    """Deterministic raw features of an article, per sentence, plus its title."""
    title = (title or "").strip()
    text = text or ""
    lang = language or "en"
    stem = _stemmer(lang)
    sentences = [s for s in (part.strip() for part in _SENTENCE_SPLIT_RE.split(text) if part) if s]
    del sentences[MAX_SENTENCES:]
    tokenised = [_sentence_tokens(s) for s in sentences]
    # words seen capitalised away from a sentence start: known names, usable at a sentence
    # start and in a Title Cased headline (a capital is never a digit: not _isnum)
    capitalised = {tok for toks in tokenised for tok, initial, _ in toks if not initial and tok[:1].isupper()}
    known_caps = frozenset(map(_fold, capitalised))
    title_toks = _sentence_tokens(title)
    alpha = [t for t, _, _ in title_toks if not _isnum(t) and len(t) > 3]
    title_cased = bool(alpha) and sum(1 for t in alpha if _is_cap(t)) / len(alpha) > 0.6
    title_feats = _features_of(title_toks, stem, known_caps, title_cased)
    sent_feats: list[SentenceFeatures] = []
    for sentence, toks in zip(sentences, tokenised, strict=True):
        feats = _features_of(toks, stem, known_caps, False)
        if not feats:
            continue
        key = _sentence_key(sentence, toks) if len(toks) >= MIN_SENTENCE_TOKENS else ""
        sent_feats.append(SentenceFeatures(key=key, terms=_frozen_terms(feats)))
    return StoryFeatures(
        title=title,
        published_at=published_at,
        source=source,
        language=lang,
        title_terms=_frozen_terms(title_feats),
        sentences=tuple(sent_feats),
        keys=incident.incident_keys(title, text, published_at),
    )


def _kind(term: str) -> str:
    return term[0] if len(term) > 1 and term[1] == ":" else "w"


def idf(df: int, n_docs: int) -> float:
    """Smoothed inverse document frequency over the documents seen so far."""
    return math.log((n_docs + 1.0) / (df + 1.0)) + 1.0


def vectorize(
    features: StoryFeatures,
    doc_freq: Mapping[str, int],
    n_docs: int,
    boilerplate: frozenset[str] = frozenset(),
) -> dict[str, float]:
    """Unit-length weighted vector: sublinear tf x online IDF x kind boost; boilerplate out."""
    tf: dict[str, float] = {}
    for term, c in features.title_terms:
        tf[term] = tf.get(term, 0.0) + TITLE_BOOST * c
    pos = 0
    for s in features.sentences:
        if s.key and s.key in boilerplate:
            continue
        lead = 1.0 + LEAD_BOOST * math.exp(-pos / LEAD_DECAY)
        pos += 1
        for term, c in s.terms:
            tf[term] = tf.get(term, 0.0) + c * lead
    # idf() and _kind() inlined (the same expressions, so the same floats): a call per term each
    # was most of this function's CPU
    log, df_of, n1 = math.log, doc_freq.get, n_docs + 1.0
    boost, word = KIND_BOOST, KIND_BOOST["w"]
    weights = {
        t: (1.0 + log(c) if c >= 1.0 else c)
        * (log(n1 / (df_of(t, 0) + 1.0)) + 1.0)
        * (boost[t[0]] if t[1:2] == ":" else word)
        for t, c in tf.items()
        if c > 0
    }
    return _unit(_top(weights, MAX_DOC_TERMS))


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return _dot(a, b) / (na * nb) if na > 0 and nb > 0 else 0.0


def _numbers_disjoint(na: Sequence[str], nb: Sequence[str], b: Mapping[str, float]) -> bool:
    """Both sides state numbers or dates (``na``, ``nb``: their number terms, computed once per
    article and per story) and share none of them: likely another event."""
    return bool(na) and bool(nb) and not any(t in b for t in na)


def query_terms(vector: Mapping[str, float], k: int = QUERY_TERMS) -> list[str]:
    """The article's strongest features, used to look candidates up in the inverted index."""
    return list(_top(vector, k))


@dataclass(frozen=True)
class LinkDecision:
    """``story_id`` None means "start a new story"; ``merges`` are stories folded into it."""

    story_id: int | None
    score: float
    merges: tuple[int, ...] = ()


# a page whose text tells nothing joins the one story this close in time naming its headline's
# place (worker.stories.evidence.headline_place_joins)
HEADLINE_PLACE_GAP = timedelta(days=3)


def story_gap(t: datetime, s: StoryState) -> timedelta:
    """How far ``t`` lies outside the story's time span (0 inside it)."""
    if t < s.first_time:
        return s.first_time - t
    if t > s.last_time:
        return t - s.last_time
    return timedelta(0)


def time_factor(gap: timedelta) -> float:
    """1 within a day; then halves every HALF_LIFE; 0 beyond WINDOW."""
    if gap > WINDOW:
        return 0.0
    if gap <= GRACE:
        return 1.0
    return float(0.5 ** ((gap - GRACE) / HALF_LIFE))


@dataclass(frozen=True)
class Evidence:
    """The article's who/where/when part and its strongest names, computed once per article
    rather than once per candidate story."""

    specific: dict[str, float]
    anchors: dict[str, float]
    specific_norm: float = 0.0
    numbers: tuple[str, ...] = ()  # its number and date terms

    @classmethod
    def of(cls, vector: Mapping[str, float]) -> Evidence:
        spec = _specific(vector)
        names = {t: v for t, v in spec.items() if t[:2] in ANCHOR_KINDS}
        return cls(spec, _top(names, ANCHORS), _norm(spec), number_terms(spec))


@dataclass(frozen=True)
class Linker:
    """Decides where one article goes, given its vector and the candidate stories."""

    threshold: float = LINK_THRESHOLD
    entity_min: float = ENTITY_MIN
    merge_threshold: float = MERGE_THRESHOLD
    merge_centroid_min: float = MERGE_CENTROID_MIN
    entity_penalty: float = ENTITY_PENALTY
    number_conflict: float = NUMBER_CONFLICT
    small_story_margin: float = SMALL_STORY_MARGIN

    def score(
        self,
        vector: Mapping[str, float],
        at: datetime,
        story: StoryState,
        evidence: Evidence | None = None,
        keys: Sequence[str] = (),
        shared: float | None = None,
    ) -> float:
        """Word similarity x time factor, gated by shared names; ``shared``: the incident
        evidence strength with the story when the caller has it already."""
        factor = time_factor(story_gap(at, story))
        if factor == 0.0:
            return 0.0
        ev = evidence or Evidence.of(vector)
        sim = _dot(vector, story.centroid) / story.norm if story.norm > 0 else 0.0
        if shared is None and keys and story.keys:
            shared = incident.strength(keys, story.keys)[0]
        if shared is not None and shared >= incident.SUPPORT_STRENGTH:
            return sim  # the same day and place: told differently, not a look-alike
        if keys and story.keys and incident.cities_conflict(keys, story.keys):
            return 0.0  # the same words about another city: a look-alike (two cities' shootings)
        if ev.specific:
            denominator = ev.specific_norm * story.specific_norm
            spec = _dot(ev.specific, story.specific) / denominator if denominator > 0 else 0.0
            if spec < self.entity_min or (ev.anchors and not any(t in story.specific for t in ev.anchors)):
                sim *= self.entity_penalty  # same kind of event, nobody/nowhere in common
        if self.number_conflict < 1.0 and _numbers_disjoint(ev.numbers, story.numbers, story.specific):
            sim *= self.number_conflict
        return sim * factor

    def strong(self, keys: Sequence[str], at: datetime, story: StoryState) -> float:
        """Incident evidence (names, places, days, ages) shared with the story, if it is enough
        to join whatever the word overlap: within WINDOW at NEAR_STRENGTH, up to LONG_WINDOW
        at FAR_STRENGTH and anchored on a name or an address, or at FAR_WHERE_WHEN on a place
        and a day, or a place, a month and an age (worker.stories.evidence)."""
        return self._evidence(keys, at, story)[0]

    def _evidence(self, keys: Sequence[str], at: datetime, story: StoryState) -> tuple[float, float | None]:
        """(joining strength or 0, raw strength within WINDOW or None), computed once."""
        if not keys or not story.keys:
            return 0.0, None
        gap = story_gap(at, story)
        if gap > LONG_WINDOW:
            return 0.0, None
        near = gap <= WINDOW
        if near:
            return incident.near_evidence(keys, story.keys)
        return incident.joins(keys, story.keys, near=False), None

    def decide(
        self, vector: Mapping[str, float], at: datetime, candidates: Sequence[StoryState], keys: Sequence[str] = ()
    ) -> LinkDecision:
        evidence = Evidence.of(vector)
        shared = {s.story_id: self._evidence(keys, at, s) for s in candidates}
        scored = sorted(
            ((self.score(vector, at, s, evidence, keys, shared[s.story_id][1]), s) for s in candidates),
            key=lambda p: (-p[0], p[1].story_id),
        )
        if keys:
            # the same incident told differently (a name, an address, a day): the story
            # sharing the most evidence wins over word overlap, which look-alikes share too
            strong = [(w, sc, s) for sc, s in scored if (w := shared[s.story_id][0]) > 0.0]
            if strong:
                w, sc, s = min(strong, key=lambda x: (-x[0], -x[1], x[2].story_id))
                # the article's evidence also joins another story whose own evidence joins this
                # one: one incident told in two stories (the first reports and, days or months
                # later, the arrest coverage); merge them, as an article bridging two by words does
                bridged = [o for _, _, o in strong if o is not s and _stories_join(s, o)]
                if not bridged:
                    return LinkDecision(s.story_id, max(sc, self.threshold))
                group = [s, *bridged]
                keep = min(group, key=lambda x: (x.first_time, x.story_id))
                merges = tuple(sorted(x.story_id for x in group if x.story_id != keep.story_id))
                return LinkDecision(keep.story_id, max(sc, self.threshold), merges)
            if any(k.startswith("hn:") for k in keys):
                # a page whose text tells nothing, under a headline naming someone: the one
                # story naming that person (two such stories: ambiguous, it stays alone)
                named = [(sc, s) for sc, s in scored if incident.headline_joins(keys, s.keys)]
                if len(named) == 1:
                    return LinkDecision(named[0][1].story_id, max(named[0][0], self.threshold))
            if incident.PROMPT_PAGE in keys:
                # such a page under a headline naming a place: the one story a few days
                # around it naming that place (two: ambiguous, it stays alone)
                placed = [
                    (sc, s)
                    for sc, s in scored
                    if story_gap(at, s) <= HEADLINE_PLACE_GAP and incident.headline_place_joins(keys, s.keys)
                ]
                if len(placed) == 1:
                    return LinkDecision(placed[0][1].story_id, max(placed[0][0], self.threshold))
        eligible = [(sc, s) for sc, s in scored if sc >= self.threshold + self.small_story_margin / s.article_count]
        if not eligible:
            return LinkDecision(None, scored[0][0] if scored else 0.0)
        best_score, best = eligible[0]
        bridged = [
            s
            for sc, s in scored
            if s is not best
            and sc >= self.merge_threshold
            and best_score >= self.merge_threshold
            and s.similarity(best) >= self.merge_centroid_min
        ]
        if not bridged:
            return LinkDecision(best.story_id, best_score)
        # keep the oldest story id: links already handed out stay valid longest
        group = [best, *bridged]
        keep = min(group, key=lambda s: (s.first_time, s.story_id))
        merges = tuple(sorted(s.story_id for s in group if s.story_id != keep.story_id))
        return LinkDecision(keep.story_id, best_score, merges)


def _stories_join(a: StoryState, b: StoryState) -> bool:
    """Two stories' own incident evidence is enough to join them, at their distance in time."""
    gap = max(a.first_time, b.first_time) - min(a.last_time, b.last_time)
    if gap > LONG_WINDOW or not a.keys or not b.keys:
        return False
    return incident.joins(a.keys, b.keys, near=gap <= WINDOW) > 0.0


def article_time(features: StoryFeatures, arrived_at: datetime) -> datetime:
    """Publication time when known and plausible, else arrival (the stream order)."""
    t = features.published_at
    if t is None:
        return arrived_at
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    # a date far in the future is a parse error; arrival is the better guess
    return arrived_at if t > arrived_at + timedelta(days=2) else t


def _title_score(title: str, vector: Mapping[str, float], centroid: Mapping[str, float]) -> float:
    """How well an article stands for its story: its closeness to the centroid, if titled."""
    if not title:
        return -1.0
    return cosine(vector, centroid) - (0.1 if len(title) > 160 else 0.0)


def new_story_state(
    story_id: int, vector: Mapping[str, float], at: datetime, source: str, title: str, keys: Sequence[str] = ()
) -> StoryState:
    return StoryState(
        story_id=story_id,
        centroid=dict(vector),
        first_time=at,
        last_time=at,
        article_count=1,
        sources=frozenset({source}),
        title=title,
        title_score=_title_score(title, vector, vector),
        keys=incident.add_keys({}, keys),
    )


def add_to_story(
    story: StoryState, vector: Mapping[str, float], at: datetime, source: str, title: str, keys: Sequence[str] = ()
) -> StoryState:
    centroid = dict(story.centroid)
    for t, v in vector.items():
        centroid[t] = centroid.get(t, 0.0) + v
    centroid = _top(centroid, CENTROID_TERMS)
    ts = _title_score(title, vector, centroid)
    better = ts > story.title_score
    return replace(
        story,
        centroid=centroid,
        first_time=min(story.first_time, at),
        last_time=max(story.last_time, at),
        article_count=story.article_count + 1,
        sources=story.sources | {source},
        title=title if better else story.title,
        title_score=ts if better else story.title_score,
        keys=incident.top_keys(incident.add_keys(story.keys, keys)) if keys else story.keys,
    )


def state_from_members(story_id: int, members: Sequence[Member]) -> StoryState:
    """A story's state rebuilt from its members (after the refinement pass regroups them)."""
    centroid: dict[str, float] = {}
    for m in members:
        for t, v in m.vector.items():
            centroid[t] = centroid.get(t, 0.0) + v
    centroid = _top(centroid, CENTROID_TERMS)
    titled = [(_title_score(m.title, m.vector, centroid), -m.article_id, m) for m in members]
    score, _, best = max(titled, key=lambda x: (x[0], x[1]))
    keys: dict[str, int] = {}
    for m in members:
        keys = incident.add_keys(keys, m.keys)
    return StoryState(
        story_id=story_id,
        centroid=centroid,
        first_time=min(m.at for m in members),
        last_time=max(m.at for m in members),
        article_count=len(members),
        sources=frozenset(m.source for m in members),
        title=best.title,
        title_score=score,
        keys=incident.top_keys(keys),
    )


def merge_states(keep: StoryState, others: Iterable[StoryState]) -> StoryState:
    """Fold bridged stories into ``keep`` (sum of centroids, union of sources, span of time)."""
    state = keep
    for o in others:
        centroid = dict(state.centroid)
        for t, v in o.centroid.items():
            centroid[t] = centroid.get(t, 0.0) + v
        better = o.title_score > state.title_score
        state = replace(
            state,
            centroid=_top(centroid, CENTROID_TERMS),
            first_time=min(state.first_time, o.first_time),
            last_time=max(state.last_time, o.last_time),
            article_count=state.article_count + o.article_count,
            sources=state.sources | o.sources,
            title=o.title if better else state.title,
            title_score=o.title_score if better else state.title_score,
            keys=incident.top_keys(_sum_counts(state.keys, o.keys)),
        )
    return state


def _sum_counts(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


class StoryIndex(Protocol):
    """Stream state behind the linker; the SQL implementation lives in storage.story_index."""

    def boilerplate(self, source: str, keys: Sequence[str]) -> frozenset[str]: ...

    def doc_freqs(self, terms: Sequence[str]) -> tuple[dict[str, int], int]: ...

    def document_stats(
        self, source: str, keys: Sequence[str], terms: Sequence[str]
    ) -> tuple[frozenset[str], tuple[dict[str, int], int]]:
        """boilerplate() and doc_freqs() together (one round trip in SQL)."""
        ...

    def candidates(self, terms: Sequence[str], at: datetime, window: timedelta, limit: int) -> list[StoryState]: ...

    def create_story(self, state: StoryState) -> StoryState: ...

    def save_story(self, old: StoryState, new: StoryState) -> None: ...

    def merge_stories(self, keep: StoryState, gone: Sequence[StoryState], at: datetime) -> None: ...

    def source_cities(self, source: str) -> tuple[dict[str, int], int]:
        """The cities an outlet's articles named (its SOURCE_CITIES most named) and how many
        articles it has (evidence.home_city); the SQL index reads them with document_stats."""
        ...

    def record_document(
        self, source: str, keys: Sequence[str], terms: Sequence[str], cities: Sequence[str] = ()
    ) -> None:
        """Count the article: its sentences and terms, and for its outlet the cities it names."""
        ...

    def record_member(self, member: Member) -> None: ...


def link_article(
    index: StoryIndex,
    features: StoryFeatures,
    arrived_at: datetime,
    linker: Linker | None = None,
    article_id: int | None = None,
) -> LinkResult:
    """Link one (non-duplicate) article: read state, decide, write state back.

    With ``article_id`` the article's vector is kept as a story member, so that the later
    refinement pass (worker.stories.refine) can regroup stories with hindsight."""
    linker = linker or Linker()
    at = article_time(features, arrived_at)
    keys = sorted({s.key for s in features.sentences if s.key})
    vocab = sorted(features.vocabulary())
    drop, (df, n_docs) = index.document_stats(features.source, keys, vocab)
    vector = vectorize(features, df, n_docs, drop)
    evidence = incident.with_home_city(
        [k for k in features.keys if not (k.startswith("pn:") and df.get("e:" + k[3:], 0) > COMMON_NAME_DOCS)],
        incident.home_city(*index.source_cities(features.source)),
    )
    cands = index.candidates(query_terms(vector), at, WINDOW, MAX_CANDIDATES) if vector else []
    lookup = incident.lookup_keys(evidence) if vector else []
    if lookup:
        # archived stories too: a follow-up weeks later reaches its story through the names,
        # addresses and days they share (one more lookup in the same inverted index)
        seen = {s.story_id for s in cands}
        far = index.candidates([KEY_PREFIX + k for k in lookup], at, LONG_WINDOW, KEY_CANDIDATES)
        cands = [*cands, *(s for s in far if s.story_id not in seen)]
    decision = linker.decide(vector, at, cands, evidence) if vector else LinkDecision(None, 0.0)
    by_id = {s.story_id: s for s in cands}
    if decision.story_id is None:
        state = index.create_story(new_story_state(0, vector, at, features.source, features.title, evidence))
        created = True
    else:
        old = by_id[decision.story_id]
        gone = [by_id[i] for i in decision.merges]
        base = merge_states(old, gone) if gone else old
        state = add_to_story(base, vector, at, features.source, features.title, evidence)
        if gone:
            index.merge_stories(state, gone, at)
        index.save_story(old, state)
        created = False
    index.record_document(features.source, keys, vocab, incident.cities_named(features.keys))
    if article_id is not None and vector:
        index.record_member(Member(article_id, state.story_id, at, vector, features.source, features.title, evidence))
    return LinkResult(state.story_id, created, decision.score, decision.merges, at, state)


# --------------------------------------------------------------------------------------
# In-memory index (tests, quality bench); same semantics as the SQL one
# --------------------------------------------------------------------------------------
@dataclass
class MemoryStoryIndex:
    """Dict-backed :class:`StoryIndex`; its candidate lookup mirrors the SQL query."""

    df: dict[str, int] = field(default_factory=dict)
    n_docs: int = 0
    stories: dict[int, StoryState] = field(default_factory=dict)
    postings: dict[str, dict[int, float]] = field(default_factory=dict)
    sentence_docs: dict[tuple[str, str], int] = field(default_factory=dict)
    merges: list[tuple[int, int, datetime]] = field(default_factory=list)
    next_id: int = 1
    members_by_id: dict[int, Member] = field(default_factory=dict)
    members_of: dict[int, set[int]] = field(default_factory=dict)  # story id -> article ids
    dirty: set[int] = field(default_factory=set)  # stories changed since their last refinement
    pending: list[Sequence[str]] = field(default_factory=list)  # documents' terms not folded into df yet
    documents: int = 0  # documents recorded (folded or not)
    sources: dict[str, tuple[dict[str, int], int]] = field(default_factory=dict)  # outlet -> cities, articles

    def boilerplate(self, source: str, keys: Sequence[str]) -> frozenset[str]:
        return frozenset(k for k in keys if self.sentence_docs.get((source, k), 0) >= BOILERPLATE_MIN_DOCS)

    def doc_freqs(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        return {t: self.df[t] for t in terms if t in self.df}, self.n_docs

    def document_stats(
        self, source: str, keys: Sequence[str], terms: Sequence[str]
    ) -> tuple[frozenset[str], tuple[dict[str, int], int]]:
        return self.boilerplate(source, keys), self.doc_freqs(terms)

    def candidates(self, terms: Sequence[str], at: datetime, window: timedelta, limit: int) -> list[StoryState]:
        lo, hi = at - window, at + window
        acc: dict[int, float] = {}
        for t in terms:
            for sid, w in self.postings.get(t, {}).items():
                s = self.stories[sid]
                if s.last_time >= lo and s.first_time <= hi:
                    acc[sid] = acc.get(sid, 0.0) + w
        best = sorted(acc.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        return [self.stories[sid] for sid, _ in best]

    def _post(self, state: StoryState) -> None:
        for t, w in state.postings().items():
            self.postings.setdefault(t, {})[state.story_id] = w

    def _unpost(self, state: StoryState) -> None:
        for t in state.postings():
            self.postings.get(t, {}).pop(state.story_id, None)

    def create_story(self, state: StoryState) -> StoryState:
        state = replace(state, story_id=self.next_id)
        self.next_id += 1
        self.stories[state.story_id] = state
        self._post(state)
        self.dirty.add(state.story_id)
        return state

    def save_story(self, old: StoryState, new: StoryState) -> None:
        self._unpost(self.stories[old.story_id])
        self.stories[new.story_id] = new
        self._post(new)
        self.dirty.add(new.story_id)

    def merge_stories(self, keep: StoryState, gone: Sequence[StoryState], at: datetime) -> None:
        gone_ids = {g.story_id for g in gone}
        for g in gone:
            self._unpost(g)
            del self.stories[g.story_id]
            self.dirty.discard(g.story_id)
            self.merges.append((g.story_id, keep.story_id, at))
        self.move_members({a: keep.story_id for sid in sorted(gone_ids) for a in self.members_of.get(sid, ())})

    def record_member(self, member: Member) -> None:
        self.members_by_id[member.article_id] = member
        self.members_of.setdefault(member.story_id, set()).add(member.article_id)

    # refinement (worker.stories.refine.RefineIndex)
    def story(self, story_id: int) -> StoryState | None:
        return self.stories.get(story_id)

    def stories_by_id(self, story_ids: Sequence[int]) -> dict[int, StoryState]:
        return {s: self.stories[s] for s in story_ids if s in self.stories}

    def members(self, story_ids: Sequence[int]) -> list[Member]:
        ids = sorted(a for sid in set(story_ids) for a in self.members_of.get(sid, ()))
        return [self.members_by_id[a] for a in ids]

    def move_members(self, moves: Mapping[int, int]) -> None:
        for article_id, story_id in moves.items():
            m = self.members_by_id.get(article_id)
            if m is not None:
                self.members_of.get(m.story_id, set()).discard(article_id)
                self.members_of.setdefault(story_id, set()).add(article_id)
                self.members_by_id[article_id] = replace(m, story_id=story_id)

    def dirty_stories(self, limit: int) -> list[int]:
        return sorted(s for s in self.dirty if self.stories[s].article_count > 1)[:limit]

    def settle_single_article_stories(self) -> int:
        single = {s for s in self.dirty if self.stories[s].article_count <= 1}
        self.dirty -= single
        return len(single)

    def mark_refined(self, story_ids: Iterable[int]) -> None:
        self.dirty.difference_update(story_ids)

    def source_cities(self, source: str) -> tuple[dict[str, int], int]:
        cities, articles = self.sources.get(source, ({}, 0))
        return dict(cities), articles

    def record_document(
        self, source: str, keys: Sequence[str], terms: Sequence[str], cities: Sequence[str] = ()
    ) -> None:
        """Sentence counts at once; document frequencies as the SQL index keeps them: folded in
        every DF_FOLD_EVERY documents (each at once while fewer than DF_EAGER_DOCS are counted)."""
        for k in keys:
            self.sentence_docs[(source, k)] = self.sentence_docs.get((source, k), 0) + 1
        named, articles = self.sources.get(source, ({}, 0))
        self.sources[source] = (incident.count_cities(named, cities), articles + 1)
        self.pending.append(terms)
        self.documents += 1
        if self.documents % DF_FOLD_EVERY == 0 or self.n_docs < DF_EAGER_DOCS:
            for doc in self.pending:
                for t in doc:
                    self.df[t] = self.df.get(t, 0) + 1
            self.n_docs += len(self.pending)
            self.pending.clear()

    def resolve(self, story_id: int) -> int:
        """Follow recorded merges to the story an old id now lives in."""
        moved = {old: new for old, new, _ in self.merges}
        while story_id in moved:
            story_id = moved[story_id]
        return story_id
