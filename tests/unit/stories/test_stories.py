"""Story linker: features, decisions and the in-memory stream (real behaviour, no DB)."""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from bench.data import shared_data
from worker.model import story as story_model
from worker.stories import link as st

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def _terms(f: story_model.StoryFeatures) -> set[str]:
    return set(f.vocabulary())


def test_features_find_names_numbers_and_dates() -> None:
    text = (
        "After skipping rehab, Lindsay Lohan, 26, checked into the Betty Ford Center on "
        "May 2, 2013. Lohan was previously at Betty Ford in 2010, her lawyer said."
    )
    f = st.story_features("Lohan enters rehab", text, None, "a.example", "en")
    terms = _terms(f)
    assert {"e:lindsay lohan", "e:lohan", "e:betty ford center", "e:betty ford"} <= terms
    assert {"n:26", "d:5-2", "y:2013", "y:2010"} <= terms
    assert "e:after" not in terms  # capitalised only because it starts the sentence
    assert f == st.story_features("Lohan enters rehab", text, None, "a.example", "en")


def test_word_features_are_remembered_per_stemmer() -> None:
    """Each word's feature is memoised per stemmer: the same words under a language without a
    stemmer stay unstemmed, and an English article after it is stemmed again."""
    text = "Firefighters were battling fires. Five were hurt on Monday, officials said."
    english = st.story_features("Fires", text, None, "x", "en")
    other = st.story_features("Fires", text, None, "x", "xx")  # no Snowball stemmer
    assert {"firefight", "battl", "fire", "offici"} <= _terms(english)
    assert {"firefighters", "battling", "fires", "officials"} <= _terms(other)
    assert {"n:5", "d:mon"} <= _terms(english) & _terms(other)  # counts and days, not words
    assert st.story_features("Fires", text, None, "x", "en") == english


def test_title_case_headline_keeps_only_known_names() -> None:
    body = "Actress Lindsay Lohan has checked into the Betty Ford Center in California."
    f = st.story_features("Lindsay Lohan Checks Into Betty Ford Center", body, None, "x", "en")
    title = {t for t, _ in f.title_terms}
    assert "e:lohan" in title and "e:ford" in title
    assert "e:checks" not in title and "e:into" not in title


def test_numeric_dates_and_times_of_day() -> None:
    f = st.story_features("", "Vote held 27/09/2013 at 10:45 in Ashgabat, Turkmenistan.", None, "x")
    terms = _terms(f)
    assert {"d:9-27", "y:2013"} <= terms
    assert not any(t in terms for t in ("n:10", "n:45", "n:27"))


def test_article_time_prefers_publication_but_not_the_future() -> None:
    arrived = T0 + timedelta(days=30)
    early = st.story_features("t", "x y z", T0, "s")
    assert st.article_time(early, arrived) == T0
    assert st.article_time(st.story_features("t", "x", None, "s"), arrived) == arrived
    future = st.story_features("t", "x", arrived + timedelta(days=40), "s")
    assert st.article_time(future, arrived) == arrived


def _article(town: str, name: str, age: int, street: str, variant: int = 0) -> tuple[str, str]:
    leads = [
        f"A fire destroyed a house on {street} Street in {town} on Tuesday.",
        f"Firefighters fought a blaze at a home on {street} Street in {town}.",
    ]
    rest = [
        f"{name}, {age}, was taken to hospital with burns, officials in {town} said.",
        f"Neighbours said {name} had lived on {street} Street for years.",
        "Crews from three stations spent two hours at the scene.",
    ]
    title = f"{town} house fire injures {name}" if variant % 2 == 0 else f"Fire on {street} Street"
    return title, " ".join([leads[variant % 2], *rest[variant % 3 :], *rest[: variant % 3]])


