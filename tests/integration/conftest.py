"""Every test under tests/integration talks to real PostgreSQL, Redis or HTTP on 127.0.0.1:
they are all marked ``integration``, so ``pytest -m "not integration"`` needs no service."""

from __future__ import annotations

from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.integration)
