"""Prometheus metrics, safe for Celery's prefork pool.

The worker's main process calls :func:`setup` once before the pool forks (the
``worker_init`` signal): it points ``PROMETHEUS_MULTIPROC_DIR`` at a directory
of its own, empties it, and creates the metrics there. Every pool child then
writes its counts into its own memory-mapped file, and :func:`serve` (started
from ``worker_ready``) sums all files at scrape time, together with the queue
depths it reads from Redis right then. Processes that never call :func:`setup`
(the CLI, embedded mode, tests) record nothing: every ``observe_*`` is a no-op.

``prometheus_client`` is imported only inside :func:`setup`, because it decides
at import time whether it runs in multi-process mode.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIServer

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Buckets for fetches and tasks: polite fetches take 50 ms – 30 s (the deadline).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)

# Kombu's Redis transport keeps a queue with priorities in one list per step
# ("name", "name\x06\x163", …) and the delivered-but-unacknowledged messages in one hash.
_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (0, 3, 6, 9)
_UNACKED_KEY = "unacked"


@dataclass
class _Metrics:
    polls: Any
    fetch_seconds: Any
    articles_ingested: Any
    articles_existing: Any
    duplicates: Any
    stories: Any
    throttled: Any
    tasks: Any
    task_seconds: Any
    task_failures: Any
    task_retries: Any


@dataclass(frozen=True)
class MetricsSetup:
    """Where this worker's metric files live and whether setup created that directory."""

    directory: Path
    owned: bool


_metrics: _Metrics | None = None
_setup: MetricsSetup | None = None
_replaced_value_class: Any = None
_lock = threading.Lock()


def enabled() -> bool:
    return _metrics is not None


def setup(directory: str | os.PathLike[str] | None = None) -> MetricsSetup:
    """Prepare multi-process metrics in this (parent) process; call before forking workers.

    ``directory`` (else ``$PROMETHEUS_MULTIPROC_DIR``, else a new private temporary
    directory) must belong to this worker alone: its metric files are deleted here,
    so counters start from zero on every start (Prometheus handles counter resets).
    """
    global _metrics, _setup, _replaced_value_class
    with _lock:
        if _setup is not None:
            return _setup
        chosen = directory or os.environ.get(MULTIPROC_ENV)
        owned = not chosen
        path = Path(chosen) if chosen else Path(tempfile.mkdtemp(prefix="newsworker-metrics-"))
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        os.environ[MULTIPROC_ENV] = str(path)

        from prometheus_client import Counter, Histogram, values

        # prometheus_client picks its value class when it is first imported, and that class
        # caches its open files. Install a fresh multi-process class for this directory, so it
        # does not matter who imported prometheus_client first or whether setup ran before.
        _replaced_value_class = values.ValueClass
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
        # registry=None: the metrics are read back from the files (see registry()), and a
        # second setup() in one process (tests) must not collide in the global registry.

        _metrics = _Metrics(
            polls=Counter("newsworker_polls", "Feed polls by outcome.", ["outcome"], registry=None),
            fetch_seconds=Histogram(
                "newsworker_fetch_duration_seconds",
                "Time to fetch (and for feeds, parse) one document.",
                ["kind"],
                buckets=LATENCY_BUCKETS,
                registry=None,
            ),
            articles_ingested=Counter(
                "newsworker_articles_ingested", "Articles stored for the first time.", registry=None
            ),
            articles_existing=Counter(
                "newsworker_articles_existing",
                "Entries whose article was already stored (same address).",
                registry=None,
            ),
            duplicates=Counter(
                "newsworker_articles_duplicate", "Articles found to copy an earlier article.", registry=None
            ),
            stories=Counter("newsworker_stories_created", "New stories started by an article.", registry=None),
            throttled=Counter(
                "newsworker_host_throttled",
                "Requests held back by the per-host limits.",
                ["host", "reason"],
                registry=None,
            ),
            tasks=Counter(
                "newsworker_tasks", "Tasks finished, by task name and final state.", ["task", "state"], registry=None
            ),
            task_seconds=Histogram(
                "newsworker_task_duration_seconds",
                "Run time of one task.",
                ["task"],
                buckets=LATENCY_BUCKETS,
                registry=None,
            ),
            task_failures=Counter(
                "newsworker_task_failures",
                "Tasks that failed for good, by task and exception.",
                ["task", "exception"],
                registry=None,
            ),
            task_retries=Counter(
                "newsworker_task_retries", "Task retries scheduled, by task.", ["task"], registry=None
            ),
        )
        _setup = MetricsSetup(path, owned)
        return _setup


