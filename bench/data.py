"""Where the shared evaluation data lives, for every bench (and the tests that reuse them);
running a snippet with another checkout's code, for the side-by-side benches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def run_in_checkout(tree: Path, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -c code args...`` with the checkout at ``tree`` first on the path (its own venv's
    python when it has one); raises with the end of its stderr when it fails."""
    venv = tree / ".venv" / "bin" / "python"
    python = str(venv) if venv.exists() else sys.executable
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run([python, "-c", code, *args], cwd=tree, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{tree}: {proc.stderr[-3000:]}")
    return proc


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
