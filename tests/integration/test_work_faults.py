"""Regressions found by the fault-injection run (tests/faults): the database away, for real.

The database is a PostgreSQL address where nothing listens (what a worker sees while the server
is down or cut off): every connection is refused.
"""

from __future__ import annotations

import logging

import pytest

from tests.support.services import free_port
from worker.service import work
from worker.service.messages import DispatchDueFeeds, LocalDispatcher
from worker.service.runtime import Runtime
from worker.settings import load_settings

pytestmark = pytest.mark.integration


def test_beats_tick_while_the_database_is_away_is_skipped_not_failed(caplog: pytest.LogCaptureFixture) -> None:
    # The fault run's PostgreSQL outage: every dispatch tick logged "work failed" at ERROR and
    # then raised again from recording the failure (in the database that was away), a traceback
    # per tick. A periodic pass is not retried: the next tick runs it, nothing is recorded.
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/away"
    rt = Runtime.build(load_settings(database_url=url), LocalDispatcher())
    try:
        with caplog.at_level(logging.WARNING, logger="newsworker.work"):
            assert work.run(rt, DispatchDueFeeds(), owner="beat-tick") == work.Skipped("transient")
    finally:
        rt.close()
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "next tick" in caplog.records[0].getMessage()
