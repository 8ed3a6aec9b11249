"""The Celery app. Tasks are thin adapters over ``worker.service.handlers``."""

from __future__ import annotations

from typing import Any

from celery import Celery, signals

from worker.service.runtime import QUEUE_OF, Runtime
from worker.settings import get_settings

# The longest retry delay; celeryconfig's visibility timeout must stay above it.
RETRY_BACKOFF_MAX = 1800

app = Celery("newsworker")
app.config_from_object("celeryconfig")


class CeleryDispatcher:
    """Sends follow-up work to its queue by task name (no import cycles, routes in one place)."""

    def send(self, task: str, *args: object) -> None:
        app.send_task(task, args=list(args), queue=QUEUE_OF.get(task))


_runtime: Runtime | None = None


def runtime() -> Runtime:
    """This process's runtime, built on first use (after fork, never at import)."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime.build(get_settings(), CeleryDispatcher())
    return _runtime


@signals.worker_process_init.connect
def _reset_after_fork(**_: Any) -> None:
    # Connections must not be shared across the prefork boundary.
    global _runtime
    _runtime = None