def test_time_window_keeps_look_alikes_apart_and_follow_ups_in() -> None:
    index = st.MemoryStoryIndex()
    first = st.link_article(index, st.story_features(*_article("Ashford", "Mary Novak", 54, "Mill"), T0, "a"), T0)
    same_day = T0 + timedelta(hours=12)
    follow = st.link_article(
        index,
        st.story_features(*_article("Ashford", "Mary Novak", 54, "Mill", 1), same_day, "b"),
        same_day,
    )
    later = T0 + timedelta(days=40)
    again = st.link_article(
        index,
        st.story_features(*_article("Ashford", "Mary Novak", 54, "Mill", 2), later, "c"),
        later,
    )
    assert first.created and not follow.created and follow.story_id == first.story_id
    # beyond the window only incident evidence joins: the same person, age and street do
    assert not again.created and again.story_id == first.story_id
    much_later = later + timedelta(days=40)
    words_only = st.link_article(
        index,
        st.story_features("Fire on Mill Street", "Firefighters fought a blaze at a home in Ashford.", much_later, "d"),
        much_later,
    )
    assert words_only.created  # the same words without a name or an address: a new story


def test_same_kind_different_people_and_places_do_not_link() -> None:
    index = st.MemoryStoryIndex()
    a = st.link_article(index, st.story_features(*_article("Ashford", "Mary Novak", 54, "Mill"), T0, "a"), T0)
    t = T0 + timedelta(hours=3)
    b = st.link_article(index, st.story_features(*_article("Kelso", "Paul Ortega", 31, "Oak", 1), t, "b"), t)
    assert a.created and b.created and a.story_id != b.story_id


_BOILER = (
    "Subscribe to the Valley Courier for unlimited access to local news. "
    "You must enter the characters shown in the image to continue reading this story. "
    "Copyright Valley Courier Media Group, all rights reserved, do not redistribute."
)
_UNRELATED = [
    "The school board approved a new budget for the library renovation.",
    "Heavy rain flooded the underpass near the railway station overnight.",
    "A local bakery won a regional award for its sourdough bread.",
    "The council voted to extend opening hours at the swimming pool.",
    "A retired teacher published a book about the history of the harbour.",
    "Volunteers planted two hundred trees along the river path.",
    "The football club signed a young goalkeeper from the academy.",
    "A new bus route will connect the hospital with the town centre.",
]


def _run_site(sources: list[str]) -> list[story_model.LinkResult]:
    index = st.MemoryStoryIndex()
    out = []
    for i, (body, source) in enumerate(zip(_UNRELATED, sources, strict=True)):
        t = T0 + timedelta(hours=i)
        f = st.story_features("", f"{body}\n{_BOILER}", t, source)
        out.append(st.link_article(index, f, t))
    return out


def test_site_boilerplate_does_not_link_unrelated_articles() -> None:
    # control: without a shared source the paywall text is all these articles share, and it
    # links them
    control = _run_site([f"site{i}.example" for i in range(len(_UNRELATED))])
    assert sum(not r.created for r in control) >= 4
    # one site: once its boilerplate has been seen on BOILERPLATE_MIN_DOCS pages it is ignored
    same = _run_site(["courier.example"] * len(_UNRELATED))
    assert all(r.created for r in same[story_model.BOILERPLATE_MIN_DOCS :])


def _state(sid: int, vec: dict[str, float], first: datetime, count: int = 2) -> story_model.StoryState:
    return story_model.StoryState(
        story_id=sid,
        centroid={t: v * count for t, v in vec.items()},
        first_time=first,
        last_time=first + timedelta(hours=2),
        article_count=count,
        sources=frozenset({f"s{sid}"}),
        title=f"story {sid}",
        title_score=0.5,
    )


