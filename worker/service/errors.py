"""Which failures are transient (retry with back-off) and which are data errors (record, never retry).

The service layer classifies; the entry points (Celery tasks, the CLI) act on the class.
"""

from __future__ import annotations

import kombu.exceptions
import redis.exceptions
from sqlalchemy.exc import DBAPIError, OperationalError

from worker.service.stories import StoryConflict

# The database or the broker went away, a lock or serialisation conflict, a story changed
# under us: the same work succeeds when tried again later. redis-py's and kombu's connection
# errors are not the built-in ConnectionError: Redis down (host limits, beat lock) or still
# loading its append-only file (BusyLoadingError), or the broker refusing a send, are transient.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    StoryConflict,
    ConnectionError,
    TimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
)


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying; a DBAPIError the driver flags as a lost connection counts too."""
    if isinstance(exc, TRANSIENT_ERRORS):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)
