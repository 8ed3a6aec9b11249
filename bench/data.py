"""Where the shared evaluation data lives, for every bench (and the tests that reuse them)."""

from __future__ import annotations

import json
import os
from pathlib import Path


def shared_data() -> Path:
    """``$NEWSWORKER_SHARED_DATA``, else ``../shared/data`` next to the checkout."""
    env = os.environ.get("NEWSWORKER_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def load_ecbplus(path: Path | None = None) -> list[dict[str, object]]:
    """ECB+ as one dict per document (see the data README for the fields)."""
    source = path or shared_data() / "ecbplus.jsonl"
    with source.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
