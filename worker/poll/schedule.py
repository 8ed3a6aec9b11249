"""When to poll a feed next: a pure policy (clock and randomness passed in, no I/O).

Rules, in order:

* ``410 Gone`` marks the feed ``gone`` and stops polling it — explicit and
  visible, never silent.
* A success (2xx, or ``304 Not Modified`` which costs no parsing) polls again
  after about *one week / weekly entry count* (the feed's own publishing
  rate from its entry dates), clamped to ``[min_interval, max_interval]`` and
  floored by the server's ``Cache-Control: max-age``, ``Expires`` and the
  feed's ``<ttl>``.
* Every failure (transport error, 4xx, 5xx, 429, unparseable feed) backs off
  exponentially up to ``error_backoff_cap``. A feed is NEVER disabled for
  failing: past ``failing_after`` (time) or ``failing_after_errors`` it is
  marked ``failing`` and still retried at the capped interval.
* ``Retry-After`` (429/503) floors the next poll and asks for a host-wide
  slow-down, since a rate limit is the host's, not the feed's.
* Random jitter spreads polls so feeds do not march in lockstep.
* A permanent redirect (every hop 301/308) proposes a new address, applied
  once it has been seen ``redirect_confirmations`` times in a row.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from worker.model.feed import FeedScheduleState, FeedStatus, ScheduleDecision

WEEK = timedelta(days=7)


@dataclass(frozen=True)
class SchedulePolicy:
    min_interval: timedelta = timedelta(minutes=5)
    max_interval: timedelta = timedelta(hours=24)
    # Used when a feed has no dated entries and no earlier estimate.
    default_interval: timedelta = timedelta(hours=1)
    error_backoff_base: timedelta = timedelta(minutes=5)
    error_backoff_cap: timedelta = timedelta(hours=24)
    failing_after: timedelta = timedelta(hours=24)
    failing_after_errors: int = 10
    jitter_fraction: float = 0.1
    # A server's Retry-After is honoured up to this (a hostile "one year" is not).
    retry_after_cap: timedelta = timedelta(hours=24)
    # Slow-down asked of the whole host after a 429 without Retry-After.
    rate_limit_default: timedelta = timedelta(minutes=10)
    redirect_confirmations: int = 2
    # Entry dates this far in the future still count (publishers' clock/time-zone slips).
    future_slack: timedelta = timedelta(days=1)

    @classmethod
    def from_seconds(
        cls,
        *,
        min_interval_seconds: float = 300,
        max_interval_seconds: float = 86400,
        error_backoff_max_seconds: float = 86400,
        failing_after_seconds: float = 86400,
        jitter_fraction: float = 0.1,
    ) -> SchedulePolicy:
        """Build from flat settings in seconds; other fields via ``dataclasses.replace``."""
        return cls(
            min_interval=timedelta(seconds=min_interval_seconds),
            max_interval=timedelta(seconds=max_interval_seconds),
            error_backoff_cap=timedelta(seconds=error_backoff_max_seconds),
            failing_after=timedelta(seconds=failing_after_seconds),
            retry_after_cap=timedelta(seconds=max(error_backoff_max_seconds, max_interval_seconds)),
            jitter_fraction=jitter_fraction,
        )

    def __post_init__(self) -> None:
        if not timedelta(0) < self.min_interval <= self.max_interval:
            raise ValueError("need 0 < min_interval <= max_interval")
        if not 0 <= self.jitter_fraction < 1:
            raise ValueError("jitter_fraction must be in [0, 1)")
        if self.redirect_confirmations < 1 or self.failing_after_errors < 1:
            raise ValueError("redirect_confirmations and failing_after_errors must be >= 1")


@dataclass(frozen=True)
class PollObservation:
    """What one poll observed. ``status`` is None when no HTTP response arrived."""

    status: int | None
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-cased names
    error: str | None = None  # FetchError.reason, or a parse failure code
    new_entries: int = 0
    entry_times: tuple[datetime, ...] = ()  # published/updated times of the entries in the feed
    feed_ttl: timedelta | None = None  # RSS <ttl> (or sy:updatePeriod) if the feed gives one
    permanent_redirect: str | None = None  # FetchResult.permanent_redirect


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("the scheduler works in aware datetimes (UTC)")


def _http_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _server_now(headers: Mapping[str, str], now: datetime) -> datetime:
    """The server's idea of now, so absolute dates it sends survive clock skew."""
    date = _http_date(headers.get("date", ""))
    return date if date is not None else now


def retry_after(headers: Mapping[str, str], now: datetime) -> timedelta | None:
    """``Retry-After`` as a delay: delta-seconds or an HTTP-date (judged against ``Date``)."""
    raw = headers.get("retry-after", "").strip()
    if not raw:
        return None
    if raw.isdigit():
        return timedelta(seconds=int(raw))
    when = _http_date(raw)
    if when is None:
        return None
    return max(timedelta(0), when - _server_now(headers, now))


