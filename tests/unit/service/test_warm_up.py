"""Models the stages load lazily are loaded before a worker forks (children inherit them)."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import py3langid.langid as langid
from worker.service import runtime
assert langid.IDENTIFIER is None, "loaded at import: warm-up would prove nothing"
{call}
print("loaded" if langid.IDENTIFIER is not None else "not loaded")
"""


def _probe(call: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(call=call)], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.strip()


def test_warm_up_loads_the_language_model() -> None:
    assert _probe("runtime.warm_up()") == "loaded"


def test_warm_up_waits_for_a_load_started_in_the_background() -> None:
    assert _probe("runtime.start_warm_up(); runtime.warm_up()") == "loaded"


def test_nothing_is_loaded_without_a_warm_up() -> None:
    assert _probe("pass") == "not loaded"
