"""Story linking's values: article features, story state, link and refinement outcomes.

Vectors are sparse ``{term: weight}`` maps; the small vector helpers live here because the
story state itself uses them (cached norms, the posted terms).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from operator import itemgetter

POSTING_TERMS = 40  # story features published in the inverted index
KEY_PREFIX = "@"  # incident evidence keys in the inverted index (vector terms never start with it)
# evidence keys selective enough to reach archived stories (worker.stories.evidence): full
# names, block addresses and corners; a day is shared by too many stories
LOOKUP_KINDS = ("pn:", "pb:", "px:")
# ...and a month together with a street, corner or neighbourhood ("the March shooting on
# Madison Lane"): the first report that names nobody is found by where and when
WHEN_WHERE = "ww:"
WHERE_KINDS = ("ps:", "ph:", "px:")
MAX_WHEN = 2  # months of a story or an article combined with...
MAX_WHERE = 4  # ...its most cited places


def when_where_keys(keys: Mapping[str, int]) -> list[str]:
    """Month x place lookup keys of a story's (or an article's) evidence keys, the most cited
    first: a follow-up months later that names no one reaches its story through them."""

    def top(prefix: tuple[str, ...] | str, k: int) -> list[str]:
        hits = sorted((-c, key) for key, c in keys.items() if key.startswith(prefix))
        return [key for _, key in hits[:k]]

    months = [m[3:] for m in top("tm:", MAX_WHEN)]
    places = top(WHERE_KINDS, MAX_WHERE)
    return sorted(f"{WHEN_WHERE}{m}|{p}" for m in months for p in places if len(p) <= 100)


WINDOW = timedelta(days=10)  # stories further than this in time are never compared


# cities counted per outlet, its most named (worker.stories.evidence.home_city); once as many have
# been named more than once, a city named for the first time is not kept: an outlet's home city
# is named from its first articles on
SOURCE_CITIES = 50
BOILERPLATE_MIN_DOCS = 3  # a sentence seen in this many earlier docs of one source is dropped
# Document frequencies are counted in batches: the linker sees them as of the last multiple of
# this many documents (one row written per article, ~300 counters folded per batch, not per article).
DF_FOLD_EVERY = 50
DF_EAGER_DOCS = 1000  # until this many documents are counted, each one is folded at once


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SentenceFeatures:
    """One sentence's features; ``key`` identifies the sentence text for boilerplate counts."""

    key: str
    terms: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class StoryFeatures:
    """Raw, state-free features of one article (no IDF yet: that is stream state)."""

    title: str
    published_at: datetime | None
    source: str
    language: str
    title_terms: tuple[tuple[str, float], ...]
    sentences: tuple[SentenceFeatures, ...]
    keys: tuple[str, ...] = ()  # who/where/when evidence (worker.stories.evidence)

    def vocabulary(self) -> frozenset[str]:
        """Every feature the article mentions (its document-frequency contribution)."""
        terms = {t for t, _ in self.title_terms}
        for s in self.sentences:
            terms.update(t for t, _ in s.terms)
        return frozenset(terms)


_TERM = itemgetter(0)
_WEIGHT = itemgetter(1)


def top_terms(vec: Mapping[str, float], k: int) -> dict[str, float]:
    if len(vec) <= k:
        return dict(vec)
    # by weight descending, ties by term: two stable sorts with C keys (a Python key function
    # per item was most of the cost; the order is the same as sorting by (-weight, term))
    items = sorted(vec.items(), key=_TERM)
    items.sort(key=_WEIGHT, reverse=True)
    return dict(items[:k])


def unit_vector(vec: Mapping[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in vec.values()))
    return {t: v / norm for t, v in vec.items()} if norm > 0 else {}


