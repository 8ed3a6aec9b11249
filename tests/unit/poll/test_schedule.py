"""Table-driven tests of the scheduling policy (pure: fixed clock, seeded randomness)."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from worker.model.feed import FeedScheduleState
from worker.poll.schedule import (
    PollObservation,
    SchedulePolicy,
    backoff_delay,
    cache_lifetime,
    decide,
    entry_rate_interval,
    failed_parse,
    reset_backoff,
    retry_after,
    track_redirect,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
EXACT = SchedulePolicy(jitter_fraction=0.0)
H = timedelta(hours=1)
M = timedelta(minutes=1)


def every(step: timedelta, count: int) -> tuple[datetime, ...]:
    """``count`` entries, the newest one ``step`` ago."""
    return tuple(NOW - step * (i + 1) for i in range(count))


def http_date(when: datetime) -> str:
    return format_datetime(when, usegmt=True)


@dataclass(frozen=True)
class Case:
    id: str
    outcome: PollObservation
    interval: timedelta | None  # None: gone
    reason: str
    status: str = "ok"
    errors: int = 0
    parse: bool = False
    state: FeedScheduleState = field(default_factory=FeedScheduleState)
    slowdown: timedelta | None = None
    last_error: str | None = None


CASES = [
    Case("200 two posts a day", PollObservation(200, entry_times=every(12 * H, 14)), 12 * H,
         "entry_rate", parse=True),
    Case("200 truncated busy feed: 50 entries over ~2 days", PollObservation(
        200, entry_times=every(timedelta(minutes=60), 50)), 60 * M, "entry_rate", parse=True),
    Case("200 very busy feed clamps to min", PollObservation(200, entry_times=every(M, 300)),
         5 * M, "min_interval", parse=True),
    Case("200 one post in the week clamps to max", PollObservation(
        200, entry_times=(NOW - 3 * 24 * H,)), 24 * H, "max_interval", parse=True),
    Case("200 nothing this week", PollObservation(200, entry_times=every(10 * 24 * H, 5)), 24 * H,
         "entry_rate", parse=True),
    Case("200 far-future entries are ignored", PollObservation(
        200, entry_times=(NOW + 30 * 24 * H, *every(12 * H, 14))), 12 * H, "entry_rate",
         parse=True),
    Case("200 undated feed, nothing known", PollObservation(200), H, "default", parse=True),
    Case("200 undated feed keeps the earlier estimate", PollObservation(200), 3 * H,
         "previous_rate", parse=True, state=FeedScheduleState(base_interval=3 * H)),
    Case("304 reuses the earlier estimate, no parsing", PollObservation(304), 3 * H, "not_modified",
         state=FeedScheduleState(base_interval=3 * H)),
    Case("304 with nothing known", PollObservation(304), H, "default"),
    Case("max-age floors a fast feed", PollObservation(
        200, {"cache-control": "public, max-age=7200"}, entry_times=every(30 * M, 40)), 2 * H,
         "max_age", parse=True),
    Case("max-age minus Age", PollObservation(
        200, {"cache-control": "max-age=10800", "age": "3600"}, entry_times=every(10 * M, 40)),
         2 * H, "max_age", parse=True),
    Case("max-age below the rate changes nothing", PollObservation(
        200, {"cache-control": "max-age=60"}, entry_times=every(12 * H, 14)), 12 * H,
         "entry_rate", parse=True),
    Case("no-cache ignores max-age", PollObservation(
        200, {"cache-control": "no-cache, max-age=7200"}, entry_times=every(30 * M, 40)),
         30 * M, "entry_rate", parse=True),
    Case("max-age of a year is held to max_interval", PollObservation(
        200, {"cache-control": "max-age=31536000"}, entry_times=every(30 * M, 40)), 24 * H,
         "max_age", parse=True),
    Case("Expires floors, judged against Date", PollObservation(
        200, {"date": http_date(NOW - H), "expires": http_date(NOW + H)},
        entry_times=every(10 * M, 40)), 2 * H, "expires", parse=True),
    Case("Expires: 0 means already stale", PollObservation(
        200, {"expires": "0"}, entry_times=every(10 * M, 40)), 10 * M, "entry_rate",
         parse=True),
    Case("feed <ttl> floors", PollObservation(200, entry_times=every(10 * M, 40),
                                          feed_ttl=180 * M), 3 * H, "ttl", parse=True),
    Case("ttl also floors a 304", PollObservation(304, feed_ttl=90 * M), 90 * M, "ttl"),
    Case("first 5xx backs off base", PollObservation(500), 5 * M, "error_backoff", errors=1,
         last_error="http_500"),
    Case("fifth error: base * 2^4", PollObservation(502), 80 * M, "error_backoff", errors=5,
         state=FeedScheduleState(consecutive_errors=4, first_error_at=NOW - H),
         last_error="http_502"),
    Case("tenth error marks failing at the capped interval", PollObservation(500), 24 * H,
         "error_backoff", status="failing", errors=10,
         state=FeedScheduleState(consecutive_errors=9, first_error_at=NOW - 20 * H),
         last_error="http_500"),
    Case("failing past the time threshold with few errors", PollObservation(None, error="timeout"),
         10 * M, "error_backoff", status="failing", errors=2,
         state=FeedScheduleState(consecutive_errors=1, first_error_at=NOW - 25 * H),
         last_error="timeout"),
    Case("long-failing feed still polled at the cap", PollObservation(None, error="connect"),
         24 * H, "error_backoff", status="failing", errors=500,
         state=FeedScheduleState(status="failing", consecutive_errors=499,
                                 first_error_at=NOW - 400 * 24 * H), last_error="connect"),
    Case("timeout is an error", PollObservation(None, error="timeout"), 5 * M, "error_backoff",
         errors=1, last_error="timeout"),
    Case("404 is an error, not gone", PollObservation(404), 5 * M, "error_backoff", errors=1,
         last_error="http_404"),
    Case("410 is gone", PollObservation(410), None, "gone", status="gone", last_error="http_410"),
    Case("429 Retry-After seconds beyond the back-off",
         PollObservation(429, {"retry-after": "3600"}), H, "retry_after", errors=1, slowdown=H,
         last_error="http_429"),
    Case("429 Retry-After shorter than the back-off", PollObservation(429, {"retry-after": "120"}),
         5 * M, "error_backoff", errors=1, slowdown=2 * M, last_error="http_429"),
    Case("503 Retry-After HTTP-date", PollObservation(
        503, {"retry-after": http_date(NOW + 2 * H), "date": http_date(NOW)}), 2 * H,
         "retry_after", errors=1, slowdown=2 * H, last_error="http_503"),
    Case("503 Retry-After date with server clock behind", PollObservation(
        503, {"retry-after": http_date(NOW + H), "date": http_date(NOW - 2 * H)}), 3 * H,
         "retry_after", errors=1, slowdown=3 * H, last_error="http_503"),
    Case("429 without Retry-After slows the host by default", PollObservation(429), 5 * M,
         "error_backoff", errors=1, slowdown=10 * M, last_error="http_429"),
    Case("503 without Retry-After: no host slow-down", PollObservation(503), 5 * M,
         "error_backoff", errors=1, last_error="http_503"),
    Case("absurd Retry-After is capped", PollObservation(429, {"retry-after": "315360000"}),
         24 * H, "retry_after", errors=1, slowdown=24 * H, last_error="http_429"),
    Case("Retry-After on a 200 is not a floor", PollObservation(
        200, {"retry-after": "7200"}, entry_times=every(30 * M, 40)), 30 * M, "entry_rate",
         parse=True),
    Case("unparseable 200 is an error", failed_parse(PollObservation(200), "not_a_feed"), 5 * M,
         "error_backoff", errors=1, last_error="not_a_feed"),
    Case("success clears the errors", PollObservation(200, entry_times=every(12 * H, 14)), 12 * H,
         "entry_rate", parse=True,
         state=FeedScheduleState(status="failing", consecutive_errors=30,
                                 first_error_at=NOW - 100 * H, last_error="http_500")),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_decision_table(case: Case) -> None:
    d = decide(case.outcome, case.state, EXACT, NOW, random.Random(1))
    assert d.status == case.status
    assert d.reason == case.reason
    assert d.consecutive_errors == case.errors
    assert d.parse_body is case.parse
    assert d.state.last_error == case.last_error
    assert d.state.status == case.status
    if case.interval is None:
        assert d.next_poll_at is None
    else:
        assert d.interval == case.interval
        assert d.next_poll_at == NOW + case.interval
    if case.slowdown is None:
        assert d.host_slowdown_until is None
    else:
        assert d.host_slowdown_until == NOW + case.slowdown


def test_error_state_bookkeeping() -> None:
    d1 = decide(PollObservation(500), FeedScheduleState(), EXACT, NOW, random.Random(1))
    assert d1.state.first_error_at == NOW
    later = NOW + H
    d2 = decide(PollObservation(None, error="connect"), d1.state, EXACT, later, random.Random(1))
    assert d2.state.first_error_at == NOW  # the first error is remembered
    assert d2.consecutive_errors == 2
    ok = decide(PollObservation(304), d2.state, EXACT, later + H, random.Random(1))
    assert ok.state == FeedScheduleState(last_success_at=later + H)


def test_success_records_clamped_estimate_for_later_304s() -> None:
    d = decide(PollObservation(200, entry_times=every(M, 300)), FeedScheduleState(), EXACT, NOW,
               random.Random(1))  # fmt: skip
    assert d.state.base_interval == 5 * M
    after = decide(PollObservation(304), d.state, EXACT, NOW + H, random.Random(1))
    assert after.interval == 5 * M


def test_backoff_doubles_up_to_the_cap() -> None:
    delays = [backoff_delay(n, EXACT) for n in range(1, 30)]
    assert delays[:4] == [5 * M, 10 * M, 20 * M, 40 * M]
    assert all(b >= a for a, b in itertools.pairwise(delays))
    assert max(delays) == EXACT.error_backoff_cap
    assert backoff_delay(10**6, EXACT) == EXACT.error_backoff_cap


@pytest.mark.parametrize("errors", [0, 3, 8, 40])
def test_error_jitter_bounds(errors: int) -> None:
    policy = SchedulePolicy(jitter_fraction=0.2)
    base = backoff_delay(errors + 1, policy)
    state = FeedScheduleState(consecutive_errors=errors, first_error_at=NOW)
    seen = set()
    for seed in range(500):
        d = decide(PollObservation(500), state, policy, NOW, random.Random(seed))
        assert max(policy.min_interval, base * 0.8) <= d.interval <= min(base * 1.2, policy.error_backoff_cap)
        seen.add(d.interval)
    assert len(seen) > 400  # jitter really spreads the polls


def test_success_jitter_bounds_respect_floors() -> None:
    policy = SchedulePolicy(jitter_fraction=0.25)
    outcome = PollObservation(200, {"cache-control": "max-age=7200"}, entry_times=every(30 * M, 40))
    fast = PollObservation(200, entry_times=every(12 * H, 14))
    floored, free = set(), set()
    for seed in range(500):
        d = decide(outcome, FeedScheduleState(), policy, NOW, random.Random(seed))
        assert 2 * H <= d.interval <= 2 * H * 1.25  # never under the server's floor
        floored.add(d.interval)
        f = decide(fast, FeedScheduleState(), policy, NOW, random.Random(seed))
        assert 12 * H * 0.75 <= f.interval <= 12 * H * 1.25
        free.add(f.interval)
        slow = decide(PollObservation(200, entry_times=(NOW - 24 * 5 * H,)), FeedScheduleState(),
                      policy, NOW, random.Random(seed))  # fmt: skip
        assert 24 * H * 0.75 <= slow.interval <= policy.max_interval
    assert len(free) > 400 and len(floored) > 400


def test_same_seed_same_decision() -> None:
    policy = SchedulePolicy()
    a = decide(PollObservation(500), FeedScheduleState(), policy, NOW, random.Random(7))
    b = decide(PollObservation(500), FeedScheduleState(), policy, NOW, random.Random(7))
    assert a == b


# --- permanent redirects -----------------------------------------------------------


@pytest.mark.parametrize("code", [301, 308])
def test_permanent_redirect_applied_after_two_consistent_sightings(code: int) -> None:
    new = f"https://new.example/feed-{code}.xml"
    state = FeedScheduleState()
    first = decide(PollObservation(200, permanent_redirect=new), state, EXACT, NOW, random.Random(1))
    assert first.new_url_candidate == new and first.apply_new_url is None
    second = decide(PollObservation(304, permanent_redirect=new), first.state, EXACT, NOW + H,
                    random.Random(1))  # fmt: skip
    assert second.apply_new_url == new
    assert second.state.redirect_url is None and second.state.redirect_count == 0


def test_redirect_count_restarts_on_change_gap_or_failure() -> None:
    a, b = "https://a.example/f", "https://b.example/f"
    s1 = decide(PollObservation(200, permanent_redirect=a), FeedScheduleState(), EXACT, NOW,
                random.Random(1)).state  # fmt: skip
    s2 = decide(PollObservation(200, permanent_redirect=b), s1, EXACT, NOW, random.Random(1))
    assert s2.apply_new_url is None and s2.state.redirect_url == b
    s3 = decide(PollObservation(200), s2.state, EXACT, NOW, random.Random(1))
    assert s3.state.redirect_url is None
    # A redirect that ends in an error does not count.
    s4 = decide(PollObservation(404, permanent_redirect=a), s1, EXACT, NOW, random.Random(1))
    assert s4.state.redirect_count == 0 and s4.apply_new_url is None


@pytest.mark.parametrize(
    ("candidate", "seen", "observed", "need", "expected"),
    [
        (None, 0, None, 2, (None, 0, None)),
        (None, 0, "u", 2, ("u", 1, None)),
        ("u", 1, "u", 2, (None, 0, "u")),
        ("u", 1, "v", 2, ("v", 1, None)),
        ("u", 1, None, 2, (None, 0, None)),
        (None, 0, "u", 1, (None, 0, "u")),
        ("u", 2, "u", 4, ("u", 3, None)),
    ],
)
def test_track_redirect(
    candidate: str | None,
    seen: int,
    observed: str | None,
    need: int,
    expected: tuple[str | None, int, str | None],
) -> None:
    assert track_redirect(candidate, seen, observed, need) == expected


# --- header parsing ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "120"}, 2 * M),
        ({"retry-after": " 0 "}, timedelta(0)),
        ({"retry-after": http_date(NOW + H)}, H),
        ({"retry-after": http_date(NOW - H)}, timedelta(0)),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-5"}, None),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], expected: timedelta | None) -> None:
    assert retry_after(headers, NOW) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"cache-control": "max-age=600"}, (10 * M, "max_age")),
        ({"cache-control": 'max-age="600", must-revalidate'}, (10 * M, "max_age")),
        ({"cache-control": "max-age=600", "age": "900"}, (timedelta(0), "max_age")),
        ({"cache-control": "no-store, max-age=600"}, None),
        ({"cache-control": "private"}, None),
        ({"expires": http_date(NOW + 2 * H)}, (2 * H, "expires")),
        ({"expires": http_date(NOW - 2 * H)}, (timedelta(0), "expires")),
        ({"cache-control": "max-age=60", "expires": http_date(NOW + 2 * H)}, (M, "max_age")),
        ({"expires": "-1"}, None),
        ({}, None),
    ],
)
def test_cache_lifetime(headers: dict[str, str], expected: tuple[timedelta, str] | None) -> None:
    assert cache_lifetime(headers, NOW) == expected


def test_entry_rate_interval_edges() -> None:
    assert entry_rate_interval((), NOW, EXACT) is None
    naive = tuple(t.replace(tzinfo=None) for t in every(12 * H, 14))
    assert entry_rate_interval(naive, NOW, EXACT) == 12 * H  # naive dates are taken as UTC


def test_reset_backoff_clears_errors_and_gone() -> None:
    gone = decide(PollObservation(410), FeedScheduleState(consecutive_errors=3), EXACT, NOW,
                  random.Random(1)).state  # fmt: skip
    assert gone.status == "gone"
    fresh = reset_backoff(gone)
    assert fresh.status == "ok" and fresh.consecutive_errors == 0 and fresh.last_error is None


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError):
        decide(PollObservation(200), FeedScheduleState(), EXACT, NOW.replace(tzinfo=None),
               random.Random(1))  # fmt: skip


def test_policy_validation() -> None:
    with pytest.raises(ValueError):
        SchedulePolicy(min_interval=2 * H, max_interval=H)
    with pytest.raises(ValueError):
        SchedulePolicy(jitter_fraction=1.5)


def test_policy_from_flat_seconds() -> None:
    p = SchedulePolicy.from_seconds(
        min_interval_seconds=600,
        max_interval_seconds=7200,
        error_backoff_max_seconds=3600,
        failing_after_seconds=1800,
        jitter_fraction=0.0,
    )
    assert (p.min_interval, p.max_interval, p.error_backoff_cap, p.failing_after) == (
        10 * M,
        2 * H,
        H,
        30 * M,
    )
    d = decide(PollObservation(200, entry_times=every(M, 300)), FeedScheduleState(), p, NOW,
               random.Random(1))  # fmt: skip
    assert d.interval_seconds == 600


def test_retry_after_is_a_floor_spread_upwards() -> None:
    policy = SchedulePolicy(jitter_fraction=0.1)
    seen = set()
    for seed in range(300):
        d = decide(PollObservation(429, {"retry-after": "7200"}), FeedScheduleState(), policy, NOW,
                   random.Random(seed))  # fmt: skip
        assert 2 * H <= d.interval <= 2 * H * 1.1
        assert d.host_slowdown_until == NOW + 2 * H  # the host penalty itself is exact
        seen.add(d.interval)
    assert len(seen) > 250
