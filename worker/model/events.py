"""Events: what happened, for downstream consumers (a search indexer, an alerting bot, a dashboard).

An event is a small value: a unique id, a type, when it happened, the subject it is about
(``article:12``, ``story:7``, ``feed:3``: events of one subject are published in commit order)
and the ids involved. It never carries a whole article: consumers read what they need.

Delivery is at-least-once (a relay that dies after publishing and before recording it
publishes again): consumers dedupe by ``id``.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from worker.model.clock import as_utc, utcnow

ARTICLE_CREATED: Final = "article.created"
ARTICLE_UPDATED: Final = "article.updated"
ARTICLE_DUPLICATE: Final = "article.duplicate"
STORY_CREATED: Final = "story.created"
STORY_UPDATED: Final = "story.updated"
STORY_MERGED: Final = "story.merged"
STORY_SPLIT: Final = "story.split"
FEED_FAILING: Final = "feed.failing"
FEED_RECOVERED: Final = "feed.recovered"
FEED_GONE: Final = "feed.gone"

EVENT_TYPES: Final = (
    ARTICLE_CREATED,
    ARTICLE_UPDATED,
    ARTICLE_DUPLICATE,
    STORY_CREATED,
    STORY_UPDATED,
    STORY_MERGED,
    STORY_SPLIT,
    FEED_FAILING,
    FEED_RECOVERED,
    FEED_GONE,
)


def new_event_id() -> str:
    """A UUID whose first 48 bits are the Unix time in milliseconds (the UUIDv7 layout):
    unique without coordination, and roughly sortable by creation time."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")  # 80 random bits, 74 of them kept
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= ((rand >> 62) & 0xFFF) << 64  # 12 random bits
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)  # 62 random bits
    return str(uuid.UUID(int=value))


@dataclass(frozen=True)
class Event:
    type: str
    subject: str  # "article:<id>" | "story:<id>" | "feed:<id>": the ordering key
    data: Mapping[str, Any]  # ids and small scalars only
    id: str = field(default_factory=new_event_id)
    occurred_at: datetime = field(default_factory=utcnow)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "occurred_at": as_utc(self.occurred_at).isoformat(),  # type: ignore[union-attr]
            "subject": self.subject,
            "data": dict(self.data),
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), separators=(",", ":"), sort_keys=True)

    def stream_fields(self) -> dict[str, str]:
        """The flat field map of one Redis Stream entry (``data`` is a JSON object)."""
        return {
            "id": self.id,
            "type": self.type,
            "occurred_at": as_utc(self.occurred_at).isoformat(),  # type: ignore[union-attr]
            "subject": self.subject,
            "data": json.dumps(dict(self.data), separators=(",", ":"), sort_keys=True),
        }

    @classmethod
    def from_stream_fields(cls, fields: Mapping[str | bytes, str | bytes]) -> Event:
        text = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in fields.items()
        }
        return cls(
            type=text["type"],
            subject=text["subject"],
            data=json.loads(text.get("data") or "{}"),
            id=text["id"],
            occurred_at=datetime.fromisoformat(text["occurred_at"]),
        )


def article_subject(article_id: int) -> str:
    return f"article:{article_id}"


def story_subject(story_id: int) -> str:
    return f"story:{story_id}"


def feed_subject(feed_id: int) -> str:
    return f"feed:{feed_id}"


# ------------------------------------------------------------------ constructors


def article_created(article_id: int, *, duplicate_of: int | None = None) -> Event:
    return Event(ARTICLE_CREATED, article_subject(article_id), {"article_id": article_id, "duplicate_of": duplicate_of})


def article_updated(article_id: int, *, previous_hash: str | None = None, content_hash: str | None = None) -> Event:
    return Event(
        ARTICLE_UPDATED,
        article_subject(article_id),
        {"article_id": article_id, "previous_hash": previous_hash, "content_hash": content_hash},
    )


def article_duplicate(article_id: int, original_id: int) -> Event:
    return Event(ARTICLE_DUPLICATE, article_subject(article_id), {"article_id": article_id, "original_id": original_id})


def story_created(story_id: int, article_ids: Sequence[int], *, cause: str) -> Event:
    """``cause``: ``link`` (an article started it) or ``split`` (the refinement pass split it off)."""
    return Event(
        STORY_CREATED,
        story_subject(story_id),
        {"story_id": story_id, "article_ids": sorted(article_ids), "cause": cause},
    )


def story_updated(
    story_id: int, article_ids: Sequence[int], *, cause: str, removed_article_ids: Sequence[int] = ()
) -> Event:
    """``article_ids`` joined the story (``link``, ``duplicate``, or a regrouping: ``refine``),
    ``removed_article_ids`` left it (a regrouping moved them to another story); its title and
    counts may have changed with them."""
    return Event(
        STORY_UPDATED,
        story_subject(story_id),
        {
            "story_id": story_id,
            "article_ids": sorted(article_ids),
            "removed_article_ids": sorted(removed_article_ids),
            "cause": cause,
        },
    )


def story_merged(old_story_id: int, into_story_id: int, *, cause: str) -> Event:
    """``old_story_id`` is folded into ``into_story_id`` (its id stays resolvable)."""
    return Event(
        STORY_MERGED,
        story_subject(old_story_id),
        {"story_id": old_story_id, "into_story_id": into_story_id, "cause": cause},
    )


def story_split(old_story_id: int, new_story_id: int, article_ids: Sequence[int]) -> Event:
    """The refinement pass moved ``article_ids`` out of ``old_story_id`` into the new story."""
    return Event(
        STORY_SPLIT,
        story_subject(old_story_id),
        {"story_id": old_story_id, "new_story_id": new_story_id, "article_ids": sorted(article_ids)},
    )


_FEED_EVENT = {"failing": FEED_FAILING, "gone": FEED_GONE, "ok": FEED_RECOVERED}


def feed_status_changed(feed_id: int, previous: str, status: str, *, reason: str | None = None) -> Event | None:
    """The event of a feed's status transition, or None when the status did not change."""
    if previous == status or status not in _FEED_EVENT:
        return None
    return Event(
        _FEED_EVENT[status],
        feed_subject(feed_id),
        {"feed_id": feed_id, "previous_status": previous, "status": status, "reason": reason},
    )
