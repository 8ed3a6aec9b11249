"""Response handling end to end: ``handlers.poll_feed`` on real SQLite and PostgreSQL, a real HTTP server.

Each table row is one kind of answer; the assertions read what the database
holds afterwards (status, errors, the delay the scheduler chose, the fetch log).
Delays are checked against the policy's documented ranges (±10% jitter).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler

import pytest

from storage import repo
from storage.db import Database
from tests.support.feedpoll import (
    Item,
    Sequenced,
    add_feed,
    delay_seconds,
    entries,
    feed,
    feed_reply,
    fetch_log,
    make_due,
    polling_runtime,
    rss,
    set_feed,
)
from tests.support.httpserver import LocalHTTPServer, Reply
from worker.http.hostlimits import HostBusy
from worker.model.clock import utcnow
from worker.poll import polling
from worker.service import handlers
from worker.service.messages import LocalDispatcher, PollFeed
from worker.service.runtime import Runtime

pytestmark = pytest.mark.integration

HOUR = 3600.0
MIN_INTERVAL = 300.0
CAP = 86400.0
JITTER = 0.1


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as srv:
        yield srv


@pytest.fixture
def rt(database: Database) -> Iterator[Runtime]:
    # Short socket timeouts so the timeout rows stay fast (2 s, not less: a loaded CI machine
    # can stall the test's own server thread for a good part of a second).
    with polling_runtime(database, read_timeout_seconds=2.0, user_agent="newsworker-test/1") as (runtime, _):
        yield runtime


def every_two_hours(now: datetime) -> list[Item]:
    """12 entries over the last day: one week / weekly count is 23 h / 12 = 6900 s."""
    return [
        Item(f"g{i}", f"https://site.example/{i}", f"Story {i}", now - timedelta(hours=2 * i + 1)) for i in range(12)
    ]


RATE = 23 * HOUR / 12


def http_date(when: datetime) -> str:
    return format_datetime(when, usegmt=True)


def slow(seconds: float, reply: Reply) -> Callable[[BaseHTTPRequestHandler], None]:
    def handler(h: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        reply(h)

    return handler


def around(center: float, low: float = MIN_INTERVAL, high: float = CAP) -> tuple[float, float]:
    """The jittered range the policy draws from: center ±10%, limited to [low, high]."""
    return max(low, center * (1 - JITTER)) - 1, min(high, center * (1 + JITTER)) + 1


@dataclass(frozen=True)
class Row:
    name: str
    reply: Callable[[datetime], Callable[[BaseHTTPRequestHandler], None]]
    outcome: str
    http_status: int | None
    status: str
    errors: int
    delay: tuple[float, float]
    new_entries: int = 0
    last_error: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


ROWS = [
    Row(
        "200 entry rate",
        lambda now: feed_reply(rss(every_two_hours(now)), ETag='"e1"', Last_Modified=http_date(now)),
        "ok", 200, "ok", 0, around(RATE), new_entries=12,
    ),
    Row(
        "200 Cache-Control max-age floors the rate",
        lambda now: feed_reply(rss(every_two_hours(now)), Cache_Control="public, max-age=14400"),
        "ok", 200, "ok", 0, around(14400, low=14400), new_entries=12,
    ),
    Row(
        "200 Expires floors the rate",
        lambda now: feed_reply(
            rss(every_two_hours(now)), Date=http_date(now), Expires=http_date(now + timedelta(hours=5))
        ),
        "ok", 200, "ok", 0, around(5 * HOUR, low=5 * HOUR), new_entries=12,
    ),
    Row(
        "200 <ttl> floors the rate",
        lambda now: feed_reply(rss(every_two_hours(now), ttl=360)),
        "ok", 200, "ok", 0, around(6 * HOUR, low=6 * HOUR), new_entries=12,
    ),
    Row(
        "200 without dates: default interval",
        lambda now: feed_reply(rss([Item("x", "https://site.example/x", "X")])),
        "ok", 200, "ok", 0, around(HOUR), new_entries=1,
    ),
    Row(
        "429 Retry-After seconds",
        lambda now: Reply(429, {"Retry-After": "3600"}),
        "http_error", 429, "ok", 1, around(3600, low=3600), last_error="HTTP 429",
    ),
    Row(
        "429 Retry-After HTTP-date",
        lambda now: Reply(429, {"Date": http_date(now), "Retry-After": http_date(now + timedelta(hours=2))}),
        "http_error", 429, "ok", 1, around(2 * HOUR, low=2 * HOUR), last_error="HTTP 429",
    ),
    Row(
        "503 Retry-After",
        lambda now: Reply(503, {"Retry-After": "1800"}),
        "http_error", 503, "ok", 1, around(1800, low=1800), last_error="HTTP 503",
    ),
    Row(
        "500 backs off",
        lambda now: Reply(500, {}, b"oops"),
        "http_error", 500, "ok", 1, around(MIN_INTERVAL), last_error="HTTP 500",
    ),
    Row(
        "404 backs off",
        lambda now: Reply(404, {}, b"no"),
        "http_error", 404, "ok", 1, around(MIN_INTERVAL), last_error="HTTP 404",
    ),
    Row(
        "timeout backs off",
        lambda now: slow(3.5, feed_reply(rss([]))),
        "fetch_error", None, "ok", 1, around(MIN_INTERVAL), last_error="in time",
    ),
    Row(
        "HTML instead of a feed",
        lambda now: Reply(200, {"Content-Type": "text/html"}, b"<!DOCTYPE html><html><body>hi</body></html>"),
        "parse_error", 200, "ok", 1, around(MIN_INTERVAL), last_error="HTML page",
    ),
]  # fmt: skip


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_response_table(rt: Runtime, server: LocalHTTPServer, row: Row) -> None:
    server.route("/feed.xml", row.reply(utcnow()))
    feed_id = add_feed(rt, server.url("/feed.xml"))
    record = handlers.poll_feed(rt, feed_id)
    assert record is not None and record.outcome == row.outcome
    stored = feed(rt, feed_id)
    assert (stored.status, stored.consecutive_errors) == (row.status, row.errors)
    low, high = row.delay
    assert low <= delay_seconds(stored) <= high, (delay_seconds(stored), row.delay)
    if row.last_error is None:
        assert stored.last_error is None
    else:
        assert stored.last_error is not None and row.last_error in stored.last_error
    assert stored.poll_token is None and stored.lease_until is None  # the poll lease is released
    (log,) = fetch_log(rt, feed_id)
    assert (log.outcome, log.http_status, log.new_entries) == (row.outcome, row.http_status, row.new_entries)
    assert len(entries(rt, feed_id)) == row.new_entries


def test_304_sends_conditional_headers_skips_parsing_and_reuses_the_stored_rate(
    rt: Runtime, server: LocalHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = utcnow()
    modified = http_date(now - timedelta(hours=1))
    full = feed_reply(rss(every_two_hours(now)), ETag='"v1"', Last_Modified=modified)

    def conditional(h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("If-None-Match") == '"v1"' and h.headers.get("If-Modified-Since") == modified:
            Reply(304, {"ETag": '"v1"'})(h)
        else:
            full(h)

    server.route("/feed.xml", conditional)
    parsed: list[bytes] = []
    real_parse = polling.parse_feed

    def counting_parse(body: bytes, **kw: object) -> object:
        parsed.append(body)
        return real_parse(body, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(polling, "parse_feed", counting_parse)
    feed_id = add_feed(rt, server.url("/feed.xml"))

    assert handlers.poll_feed(rt, feed_id).outcome == "ok"  # type: ignore[union-attr]
    first = feed(rt, feed_id)
    assert (first.etag, first.last_modified) == ('"v1"', modified)
    assert first.base_interval_seconds is not None
    assert around(RATE)[0] <= first.base_interval_seconds <= around(RATE)[1]

    assert handlers.poll_feed(rt, feed_id).outcome == "not_modified"  # type: ignore[union-attr]
    second = feed(rt, feed_id)
    assert around(first.base_interval_seconds)[0] <= delay_seconds(second) <= around(first.base_interval_seconds)[1]

    # The stored estimate is what a later 304 uses (not a default), whoever wrote it.
    set_feed(rt, feed_id, base_interval_seconds=10800)
    assert handlers.poll_feed(rt, feed_id).outcome == "not_modified"  # type: ignore[union-attr]
    third = feed(rt, feed_id)
    assert around(10800)[0] <= delay_seconds(third) <= around(10800)[1]
    assert third.base_interval_seconds == 10800 and third.etag == '"v1"'

    assert len(parsed) == 1  # a 304 costs no parsing
    conditional_hits = [h.headers for h in server.hits[1:]]
    assert [(h.get("If-None-Match"), h.get("If-Modified-Since")) for h in conditional_hits] == [('"v1"', modified)] * 2
    assert [log.outcome for log in fetch_log(rt, feed_id)] == ["ok", "not_modified", "not_modified"]
    assert len(entries(rt, feed_id)) == 12


REDIRECTS = [
    # (statuses answered by /old.xml per poll, polls, moved?, candidate left, count left)
    ("301 twice moves the feed", [301, 301], True, None, 0),
    ("308 twice moves the feed", [308, 308], True, None, 0),
    ("301 once is only a candidate", [301], False, "/new.xml", 1),
    ("302 never moves the feed", [302, 302, 302], False, None, 0),
    ("307 never moves the feed", [307, 307, 307], False, None, 0),
    ("301 interrupted by a 200 starts over", [301, 200, 301], False, "/new.xml", 1),
]


@pytest.mark.parametrize(
    ("statuses", "moved", "candidate", "count"),
    [r[1:] for r in REDIRECTS],
    ids=[r[0] for r in REDIRECTS],
)
def test_redirect_table(
    rt: Runtime,
    server: LocalHTTPServer,
    statuses: list[int],
    moved: bool,
    candidate: str | None,
    count: int,
) -> None:
    body = rss([Item("a", "https://site.example/a", "A")])
    server.route("/new.xml", feed_reply(body))
    server.route(
        "/old.xml",
        Sequenced(*[feed_reply(body) if s == 200 else Reply(s, {"Location": "/new.xml"}) for s in statuses]),
    )
    feed_id = add_feed(rt, server.url("/old.xml"))
    for _ in statuses:
        record = handlers.poll_feed(rt, feed_id)
        assert record is not None and record.outcome == "ok"
    stored = feed(rt, feed_id)
    assert stored.url == server.url("/new.xml" if moved else "/old.xml")
    assert stored.redirect_url == (server.url(candidate) if candidate else None)
    assert stored.redirect_count == count
    assert len(entries(rt, feed_id)) == 1  # the same entry behind every address


def test_redirect_chain_is_permanent_only_if_every_hop_is(rt: Runtime, server: LocalHTTPServer) -> None:
    body = rss([Item("a", "https://site.example/a", "A")])
    server.route("/final.xml", feed_reply(body))
    server.route("/mid-permanent.xml", Reply(308, {"Location": "/final.xml"}))
    server.route("/mid-temporary.xml", Reply(302, {"Location": "/final.xml"}))
    server.route("/a.xml", Reply(301, {"Location": "/mid-permanent.xml"}))
    server.route("/b.xml", Reply(301, {"Location": "/mid-temporary.xml"}))
    a = add_feed(rt, server.url("/a.xml"))
    b = add_feed(rt, server.url("/b.xml"))
    for _ in range(2):
        handlers.poll_feed(rt, a)
        handlers.poll_feed(rt, b)
    assert feed(rt, a).url == server.url("/final.xml")
    assert feed(rt, b).url == server.url("/b.xml")


def test_410_marks_the_feed_gone_visible_and_no_longer_dispatched(rt: Runtime, server: LocalHTTPServer) -> None:
    server.route("/gone.xml", Reply(410, {}, b"gone"))
    server.route("/live.xml", feed_reply(rss([])))
    gone = add_feed(rt, server.url("/gone.xml"))
    live = add_feed(rt, server.url("/live.xml"))
    assert handlers.poll_feed(rt, gone).outcome == "http_error"  # type: ignore[union-attr]
    stored = feed(rt, gone)
    assert stored.status == "gone" and stored.last_error == "HTTP 410"
    assert [(log.http_status, log.outcome) for log in fetch_log(rt, gone)] == [(410, "http_error")]
    make_due(rt, gone)
    sent = rt.dispatcher.pending  # type: ignore[attr-defined]
    sent.clear()
    handlers.dispatch_due_feeds(rt)
    assert [m for m in sent if isinstance(m, PollFeed)] == [PollFeed(live)]
    with rt.db.reader() as session:
        assert {f.id: f.status for f in repo.list_feeds(session)} == {gone: "gone", live: "ok"}
    hits = server.hit_count()
    assert handlers.poll_feed(rt, gone) is None  # even a direct poll leaves a gone feed alone
    assert server.hit_count() == hits


def test_errors_back_off_exponentially_then_fail_visibly_but_keep_polling(rt: Runtime, server: LocalHTTPServer) -> None:
    server.route("/down.xml", Reply(500, {}, b"down"))
    feed_id = add_feed(rt, server.url("/down.xml"))
    delays: list[float] = []
    statuses: list[str] = []
    for n in range(1, 13):
        make_due(rt, feed_id)
        handlers.poll_feed(rt, feed_id)
        stored = feed(rt, feed_id)
        delays.append(delay_seconds(stored))
        statuses.append(stored.status)
        assert stored.consecutive_errors == n and stored.last_error == "HTTP 500"
        expected = min(MIN_INTERVAL * 2 ** (n - 1), CAP)
        assert around(expected)[0] <= delays[-1] <= around(expected)[1], (n, delays[-1])
    assert delays[:9] == sorted(delays[:9]) and len(set(delays[:9])) == 9  # grows until the cap
    assert statuses == ["ok"] * 9 + ["failing"] * 3  # past the threshold: failing, never disabled
    with rt.db.reader() as session:
        assert [f.id for f in repo.list_feeds(session, failing_only=True)] == [feed_id]
    make_due(rt, feed_id)
    sent = rt.dispatcher.pending  # type: ignore[attr-defined]
    sent.clear()
    handlers.dispatch_due_feeds(rt)
    assert PollFeed(feed_id) in sent  # still dispatched, at the capped interval
    server.route("/down.xml", feed_reply(rss([])))
    handlers.poll_feed(rt, feed_id)
    recovered = feed(rt, feed_id)
    assert (recovered.status, recovered.consecutive_errors, recovered.last_error) == ("ok", 0, None)


def test_failing_for_longer_than_the_threshold_is_failing(rt: Runtime, server: LocalHTTPServer) -> None:
    server.route("/down.xml", Reply(503, {}, b"down"))
    feed_id = add_feed(rt, server.url("/down.xml"), consecutive_errors=2, first_error_at=utcnow() - timedelta(hours=25))
    handlers.poll_feed(rt, feed_id)
    stored = feed(rt, feed_id)
    assert (stored.status, stored.consecutive_errors, stored.last_error) == ("failing", 3, "HTTP 503")


def test_timeouts_back_off_like_server_errors(rt: Runtime, server: LocalHTTPServer) -> None:
    server.route("/slow.xml", slow(3.5, feed_reply(rss([]))))
    feed_id = add_feed(rt, server.url("/slow.xml"))
    delays = []
    for _ in range(3):
        handlers.poll_feed(rt, feed_id)
        delays.append(delay_seconds(feed(rt, feed_id)))
    stored = feed(rt, feed_id)
    assert stored.consecutive_errors == 3 and stored.status == "ok"
    assert stored.last_error is not None and "in time" in stored.last_error
    assert delays == sorted(delays) and delays[-1] >= 4 * MIN_INTERVAL * (1 - JITTER)
    assert {log.outcome for log in fetch_log(rt, feed_id)} == {"fetch_error"}


def test_429_slows_every_feed_on_the_host_through_redis(
    database: Database, server: LocalHTTPServer, redis_url: str
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    with polling_runtime(database, redis_url=redis_url, redis_key_prefix=prefix) as (rt, _):
        server.route("/limited.xml", Reply(429, {"Retry-After": "120"}))
        server.route("/other.xml", feed_reply(rss([Item("o", "https://site.example/o", "O")])))
        limited = add_feed(rt, server.url("/limited.xml"))
        sibling = add_feed(rt, server.url("/other.xml"))
        elsewhere = add_feed(rt, server.url("/other.xml", host="localhost"))  # another host name
        handlers.poll_feed(rt, limited)
        # The feed itself waits max(back-off, Retry-After); the host is slowed for the Retry-After.
        assert around(MIN_INTERVAL)[0] <= delay_seconds(feed(rt, limited)) <= around(MIN_INTERVAL)[1]
        before = utcnow()
        assert handlers.poll_feed(rt, sibling) is None  # deferred, not fetched
        deferred = feed(rt, sibling)
        assert deferred.next_poll_at >= before + timedelta(seconds=110)
        assert deferred.poll_token is None and deferred.last_polled_at is None
        assert fetch_log(rt, sibling) == []
        assert [h.path for h in server.hits] == ["/limited.xml"]
        assert handlers.poll_feed(rt, elsewhere).outcome == "ok"  # type: ignore[union-attr]
        assert rt.fetcher.limiter is not None
        assert rt.fetcher.limiter.usage("127.0.0.1").slowdown_remaining_seconds > 100
        assert rt.fetcher.limiter.usage("localhost").slowdown_remaining_seconds == 0


def test_429_after_a_redirect_slows_the_host_that_answered(
    database: Database, server: LocalHTTPServer, redis_url: str
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    with polling_runtime(database, redis_url=redis_url, redis_key_prefix=prefix) as (rt, _):
        server.route("/moved.xml", Reply(302, {"Location": server.url("/limited.xml", host="localhost")}))
        server.route("/limited.xml", Reply(429, {"Retry-After": "120"}))
        handlers.poll_feed(rt, add_feed(rt, server.url("/moved.xml")))
        assert [h.path for h in server.hits] == ["/moved.xml", "/limited.xml"]
        assert rt.fetcher.limiter is not None
        assert rt.fetcher.limiter.usage("localhost").slowdown_remaining_seconds > 100
        assert rt.fetcher.limiter.usage("127.0.0.1").slowdown_remaining_seconds == 0


def test_host_limits_apply_to_every_host_a_redirect_reaches(
    database: Database, server: LocalHTTPServer, redis_url: str
) -> None:
    """Feed proxies and link shorteners hand each request on to the publisher: the
    publisher's slow-down and request count must apply to that hop, not only to the proxy."""
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    with polling_runtime(database, redis_url=redis_url, redis_key_prefix=prefix) as (rt, _):
        server.route("/go", Reply(302, {"Location": server.url("/story", host="localhost")}))
        server.route("/story", Reply(200, {"Content-Type": "text/html"}, b"<p>story</p>"))
        limiter = rt.fetcher.limiter
        assert limiter is not None
        assert rt.fetcher.get(server.url("/go")).status == 200
        assert limiter.usage("localhost").started_last_minute == 1  # counted against the publisher
        assert limiter.usage("localhost").in_flight == 0 and limiter.usage("127.0.0.1").in_flight == 0

        limiter.penalize("localhost", 120)  # the publisher said 429
        with pytest.raises(HostBusy) as busy:
            rt.fetcher.get(server.url("/go"))
        assert busy.value.reason == "slowdown"
        assert [h.path for h in server.hits] == ["/go", "/story", "/go"]  # the publisher was not asked again
        assert limiter.usage("127.0.0.1").in_flight == 0  # the proxy's slot was given back