def test_bridging_article_merges_into_the_oldest_story() -> None:
    a = {"e:klitschko": 0.6, "e:thompson": 0.5, "fight": 0.4, "n:6": 0.48}
    b = {"e:klitschko": 0.6, "e:thompson": 0.45, "fight": 0.5, "knockout": 0.44}
    art = st._unit({"e:klitschko": 0.6, "e:thompson": 0.5, "fight": 0.45, "n:6": 0.3})
    older = _state(7, a, T0)
    newer = _state(3, b, T0 + timedelta(hours=5))
    d = st.Linker().decide(art, T0 + timedelta(hours=6), [newer, older])
    assert d.story_id == 7 and d.merges == (3,)
    merged = st.merge_states(older, [newer])
    assert merged.article_count == 4 and merged.sources == {"s7", "s3"}
    assert merged.last_time == newer.last_time and merged.first_time == older.first_time
    # an unrelated story in the candidate list is neither chosen nor merged
    other = _state(9, {"e:fury": 0.7, "e:wembley": 0.7}, T0)
    d2 = st.Linker().decide(art, T0 + timedelta(hours=6), [other, older])
    assert d2.story_id == 7 and d2.merges == ()


def test_memory_index_candidates_respect_the_window() -> None:
    index = st.MemoryStoryIndex()
    s = index.create_story(st.new_story_state(0, {"e:x": 1.0}, T0, "s", "t"))
    assert index.candidates(["e:x"], T0 + timedelta(days=3), story_model.WINDOW, 5) == [s]
    assert index.candidates(["e:x"], T0 + story_model.WINDOW + timedelta(days=1), story_model.WINDOW, 5) == []


