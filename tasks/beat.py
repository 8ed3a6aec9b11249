"""The beat scheduler: sends the dispatcher only while it holds the single-beat lock.

Selected in ``celeryconfig.beat_scheduler``. It is Celery's plain in-memory
scheduler (which feed is due lives in the database, so there is nothing worth
persisting in a shelve file; the beat that becomes active sends the dispatcher at
once, then every interval) plus a :class:`worker.beatlock.LeaderLock` check
on every tick: the active beat renews the lock at least three times per TTL;
any other beat stands by, checking as often, and takes over once the lock is
free (released at a clean shutdown, or expired after the active beat died).
"""

from __future__ import annotations

from typing import Any

import redis
from celery.beat import Scheduler
from celery.utils.log import get_logger

from worker.beatlock import LeaderLock, beat_lock_key
from worker.service.messages import DispatchDueFeeds
from worker.settings import get_settings

logger = get_logger(__name__)

# Sent as soon as a beat becomes active, then on their schedule.
START_AT_ONCE = frozenset({DispatchDueFeeds.NAME})
# Redis unreachable: look again this soon (not a third of the lock's TTL, 20 s with the
# defaults), so that the dispatcher and its sweep of lost work resume as soon as Redis is back.
RETRY_AFTER_REDIS_ERROR = 1.0


class SingleBeatScheduler(Scheduler):  # type: ignore[misc]
    _lock: LeaderLock | None = None
    _active: bool = False
    _announced_standby: bool = False

    def leader_lock(self) -> LeaderLock:
        if self._lock is None:
            settings = get_settings()
            url = settings.effective_redis_url or self.app.conf.broker_url
            client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
            self._lock = LeaderLock(client, beat_lock_key(settings.redis_key_prefix), settings.beat_lock_seconds)
        return self._lock

    def tick(self, *args: Any, **kwargs: Any) -> float:
        lock = self.leader_lock()
        pause = min(lock.renew_every_seconds, float(self.max_interval))
        try:
            state = lock.acquire_or_renew()
        except redis.RedisError as exc:
            # Without Redis we cannot know whether another beat is active: send nothing.
            if self._active:
                logger.warning("beat: cannot renew the single-beat lock (%s); not sending until it can", exc)
            self._active = False
            return min(pause, RETRY_AFTER_REDIS_ERROR)
        if state == "held_elsewhere":
            if self._active or not self._announced_standby:
                holder = lock.info()
                logger.warning(
                    "beat: another beat is active (%s holds %s for %.0fs more); standing by",
                    holder.owner,
                    lock.key,
                    holder.ttl_seconds,
                )
                self._announced_standby = True
            self._active = False
            return pause
        if not self._active:
            logger.info("beat: active (%s holds %s); sending the dispatcher", lock.owner, lock.key)
            self._active = True
            self._dispatch_now()
        return float(min(super().tick(*args, **kwargs), pause))

    def _dispatch_now(self) -> None:
        """No idle start: the beat that becomes active sends the dispatcher at once, not one
        interval later (a new deployment's feeds are polled within seconds)."""
        for entry in list(self.schedule.values()):
            if entry.task in START_AT_ONCE:
                self.apply_entry(entry, producer=self.producer)

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._lock is not None and self._active:
                try:
                    released = self._lock.release()
                except redis.RedisError as exc:
                    logger.warning("beat: could not release the single-beat lock (%s); it expires on its own", exc)
                else:
                    if released:
                        logger.info("beat: released %s for a standby beat", self._lock.key)
                self._active = False
