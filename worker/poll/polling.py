"""Polling one feed: fetch (the only I/O, through the injected fetcher), parse, classify.

The outcome is a frozen value that storage records and the scheduling policy
turns into the next poll time; nothing here touches the database.
"""

from __future__ import annotations

import time
from datetime import timedelta

from worker.model.feed import PollOutcome, PollTarget
from worker.model.fetch import FEED_ACCEPT, FetchError, HttpFetcher
from worker.poll import schedule
from worker.poll.feeds import FeedParseError, parse_feed


def poll(fetcher: HttpFetcher, target: PollTarget) -> PollOutcome:
    """Fetch and parse one feed. Never raises for bad input: errors are outcomes."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        result = fetcher.get(
            target.url,
            etag=target.etag,
            last_modified=target.last_modified,
            user_agent=target.user_agent,
            accept=FEED_ACCEPT,
        )
    except FetchError as exc:
        return PollOutcome(
            feed_id=target.feed_id,
            url=target.url,
            kind="fetch_error",
            duration_ms=elapsed(),
            error=str(exc),
            error_reason=exc.reason,
        )
    common = {
        "feed_id": target.feed_id,
        "url": target.url,
        "http_status": result.status,
        "final_url": result.final_url,
        "permanent_redirect": result.permanent_redirect,
        "headers": tuple(sorted(result.headers.items())),
        "bytes": len(result.body),
    }
    if result.not_modified:
        return PollOutcome(
            **common,  # type: ignore[arg-type]
            kind="not_modified",
            etag=target.etag,
            last_modified=target.last_modified,
            duration_ms=elapsed(),
        )
    if result.status >= 400 or result.status < 200:
        return PollOutcome(
            **common,  # type: ignore[arg-type]
            kind="http_error",
            duration_ms=elapsed(),
            error=f"HTTP {result.status}",
            error_reason=f"http_{result.status}",
        )
    try:
        feed = parse_feed(result.body, url=result.final_url, content_type=result.content_type)
    except FeedParseError as exc:
        return PollOutcome(
            **common,  # type: ignore[arg-type]
            kind="parse_error",
            duration_ms=elapsed(),
            error=str(exc),
            error_reason="parse",
        )
    return PollOutcome(
        **common,  # type: ignore[arg-type]
        kind="ok",
        etag=result.etag,
        last_modified=result.last_modified,
        duration_ms=elapsed(),
        feed=feed,
    )


def schedule_input(outcome: PollOutcome, new_entries: int = 0) -> schedule.PollObservation:
    """What the scheduling policy needs to know about a poll."""
    feed = outcome.feed
    times = tuple(t for e in feed.entries for t in (e.published_at,) if t is not None) if feed else ()
    return schedule.PollObservation(
        status=outcome.http_status,
        headers=dict(outcome.headers),
        error=None if outcome.succeeded else outcome.error_reason,
        new_entries=new_entries,
        entry_times=times,
        feed_ttl=timedelta(minutes=feed.ttl_minutes) if feed and feed.ttl_minutes else None,
        permanent_redirect=outcome.permanent_redirect,
    )
