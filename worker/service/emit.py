"""Which events a unit of work announces: built from what the storage calls returned.

The handlers add them to the outbox (``storage.outbox.add``) in the transaction of the change,
as its last statement, after every lock the change took (that is what keeps the events of one
subject in commit order).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from worker.model import events
from worker.model.events import Event
from worker.model.story import RefineOutcome

if TYPE_CHECKING:
    from worker.service.stories import StoryLink


def stored_article(article_id: int, *, created: bool, duplicate_of: int | None) -> list[Event]:
    """A new article (and, when dedupe found its original, that it is a duplicate)."""
    if not created:
        return []
    out = [events.article_created(article_id, duplicate_of=duplicate_of)]
    if duplicate_of is not None:
        out.append(events.article_duplicate(article_id, duplicate_of))
    return out


def updated_article(
    article_id: int,
    *,
    before: tuple[str | None, int | None],
    after: tuple[str | None, int | None],
) -> list[Event]:
    """A re-fetch or re-ingest changed the text (``(content_hash, duplicate_of)`` before and after)."""
    if before[0] == after[0]:
        return []
    out = [events.article_updated(article_id, previous_hash=before[0], content_hash=after[0])]
    if after[1] is not None and after[1] != before[1]:
        out.append(events.article_duplicate(article_id, after[1]))
    return out


def linked(article_id: int, link: StoryLink) -> list[Event]:
    """What one online link did: a story started, an article joined, stories merged."""
    if link.story_id is None or link.via in ("kept", "skipped"):
        return []
    out = [events.story_merged(old, link.story_id, cause="link") for old in link.merged]
    if link.created:
        out.append(events.story_created(link.story_id, [article_id], cause="link"))
    else:
        out.append(events.story_updated(link.story_id, [article_id], cause=link.via))
    return out


def refine_events(outcome: RefineOutcome, moves: Mapping[int, tuple[int | None, int]]) -> Iterator[Event]:
    """What one regrouping did: stories split off (created + split from each origin), stories
    that gained or lost articles (updated), stories folded into another (merged)."""
    if not outcome.moved and not outcome.vanished:
        return
    created = set(outcome.created)
    vanished = {old for old, _ in outcome.vanished}
    into_new: dict[int, dict[int | None, list[int]]] = {}
    joined: dict[int, list[int]] = {}
    left: dict[int, list[int]] = {}
    for article_id, (old, new) in sorted(moves.items()):
        if new in created:  # announced as the split (the old story lost them)
            into_new.setdefault(new, {}).setdefault(old, []).append(article_id)
            continue
        joined.setdefault(new, []).append(article_id)
        if old is not None and old not in vanished:
            left.setdefault(old, []).append(article_id)
    for story_id in sorted(created):
        by_origin = into_new.get(story_id, {})
        yield events.story_created(story_id, [a for ids in by_origin.values() for a in ids], cause="split")
        for old, ids in sorted(by_origin.items(), key=lambda kv: kv[0] or 0):
            if old is not None:
                yield events.story_split(old, story_id, ids)
    for story_id in sorted(set(joined) | set(left)):
        if story_id not in vanished and story_id not in created:
            yield events.story_updated(
                story_id, joined.get(story_id, []), cause="refine", removed_article_ids=left.get(story_id, [])
            )
    for old, into in outcome.vanished:
        yield events.story_merged(old, into, cause="refine")
