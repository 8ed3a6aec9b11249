"""Duplicate detection's values: an article's fingerprint and the verdict on it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What the index stores and looks up for one text.

    ``band_keys`` are signed 64-bit integers, ready for a ``BIGINT`` column;
    they are empty for texts too short to be compared (below ``MIN_WORDS``).
    ``shingles`` is kept for exact verification and is never stored.
    """

    content_hash: str
    signature: tuple[int, ...] = field(repr=False)
    band_keys: tuple[int, ...] = field(repr=False)
    shingle_count: int
    word_count: int
    shingles: frozenset[str] = field(repr=False, compare=False)

    @property
    def comparable(self) -> bool:
        return self.word_count >= MIN_WORDS


@dataclass(frozen=True, slots=True)
class IndexedArticle:
    """A candidate as the index hands it back for verification."""

    id: int
    text: str
    duplicate_of: int | None = None
    site: str = ""  # worker.model.urls.site_of(url); "" when unknown
    title: str = ""  # the article's headline; "" when unknown (see minhash.HEADLINE_WORDS)

    @property
    def root_id(self) -> int:
        return self.duplicate_of if self.duplicate_of is not None else self.id


@dataclass(frozen=True, slots=True)
class DuplicateVerdict:
    """``kind`` is None for an original; ``original_id`` is then None too.

    ``score`` is the exact similarity that decided (1.0 for exact, Jaccard for
    near, containment for excerpt); ``jaccard`` and ``containment`` are kept
    for diagnostics and for the quality report.
    """

    kind: DuplicateKind | None
    original_id: int | None
    score: float
    jaccard: float = 0.0
    containment: float = 0.0
    candidates_checked: int = 0
    #: the stored article that verified (``original_id`` is its root)
    matched_id: int | None = None

    @property
    def is_duplicate(self) -> bool:
        return self.kind is not None


#: Texts with fewer words are never called duplicates (empty pages, stubs,
#: "video unavailable" notices would otherwise all be one article).
MIN_WORDS = 15


DuplicateKind = Literal["exact", "near", "excerpt"]


ORIGINAL = DuplicateVerdict(kind=None, original_id=None, score=0.0)


#: How many candidates a check verifies at most (the most similar first).
MAX_VERIFY = 8


class DuplicateIndex(Protocol):
    """Where fingerprints of stored articles live (memory or database)."""

    def find_exact(self, content_hash: str) -> IndexedArticle | None:
        """The first-seen stored article whose normalised text has this hash
        (its ``text`` may be left empty; its ``site`` and ``title`` are needed)."""
        ...

    def candidates(self, band_keys: Sequence[int], limit: int = MAX_VERIFY) -> list[int]:
        """Ids sharing at least one band, most shared bands first, then lowest id."""
        ...

    def load(self, ids: Sequence[int]) -> list[IndexedArticle]:
        """Text, ``duplicate_of``, site and title of the given ids (any order)."""
        ...

    def add(self, article_id: int, fp: Fingerprint) -> None:
        """Register a stored article; adding the same id twice changes nothing."""
        ...


class DuplicateCheck(Protocol):
    """The dedupe stage's decision (``worker.dedupe.minhash.check_duplicate``), handed to
    storage by the service layer so that storage runs it under its locks without deciding."""

    def __call__(
        self,
        fp: Fingerprint,
        index: DuplicateIndex,
        *,
        exclude_id: int | None = None,
        site: str = "",
        title: str | None = None,
    ) -> DuplicateVerdict: ...


FingerprintOf = Callable[[str], Fingerprint]
