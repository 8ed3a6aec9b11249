"""Feeds: parsed entries, what one poll found, the schedule's state and decisions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from worker.model.article import FeedHints


@dataclass(frozen=True)
class ParsedEntry:
    guid: str | None
    link: str | None  # absolute, canonical when it could be made so
    title: str | None
    content_html: str | None  # raw; sanitised before it is stored
    authors: tuple[str, ...]
    published_at: datetime | None
    updated_at: datetime | None
    entry_key: str = ""  # identity inside the feed; set by parse_feed
    link_key: str | None = None  # scheme-less canonical link, for "same entry" across GUID changes


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    site_url: str | None
    ttl_minutes: int | None
    entries: tuple[ParsedEntry, ...]
    warnings: tuple[str, ...] = ()
    guid_mode: str = "guid"  # guid | link (GUIDs judged broken)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class PollTarget:
    feed_id: int
    url: str
    etag: str | None = None
    last_modified: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class PollOutcome:
    """What one poll found. ``kind`` is the fetch-log outcome."""

    feed_id: int
    url: str
    kind: str  # ok | not_modified | http_error | fetch_error | parse_error
    http_status: int | None = None
    final_url: str | None = None
    permanent_redirect: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    bytes: int = 0
    duration_ms: int = 0
    feed: ParsedFeed | None = None
    error: str | None = None
    error_reason: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.kind in ("ok", "not_modified")

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


FeedStatus = Literal["ok", "failing", "gone"]


@dataclass(frozen=True)
class FeedScheduleState:
    """What the scheduler remembers about a feed between polls (persist all of it)."""

    status: FeedStatus = "ok"
    consecutive_errors: int = 0
    first_error_at: datetime | None = None
    last_error: str | None = None
    last_success_at: datetime | None = None
    # Interval estimated from entry dates at the last parsed poll; reused after 304s.
    base_interval: timedelta | None = None
    redirect_url: str | None = None
    redirect_count: int = 0


@dataclass(frozen=True)
class ScheduleDecision:
    next_poll_at: datetime | None  # None only for gone feeds
    status: FeedStatus
    consecutive_errors: int
    reason: str  # what set the interval: entry_rate, max_age, retry_after, error_backoff, ...
    interval: timedelta  # delay actually chosen (jitter and floors applied)
    parse_body: bool  # False for 304s and failures: nothing to parse
    new_url_candidate: str | None  # permanent-redirect target being confirmed
    apply_new_url: str | None  # confirmed: store this as the feed's address now
    host_slowdown_until: datetime | None  # slow every feed on the host until then
    state: FeedScheduleState  # persist this

    @property
    def interval_seconds(self) -> int:
        return round(self.interval.total_seconds())


@dataclass(frozen=True)
class PollRecord:
    feed_id: int
    outcome: str
    new_entry_ids: tuple[int, ...]
    seen_entries: int
    # the feed's status before and after this poll (a change is announced as an event)
    previous_status: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class EntryInput:
    entry_id: int
    source: str
    url: str | None
    title: str | None
    content_html: str | None
    hints: FeedHints
    user_agent: str | None = None  # the feed's own User-Agent, sent for its articles too
