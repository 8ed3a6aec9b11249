"""Re-ingest tasks: a batch of article ids of one run, on the low-priority ``reingest`` queue."""

from __future__ import annotations

from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import OperationalError

from tasks.app import RETRY_BACKOFF_MAX, app, runtime
from worker.service import reingest
from worker.service.runtime import Runtime

QUEUE = "reingest"
# Lowest priority on the Redis transport (0 is the highest there); the separate
# queue is what keeps scheduled polling going while a large run drains.
PRIORITY = 9


@app.task(
    name=reingest.REINGEST_BATCH,
    autoretry_for=(OperationalError, SoftTimeLimitExceeded),
    retry_backoff=5,
    retry_backoff_max=RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=12,
)
def reingest_batch(run_id: int, article_ids: list[int]) -> None:
    # Items already done (an earlier delivery) are skipped, so a retry only does the rest.
    reingest.process_items(runtime(), run_id, article_ids)


def enqueue_batch(run_id: int, article_ids: list[int]) -> None:
    """Publish one batch (the CLI's ``send`` for :func:`worker.service.reingest.enqueue_run`)."""
    app.send_task(reingest.REINGEST_BATCH, args=[run_id, list(article_ids)], queue=QUEUE, priority=PRIORITY)


def producer_runtime() -> Runtime:
    """A runtime whose follow-up work (feed re-polls) goes to the workers."""
    from tasks.app import CeleryDispatcher
    from worker.settings import get_settings

    return Runtime.build(get_settings(), CeleryDispatcher())
