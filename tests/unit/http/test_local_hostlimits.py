"""The in-process per-host limiter (embedded mode without Redis): the same limits as the Redis one."""

from __future__ import annotations

import threading

import pytest

from worker.http.hostlimits import HostBusy, HostLimit, HostSlot, LocalHostLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_concurrency_per_host_and_release() -> None:
    limiter = LocalHostLimiter(HostLimit(max_concurrent=2, per_minute=0))
    a = limiter.acquire("news.example")
    b = limiter.acquire("news.example")
    other = limiter.acquire("other.example")  # another host has its own slots
    busy = limiter.try_acquire("News.Example.")
    assert isinstance(busy, HostBusy) and busy.reason == "concurrency"
    with pytest.raises(HostBusy):
        limiter.acquire("news.example", timeout=0)
    a.release()
    with limiter.acquire("news.example") as c:
        assert isinstance(c, HostSlot)
        assert limiter.usage("news.example").in_flight == 2
    b.release()
    other.release()
    assert limiter.usage("news.example").in_flight == 0
    assert limiter.peak_in_flight["news.example"] == 2


def test_a_waiting_acquire_gets_the_slot_another_thread_releases() -> None:
    limiter = LocalHostLimiter(HostLimit(max_concurrent=1, per_minute=0))
    held = limiter.acquire("news.example")
    got: list[object] = []
    waiter = threading.Thread(target=lambda: got.append(limiter.acquire("news.example", timeout=30)))
    waiter.start()
    held.release()
    waiter.join(30)
    assert len(got) == 1 and isinstance(got[0], HostSlot)


def test_requests_per_minute_is_a_rolling_window() -> None:
    clock = Clock()
    limiter = LocalHostLimiter(HostLimit(max_concurrent=5, per_minute=2), clock=clock)
    limiter.acquire("news.example").release()
    clock.now += 10
    limiter.acquire("news.example").release()
    busy = limiter.try_acquire("news.example")
    assert isinstance(busy, HostBusy) and busy.reason == "rate"
    assert busy.retry_after_seconds == pytest.approx(50)
    with pytest.raises(HostBusy):  # the window ends after the timeout: refused at once
        limiter.acquire("news.example", timeout=5)
    clock.now += 50.5
    limiter.acquire("news.example").release()


def test_slow_down_applies_to_the_whole_host_and_overrides_group_subdomains() -> None:
    clock = Clock()
    limiter = LocalHostLimiter(
        HostLimit(max_concurrent=2, per_minute=0),
        {"example.org": HostLimit(max_concurrent=1, per_minute=0)},
        clock=clock,
    )
    assert limiter.limit_for("feeds.example.org") == ("example.org", HostLimit(max_concurrent=1, per_minute=0))
    slot = limiter.acquire("feeds.example.org")
    assert isinstance(limiter.try_acquire("www.example.org"), HostBusy)  # one key for the override domain
    slot.release()
    limiter.penalize("news.example", 120)
    busy = limiter.try_acquire("news.example")
    assert isinstance(busy, HostBusy) and busy.reason == "slowdown"
    limiter.penalize("news.example", 10)  # never shortens
    assert limiter.usage("news.example").slowdown_remaining_seconds == pytest.approx(120)
    clock.now += 121
    limiter.acquire("news.example").release()
