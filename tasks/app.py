"""The Celery app. Tasks are thin adapters over the messages of ``worker.service.messages``."""

from __future__ import annotations

from typing import Any

from celery import Celery, signals
from kombu.exceptions import ChannelError

from tasks import brokerstate
from worker.service.messages import REGISTRY, Message
from worker.service.runtime import BrokerLook, Runtime, warm_up
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

    def look(self) -> BrokerLook:
        """Has the broker restarted (and what does it hold), when did the last sweep end."""
        with app.connection_for_read() as connection:
            client = connection.default_channel.client
            seconds, micros = client.time()
            now = float(seconds) + float(micros) / 1e6
            last = client.get(_prefix() + _SWEEP_KEY)
            started = brokerstate.restarted(client, _prefix(), now)
            restart = None
            if started is not None:
                queues = sorted({kind.QUEUE for kind in REGISTRY.values() if kind.TRACKED})
                restart = brokerstate.held(client, started[0], queues, started=started[1])
        return BrokerLook(restart, float(last) if last is not None else None, now)

    def swept(self, restart_handled: str | None) -> None:
        with app.connection_for_write() as connection:
            client = connection.default_channel.client
            if restart_handled is not None:
                brokerstate.acknowledge(client, _prefix(), restart_handled)
            seconds, micros = client.time()
            client.set(_prefix() + _SWEEP_KEY, f"{seconds}.{int(micros):06d}")


_SWEEP_KEY = "sweep:last"


def _prefix() -> str:
    return get_settings().redis_key_prefix


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
