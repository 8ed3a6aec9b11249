"""A unit of work in stages: database, then network (and CPU) without the database, then database.

A handler that fetches is written as ``start_*`` (reads, takes its lease; runs where the
database is written) returning either :class:`Done` (nothing to fetch) or a :class:`Fetching`
step. Its ``work`` touches no database: it fetches and normalises. ``finish(output)`` writes the
result in a transaction and sends follow-up messages after commit. The same step runs two ways:

- :func:`complete` runs the three stages one after the other in the calling thread: that is the
  handler as Celery runs it (``ingest_entry(rt, id) == complete(start_ingest(rt, id))``);
- the embedded mode's :class:`worker.service.pool.PooledDispatcher` runs ``work`` in a bounded
  pool of threads and ``start`` / ``finish`` / ``fail`` in its single writer thread, so SQLite
  never sees two writers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

R = TypeVar("R", covariant=True)


@dataclass(frozen=True)
class Done(Generic[R]):
    """The unit of work finished in its first stage (nothing to fetch)."""

    value: R


def _reraise(exc: BaseException) -> Any:
    raise exc


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Fetching(Generic[R]):
    """The network part of a unit of work and what to do with its result.

    ``host``: the host ``work`` fetches from first (the pool spreads work over hosts by it).
    ``work()``: no database access (runs in a pool thread).
    ``finish(output)``: writes; runs in the writer. ``fail(exc)``: ``work`` raised; writes what the
    failure means and returns the unit's result, or re-raises. ``abandon()``: the step will not be
    finished now (interrupted, or the host was busy and the message is sent again later): release
    what ``start`` took (a poll lease), write nothing else.
    """

    host: str
    work: Callable[[], Any]
    finish: Callable[[Any], R]
    fail: Callable[[BaseException], R] = _reraise
    abandon: Callable[[], None] = _nothing


Staged = Done[R] | Fetching[R]


def complete(step: Done[R] | Fetching[R]) -> R:
    """Run every stage of ``step`` in this thread."""
    if isinstance(step, Done):
        return step.value
    try:
        output = step.work()
    except BaseException as exc:
        return step.fail(exc)
    return step.finish(output)