def _ecb(topics: set[str]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    path = shared_data() / "ecbplus.jsonl"
    if not path.exists():
        pytest.skip("shared ECB+ data not available")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    inside = [r for r in rows if str(r["topic"]) in topics]
    outside = [r for r in rows if str(r["topic"]) not in topics]
    return inside, outside


def test_ecbplus_slice_look_alike_events_stay_apart() -> None:
    topics = {"1", "3", "6"}  # rehab check-ins, prison escapes, film-festival casting news
    docs, background = _ecb(topics)
    index = st.MemoryStoryIndex()
    # document frequencies from the other topics: a deployed linker has seen earlier news
    for r in background:
        f = st.story_features(r["title"], r["text"], None, f"bg:{r['id']}", "en")
        index.record_document(f.source, [], sorted(f.vocabulary()))
    docs.sort(key=lambda r: r["id"])
    random.Random(0).shuffle(docs)
    assigned: dict[str, int] = {}
    for i, r in enumerate(docs):
        f = st.story_features(r["title"], r["text"], None, f"doc:{r['id']}", "en")
        assigned[r["id"]] = st.link_article(index, f, T0 + timedelta(minutes=i)).story_id
    story_of = {k: index.resolve(v) for k, v in assigned.items()}
    events: dict[str, Counter[int]] = defaultdict(Counter)
    for r in docs:
        events[r["event"]][story_of[r["id"]]] += 1
    assert len(events) == 2 * len(topics)
    for topic in topics:
        ecb, plus = events[f"{topic}-ecb"], events[f"{topic}-ecbplus"]
        assert not set(ecb) & set(plus), f"topic {topic}: look-alike events share a story"
    for event, stories in events.items():
        main = stories.most_common(1)[0][1]
        assert main / sum(stories.values()) >= 0.6, f"{event} scattered: {stories}"


def test_tokens_mixing_digits_and_letters_are_words_not_counts() -> None:
    """ "76ers" is a team and "IE8" a product: read as the number 76 or 8 (weighted like a
    casualty count) they tied unrelated basketball or browser stories together."""
    f = st.story_features(
        "76ers fire coach", "The 76ers fired their coach. IE8 users got a patch on 12th May.", None, "x"
    )
    terms = _terms(f)
    assert {"76ers", "ie8", "d:5-12"} <= terms
    assert not any(t in terms for t in ("n:76", "n:8", "n:12"))
    assert "12th" in _terms(st.story_features("", "Capaldi is the 12th Doctor.", None, "x"))


def test_no_feature_is_longer_than_the_story_term_column() -> None:
    """A title-cased headline is not one long name (it overflowed VARCHAR(200) in production)."""
    title = "Tyler Cup Obituary - Kensington, CT"
    text = " ".join(["The Tyler Cup Memorial Service For The Kensington Connecticut Family Gathering Of Friends"] * 3)
    text += " " + "x" * 400 + " and Mr " + "Supercalifragilistic" * 20 + " spoke."
    features = st.story_features(title, text, None, source="example.com", language="en")
    terms = [term for term, _ in features.title_terms] + [term for s in features.sentences for term, _ in s.terms]
    assert terms, "the article has features at all"
    assert max(len(term) for term in terms) <= st.MAX_TERM_CHARS
    assert all(len(term.split()) <= st.MAX_NAME_WORDS for term in terms if term.startswith("e:"))


def test_lower_casing_keeps_every_character_class_of_the_tokeniser() -> None:
    """The sentence key lower-cases a sentence's own tokens instead of tokenising the
    lower-cased sentence: the same only while lower-casing maps each character to one character
    of the same class for the token pattern (a character that becomes several, "İ" today, is
    keyed the long way). A Unicode version of Python that breaks it fails here."""
    import re
    import sys

    classes = [re.compile(p) for p in (r"[0-9]", r"\d", r"\w", r"[^\W\d_]", r"[^\W_]", r"['’/.:,-]")]
    for cp in range(sys.maxunicode + 1):
        c = chr(cp)
        low = c.lower()
        if low != c and len(low) == 1:
            assert [bool(rx.fullmatch(c)) for rx in classes] == [bool(rx.fullmatch(low)) for rx in classes], hex(cp)


@pytest.mark.parametrize(
    "sentence",
    [
        "Police in Chicago said the 23-year-old man was shot on Main Street at 10:45 p.m.",
        "İSTANBUL'da İzmir yolunda kaza oldu, dört kişi yaralandı.",  # İ: two characters lower-cased
        "Η ΟΔΟΣ.ΑΘΗΝΑ ΚΑΙ ΠΑΝΕΠΙΣΤΗΜΙΟΥ ΕΚΛΕΙΣΕ ΣΉΜΕΡΑ",  # Σ: lower-cased by its context (final sigma)
        "Die STRAẞE in München wurde am 27.09.2013 gesperrt, sagte die Polizei.",
        "ǅemal Bijedić and the KELVIN sign K met Ⅻ officials on the 12th in ǈubljana.",
    ],
)
def test_sentence_key_is_the_hash_of_the_lower_cased_sentence_tokens(sentence: str) -> None:
    import hashlib

    expected = hashlib.blake2b(
        " ".join(st._TOKEN_RE.findall(sentence.lower())).encode("utf-8"), digest_size=8
    ).hexdigest()
    assert st._sentence_key(sentence, st._sentence_tokens(sentence)) == expected


def test_a_very_long_page_is_read_for_words_up_to_its_first_sentences_and_for_evidence_whole() -> None:
    filler = [f"Council member number {i} spoke about the budget at length." for i in range(st.MAX_SENTENCES)]
    tail = [
        "Zebulon Quartermaine, 34, was arrested in the 1200 block of West Michigan Avenue.",
        "The xylophone museum reopened.",
    ]
    text = " ".join(filler + tail)
    f = st.story_features("Budget debate", text, datetime(2024, 3, 5, tzinfo=UTC), "a.example")
    assert len(f.sentences) == st.MAX_SENTENCES
    words = f.vocabulary()
    assert "budget" in words
    assert not any("xylophon" in t or "quartermain" in t for t in words)
    assert any("michigan" in k for k in f.keys)  # evidence from past the cap
    short = st.story_features("Budget debate", " ".join(filler[:10] + tail), None, "a.example")
    assert any("xylophon" in t for t in short.vocabulary())