def teardown() -> None:
    """Forget the metrics; delete the directory if :func:`setup` created it."""
    global _metrics, _setup, _replaced_value_class
    with _lock:
        if _setup is not None and _setup.owned:
            shutil.rmtree(_setup.directory, ignore_errors=True)
        if _setup is not None and os.environ.get(MULTIPROC_ENV) == str(_setup.directory):
            del os.environ[MULTIPROC_ENV]
        if _replaced_value_class is not None:
            from prometheus_client import values

            values.ValueClass = _replaced_value_class
            _replaced_value_class = None
        _metrics = None
        _setup = None


def mark_process_dead(pid: int) -> None:
    """Bookkeeping when a pool child exits (its counter files stay and keep counting)."""
    if _setup is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, str(_setup.directory))  # type: ignore[no-untyped-call]


# ------------------------------------------------------------------ recording


def observe_poll(outcome: str, seconds: float | None = None) -> None:
    """One feed poll finished with ``outcome`` (ok, not_modified, http_error, fetch_error, parse_error…)."""
    if _metrics is None:
        return
    _metrics.polls.labels(outcome).inc()
    if seconds is not None:
        _metrics.fetch_seconds.labels("feed").observe(seconds)


def observe_fetch(kind: str, seconds: float) -> None:
    """Latency of a fetch other than a feed poll (``kind="article"`` for article pages)."""
    if _metrics is not None:
        _metrics.fetch_seconds.labels(kind).observe(seconds)


def observe_article(*, created: bool, duplicate: bool = False) -> None:
    """An entry became an article: ``created`` if it is new, else it was already stored;
    ``duplicate`` when the new article copies an earlier one (``duplicate_of`` set)."""
    if _metrics is None:
        return
    (_metrics.articles_ingested if created else _metrics.articles_existing).inc()
    if created and duplicate:
        _metrics.duplicates.inc()


def observe_duplicate() -> None:
    """An article was found to copy an earlier one (``duplicate_of`` set)."""
    if _metrics is not None:
        _metrics.duplicates.inc()


def observe_story(*, created: bool) -> None:
    """An article was linked into a story; ``created`` when it started a new one."""
    if _metrics is not None and created:
        _metrics.stories.inc()


def observe_throttled(host: str, reason: str) -> None:
    """A request to ``host`` was held back (``reason``: concurrency, rate, slow_down…)."""
    if _metrics is not None:
        _metrics.throttled.labels(host, reason).inc()


def observe_task(task: str, state: str, seconds: float | None) -> None:
    """A task finished in ``state`` (success, failure, retry…)."""
    if _metrics is None:
        return
    _metrics.tasks.labels(task, state).inc()
    if seconds is not None:
        _metrics.task_seconds.labels(task).observe(seconds)


def observe_task_failure(task: str, exception: str) -> None:
    if _metrics is not None:
        _metrics.task_failures.labels(task, exception).inc()


def observe_task_retry(task: str) -> None:
    if _metrics is not None:
        _metrics.task_retries.labels(task).inc()


# ------------------------------------------------------------------ scraping


@dataclass(frozen=True)
class QueueDepth:
    queue: str
    ready: int


def queue_depths(client: Any, queues: Sequence[str]) -> tuple[list[QueueDepth], int]:
    """Messages waiting in each queue (all priority lists) and messages delivered but not acknowledged."""
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        for step in _PRIORITY_STEPS:
            pipe.llen(queue if step == 0 else f"{queue}{_PRIORITY_SEP}{step}")
    pipe.hlen(_UNACKED_KEY)
    counts = [int(n) for n in pipe.execute()]
    per_queue = len(_PRIORITY_STEPS)
    depths = [QueueDepth(queue, sum(counts[i * per_queue : (i + 1) * per_queue])) for i, queue in enumerate(queues)]
    return depths, counts[-1]


