"""Per-host limits on a real, private redis-server (started per module, no persistence)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.support.services import temporary_redis_server
from worker.http.hostlimits import HostBusy, HostLimit, HostLimiter, HostSlot

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    try:
        with temporary_redis_server() as url:
            yield url
    except RuntimeError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    yield r
    r.close()


def limiter(client: redis.Redis, **kw: object) -> HostLimiter:
    return HostLimiter(client, **kw)  # type: ignore[arg-type]


def host() -> str:
    return f"h{uuid.uuid4().hex[:8]}.example"


def test_at_most_n_concurrent_per_host(client: redis.Redis) -> None:
    lim = limiter(client, default=HostLimit(max_concurrent=2, per_minute=0))
    h = host()
    a = lim.acquire(h)
    b = lim.acquire(h)
    with pytest.raises(HostBusy) as info:
        lim.acquire(h, timeout=0.2)
    assert info.value.reason == "concurrency"
    assert 0 < info.value.retry_after_seconds <= 90
    other = lim.acquire(host())  # other hosts are not affected
    other.release()
    a.release()
    c = lim.acquire(h)
    assert lim.usage(h).in_flight == 2
    b.release()
    c.release()
    assert lim.usage(h).in_flight == 0


def test_waiting_acquire_gets_a_slot_freed_meanwhile(client: redis.Redis) -> None:
    lim = limiter(client, default=HostLimit(max_concurrent=1, per_minute=0))
    h = host()
    held = lim.acquire(h)
    threading.Timer(0.3, held.release).start()
    with lim.acquire(h, timeout=5.0) as slot:
        assert isinstance(slot, HostSlot)


def test_killed_worker_slot_expires(client: redis.Redis) -> None:
    # (a lease of 2 s, not less: the second acquire must come before it ends on a loaded machine)
    lim = limiter(client, default=HostLimit(max_concurrent=1, per_minute=0), lease_seconds=2.0)
    h = host()
    lim.acquire(h)  # never released: the worker "died"
    with pytest.raises(HostBusy):
        lim.acquire(h)
    time.sleep(2.1)
    lim.acquire(h).release()
    # Nothing lingers in Redis either: keys carry TTLs.
    assert all(client.pttl(k) > 0 for k in client.keys("newsworker:*"))


def test_requests_per_minute(client: redis.Redis) -> None:
    lim = limiter(client, default=HostLimit(max_concurrent=5, per_minute=3))
    h = host()
    for _ in range(3):
        lim.acquire(h).release()
    with pytest.raises(HostBusy) as info:
        lim.acquire(h, timeout=1.0)  # the window frees in ~60 s: fail at once
    assert info.value.reason == "rate"
    assert 50 < info.value.retry_after_seconds <= 60
    assert lim.usage(h).started_last_minute == 3


def test_penalty_slows_every_feed_of_the_host(client: redis.Redis) -> None:
    lim = limiter(client)
    h = host()
    lim.penalize(h, 30)
    with pytest.raises(HostBusy) as info:
        lim.acquire(h, timeout=1.0)
    assert info.value.reason == "slowdown"
    assert 28 < info.value.retry_after_seconds <= 30
    lim.penalize(h, 5)  # a shorter penalty never shortens the slow-down
    assert lim.usage(h).slowdown_remaining_seconds > 28
    lim.acquire(host()).release()  # other hosts unaffected


def test_short_penalty_is_waited_out_within_timeout(client: redis.Redis) -> None:
    lim = limiter(client)
    h = host()
    lim.penalize(h, 0.3)
    with lim.acquire(h, timeout=3.0):
        pass


def test_override_groups_subdomains(client: redis.Redis) -> None:
    lim = limiter(
        client,
        default=HostLimit(max_concurrent=2),
        overrides={"Reddit.example": HostLimit(max_concurrent=1, per_minute=10)},
    )
    assert lim.limit_for("old.reddit.example") == (
        "reddit.example",
        HostLimit(max_concurrent=1, per_minute=10),
    )
    assert lim.limit_for("notreddit.example")[0] == "notreddit.example"
    slot = lim.acquire("www.reddit.example")
    with pytest.raises(HostBusy):
        lim.acquire("old.reddit.example")
    slot.release()
    lim.acquire("REDDIT.example.").release()


def test_keys_are_namespaced(client: redis.Redis) -> None:
    lim = limiter(client, prefix="nwtest:")
    h = host()
    lim.acquire(h).release()
    lim.penalize(h, 10)
    keys = sorted(k.decode() if isinstance(k, bytes) else k for k in client.keys("*"))
    assert keys and all(k.startswith(f"nwtest:host:{h}:") for k in keys)


def test_concurrency_holds_across_many_clients(redis_url: str) -> None:
    """16 threads with their own connections: never more than N holders at once."""
    n = 3
    h = host()
    holders = 0
    peak = 0
    done = 0
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        nonlocal holders, peak, done
        r = redis.Redis.from_url(redis_url)
        lim = HostLimiter(r, HostLimit(max_concurrent=n, per_minute=0), poll_seconds=0.005)
        try:
            for _ in range(15):
                with lim.acquire(h, timeout=30):
                    with lock:
                        holders += 1
                        peak = max(peak, holders)
                    time.sleep(0.002)
                    with lock:
                        holders -= 1
                        done += 1
        except BaseException as exc:  # surfaced below, not swallowed
            errors.append(exc)
        finally:
            r.close()

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert done == 16 * 15
    assert 1 <= peak <= n  # never exceeded (reaching n is shown deterministically above)
