"""Re-ingest from the CLI with a broker: batches go to the workers as ``ReingestBatch`` messages."""

from __future__ import annotations

from tasks.app import CeleryDispatcher
from worker.service.messages import ReingestBatch
from worker.service.runtime import Runtime


def enqueue_batch(run_id: int, article_ids: list[int]) -> None:
    """Publish one batch (the CLI's ``send`` for :func:`worker.service.reingest.enqueue_run`)."""
    CeleryDispatcher().send(ReingestBatch(run_id, list(article_ids)))


def producer_runtime() -> Runtime:
    """A runtime whose follow-up work (feed re-polls) goes to the workers."""
    from worker.settings import get_settings

    return Runtime.build(get_settings(), CeleryDispatcher())
