"""What one process holds: settings, the database, one HTTP fetcher, a dispatcher.

Built once at start-up (a worker process, a CLI command), never at import time.
The dispatcher decides how follow-up work runs: through Celery queues when a
broker is configured, or in this process (embedded mode).
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from storage.db import Database
from worker.http.fetch import Fetcher, FetchPolicy
from worker.http.hostlimits import HostLimit, HostLimiter, HostLimits, LocalHostLimiter
from worker.http.polite import PoliteFetcher
from worker.model.fetch import FetchError, FetchResult
from worker.normalise import language
from worker.poll.schedule import SchedulePolicy
from worker.service.messages import Message
from worker.settings import Settings


class Dispatcher(Protocol):
    """Where follow-up work goes: Celery queues (``tasks.app.CeleryDispatcher``) or this process
    (:class:`worker.service.messages.LocalDispatcher`)."""

    def send(self, message: Message) -> None: ...

    def backlog(self, queue: str) -> int | None:
        """Messages waiting in ``queue`` (None when it cannot be known)."""
        ...


@dataclass(frozen=True)
class BrokerHeld:
    """The broker restarted (``run_id``); ``items`` are the (task name, item key) of every tracked
    message it still holds, queued or delivered and not acknowledged."""

    run_id: str
    items: frozenset[tuple[str, str]]


@dataclass(frozen=True)
class BrokerLook:
    """One look at the broker for the sweeper: ``restart`` when it restarted since the last
    handled restart (with what it still holds; None: no restart, or it cannot tell now),
    ``last_sweep`` when a sweep last ran to its end on any worker and ``now``, both on the
    broker's clock (epoch seconds)."""

    restart: BrokerHeld | None
    last_sweep: float | None
    now: float


@runtime_checkable
class BrokerWatch(Protocol):
    """What the sweeper asks a real broker (``tasks.app.CeleryDispatcher``) besides queue lengths:
    whether it restarted, and when the last sweep ran (a gap means nobody watched the leases)."""

    def look(self) -> BrokerLook: ...

    def swept(self, restart_handled: str | None) -> None:
        """Record the end of a sweep (and that the lost work of that restart was sent again)."""
        ...


def fetch_policy(settings: Settings) -> FetchPolicy:
    return FetchPolicy(
        allow_private_networks=settings.allow_private_networks,
        max_body_bytes=settings.max_body_bytes,
        deadline_seconds=settings.fetch_deadline_seconds,
        connect_timeout=settings.connect_timeout_seconds,
        read_timeout=settings.read_timeout_seconds,
        user_agent=settings.user_agent,
        allowed_networks=settings.allowed_network_list,
        dns_cache_seconds=settings.dns_cache_seconds,
        ca_bundle=settings.ca_bundle,
    )


def schedule_policy(settings: Settings) -> SchedulePolicy:
    return SchedulePolicy.from_seconds(
        min_interval_seconds=settings.poll_min_interval_seconds,
        max_interval_seconds=settings.poll_max_interval_seconds,
        error_backoff_max_seconds=settings.error_backoff_max_seconds,
        failing_after_seconds=settings.failing_after_seconds,
    )


def host_limiter(settings: Settings, *, local: bool = False) -> HostLimits | None:
    """Per-host limits shared through Redis. Without Redis: None, or with ``local`` the same
    limits kept in this process (the embedded ``run``, whose pool fetches concurrently)."""
    default = HostLimit(max_concurrent=settings.host_max_concurrency, per_minute=settings.host_requests_per_minute)
    overrides = {
        host: HostLimit(
            max_concurrent=int(limits.get("concurrency", settings.host_max_concurrency)),
            per_minute=int(limits.get("per_minute", settings.host_requests_per_minute)),
        )
        for host, limits in settings.host_overrides.items()
    }
    url = settings.effective_redis_url
    if url is None:
        return LocalHostLimiter(default, overrides) if local else None
    import redis

    return HostLimiter(redis.Redis.from_url(url), default, overrides, prefix=settings.redis_key_prefix)


@dataclass(frozen=True)
class Prefetched:
    """A fetch already made, replayed to a stage that takes a fetcher (picklable: it crosses
    into the normalisation process pool). Holds the response, or the fetch error's reason and text."""

    result: FetchResult | None
    error_reason: str = ""
    error_text: str = ""

    @classmethod
    def fetch(cls, fetcher: PoliteFetcher, url: str, *, accept: str, user_agent: str | None) -> Prefetched:
        try:
            result = fetcher.get(url, accept=accept, user_agent=user_agent)
        except FetchError as exc:
            return cls(None, exc.reason, str(exc))
        return cls(dataclasses.replace(result, headers=dict(result.headers)))  # a plain dict pickles

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        user_agent: str | None = None,
        accept: str | None = None,
    ) -> FetchResult:
        """The response fetched before (the arguments were those of that fetch)."""
        if self.result is None:
            error = FetchError(self.error_text, url=url)
            error.reason = self.error_reason
            raise error
        return self.result


@dataclass
class Runtime:
    settings: Settings
    db: Database
    fetcher: PoliteFetcher
    dispatcher: Dispatcher
    schedule: SchedulePolicy
    rng: random.Random = field(default_factory=random.Random)
    # Embedded mode, optional: article pages are normalised in this (process) pool once it has
    # started (start_normalising), before that in the fetch threads.
    _normalisers: Executor | None = None
    _normalisers_started: Future[None] | None = None

    @classmethod
    def build(cls, settings: Settings, dispatcher: Dispatcher) -> Runtime:
        return cls(
            settings=settings,
            db=Database(settings.database_url),
            fetcher=PoliteFetcher(Fetcher(fetch_policy(settings)), host_limiter(settings)),
            dispatcher=dispatcher,
            schedule=schedule_policy(settings),
        )

    @property
    def normalise_pool(self) -> Executor | None:
        """The normalising processes, once they have started (until then pages are normalised
        in the fetch threads: no page waits for a process start)."""
        started = self._normalisers_started
        return self._normalisers if started is not None and started.done() and not started.exception() else None

    def start_normalising(self, pool: Executor, probe: Callable[[], None]) -> None:
        """Use ``pool`` for pages once ``probe`` has run in it (submitting it starts the processes)."""
        self.stop_normalising()
        self._normalisers, self._normalisers_started = pool, pool.submit(probe)

    @property
    def normalising(self) -> bool:
        """Normalising processes are started or starting."""
        return self._normalisers is not None

    def stop_normalising(self, *, wait: bool = True) -> None:
        """Stop the normalising processes, if any (``wait=False``: drop the pages they hold)."""
        pool, self._normalisers, self._normalisers_started = self._normalisers, None, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)

    def close(self) -> None:
        self.stop_normalising()
        self.fetcher.close()
        self.db.dispose()


_warming: threading.Thread | None = None


def start_warm_up() -> None:
    """Begin loading the lazily built models in a thread, so the ~2 s of LZMA decompression
    (which releases the GIL) overlaps the worker's own imports and start-up."""
    global _warming
    if _warming is None:
        _warming = threading.Thread(target=language.warm_up, name="newsworker-warm-up", daemon=True)
        _warming.start()


def warm_up() -> None:
    """Have the lazily built models (the language model) loaded before a worker forks its
    pool, so every child starts ready and shares them copy-on-write."""
    if _warming is not None:
        _warming.join()
    language.warm_up()  # at once when loaded; loads here when no thread was started
