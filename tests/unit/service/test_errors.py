"""Which failures are transient: the whole exception chain decides."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import ProgrammingError

from worker.service.errors import is_interruption, is_transient


def _raised_while_handling(first: BaseException, second: Exception) -> Exception:
    try:
        try:
            raise first
        except BaseException:
            raise second  # noqa: B904 - the implicit __context__ is the point
    except Exception as exc:
        return exc


def test_an_error_raised_while_the_process_was_being_terminated_is_transient() -> None:
    # Seen in the fault run (Redis killed): Celery terminated a late-ack task, SystemExit went off
    # inside the connection pool's ping, and psycopg answered "can't change 'autocommit' now".
    # Recorded as a data error, the item would have been failed for good.
    driver = Exception("can't change 'autocommit' now: connection in transaction status ACTIVE")
    exc = _raised_while_handling(SystemExit(-241), ProgrammingError("SELECT 1", {}, driver))
    assert is_transient(exc)


def test_a_data_error_alone_is_not_transient() -> None:
    assert not is_transient(ProgrammingError("SELECT 1", {}, Exception("syntax error")))
    assert not is_transient(ValueError("value too long for type character varying(200)"))


@pytest.mark.parametrize("first", [ConnectionError("reset"), TimeoutError("slow")])
def test_an_error_raised_while_handling_a_transient_one_is_transient(first: Exception) -> None:
    assert is_transient(_raised_while_handling(first, ValueError("cleanup failed")))


def test_an_interruption_is_a_systemexit_or_ctrl_c_in_the_chain_not_a_closed_generator() -> None:
    # Seen in the short Redis-kill run: a kombu connection error whose chain held the GeneratorExit
    # of a generator closed while unwinding was taken for an interruption (no lease kept).
    assert is_interruption(_raised_while_handling(SystemExit(-241), ValueError("autocommit")))
    assert is_interruption(_raised_while_handling(KeyboardInterrupt(), ValueError("rollback")))
    assert not is_interruption(_raised_while_handling(GeneratorExit(), ConnectionError("refused")))
    assert not is_interruption(ValueError("value too long"))