def dot(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    # shared terms only, in the same order as summing every product (a product with an absent
    # term adds 0.0, which leaves a float sum unchanged): the same value, ~40% less CPU
    if len(a) > len(b):
        a, b = b, a
    return sum([v * b[t] for t, v in a.items() if t in b], 0.0)


def specific_part(vec: Mapping[str, float]) -> dict[str, float]:
    """The who/where/when/how-many part of a vector (every kind but plain words, which never
    have a colon second: the tokeniser drops colons)."""
    return {t: v for t, v in vec.items() if t[1:2] == ":"}


def number_terms(vec: Mapping[str, float]) -> tuple[str, ...]:
    """The number, year and date terms of a vector, in its order."""
    return tuple(t for t in vec if t[:2] in ("n:", "y:", "d:"))


def norm(vec: Mapping[str, float]) -> float:
    return math.sqrt(sum(v * v for v in vec.values()))


# --------------------------------------------------------------------------------------
# Story state and decisions
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoryState:
    """What the linker needs to know about a stored story (persisted by the index)."""

    story_id: int
    centroid: Mapping[str, float]  # sum of member article vectors, truncated
    first_time: datetime
    last_time: datetime
    article_count: int
    sources: frozenset[str]
    title: str
    title_score: float
    keys: Mapping[str, int] = field(default_factory=dict)  # evidence keys of its articles, counted

    @cached_property
    def norm(self) -> float:
        return math.sqrt(sum(v * v for v in self.centroid.values()))

    @cached_property
    def specific(self) -> dict[str, float]:
        return specific_part(self.centroid)

    def similarity(self, other: StoryState) -> float:
        """Cosine of the two centroids (norms cached: candidate lists compare many pairs)."""
        denominator = self.norm * other.norm
        return dot(self.centroid, other.centroid) / denominator if denominator > 0 else 0.0

    @cached_property
    def specific_norm(self) -> float:
        return norm(self.specific)

    @cached_property
    def numbers(self) -> tuple[str, ...]:
        return number_terms(self.specific)

    def top_terms(self, k: int = 10) -> list[str]:
        return list(top_terms(self.centroid, k))

    def postings(self) -> dict[str, float]:
        """Centroid terms published in the inverted index, with unit-normalised weights, and
        the story's names and addresses, so that a follow-up months later finds it."""
        posts = unit_vector(top_terms(self.centroid, POSTING_TERMS))
        posts.update((KEY_PREFIX + k, 1.0) for k in sorted(self.keys) if k.startswith(LOOKUP_KINDS))
        posts.update((KEY_PREFIX + k, 1.0) for k in when_where_keys(self.keys))
        return posts


# --------------------------------------------------------------------------------------
# The per-article step over any index
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Member:
    """A linked article as the refinement pass sees it: its vector, time, site and title."""

    article_id: int
    story_id: int
    at: datetime
    vector: Mapping[str, float]
    source: str
    title: str
    keys: tuple[str, ...] = ()  # its incident evidence (worker.stories.evidence), stored with the vector
    #: its text is also another article's, under another headline (the two are not duplicates,
    #: see worker.dedupe.minhash.HEADLINE_WORDS): a sign-in prompt, which says nothing of its story
    shared_text: bool = False


@dataclass(frozen=True)
class LinkResult:
    """Outcome of linking one article: its story, whether new, and stories merged into it."""

    story_id: int
    created: bool
    score: float
    merged: tuple[int, ...]
    at: datetime
    state: StoryState


def epoch_seconds(t: datetime) -> float:
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return (t - _EPOCH).total_seconds()


def from_epoch(s: float) -> datetime:
    return _EPOCH + timedelta(seconds=s)


@dataclass(frozen=True)
class RefineOutcome:
    story_ids: tuple[int, ...]  # every story looked at (the population)
    moved: int
    created: tuple[int, ...]
    vanished: tuple[tuple[int, int], ...]  # (old story, story it was merged into)


@dataclass(frozen=True)
class LinkSubject:
    """A stored article as story linking sees it (``original_story_id`` and ``original_title``:
    its original's story and headline, when the article is a duplicate)."""

    article_id: int
    story_id: int | None
    original_story_id: int | None
    url: str
    title: str | None
    text: str
    published_at: datetime | None
    language: str | None
    created_at: datetime
    page_kind: str | None = None  # listings, forums, product pages... are stored but linked to no story
    dateline: str | None = None  # the wire dateline's place and agency, which normalisation took
    agency: str | None = None  # out of the text ("Baltimore", "AP"): where it happened
    original_title: str | None = None


_HEADLINE_WORD = re.compile(r"[^\W_]{3,}")


def same_headline(a: str | None, b: str | None) -> bool:
    """Two headlines of one text (a duplicate and its original): the same story unless they
    share under half their words (an unknown headline says nothing against it): a long text
    republished under another headline may be about another event (a wire story's update).
    Short texts are duplicates only under the same headline (``worker.dedupe.minhash``)."""
    wa, wb = set(_HEADLINE_WORD.findall((a or "").lower())), set(_HEADLINE_WORD.findall((b or "").lower()))
    if not wa or not wb:
        return True
    return len(wa & wb) / len(wa | wb) >= 0.5