def test_per_feed_user_agent_is_sent(rt: Runtime, server: LocalHTTPServer) -> None:
    server.route("/a.xml", feed_reply(rss([])))
    server.route("/b.xml", feed_reply(rss([])))
    custom = add_feed(rt, server.url("/a.xml"), user_agent="FeedBot/2 (+https://ops.example/bot)")
    default = add_feed(rt, server.url("/b.xml"))
    handlers.poll_feed(rt, custom)
    handlers.poll_feed(rt, default)
    agents = {h.path: h.headers.get("User-Agent") for h in server.hits}
    assert agents == {"/a.xml": "FeedBot/2 (+https://ops.example/bot)", "/b.xml": "newsworker-test/1"}


@pytest.fixture
def patient_rt(database: Database) -> Iterator[Runtime]:
    # A poll held open on purpose must still be in flight when the test looks: with the short read
    # timeout of ``rt`` a loaded CI machine let the client give up (and free the lease) first.
    with polling_runtime(database, read_timeout_seconds=30, user_agent="newsworker-test/1") as (runtime, _):
        yield runtime


def test_a_feed_being_polled_is_not_polled_again(patient_rt: Runtime, server: LocalHTTPServer) -> None:
    rt = patient_rt
    arrived = threading.Event()
    release = threading.Event()
    body = feed_reply(rss([Item("a", "https://site.example/a", "A")]))

    def held(h: BaseHTTPRequestHandler) -> None:
        arrived.set()
        release.wait(10)
        body(h)

    server.route("/held.xml", held)
    feed_id = add_feed(rt, server.url("/held.xml"))
    results: list[object] = []
    first = threading.Thread(target=lambda: results.append(handlers.poll_feed(rt, feed_id)))
    first.start()
    try:
        assert arrived.wait(10)
        assert feed(rt, feed_id).poll_token is not None
        assert handlers.poll_feed(rt, feed_id) is None  # a second delivery while the first runs
        assert handlers.poll_feed(rt, feed_id, ignore_cache=True) is None
    finally:
        release.set()
        first.join(10)
    assert len(results) == 1 and results[0] is not None
    assert server.hit_count() == 1
    # A late duplicate of the scheduled task finds the feed not due and does nothing.
    assert handlers.poll_feed(rt, feed_id, only_if_due=True) is None
    assert server.hit_count() == 1
    make_due(rt, feed_id)
    assert handlers.poll_feed(rt, feed_id, only_if_due=True) is not None
    assert server.hit_count() == 2
    assert len(fetch_log(rt, feed_id)) == 2 and len(entries(rt, feed_id)) == 1


