"""Logging for every newsworker process: JSON lines for machines, console lines for people.

One handler on the root logger, configured once at start-up from the settings
(``log_level``, ``log_format``: ``console``, ``json``, or ``auto`` = console on a
terminal, JSON elsewhere). Both formats carry the same fields: the time, level,
logger and event, then the bound and ``extra=`` fields. In JSON mode every record
is one object on one line; fields bound with :func:`bind` (task name, task id, feed id, article id…)
are added to every record logged while they are bound, and ``extra=`` fields are
added to that record. Nothing here imports Celery: ``tasks.signals`` binds the
task fields around each task.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal, TextIO

LogFormat = Literal["auto", "console", "json", "text"]  # "text": the console format's former name

# Fields shown first, in this order, when present; the rest follow sorted.
EVENT_FIELDS = ("task_name", "task_id", "feed_id", "entry_id", "article_id", "duration_ms", "outcome")

_NOTHING: Mapping[str, Any] = MappingProxyType({})
_bound: ContextVar[Mapping[str, Any]] = ContextVar("newsworker_log_fields", default=_NOTHING)

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
# Celery puts the values of its own message templates under ``data``; the message already has them.
_IGNORED_EXTRAS = frozenset({"data"})


def bind(**fields: Any) -> None:
    """Add fields to every record logged from this context (this task, this thread) until :func:`clear`."""
    _bound.set({**_bound.get(), **{k: v for k, v in fields.items() if v is not None}})


def clear() -> None:
    _bound.set(_NOTHING)


def bound() -> Mapping[str, Any]:
    return _bound.get()


@contextmanager
def bound_fields(**fields: Any) -> Iterator[None]:
    """Bind fields for the duration of a block, restoring the previous ones afterwards."""
    token = _bound.set({**_bound.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _bound.reset(token)


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """Bound fields plus the record's own ``extra=`` fields (the latter win)."""
    fields = dict(_bound.get())
    for key, value in record.__dict__.items():
        if key not in _RECORD_ATTRS and key not in _IGNORED_EXTRAS and not key.startswith("_"):
            fields[key] = value
    return fields


def _ordered(fields: Mapping[str, Any]) -> list[tuple[str, Any]]:
    first = [(k, fields[k]) for k in EVENT_FIELDS if k in fields]
    rest = sorted((k, v) for k, v in fields.items() if k not in EVENT_FIELDS)
    return first + rest


def _timestamp(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``event``, then the fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in _ordered(record_fields(record)):
            payload.setdefault(key, value)
        if record.exc_info:
            payload["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            payload["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exc"] = record.exc_text
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        # default=str: a stray datetime or exception in a field must not lose the whole line.
        return json.dumps(payload, ensure_ascii=False, default=str, separators=(",", ":"))


def _console_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if text == "" or any(c.isspace() or c in '="' for c in text):
        return json.dumps(text, ensure_ascii=False)  # quoted, so ``key=value`` pairs stay parseable
    return text


class ConsoleFormatter(logging.Formatter):
    """``2026-05-01T12:00:01.234Z INFO    newsworker.tasks: event  key=value …`` for people at a terminal.

    The same fields as :class:`JsonFormatter`, in the same order; values with spaces are quoted."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record.created)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        fields = _ordered(record_fields(record))
        if record.exc_info and record.exc_info[0] is not None:
            fields.append(("exc_type", record.exc_info[0].__name__))
        if fields:
            line += "  " + " ".join(f"{k}={_console_value(v)}" for k, v in fields)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            line += "\n" + record.exc_text
        return line


TextFormatter = ConsoleFormatter  # the former name


def resolve_format(fmt: LogFormat | str, stream: TextIO) -> Literal["console", "json"]:
    """``auto`` means console on a terminal and JSON everywhere else (containers, files, pipes)."""
    if fmt in ("console", "text"):
        return "console"
    if fmt == "json":
        return "json"
    isatty = getattr(stream, "isatty", None)
    return "console" if callable(isatty) and isatty() else "json"


# Celery logs "received" and "succeeded in …" for every task; tasks.signals logs one
# structured event per task instead, so these stay at WARNING (errors still show).
QUIET_LOGGERS = ("celery.worker.strategy", "celery.app.trace")


def configure_logging(level: str, fmt: LogFormat | str = "auto", stream: TextIO | None = None) -> logging.Handler:
    """Replace the root logger's handlers with one handler in the chosen format; return it."""
    target = stream if stream is not None else sys.stderr
    handler = logging.StreamHandler(target)
    chosen = resolve_format(fmt, target)
    handler.setFormatter(JsonFormatter() if chosen == "json" else ConsoleFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    if root.level <= logging.INFO:
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    # Libraries that log every request at INFO would drown the task events.
    for name in ("urllib3", "requests", "trafilatura", "htmldate", "alembic"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    logging.captureWarnings(True)
    return handler


__all__ = [
    "EVENT_FIELDS",
    "ConsoleFormatter",
    "JsonFormatter",
    "TextFormatter",
    "bind",
    "bound",
    "bound_fields",
    "clear",
    "configure_logging",
    "record_fields",
    "resolve_format",
]