def cache_lifetime(headers: Mapping[str, str], now: datetime) -> tuple[timedelta, str] | None:
    """How long the response stays fresh: ``max-age`` minus ``Age``, else ``Expires`` - ``Date``."""
    directives: dict[str, str] = {}
    for part in headers.get("cache-control", "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            directives[name.strip().lower()] = value.strip().strip('"')
    if "no-store" in directives or "no-cache" in directives:
        return None
    max_age = directives.get("max-age", "")
    if max_age.isdigit():
        age = headers.get("age", "").strip()
        fresh = int(max_age) - (int(age) if age.isdigit() else 0)
        return (timedelta(seconds=max(0, fresh)), "max_age")
    expires = headers.get("expires", "").strip()
    if expires:
        when = _http_date(expires)
        if when is None:  # "0", "-1": already expired, no floor
            return None
        return (max(timedelta(0), when - _server_now(headers, now)), "expires")
    return None


def entry_rate_interval(entry_times: Iterable[datetime], now: datetime, policy: SchedulePolicy) -> timedelta | None:
    """One week / weekly entry count, from the entry dates in the feed (unclamped).

    Rate is ``n / (now - oldest)`` over the entries of the last week, so a
    busy feed whose window holds only two days of entries is not mistaken
    for a slow one. None when the feed dates nothing; ``max_interval`` when
    nothing was published this week.
    """
    dated = [t if t.tzinfo is not None else t.replace(tzinfo=UTC) for t in entry_times]
    if not dated:
        return None
    recent = [t for t in dated if now - WEEK <= t <= now + policy.future_slack]
    if not recent:
        return policy.max_interval
    span = max(now - min(recent), policy.min_interval)
    return span / len(recent)


def _clamp(value: timedelta, low: timedelta, high: timedelta) -> timedelta:
    return max(low, min(high, value))


def _spread(center: timedelta, fraction: float, low: timedelta, high: timedelta, rng: random.Random) -> timedelta:
    """A uniform draw from ``center * (1 ± fraction)`` limited to ``[low, high]``.

    Drawing inside the limited range (rather than clamping a draw) keeps feeds
    spread out even when they sit at the minimum or at the back-off cap, e.g.
    every feed of a host that went down at once.
    """
    lo = max(low, center * (1.0 - fraction))
    hi = min(high, center * (1.0 + fraction))
    if fraction <= 0 or hi <= lo:
        return max(low, min(high, center))
    return lo + (hi - lo) * rng.random()


def track_redirect(
    candidate: str | None, seen: int, observed: str | None, confirmations: int
) -> tuple[str | None, int, str | None]:
    """Count consecutive sightings of the same permanent redirect target.

    Returns ``(candidate, seen, apply)``: ``apply`` is the new address once it
    was seen ``confirmations`` times in a row; a poll without the redirect, or
    to another target, restarts the count.
    """
    if observed is None:
        return None, 0, None
    count = seen + 1 if observed == candidate else 1
    if count >= confirmations:
        return None, 0, observed
    return observed, count, None


def backoff_delay(consecutive_errors: int, policy: SchedulePolicy) -> timedelta:
    """Exponential back-off before jitter: base * 2^(n-1), capped."""
    exponent = max(0, consecutive_errors - 1)
    cap_seconds = policy.error_backoff_cap.total_seconds()
    seconds = policy.error_backoff_base.total_seconds() * math.ldexp(1.0, min(exponent, 60))
    return policy.error_backoff_cap if seconds >= cap_seconds else timedelta(seconds=seconds)


def _is_success(outcome: PollObservation) -> bool:
    return (
        outcome.error is None and outcome.status is not None and (200 <= outcome.status < 300 or outcome.status == 304)
    )


def decide(
    outcome: PollObservation,
    state: FeedScheduleState,
    policy: SchedulePolicy,
    now: datetime,
    rng: random.Random,
) -> ScheduleDecision:
    """The next poll for a feed after ``outcome``; pure given ``now`` and ``rng``."""
    _require_aware(now)
    if outcome.status == 410:
        gone = replace(
            state,
            status="gone",
            last_error="http_410",
            redirect_url=None,
            redirect_count=0,
        )
        return ScheduleDecision(
            next_poll_at=None,
            status="gone",
            consecutive_errors=state.consecutive_errors,
            reason="gone",
            interval=timedelta(0),
            parse_body=False,
            new_url_candidate=None,
            apply_new_url=None,
            host_slowdown_until=None,
            state=gone,
        )

    headers = {k.lower(): v for k, v in outcome.headers.items()}
    slowdown: timedelta | None = None
    wait = retry_after(headers, now) if outcome.status in (429, 503) else None
    if wait is not None:
        wait = min(wait, policy.retry_after_cap)
        slowdown = wait
    elif outcome.status == 429:
        slowdown = policy.rate_limit_default

    if _is_success(outcome):
        return _success(outcome, state, policy, now, rng, headers)
    return _failure(outcome, state, policy, now, rng, wait, slowdown)


def _success(
    outcome: PollObservation,
    state: FeedScheduleState,
    policy: SchedulePolicy,
    now: datetime,
    rng: random.Random,
    headers: Mapping[str, str],
) -> ScheduleDecision:
    not_modified = outcome.status == 304
    estimate = None if not_modified else entry_rate_interval(outcome.entry_times, now, policy)
    if estimate is not None:
        base, reason = estimate, "entry_rate"
    elif state.base_interval is not None:
        base, reason = state.base_interval, "previous_rate"
    else:
        base, reason = policy.default_interval, "default"
    interval = _clamp(base, policy.min_interval, policy.max_interval)
    if base < policy.min_interval:
        reason = "min_interval"
    elif base > policy.max_interval:
        reason = "max_interval"

    # Server and feed hints are floors, never pushed past max_interval.
    floor, floor_reason = policy.min_interval, ""
    hints: list[tuple[timedelta, str]] = []
    lifetime = cache_lifetime(headers, now)
    if lifetime is not None:
        hints.append(lifetime)
    if outcome.feed_ttl is not None:
        hints.append((outcome.feed_ttl, "ttl"))
    for value, why in hints:
        capped = min(value, policy.max_interval)
        if capped > floor:
            floor, floor_reason = capped, why
    if floor > interval:
        interval, reason = floor, floor_reason

    delay = _spread(interval, policy.jitter_fraction, floor, policy.max_interval, rng)
    candidate, seen, apply = track_redirect(
        state.redirect_url,
        state.redirect_count,
        outcome.permanent_redirect,
        policy.redirect_confirmations,
    )
    new_state = FeedScheduleState(
        status="ok",
        consecutive_errors=0,
        first_error_at=None,
        last_error=None,
        last_success_at=now,
        base_interval=(
            _clamp(estimate, policy.min_interval, policy.max_interval) if estimate is not None else state.base_interval
        ),
        redirect_url=candidate,
        redirect_count=seen,
    )
    return ScheduleDecision(
        next_poll_at=now + delay,
        status="ok",
        consecutive_errors=0,
        reason="not_modified" if not_modified and reason == "previous_rate" else reason,
        interval=delay,
        parse_body=not not_modified and outcome.status != 204,
        new_url_candidate=candidate,
        apply_new_url=apply,
        host_slowdown_until=None,
        state=new_state,
    )


def _failure(
    outcome: PollObservation,
    state: FeedScheduleState,
    policy: SchedulePolicy,
    now: datetime,
    rng: random.Random,
    wait: timedelta | None,
    slowdown: timedelta | None,
) -> ScheduleDecision:
    errors = state.consecutive_errors + 1
    first_error_at = state.first_error_at or now
    if outcome.error is not None:
        last_error = outcome.error
    elif outcome.status is not None:
        last_error = f"http_{outcome.status}"
    else:
        last_error = "unknown"

    base = backoff_delay(errors, policy)
    # Jittered, but never beyond the cap nor below the minimum interval.
    delay = _spread(base, policy.jitter_fraction, policy.min_interval, policy.error_backoff_cap, rng)
    reason = "error_backoff"
    if wait is not None and wait > delay:
        # Never earlier than asked; spread upwards so a host's feeds do not all
        # return the very second its Retry-After ends.
        spread = _spread(wait, policy.jitter_fraction, wait, wait * (1 + policy.jitter_fraction), rng)
        delay, reason = spread, "retry_after"

    failing = errors >= policy.failing_after_errors or now - first_error_at >= policy.failing_after
    status: FeedStatus = "failing" if failing else "ok"
    new_state = FeedScheduleState(
        status=status,
        consecutive_errors=errors,
        first_error_at=first_error_at,
        last_error=last_error,
        last_success_at=state.last_success_at,
        base_interval=state.base_interval,
        # A redirect only counts when it led to a working feed.
        redirect_url=None,
        redirect_count=0,
    )
    return ScheduleDecision(
        next_poll_at=now + delay,
        status=status,
        consecutive_errors=errors,
        reason=reason,
        interval=delay,
        parse_body=False,
        new_url_candidate=None,
        apply_new_url=None,
        host_slowdown_until=(now + slowdown) if slowdown is not None else None,
        state=new_state,
    )


def reset_backoff(state: FeedScheduleState) -> FeedScheduleState:
    """``newsworker feeds reset ID``: forget errors (and un-gone the feed); poll it now."""
    return replace(
        state,
        status="ok",
        consecutive_errors=0,
        first_error_at=None,
        last_error=None,
        redirect_url=None,
        redirect_count=0,
    )


def failed_parse(outcome: PollObservation, error: str) -> PollObservation:
    """A 2xx whose body could not be parsed is a failure for scheduling purposes."""
    return replace(outcome, error=error)