def test_a_lease_left_by_a_killed_worker_expires(rt: Runtime, server: LocalHTTPServer) -> None:
    server.route("/f.xml", feed_reply(rss([])))
    feed_id = add_feed(rt, server.url("/f.xml"))
    set_feed(rt, feed_id, poll_token="killed", lease_until=utcnow() + timedelta(minutes=5))
    assert handlers.poll_feed(rt, feed_id) is None
    set_feed(rt, feed_id, lease_until=utcnow() - timedelta(seconds=1))
    assert handlers.poll_feed(rt, feed_id) is not None
    assert feed(rt, feed_id).poll_token is None


def test_a_poll_killed_mid_fetch_does_not_wedge_its_feed_once_the_dispatcher_claims_it(
    rt: Runtime, server: LocalHTTPServer
) -> None:
    # Found by the fault run (tests/faults, Redis killed mid-poll): the dispatcher's claim renewed
    # lease_until but kept the dead poll's token, so every PollFeed it sent found the feed "held".
    server.route("/f.xml", feed_reply(rss([Item("a", "https://site.example/a", "A")])))
    feed_id = add_feed(rt, server.url("/f.xml"))
    set_feed(rt, feed_id, poll_token="killed", lease_until=utcnow() - timedelta(seconds=1))
    make_due(rt, feed_id)
    dispatcher = rt.dispatcher
    assert isinstance(dispatcher, LocalDispatcher)
    dispatcher.pending.clear()
    assert handlers.dispatch_due_feeds(rt).feeds_enqueued == 1
    [sent] = dispatcher.sent(PollFeed)
    assert isinstance(sent, PollFeed)
    assert handlers.poll_feed(rt, feed_id, only_if_due=True) is not None  # as the Celery task runs it
    assert server.hit_count() == 1 and len(entries(rt, feed_id)) == 1
    assert feed(rt, feed_id).poll_token is None


def test_allowed_networks_setting_reaches_the_fetcher(database: Database, server: LocalHTTPServer) -> None:
    server.route("/f.xml", feed_reply(rss([])))
    with polling_runtime(database, allow_private_networks=False) as (rt, _):
        blocked = add_feed(rt, server.url("/f.xml"))
        assert handlers.poll_feed(rt, blocked).outcome == "fetch_error"  # type: ignore[union-attr]
        assert server.hit_count() == 0
        assert "non-public address" in (feed(rt, blocked).last_error or "")
    with polling_runtime(database, allow_private_networks=False, allowed_networks="10.9.0.0/16, 127.0.0.1/32") as (
        rt,
        _,
    ):
        make_due(rt, blocked)
        assert handlers.poll_feed(rt, blocked).outcome == "ok"  # type: ignore[union-attr]
        assert server.hit_count() == 1
