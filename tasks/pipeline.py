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
from celery.exceptions import SoftTimeLimitExceeded

from tasks.app import app, runtime
from worker import metrics
from worker.http.hostlimits import HostBusy
from worker.service import work
from worker.service.errors import TRANSIENT_ERRORS
from worker.service.messages import REGISTRY, Message

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
    policy = kind.RETRY
    options: dict[str, Any] = {"name": kind.NAME, "bind": True, "ignore_result": True}
    if policy.transient:
        options.update(
            autoretry_for=(*TRANSIENT_ERRORS, SoftTimeLimitExceeded),
            retry_backoff=policy.backoff,
            retry_backoff_max=policy.backoff_max,
            retry_jitter=True,
            max_retries=policy.max_retries,
        )
    else:
        options["max_retries"] = policy.max_retries
    if kind.TIME_LIMITS is not None:
        options["soft_time_limit"], options["time_limit"] = kind.TIME_LIMITS
    return options


def _task_for(kind: type[Message]) -> Task:
    def run(self: Task, *args: Any, **kwargs: Any) -> object:
        message = kind(*args, **kwargs)
        # The lease's owner is the task id: Celery keeps it across retries of one message.
        owner = str(self.request.id or "celery")
        if kind.RETRY.host_busy:
            with _retry_when_host_busy(self, kind.RETRY.backoff_max):
                return work.run(runtime(), message, owner=owner, timeouts=(SoftTimeLimitExceeded,))
        return work.run(runtime(), message, owner=owner, timeouts=(SoftTimeLimitExceeded,))

    run.__name__ = kind.NAME.rsplit(".", 1)[-1]
    run.__qualname__ = run.__name__
    run.__doc__ = kind.__doc__
    task: Task = app.task(**_options(kind))(run)
    return task


TASKS: dict[str, Task] = {name: _task_for(kind) for name, kind in REGISTRY.items()}
