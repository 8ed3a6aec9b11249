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
class TransientFailure(Exception):
    """A failure that is transient only through its chain (see :func:`is_transient`), raised
    ``from`` it so that the entry points' retry-on (``TRANSIENT_ERRORS``) catches it too."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientFailure,
    OperationalError,
    StoryConflict,
    ConnectionError,
    TimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
)


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying; a DBAPIError the driver flags as a lost connection counts too.

    The whole chain counts (``__cause__`` and ``__context__``): an error raised while handling a
    transient one, or while the process was being interrupted (Celery terminating a task after a
    broker connection loss raises SystemExit inside the child, and the database driver turns it
    into "can't change 'autocommit' now"), is no data error and must not fail the item for good."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if isinstance(link, TRANSIENT_ERRORS) or not isinstance(link, Exception):
            return True
        if isinstance(link, DBAPIError) and link.connection_invalidated:
            return True
        link = link.__cause__ or link.__context__
    return False


def is_interruption(exc: BaseException) -> bool:
    """True when the exception chain holds a SystemExit or KeyboardInterrupt: the process is
    being stopped (Celery terminating a task after a broker connection loss, a soft shutdown,
    Ctrl-C) and no retry of this attempt will be sent from here; the error only unwinds.
    (A GeneratorExit in the chain is a generator closed while unwinding, no interruption.)"""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if isinstance(link, SystemExit | KeyboardInterrupt):
            return True
        link = link.__cause__ or link.__context__
    return False
