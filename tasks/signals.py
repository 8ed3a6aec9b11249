"""Celery signal hooks: logging set-up, one structured event per task, metrics, beat heartbeat.

Imported by ``tasks/__init__`` so that both ``newsworker worker`` and plain
``celery -A tasks worker`` get them. Nothing here connects anywhere at import.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from celery import Task, signals

from worker import health, metrics
from worker import logging as nwlog
from worker.service import events
from worker.service.messages import REGISTRY, IngestEntry, PollFeed
from worker.settings import get_settings

log = logging.getLogger("newsworker.tasks")


_LEVELS = {"success": logging.INFO, "retry": logging.WARNING, "interrupted": logging.WARNING}

_started: dict[str, tuple[float, float]] = {}  # task id -> (monotonic, process CPU time) at start
_errors: dict[str, str] = {}
_metrics_server: metrics.MetricsServer | None = None
_beat_heartbeat: Path | None = None


# ------------------------------------------------------------------ logging


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    # Connecting to setup_logging stops Celery from installing its own handlers:
    # worker and beat log in the format and at the level the settings say.
    settings = get_settings()
    nwlog.configure_logging(settings.log_level, settings.log_format)


def _task_fields(task_name: str, task_id: str | None, args: Any, kwargs: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"task_name": task_name, "task_id": task_id}
    kind = REGISTRY.get(task_name)
    if kind is not None:
        # arguments that do not fit the message: log the task without its ids
        with contextlib.suppress(TypeError):
            fields.update(kind(*(args or ()), **(kwargs or {})).subject())
    return fields


def _result_fields(task_name: str, retval: Any) -> dict[str, Any]:
    """What the handler's result adds to the task event (poll outcome, stored article id)."""
    if task_name == PollFeed.NAME and retval is not None:
        outcome = getattr(retval, "outcome", None)
        new_entries = getattr(retval, "new_entry_ids", None)
        return {"poll_outcome": outcome, "new_entries": len(new_entries) if new_entries is not None else None}
    if task_name == IngestEntry.NAME and isinstance(retval, int):
        return {"article_id": retval}
    if isinstance(retval, dict):
        return {k: v for k, v in retval.items() if isinstance(v, int | str | float | bool)}
    return {}


@signals.task_prerun.connect
def _task_prerun(
    task_id: str | None = None, task: Task | None = None, args: Any = None, kwargs: Any = None, **_: Any
) -> None:
    name = task.name if task is not None else "?"
    if task_id:
        _started[task_id] = (time.monotonic(), time.process_time())
    nwlog.clear()
    nwlog.bind(**_task_fields(name, task_id, args, kwargs))


@signals.task_retry.connect
def _task_retry(sender: Task | None = None, request: Any = None, reason: Any = None, **_: Any) -> None:
    name = sender.name if sender is not None else "?"
    metrics.observe_task_retry(name)
    log.warning("task retry scheduled", extra={"reason": str(reason)})


@signals.task_failure.connect
def _task_failure(
    sender: Task | None = None, task_id: str | None = None, exception: BaseException | None = None, **_: Any
) -> None:
    name = sender.name if sender is not None else "?"
    kind = type(exception).__name__ if exception is not None else "unknown"
    metrics.observe_task_failure(name, kind)
    if task_id:
        _errors[task_id] = f"{kind}: {exception}"


@signals.task_postrun.connect
def _task_postrun(
    task_id: str | None = None,
    task: Task | None = None,
    args: Any = None,
    kwargs: Any = None,
    retval: Any = None,
    state: str | None = None,
    **_: Any,
) -> None:
    name = task.name if task is not None else "?"
    started = _started.pop(task_id, None) if task_id else None
    seconds = time.monotonic() - started[0] if started is not None else None
    # No state: the task was interrupted (soft-shutdown cancel, time limit); being
    # late-acked and unacknowledged, its message goes back to the queue.
    outcome = state.lower() if state else "interrupted"
    metrics.observe_task(name, outcome, seconds)
    fields = _task_fields(name, task_id, args, kwargs)
    if started is not None and seconds is not None:
        fields["duration_ms"] = round(seconds * 1000, 1)
        # CPU of the pool process (one task at a time runs in it): duration minus this is time spent waiting (network,
        # database, locks), which is what more processes per core can overlap.
        fields["cpu_ms"] = round((time.process_time() - started[1]) * 1000, 1)
    fields["outcome"] = outcome
    if outcome == "success":
        fields.update(_result_fields(name, retval))
    error = _errors.pop(task_id, None) if task_id else None
    if error is not None:
        fields["error"] = error
    log.log(_LEVELS.get(outcome, logging.ERROR), "task finished", extra=fields)
    nwlog.clear()


@signals.celeryd_after_setup.connect
def _quiet_banner(sender: str | None = None, instance: Any = None, conf: Any = None, **_: Any) -> None:
    # In JSON mode every line must be one JSON event: drop the ASCII start-up banner
    # and log what it says as one event instead.
    settings = get_settings()
    if instance is None or nwlog.resolve_format(settings.log_format, sys.stderr) != "json":
        return
    instance.quiet = True
    queues = sorted(q.name for q in (conf.task_queues or ())) if conf is not None else []
    log.info(
        "worker starting",
        extra={"node": sender, "concurrency": getattr(instance, "concurrency", None), "queues": queues},
    )


# ------------------------------------------------------------------ metrics endpoint


@signals.worker_init.connect
def _worker_init(**_: Any) -> None:
    # Before the pool forks: the children inherit the multi-process metric setup.
    if get_settings().metrics_port is not None:
        metrics.setup()


@signals.worker_ready.connect
def _worker_ready(sender: Any = None, **_: Any) -> None:
    global _metrics_server
    settings = get_settings()
    if settings.metrics_port is None or not metrics.enabled():
        return
    app = getattr(sender, "app", None)
    queues = [q.name for q in (app.conf.task_queues or ())] if app is not None else []
    try:
        _metrics_server = metrics.serve(
            settings.metrics_port,
            redis_url=settings.broker_url,
            queues=queues,
            event_backlog=events.backlog_reader(settings),
        )
    except OSError as exc:
        # The worker still works; say loudly why there are no metrics (usually: port taken).
        log.error("metrics endpoint could not start", extra={"port": settings.metrics_port, "error": str(exc)})


@signals.worker_process_shutdown.connect
def _worker_process_shutdown(pid: int | None = None, **_: Any) -> None:
    metrics.mark_process_dead(pid or os.getpid())


@signals.worker_shutdown.connect
def _worker_shutdown(**_: Any) -> None:
    global _metrics_server
    if _metrics_server is not None:
        _metrics_server.close()
        _metrics_server = None
    metrics.teardown()


# ------------------------------------------------------------------ beat heartbeat


@signals.beat_init.connect
def _beat_init(sender: Any = None, **_: Any) -> None:
    global _beat_heartbeat
    schedule = getattr(sender, "schedule_filename", None) or health.DEFAULT_SCHEDULE
    _beat_heartbeat = health.heartbeat_path(schedule)
    # The first publish comes one dispatch interval after start; until then, age counts from here.
    _touch_heartbeat()


@signals.after_task_publish.connect
def _after_task_publish(**_: Any) -> None:
    # Only beat sets the heartbeat path; workers publish follow-up tasks too and skip this.
    _touch_heartbeat()


def _touch_heartbeat() -> None:
    if _beat_heartbeat is None:
        return
    try:
        health.touch(_beat_heartbeat)
    except OSError as exc:
        log.warning("cannot write beat heartbeat", extra={"path": str(_beat_heartbeat), "error": str(exc)})
