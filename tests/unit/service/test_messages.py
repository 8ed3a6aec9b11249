"""The task registry: one declaration per message, read by Celery, the router and the embedded mode."""

from __future__ import annotations

import dataclasses
import random

import pytest

from worker.service import messages
from worker.service.messages import (
    REGISTRY,
    IngestEntry,
    LocalDispatcher,
    Message,
    PollFeed,
    ProcessArticle,
    ReingestBatch,
    decode,
    route,
)

# Names already queued in deployments: they must keep running after an upgrade.
WIRE_NAMES = {
    "newsworker.dispatch_due_feeds": ("poll", []),
    "newsworker.poll_feed": ("poll", [7, True, True]),
    "newsworker.ingest_entry": ("fetch", [7]),
    "newsworker.refetch_article": ("fetch", [7]),
    "newsworker.process_article": ("process", [7]),
    "newsworker.refine_stories": ("process", []),
    "newsworker.prune_story_state": ("process", []),
    "newsworker.analyze_tables": ("poll", []),
    "newsworker.reingest_batch": ("reingest", [3, [1, 2]]),
}


def test_every_historical_name_is_registered_on_its_queue() -> None:
    for name, (queue, _) in WIRE_NAMES.items():
        assert name in REGISTRY
        assert route(name) == {"queue": queue}
    assert route("celery.chord_unlock") is None


@pytest.mark.parametrize("name", sorted(WIRE_NAMES))
def test_wire_arguments_decode_to_the_message_and_back(name: str) -> None:
    args = WIRE_NAMES[name][1]
    message = decode(name, args)
    assert isinstance(message, REGISTRY[name])
    assert message.args() == args
    assert decode(name, message.args()) == message


def test_old_positional_poll_flags_keep_their_meaning() -> None:
    assert decode("newsworker.poll_feed", [5, True, False]) == PollFeed(5, ignore_cache=True, force=False)
    assert decode("newsworker.poll_feed", [5]) == PollFeed(5)


def test_every_message_declares_name_queue_policy_and_handler() -> None:
    for name, kind in REGISTRY.items():
        assert name == kind.NAME and kind.QUEUE in messages.queues()
        assert kind.handle is not Message.handle, f"{name} has no handler"
        assert dataclasses.is_dataclass(kind)
        assert kind.RETRY.backoff_max <= messages.TRANSIENT_BACKOFF_MAX <= messages.RETRY_BACKOFF_MAX


def test_a_name_is_declared_once() -> None:
    with pytest.raises(ValueError, match="two messages"):

        @messages.message
        @dataclasses.dataclass(frozen=True)
        class Again(Message):
            NAME = "newsworker.poll_feed"
            QUEUE = "poll"


def test_local_dispatcher_runs_messages_through_their_handlers_in_order() -> None:
    ran: list[Message] = []

    @dataclasses.dataclass(frozen=True)
    class Recorded(Message):
        NAME = "test.recorded"
        QUEUE = "process"
        n: int

        def handle(self, rt: object) -> object:  # type: ignore[override]
            ran.append(self)
            if self.n < 2:
                dispatcher.send(Recorded(self.n + 1))  # follow-up work is drained too
            return self.n * 10

    dispatcher = LocalDispatcher()
    dispatcher.send(Recorded(0))
    seen: list[tuple[Message, object]] = []
    assert dispatcher.drain(rt=None, on_done=lambda m, r: seen.append((m, r))) == 3  # type: ignore[arg-type]
    assert ran == [Recorded(0), Recorded(1), Recorded(2)]
    assert [r for _, r in seen] == [0, 10, 20]


def test_log_subject_names_the_ids() -> None:
    assert IngestEntry(4).subject() == {"entry_id": 4}
    assert ProcessArticle(9).subject() == {"article_id": 9}
    assert ReingestBatch(2, [1]).subject() == {"run_id": 2}


def test_celery_has_one_task_per_message_with_the_policy_of_the_registry() -> None:
    from tasks import app
    from tasks.pipeline import TASKS

    assert set(TASKS) == set(REGISTRY)
    for name, kind in REGISTRY.items():
        task = app.tasks[name]
        assert app.amqp.router.route({}, name)["queue"].name == kind.QUEUE
        assert task.max_retries == kind.RETRY.max_retries
    assert app.conf.task_routes == (messages.route,)
    assert sorted(q.name for q in app.conf.task_queues) == messages.queues()


def test_a_retry_countdown_grows_with_the_retries_and_never_passes_the_longest_back_off() -> None:
    policy = messages.RetryPolicy(backoff=5, backoff_max=1800)
    rng = random.Random(7)
    for retries, ceiling in [(0, 5), (1, 10), (3, 40), (8, 1280), (9, 1800), (40, 1800)]:
        waits = [policy.countdown(retries, rng) for _ in range(400)]
        assert min(waits) >= 0 and max(waits) <= ceiling
        assert max(waits) > ceiling // 2  # full jitter spreads over the whole range
