"""Duplicate detection: one article however many times and places it appears.

The stage is pure: :func:`fingerprint` turns cleaned article text into a
:class:`Fingerprint` (content hash, MinHash signature, LSH band keys) and
:func:`verify` decides on a handful of stored candidates with an *exact*
similarity over word-shingle sets, so the sketch only proposes and never
decides. :func:`check_duplicate` ties both to a :class:`DuplicateIndex`, the
one seam where storage comes in (in memory for tests and benches,
``storage.dedupe_index`` for the database).

Why these choices:

* Word shingles of the normalised text (NFKC, case-folded, punctuation
  dropped) make the result blind to quote styles, tokenisation and spacing.
* 128 permutations (rensa ``RMinHash``, ~7 µs per article here) cut into 42
  bands of 3 rows: a pair with Jaccard 0.5 becomes a candidate with
  probability 0.996, at 0.4 with 0.94, unrelated pages (Jaccard < 0.05)
  almost never. Candidates are cheap to reject; misses are lost for good.
* Decisions use both Jaccard and containment because wire copies of short
  stories add datelines, bylines, footers and inserts (low Jaccard, but the
  original is almost entirely contained), and excerpts are contained in the
  original. Containment alone would merge short pages that share a site's
  boilerplate, so the smaller text must also bring almost nothing new and
  the shared part must be substantial, and pages of one site must agree
  more than pages of two sites (their boilerplate is shared).
* A short text is one article with another only under the same headline:
  a network of sites shows the same sign-in or newsletter prompt under
  every headline, while a brief copied from the wire keeps its headline.
"""

from __future__ import annotations

import hashlib
import re
import struct
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import rensa

from worker.model.dedupe import (
    MAX_VERIFY,
    MIN_WORDS,
    ORIGINAL,
    DuplicateIndex,
    DuplicateKind,
    DuplicateVerdict,
    Fingerprint,
    IndexedArticle,
)

#: Bump when anything below changes the band keys or hashes of a text: stored
#: rows then need a rebuild (``article_bands`` is derived data).
FINGERPRINT_VERSION = 1

SHINGLE_WORDS = 5
NUM_PERM = 128
BANDS = 42
ROWS_PER_BAND = 3
MINHASH_SEED = 0x6E657773  # "news"


#: Decision thresholds (exact set similarities over word 5-shingles).
NEAR_JACCARD = 0.6
CONTAINED = 0.8
#: A contained text may bring at most this share of new shingles *and* the
#: shared part must hold at least MIN_SHARED shingles.
MIN_SHARED = 12
#: Sizes within this ratio count as the same article ("near"); a clearly
#: smaller contained copy is an "excerpt".
EXCERPT_SIZE_RATIO = 0.75
#: Pages of one site share its header, footer and sidebars; when extraction
#: lets some through, short different stories on one site look alike. Pairs
#: from the same site must therefore agree more (measured on the ECB+ set:
#: different stories under ~155 words of shared boilerplate reach Jaccard
#: 0.75 and containment 0.89 when they are under 30 words; two one-sentence
#: versions of one wire lede under that boilerplate reach Jaccard 0.85).
SAME_SITE_JACCARD = 0.9
SAME_SITE_CONTAINED = 0.95
#: Short texts repeated on one site are stubs far more often than articles
#: (paywall and consent notices, "this video is unavailable"): on one site a
#: text must have this many words to be called a copy, exact or near.
SAME_SITE_MIN_WORDS = 50
#: Texts this short (the smaller of a pair) are copies only under the same headline (see
#: :func:`headline_confirms`): one CMS serves the same prompt ("Sign in to continue reading.
#: Already a subscriber? ...") on every paywalled page of every site of its network, each
#: under its own story's headline.
HEADLINE_WORDS = 50


_HEADLINE_SHINGLES = HEADLINE_WORDS - SHINGLE_WORDS + 1
_WORD = re.compile(r"\w+")
_BAND_STRUCT = struct.Struct(f"<I{ROWS_PER_BAND}I")


@dataclass(frozen=True, slots=True)
class Similarity:
    """Exact overlap of two shingle sets (``new`` against ``old``)."""

    intersection: int
    new_size: int
    old_size: int

    @property
    def jaccard(self) -> float:
        union = self.new_size + self.old_size - self.intersection
        return self.intersection / union if union else 0.0

    @property
    def new_in_old(self) -> float:
        return self.intersection / self.new_size if self.new_size else 0.0

    @property
    def old_in_new(self) -> float:
        return self.intersection / self.old_size if self.old_size else 0.0


