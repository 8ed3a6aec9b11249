"""The single-beat lock and the beat scheduler that obeys it, on a private redis-server."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery import Celery

from worker.beatlock import LeaderLock, beat_lock_key

pytestmark = pytest.mark.integration


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    r = redis.Redis.from_url(redis_url)
    yield r
    r.close()


@pytest.fixture
def key() -> str:
    return beat_lock_key(f"t{uuid.uuid4().hex[:8]}:")


def test_one_holder_renews_others_stand_by(client: redis.Redis, key: str) -> None:
    first = LeaderLock(client, key, ttl_seconds=30, owner="beat-1")
    second = LeaderLock(client, key, ttl_seconds=30, owner="beat-2")
    assert first.acquire_or_renew() == "acquired"
    assert second.acquire_or_renew() == "held_elsewhere"
    client.pexpire(key, 1000)
    assert first.acquire_or_renew() == "renewed"
    info = second.info()
    assert info.owner == "beat-1" and 20 < info.ttl_seconds <= 30  # renewal restored the full TTL
    assert second.release() is False  # only the owner can release
    assert first.info().owner == "beat-1"
    assert first.release() is True
    assert second.acquire_or_renew() == "acquired"


def test_a_dead_holder_loses_the_lock_and_cannot_steal_it_back(client: redis.Redis, key: str) -> None:
    dead = LeaderLock(client, key, ttl_seconds=0.3, owner="dead")
    standby = LeaderLock(client, key, ttl_seconds=30, owner="standby")
    assert dead.acquire_or_renew() == "acquired"
    assert standby.acquire_or_renew() == "held_elsewhere"
    deadline = time.monotonic() + 5
    while standby.acquire_or_renew() != "acquired":  # expiry, not a timer, decides
        assert time.monotonic() < deadline, "the lock never expired"
        time.sleep(0.05)
    assert dead.acquire_or_renew() == "held_elsewhere"  # woke up after a stall: stands by
    assert dead.release() is False
    assert standby.info().owner == "standby"


def test_many_contenders_one_winner(redis_url: str, key: str) -> None:
    results: list[str] = []
    barrier = threading.Barrier(16)

    def contend(n: int) -> None:
        r = redis.Redis.from_url(redis_url)
        lock = LeaderLock(r, key, ttl_seconds=30, owner=f"beat-{n}")
        barrier.wait()
        results.append(lock.acquire_or_renew())
        r.close()

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["acquired"] + ["held_elsewhere"] * 15


def _scheduler(monkeypatch: pytest.MonkeyPatch, redis_url: str, prefix: str, sent: list[str], name: str) -> Any:
    from tasks.beat import SingleBeatScheduler
    from worker.settings import get_settings

    monkeypatch.setenv("NEWSWORKER_REDIS_URL", redis_url)
    monkeypatch.setenv("NEWSWORKER_REDIS_KEY_PREFIX", prefix)
    monkeypatch.setenv("NEWSWORKER_BEAT_LOCK_SECONDS", "30")
    get_settings.cache_clear()
    app = Celery(f"test-{name}", broker=redis_url, set_as_current=False)
    app.conf.beat_schedule = {"dispatch": {"task": "newsworker.dispatch_due_feeds", "schedule": 0.01}}
    scheduler = SingleBeatScheduler(app=app)
    # Record instead of publishing: what is under test is whether this beat sends at all.
    monkeypatch.setattr(scheduler, "apply_entry", lambda entry, producer=None: sent.append(name))
    return scheduler


def test_only_the_lock_holder_sends_and_a_clean_stop_hands_over(
    monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    sent: list[str] = []
    one = _scheduler(monkeypatch, redis_url, prefix, sent, "one")
    two = _scheduler(monkeypatch, redis_url, prefix, sent, "two")

    def run(scheduler: Any, ticks: int) -> None:
        for _ in range(ticks):
            pause = scheduler.tick()
            assert pause <= 10  # never sleeps past a third of the lock's TTL
            time.sleep(max(0.0, min(pause, 0.02)))

    run(one, 30)
    run(two, 30)
    run(one, 30)
    assert "one" in sent and "two" not in sent
    one.close()  # releases the lock: the standby need not wait for the TTL
    assert two.leader_lock().info().owner is None
    before = len(sent)
    run(two, 30)
    assert "two" in sent[before:]
    run(one, 10)  # the old beat, restarted, now stands by
    assert "one" not in sent[before:]
    two.close()


def test_after_redis_comes_back_the_beat_sends_within_a_second_not_a_third_of_the_ttl(
    monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    # The short Redis-kill fault run: the beat's renewal failed while Redis was down, and it
    # slept a third of the lock's TTL (20 s with the defaults) before looking again, so neither
    # the dispatcher nor the sweep of lost work ran for 20 s after Redis was back.
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    sent: list[str] = []
    beat = _scheduler(monkeypatch, redis_url, prefix, sent, "one")
    assert beat.tick() <= 10 and "one" in sent
    lock = beat.leader_lock()
    renew = lock.acquire_or_renew

    def away() -> str:
        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1. Connection refused.")

    monkeypatch.setattr(lock, "acquire_or_renew", away)
    assert beat.tick() <= 1.0  # looks again within a second
    monkeypatch.setattr(lock, "acquire_or_renew", renew)  # Redis is back
    before = len(sent)
    beat.tick()
    assert len(sent) > before  # sending again at once, as the active beat
    beat.close()
