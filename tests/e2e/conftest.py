"""Tests under tests/e2e start real celery worker and beat processes on real Redis and
PostgreSQL: marked ``e2e`` and ``integration`` (so ``-m "not integration"`` skips them too)."""

from __future__ import annotations

from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.integration)