class QueueDepthCollector:
    """Reads queue lengths from the broker at scrape time (nothing is stored between scrapes)."""

    def __init__(self, redis_url: str, queues: Iterable[str]) -> None:
        self.redis_url = redis_url
        self.queues = tuple(queues)
        self._client: Any = None

    def _redis(self) -> Any:
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(self.redis_url, socket_timeout=3, socket_connect_timeout=3)
        return self._client

    def collect(self) -> Iterator[Any]:
        import redis
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily("newsworker_broker_up", "1 if the broker answered the last scrape.")
        try:
            depths, unacked = queue_depths(self._redis(), self.queues)
        except (redis.RedisError, OSError) as exc:
            # The scrape still answers (the other metrics matter most when the broker is down).
            log.warning("queue depth: broker unreachable", extra={"error": str(exc)})
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        depth = GaugeMetricFamily("newsworker_queue_depth", "Messages waiting in a queue.", labels=["queue"])
        for item in depths:
            depth.add_metric([item.queue], item.ready)
        yield depth
        yield GaugeMetricFamily(
            "newsworker_queue_unacked", "Messages delivered to a worker and not yet acknowledged.", value=unacked
        )


class EventBacklogCollector:
    """The outbox's unpublished events and the age of the oldest, read from the database at
    scrape time (``read`` returns both; see ``worker.service.events.backlog_reader``)."""

    def __init__(self, read: Callable[[], tuple[int, float]]) -> None:
        self.read = read

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        try:
            unpublished, oldest_age = self.read()
        except Exception as exc:  # the scrape still answers; the database may be away
            log.warning("event backlog: database unreachable", extra={"error": str(exc)})
            return
        yield GaugeMetricFamily(
            "newsworker_events_unpublished", "Events in the outbox not yet published.", value=unpublished
        )
        yield GaugeMetricFamily(
            "newsworker_events_oldest_unpublished_age_seconds",
            "Age of the oldest unpublished event (0 when none).",
            value=oldest_age,
        )


@dataclass
class MetricsServer:
    port: int
    server: WSGIServer
    thread: threading.Thread

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def registry(
    redis_url: str | None = None,
    queues: Iterable[str] = (),
    event_backlog: Callable[[], tuple[int, float]] | None = None,
) -> Any:
    """A registry that sums every process's metric files, plus the queue depths and the
    event outbox's backlog."""
    if _setup is None:
        raise RuntimeError("metrics.setup() must run first")
    from prometheus_client import CollectorRegistry, multiprocess

    reg = CollectorRegistry()
    multiprocess.MultiProcessCollector(reg, path=str(_setup.directory))  # type: ignore[no-untyped-call]
    if redis_url:
        reg.register(QueueDepthCollector(redis_url, queues))
    if event_backlog is not None:
        reg.register(EventBacklogCollector(event_backlog))
    return reg


def serve(
    port: int,
    *,
    redis_url: str | None = None,
    queues: Iterable[str] = (),
    addr: str = "0.0.0.0",
    event_backlog: Callable[[], tuple[int, float]] | None = None,
) -> MetricsServer:
    """Serve ``/metrics`` on ``port`` from a daemon thread of this process."""
    from prometheus_client import start_http_server

    server, thread = start_http_server(port, addr=addr, registry=registry(redis_url, queues, event_backlog))
    bound_port = int(server.server_address[1])
    log.info("metrics endpoint listening", extra={"port": bound_port})
    return MetricsServer(bound_port, server, thread)


__all__ = [
    "LATENCY_BUCKETS",
    "MULTIPROC_ENV",
    "EventBacklogCollector",
    "MetricsServer",
    "MetricsSetup",
    "QueueDepth",
    "QueueDepthCollector",
    "enabled",
    "mark_process_dead",
    "observe_article",
    "observe_duplicate",
    "observe_fetch",
    "observe_poll",
    "observe_story",
    "observe_task",
    "observe_task_failure",
    "observe_task_retry",
    "observe_throttled",
    "queue_depths",
    "registry",
    "serve",
    "setup",
    "teardown",
]
