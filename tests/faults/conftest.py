"""Tests under tests/faults break a real distributed run (Celery worker and beat processes,
Redis with its append-only file, PostgreSQL through a TCP proxy): marked ``faults``, ``e2e``
and ``integration``, so the default ``pytest`` run includes them and ``-m "not faults"`` or
``-m "not integration"`` leaves them out."""

from __future__ import annotations

from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.integration)