def words(text: str) -> list[str]:
    """Case-folded word tokens: punctuation, quote styles and spacing vanish."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def shingle_set(tokens: Sequence[str], size: int = SHINGLE_WORDS) -> frozenset[str]:
    if not tokens:
        return frozenset()
    if len(tokens) <= size:
        return frozenset((" ".join(tokens),))
    # zip of the shifted lists (shorter ones end it): a third of the time of slicing per position
    return frozenset(map(" ".join, zip(*(tokens[i:] for i in range(size)), strict=False)))


def text_shingles(text: str) -> frozenset[str]:
    return shingle_set(words(text))


def _band_keys(signature: Sequence[int]) -> tuple[int, ...]:
    keys: list[int] = []
    for band in range(BANDS):
        rows = signature[band * ROWS_PER_BAND : (band + 1) * ROWS_PER_BAND]
        digest = hashlib.blake2b(_BAND_STRUCT.pack(band, *rows), digest_size=8).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return tuple(keys)


def fingerprint(text: str) -> Fingerprint:
    """Fingerprint cleaned article text (body only, no title)."""
    tokens = words(text)
    normalised = " ".join(tokens)
    shingles = shingle_set(tokens)
    content_hash = hashlib.sha256(normalised.encode("utf-8")).hexdigest()
    if len(tokens) < MIN_WORDS:
        return Fingerprint(content_hash, (), (), len(shingles), len(tokens), shingles)
    sketch = rensa.RMinHash(NUM_PERM, MINHASH_SEED)
    sketch.update(list(shingles))
    signature = tuple(sketch.digest())
    return Fingerprint(content_hash, signature, _band_keys(signature), len(shingles), len(tokens), shingles)


def headline_confirms(new: str | None, stored: str | None) -> bool:
    """Every word of the shorter headline is in the longer ("Man wounded in Austin shooting",
    "..., police say"). Word overlap would not do: templated headlines ("Coroner IDs
    48-year-old killed in Houston shooting", "... in Kansas City shooting") share most of their
    words across stories. A new page without a headline is judged by its text; a stored page
    without one confirms no headline (nor the headline of the original it may be a copy of)."""
    wa = set(words(new or ""))
    if not wa:
        return True
    wb = set(words(stored or ""))
    return bool(wb) and (wa <= wb or wb <= wa)


def similarity(new: frozenset[str], old: frozenset[str]) -> Similarity:
    small, large = (new, old) if len(new) <= len(old) else (old, new)
    return Similarity(len(small & large), len(new), len(old))


def classify(sim: Similarity, *, same_site: bool = False) -> tuple[DuplicateKind | None, float]:
    """Decide one pair from its exact similarity; the heart of "never merge".

    * near: high Jaccard, or one text almost wholly inside the other at a
      comparable size (a wire copy with dateline, byline, footer, inserts);
    * excerpt: one text almost wholly inside a clearly longer one;
    * anything else, including a shared boilerplate block around different
      stories, is not a duplicate; ``same_site`` pairs need more agreement.
    """
    if sim.intersection < MIN_SHARED:
        return None, 0.0
    if same_site and min(sim.new_size, sim.old_size) < SAME_SITE_MIN_WORDS - SHINGLE_WORDS + 1:
        return None, 0.0
    near_jaccard, contained_min = (SAME_SITE_JACCARD, SAME_SITE_CONTAINED) if same_site else (NEAR_JACCARD, CONTAINED)
    jaccard = sim.jaccard
    if jaccard >= near_jaccard:
        return "near", jaccard
    small_size = min(sim.new_size, sim.old_size)
    large_size = max(sim.new_size, sim.old_size)
    contained = sim.intersection / small_size
    if contained < contained_min:
        return None, 0.0
    if small_size / large_size >= EXCERPT_SIZE_RATIO:
        return "near", jaccard
    return "excerpt", contained


def verify(
    fp: Fingerprint,
    candidates: Iterable[IndexedArticle],
    *,
    exclude_id: int | None = None,
    site: str = "",
    title: str | None = None,
) -> DuplicateVerdict:
    """Exact verification of LSH candidates; the first-seen original wins.

    Among every candidate that verifies, the verdict points at the lowest
    root id (a candidate that is itself a copy stands for its original).
    ``site`` is the new article's ``site_of(url)``; candidates of the same
    site are held to the stricter same-site thresholds. ``title`` is its
    headline: short texts must agree on it (see HEADLINE_WORDS).
    """
    if not fp.comparable:
        return ORIGINAL
    best: DuplicateVerdict | None = None
    checked = 0
    for cand in candidates:
        if cand.id == exclude_id or cand.root_id == exclude_id:
            continue
        if best is not None and cand.root_id >= (best.original_id or 0):
            continue  # cannot beat the match we already have
        checked += 1
        sim = similarity(fp.shingles, text_shingles(cand.text))
        kind, score = classify(sim, same_site=bool(site) and cand.site == site)
        if kind is None:
            continue
        if min(sim.new_size, sim.old_size) < _HEADLINE_SHINGLES and not headline_confirms(title, cand.title):
            continue  # the same short prompt under another story's headline
        containment = sim.intersection / max(1, min(sim.new_size, sim.old_size))
        best = DuplicateVerdict(
            kind=kind,
            original_id=cand.root_id,
            score=round(score, 4),
            jaccard=round(sim.jaccard, 4),
            containment=round(containment, 4),
            matched_id=cand.id,
        )
    if best is None:
        return DuplicateVerdict(kind=None, original_id=None, score=0.0, candidates_checked=checked)
    return DuplicateVerdict(
        best.kind,
        best.original_id,
        best.score,
        best.jaccard,
        best.containment,
        checked,
        best.matched_id,
    )


def check_duplicate(
    fp: Fingerprint,
    index: DuplicateIndex,
    *,
    exclude_id: int | None = None,
    site: str = "",
    title: str | None = None,
    max_verify: int = MAX_VERIFY,
) -> DuplicateVerdict:
    """Exact hash first, then LSH candidates verified exactly.

    ``exclude_id`` lets a re-delivered task re-check an article that is
    already stored without finding itself; ``site`` is ``site_of(url)`` and
    ``title`` the headline of the new article (see :func:`verify`).
    """
    if not fp.comparable:
        return ORIGINAL
    exact = index.find_exact(fp.content_hash)
    if exact is not None and exact.id != exclude_id and exact.root_id != exclude_id:
        if site and exact.site == site and fp.word_count < SAME_SITE_MIN_WORDS:
            return ORIGINAL  # a stub repeated on one site (see SAME_SITE_MIN_WORDS)
        if fp.word_count >= HEADLINE_WORDS or headline_confirms(title, exact.title):
            return DuplicateVerdict("exact", exact.root_id, 1.0, 1.0, 1.0, 0, exact.id)
        # the first page with this short text is another story's: look for one under this headline
    ids = index.candidates(fp.band_keys, limit=max_verify + (1 if exclude_id else 0))
    ids = [i for i in ids if i != exclude_id][:max_verify]
    if not ids:
        return ORIGINAL
    order = {article_id: rank for rank, article_id in enumerate(ids)}
    stored = sorted(index.load(ids), key=lambda art: order[art.id])
    return verify(fp, stored, exclude_id=exclude_id, site=site, title=title)


class MemoryDuplicateIndex:
    """In-process index for tests and the quality bench (same contract as SQL)."""

    def __init__(self) -> None:
        self._bands: dict[int, set[int]] = {}
        self._hashes: dict[str, int] = {}
        self._texts: dict[int, str] = {}
        self._duplicate_of: dict[int, int | None] = {}
        self._sites: dict[int, str] = {}
        self._titles: dict[int, str] = {}

    def store(self, article_id: int, text: str, duplicate_of: int | None, site: str = "", title: str = "") -> None:
        """What the articles table holds in the database version."""
        self._texts[article_id] = text
        self._duplicate_of[article_id] = duplicate_of
        self._sites[article_id] = site
        self._titles[article_id] = title

    def find_exact(self, content_hash: str) -> IndexedArticle | None:
        article_id = self._hashes.get(content_hash)
        if article_id is None:
            return None
        return self.load([article_id])[0]

    def candidates(self, band_keys: Sequence[int], limit: int = MAX_VERIFY) -> list[int]:
        shared: dict[int, int] = {}
        for key in band_keys:
            for article_id in self._bands.get(key, ()):
                shared[article_id] = shared.get(article_id, 0) + 1
        ranked = sorted(shared.items(), key=lambda item: (-item[1], item[0]))
        return [article_id for article_id, _ in ranked[:limit]]

    def load(self, ids: Sequence[int]) -> list[IndexedArticle]:
        return [IndexedArticle(i, self._texts[i], self._duplicate_of[i], self._sites[i], self._titles[i]) for i in ids]

    def add(self, article_id: int, fp: Fingerprint) -> None:
        if not fp.comparable:
            return
        current = self._hashes.get(fp.content_hash)
        if current is None or article_id < current:
            self._hashes[fp.content_hash] = article_id
        for key in fp.band_keys:
            self._bands.setdefault(key, set()).add(article_id)

    def ingest(self, article_id: int, text: str, site: str = "", title: str = "") -> DuplicateVerdict:
        """Check then register, as the ingest path does inside its lock."""
        fp = fingerprint(text)
        verdict = check_duplicate(fp, self, site=site, title=title)
        self.store(article_id, text, verdict.original_id, site, title)
        self.add(article_id, fp)
        return verdict
