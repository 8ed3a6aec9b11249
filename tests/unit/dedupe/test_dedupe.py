"""The pure dedupe stage: fingerprints, exact verification, the decision rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from worker.dedupe.minhash import (
    BANDS,
    MemoryDuplicateIndex,
    check_duplicate,
    classify,
    fingerprint,
    similarity,
    text_shingles,
    verify,
)
from worker.model.dedupe import MIN_WORDS, DuplicateVerdict, IndexedArticle

DATA = Path(__file__).resolve().parents[2] / "data" / "dedupe"
STORY_A = (DATA / "story_a.txt").read_text(encoding="utf-8")
STORY_B = (DATA / "story_b.txt").read_text(encoding="utf-8")

BOILER_HEAD = (
    "Welcome to the Harbour Gazette, the independent voice of the coast since 1901. Sign up "
    "for our free newsletter and follow us on social media for breaking news, weather alerts "
    "and the best of local sport, culture and business every single morning."
)
BOILER_FOOT = (
    "The Harbour Gazette is owned by Coastline Media. Subscribe today for unlimited access to "
    "our journalism, the digital edition and exclusive offers. Comments are moderated. All "
    "rights reserved; no part of this page may be reproduced without written permission."
)


def wire_copy(body: str) -> str:
    paras = body.strip().split("\n")
    paras[0] = "SPRINGFIELD (AP) — " + paras[0]
    paras.insert(3, "Also Read: Mayor unveils harbour leisure centre plans")
    return "\n".join(
        ["By Jane Doe", *paras, "(Reporting by Ana Souza; Editing by Tom Becker)", "Copyright AP. All rights reserved."]
    )


def test_content_hash_ignores_case_punctuation_spacing_and_quote_style() -> None:
    reflowed = STORY_A.replace('"', "“").replace(", ", " , ").replace("\n", "\n\n").upper()
    assert fingerprint(reflowed).content_hash == fingerprint(STORY_A).content_hash
    assert fingerprint(STORY_A + " Extra words.").content_hash != fingerprint(STORY_A).content_hash


def test_band_keys_fit_a_bigint_and_are_deterministic() -> None:
    fp = fingerprint(STORY_A)
    assert len(fp.band_keys) == BANDS
    assert all(-(2**63) <= k < 2**63 for k in fp.band_keys)
    assert fp == fingerprint(STORY_A)
    assert fp.shingle_count == len(fp.shingles) > 100


def test_fingerprint_matches_golden_values() -> None:
    """Stored band keys stay valid only while this holds: a change means a reindex."""
    golden = json.loads((DATA / "golden_fingerprint.json").read_text(encoding="utf-8"))
    fp = fingerprint(STORY_A)
    assert fp.content_hash == golden["content_hash"]
    assert list(fp.band_keys[:6]) == golden["band_keys_head"]
    assert fp.shingle_count == golden["shingle_count"]


def test_short_texts_are_never_compared() -> None:
    stub = "Video unavailable in your region."
    fp = fingerprint(stub)
    assert fp.word_count < MIN_WORDS and not fp.comparable and fp.band_keys == ()
    index = MemoryDuplicateIndex()
    assert index.ingest(1, stub).kind is None
    assert index.ingest(2, stub).kind is None  # two stubs are not one article


def test_similarity_is_exact() -> None:
    new = text_shingles("one two three four five six seven")
    old = text_shingles("one two three four five six seven eight nine")
    sim = similarity(new, old)
    assert (sim.intersection, sim.new_size, sim.old_size) == (3, 3, 5)
    assert sim.jaccard == pytest.approx(3 / 5)
    assert sim.new_in_old == 1.0


def test_wire_copy_is_near_and_excerpt_is_excerpt() -> None:
    orig = text_shingles(STORY_A)
    kind, _ = classify(similarity(text_shingles(wire_copy(STORY_A)), orig))
    assert kind == "near"
    first_half = "\n".join(STORY_A.split("\n")[:3])
    kind, score = classify(similarity(text_shingles(first_half), orig))
    assert kind == "excerpt" and score > 0.9


def test_two_reports_of_one_event_are_not_duplicates() -> None:
    assert classify(similarity(text_shingles(STORY_B), text_shingles(STORY_A))) == (None, 0.0)


def test_shared_site_boilerplate_does_not_merge_different_stories() -> None:
    page_a = "\n".join([BOILER_HEAD, STORY_A, BOILER_FOOT])
    page_b = "\n".join([BOILER_HEAD, STORY_B, BOILER_FOOT])
    index = MemoryDuplicateIndex()
    assert index.ingest(1, page_a).kind is None
    assert index.ingest(2, page_b).kind is None
    # ...while the same story on that site is still found.
    assert index.ingest(3, "\n".join([BOILER_HEAD, wire_copy(STORY_A), BOILER_FOOT])).kind == "near"


def test_same_site_rule_keeps_short_stories_in_long_boilerplate_apart() -> None:
    short_a = "The harbour ferry moves to its winter timetable on Monday, the operator said."
    short_b = "Two fishing boats collided near the harbour wall; nobody was hurt, police said."
    page_a = "\n".join([BOILER_HEAD, short_a, BOILER_FOOT])
    page_b = "\n".join([BOILER_HEAD, short_b, BOILER_FOOT])
    # Across sites such pages would look like one article...
    assert classify(similarity(text_shingles(page_b), text_shingles(page_a)))[0] is not None
    # ...on their (shared) site they are not, and the index applies that.
    index = MemoryDuplicateIndex()
    assert index.ingest(1, page_a, site="gazette.test").kind is None
    assert index.ingest(2, page_b, site="gazette.test").kind is None
    # A real copy on the same site still agrees enough.
    assert index.ingest(3, page_a.replace("\n", "\n\n"), site="gazette.test").kind == "exact"


def test_short_text_repeated_on_one_site_is_a_stub_not_a_copy() -> None:
    stub = (
        "Subscribe to continue reading. Get unlimited digital access to our award-winning "
        "journalism for one dollar a week, cancel at any time. Already a subscriber? Log in."
    )
    assert MIN_WORDS <= fingerprint(stub).word_count < 50
    index = MemoryDuplicateIndex()
    assert index.ingest(1, stub, site="paper.test").kind is None
    assert index.ingest(2, stub, site="paper.test").kind is None
    # The same short text on another site is a syndicated brief: a copy.
    assert index.ingest(3, stub, site="other.test") == DuplicateVerdict("exact", 1, 1.0, 1.0, 1.0, 0, 1)


def test_verify_prefers_the_first_seen_original() -> None:
    fp = fingerprint(wire_copy(STORY_A))
    candidates = [
        IndexedArticle(7, STORY_A, duplicate_of=3),  # a copy of article 3
        IndexedArticle(5, STORY_A, duplicate_of=None),
        IndexedArticle(9, STORY_B, duplicate_of=None),
    ]
    verdict = verify(fp, candidates)
    assert (verdict.kind, verdict.original_id, verdict.matched_id) == ("near", 3, 7)
    assert verify(fp, [IndexedArticle(9, STORY_B)]) == DuplicateVerdict(None, None, 0.0, 0.0, 0.0, 1, None)


def test_memory_index_flow_and_redelivery() -> None:
    index = MemoryDuplicateIndex()
    assert index.ingest(1, STORY_A).kind is None
    assert index.ingest(2, STORY_B).kind is None
    mirror = index.ingest(3, STORY_A.replace("\n", "\n\n"))
    assert (mirror.kind, mirror.original_id) == ("exact", 1)
    wire = index.ingest(4, wire_copy(STORY_A))
    assert (wire.kind, wire.original_id) == ("near", 1)
    # A re-delivered task re-checks article 4: it must not find itself, and
    # registering it again changes nothing.
    fp = fingerprint(wire_copy(STORY_A))
    assert check_duplicate(fp, index, exclude_id=4).original_id == 1
    before = index.candidates(fp.band_keys, limit=100)
    index.add(4, fp)
    assert index.candidates(fp.band_keys, limit=100) == before


PROMPT = (
    "Sign in to continue reading. Already a subscriber? Log in to your account to read this story. "
    "Get unlimited digital access for 99 cents for the first month. Cancel anytime."
)
BRIEF = (
    "A 19-year-old man was shot and wounded late Saturday in the 4100 block of West Monroe "
    "Street, police said. He was taken to Mount Sinai Hospital in fair condition. No one is in custody."
)


def test_a_short_text_under_another_headline_is_not_a_copy() -> None:
    """One network's sign-in prompt on the paywalled pages of its sites, each under its own
    story's headline, is not one article; a wire brief under the wire's headline still is."""
    assert fingerprint(PROMPT).comparable and fingerprint(BRIEF).comparable
    index = MemoryDuplicateIndex()
    assert index.ingest(1, PROMPT, site="herald.test", title="Man shot in Austin").kind is None
    assert index.ingest(2, PROMPT, site="courier.test", title="Woman killed in Sherman Park shooting").kind is None
    # the first page with that text is another story's: a copy under this headline is still found
    again = index.ingest(3, PROMPT, site="post.test", title="Woman killed in Sherman Park shooting")
    assert (again.original_id, again.jaccard) == (2, 1.0)
    assert index.ingest(4, PROMPT + " Subscribe today.", site="times.test", title="Man shot in Austin").kind == "near"
    assert index.ingest(5, PROMPT, site="news.test", title="").original_id == 1  # no headline: the text decides
    # templated headlines share most words across stories: still not one
    coroner = "Coroner IDs 48-year-old killed in {} shooting"
    assert index.ingest(6, PROMPT, site="kcsm.test", title=coroner.format("Houston")).kind is None
    assert index.ingest(7, PROMPT, site="kmbc.test", title=coroner.format("Kansas City")).kind is None

    index = MemoryDuplicateIndex()
    assert index.ingest(1, BRIEF, site="apnews.test", title="Man wounded in West Garfield Park shooting").kind is None
    copy = index.ingest(2, BRIEF, site="wgn.test", title="Man wounded in West Garfield Park shooting, police say")
    assert (copy.kind, copy.original_id) == ("exact", 1)


def test_a_long_text_is_a_copy_whatever_its_headline() -> None:
    index = MemoryDuplicateIndex()
    assert index.ingest(1, STORY_A, site="a.test", title="Harbour plan approved").kind is None
    copy = index.ingest(2, wire_copy(STORY_A), site="b.test", title="Council says yes to the seafront scheme")
    assert (copy.kind, copy.original_id) == ("near", 1)
