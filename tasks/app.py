"""The Celery app. Tasks are thin adapters over the messages of ``worker.service.messages``."""

from __future__ import annotations

from typing import Any

from celery import Celery, signals
from kombu.exceptions import ChannelError

from worker.service.messages import Message
from worker.service.runtime import Runtime, warm_up
from worker.settings import get_settings

app = Celery("newsworker")
app.config_from_object("celeryconfig")


class CeleryDispatcher:
    """Sends a message to its queue under its registered name (typed: no bare strings)."""

    def send(self, message: Message) -> None:
        app.send_task(message.NAME, args=message.args(), queue=message.QUEUE, priority=message.PRIORITY)

    def backlog(self, queue: str) -> int | None:
        """Messages waiting in the broker's queue (not those a worker has already taken)."""
        with app.connection_for_read() as connection:
            try:
                declared = connection.default_channel.queue_declare(queue=queue, passive=True)
            except ChannelError:  # Redis keeps no empty list: the queue holds nothing
                return 0
            return int(declared.message_count)


_runtime: Runtime | None = None


def runtime() -> Runtime:
    """This process's runtime, built on first use (after fork, never at import)."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime.build(get_settings(), CeleryDispatcher())
    return _runtime


@signals.worker_before_create_process.connect
def _warm_up_before_fork(**_: Any) -> None:
    # In the parent, just before each pool child is forked (the latest point, so loading
    # overlaps the worker's start-up): children inherit a loaded model.
    warm_up()


@signals.worker_process_init.connect
def _reset_after_fork(**_: Any) -> None:
    # Connections must not be shared across the prefork boundary.
    global _runtime
    _runtime = None
