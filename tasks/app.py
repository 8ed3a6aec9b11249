"""The Celery app. Tasks are thin adapters over the messages of ``worker.service.messages``."""

from __future__ import annotations

from typing import Any

from celery import Celery, signals
from kombu.exceptions import ChannelError

from tasks import brokerstate
from worker.service.messages import REGISTRY, Message
from worker.service.runtime import BrokerHeld, Runtime, warm_up
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

    def held_after_restart(self) -> BrokerHeld | None:
        """After a broker restart not handled yet: the tracked messages it still holds."""
        with app.connection_for_read() as connection:
            client = connection.default_channel.client
            run_id = brokerstate.restarted(client, _prefix())
            if run_id is None:
                return None
            queues = sorted({kind.QUEUE for kind in REGISTRY.values() if kind.TRACKED})
            return brokerstate.held(client, run_id, queues)

    def restart_handled(self, run_id: str) -> None:
        with app.connection_for_write() as connection:
            brokerstate.acknowledge(connection.default_channel.client, _prefix(), run_id)

    def last_sweep(self) -> float | None:
        """When a sweep last ran to the end (epoch seconds, the broker's clock), on any worker."""
        with app.connection_for_read() as connection:
            value = connection.default_channel.client.get(_prefix() + _SWEEP_KEY)
        return float(value) if value is not None else None

    def swept(self) -> None:
        with app.connection_for_write() as connection:
            client = connection.default_channel.client
            seconds, micros = client.time()
            client.set(_prefix() + _SWEEP_KEY, f"{seconds}.{micros:06d}")

    def broker_time(self) -> float:
        with app.connection_for_read() as connection:
            seconds, micros = connection.default_channel.client.time()
        return float(seconds) + float(micros) / 1e6


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
