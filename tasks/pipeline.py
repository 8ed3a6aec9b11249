"""One Celery task per registered message: decode the arguments, run the message's handler.

Nothing is declared here: names, queues, retry policies and handlers come from
``worker.service.messages.REGISTRY``; this module only translates a policy into Celery's
options and a busy host into a deferred retry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Task
from celery.exceptions import Reject, SoftTimeLimitExceeded

from tasks.app import app, runtime
from worker import metrics
from worker.http.hostlimits import HostBusy
from worker.service import work
from worker.service.errors import TRANSIENT_ERRORS
from worker.service.messages import REGISTRY, RETRY_BACKOFF_MAX, Message

__all__ = ["TASKS"]


@contextmanager
def _retry_when_host_busy(task: Task, max_delay: float) -> Iterator[None]:
    """A host at its limit: come back when it has room (never later than the longest back-off)."""
    try:
        yield
    except HostBusy as busy:
        metrics.observe_throttled(busy.host, busy.reason)
        countdown = min(max_delay, max(1.0, busy.retry_after_seconds))
        raise task.retry(countdown=countdown, max_retries=None) from None


def _options(kind: type[Message]) -> dict[str, Any]:
    options: dict[str, Any] = {"name": kind.NAME, "bind": True, "ignore_result": True}
    # Transient failures are retried by the task itself (not Celery's autoretry_for): the
    # countdown is chosen before the attempt runs, so that the item's lease covers that wait.
    options["max_retries"] = kind.RETRY.max_retries
    if kind.TIME_LIMITS is not None:
        options["soft_time_limit"], options["time_limit"] = kind.TIME_LIMITS
    return options


_RETRY_ON: tuple[type[BaseException], ...] = (*TRANSIENT_ERRORS, SoftTimeLimitExceeded)


def _task_for(kind: type[Message]) -> Task:
    policy = kind.RETRY

    def run(self: Task, *args: Any, **kwargs: Any) -> object:
        message = kind(*args, **kwargs)
        # The lease's owner is the task id: Celery keeps it across retries of one message.
        owner = str(self.request.id or "celery")
        countdown = policy.countdown(int(self.request.retries or 0))
        try:
            if policy.host_busy:
                with _retry_when_host_busy(self, RETRY_BACKOFF_MAX):
                    return _run(message, owner, countdown)
            return _run(message, owner, countdown)
        except _RETRY_ON as exc:
            if not policy.transient:
                raise
            # Past max_retries Celery raises ``exc`` itself: the task fails, and the item's lease
            # (kept for this countdown) runs out, so the sweeper sends it again, counted.
            try:
                raise self.retry(exc=exc, countdown=countdown) from None
            except Reject:  # the broker refused the retry (Redis down): no retry is coming
                work.retry_lost(runtime(), message, owner)
                raise

    run.__name__ = kind.NAME.rsplit(".", 1)[-1]
    run.__qualname__ = run.__name__
    run.__doc__ = kind.__doc__
    task: Task = app.task(**_options(kind))(run)
    return task


def _run(message: Message, owner: str, countdown: float) -> object:
    return work.run(
        runtime(), message, owner=owner, timeouts=(SoftTimeLimitExceeded,), retry_in=countdown, heartbeat=True
    )


TASKS: dict[str, Task] = {name: _task_for(kind) for name, kind in REGISTRY.items()}
