"""Event values and which events a unit of work announces (pure)."""

from __future__ import annotations

import uuid

from worker.model import events
from worker.model.events import Event
from worker.model.story import RefineOutcome
from worker.service import emit
from worker.service.stories import StoryLink


def test_event_ids_are_unique_time_ordered_uuids() -> None:
    ids = [events.new_event_id() for _ in range(2000)]
    assert len(set(ids)) == 2000
    parsed = [uuid.UUID(i) for i in ids]
    assert {u.version for u in parsed} == {7} and {u.variant for u in parsed} == {uuid.RFC_4122}
    stamps = [u.int >> 80 for u in parsed]
    assert stamps == sorted(stamps)


def test_an_event_survives_the_stream_fields_and_never_carries_an_article() -> None:
    e = events.article_created(12, duplicate_of=None)
    back = Event.from_stream_fields({k.encode(): v.encode() for k, v in e.stream_fields().items()})
    assert back == e
    assert set(e.as_dict()) == {"id", "type", "occurred_at", "subject", "data"}
    assert set(e.data) == {"article_id", "duplicate_of"}


def test_feed_transitions() -> None:
    assert events.feed_status_changed(3, "ok", "ok") is None
    assert events.feed_status_changed(3, "failing", "failing") is None
    failing = events.feed_status_changed(3, "ok", "failing", reason="http_error")
    assert failing is not None and failing.type == "feed.failing" and failing.subject == "feed:3"
    assert events.feed_status_changed(3, "failing", "ok").type == "feed.recovered"  # type: ignore[union-attr]
    assert events.feed_status_changed(3, "failing", "gone").type == "feed.gone"  # type: ignore[union-attr]


def test_stored_and_updated_articles() -> None:
    assert emit.stored_article(5, created=False, duplicate_of=None) == []
    created = emit.stored_article(5, created=True, duplicate_of=2)
    assert [(e.type, e.subject) for e in created] == [
        ("article.created", "article:5"),
        ("article.duplicate", "article:5"),
    ]
    assert emit.updated_article(5, before=("h1", None), after=("h1", None)) == []
    changed = emit.updated_article(5, before=("h1", None), after=("h2", 9))
    assert [e.type for e in changed] == ["article.updated", "article.duplicate"]
    assert changed[0].data == {"article_id": 5, "previous_hash": "h1", "content_hash": "h2"}


def test_linking() -> None:
    assert emit.linked(1, StoryLink(7, via="kept")) == []
    assert emit.linked(1, StoryLink(None, via="skipped")) == []
    new = emit.linked(1, StoryLink(7, created=True))
    assert [(e.type, e.data["story_id"]) for e in new] == [("story.created", 7)]
    joined = emit.linked(2, StoryLink(7, merged=(4, 5)))
    assert [(e.type, e.subject) for e in joined] == [
        ("story.merged", "story:4"),
        ("story.merged", "story:5"),
        ("story.updated", "story:7"),
    ]
    assert joined[0].data == {"story_id": 4, "into_story_id": 7, "cause": "link"}
    assert emit.linked(3, StoryLink(7, via="duplicate"))[0].data["cause"] == "duplicate"


def test_a_regrouping_announces_splits_updates_and_merges() -> None:
    # story 1 loses articles 11, 12 to a new story 9; article 21 moves from story 2 to story 1;
    # story 3 loses its only article 31 to story 1 and vanishes into it
    outcome = RefineOutcome(story_ids=(1, 2, 3), moved=4, created=(9,), vanished=((3, 1),))
    moves = {11: (1, 9), 12: (1, 9), 21: (2, 1), 31: (3, 1)}
    got = [(e.type, e.subject, dict(e.data)) for e in emit.refine_events(outcome, moves)]
    assert got == [
        ("story.created", "story:9", {"story_id": 9, "article_ids": [11, 12], "cause": "split"}),
        ("story.split", "story:1", {"story_id": 1, "new_story_id": 9, "article_ids": [11, 12]}),
        (
            "story.updated",
            "story:1",
            {"story_id": 1, "article_ids": [21, 31], "removed_article_ids": [], "cause": "refine"},
        ),
        (
            "story.updated",
            "story:2",
            {"story_id": 2, "article_ids": [], "removed_article_ids": [21], "cause": "refine"},
        ),
        ("story.merged", "story:3", {"story_id": 3, "into_story_id": 1, "cause": "refine"}),
    ]
    assert list(emit.refine_events(RefineOutcome((1,), 0, (), ()), {})) == []
