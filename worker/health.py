"""Container health checks that need no Celery import: ``python -m worker.health beat``.

Beat has no ping. Instead, when beat starts and every time it publishes a task
(the due-feed dispatcher, every ``dispatch_interval_seconds``) ``tasks.signals``
touches a heartbeat file next to beat's schedule file. Beat is healthy while that
file is fresh: it is running, ticking, and its broker accepts what it sends. (Workers
are checked with ``celery -A tasks inspect ping``, which goes through the broker.)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DEFAULT_SCHEDULE = "celerybeat-schedule"
HEARTBEAT_SUFFIX = ".heartbeat"
# Beat publishes at least once per dispatch interval; allow a few missed ticks and a slow broker.
MISSED_INTERVALS = 4
MIN_MAX_AGE_SECONDS = 120.0


def heartbeat_path(schedule_filename: str | Path) -> Path:
    return Path(f"{schedule_filename}{HEARTBEAT_SUFFIX}")


def touch(path: Path) -> None:
    path.touch()


def beat_max_age(dispatch_interval_seconds: float) -> float:
    return max(MIN_MAX_AGE_SECONDS, MISSED_INTERVALS * dispatch_interval_seconds)


def heartbeat_age(path: Path, now: float | None = None) -> float | None:
    """Seconds since the heartbeat was touched, or None when there is none yet."""
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    return (time.time() if now is None else now) - mtime


def check_beat(schedule_filename: str | Path, max_age: float) -> tuple[bool, str]:
    path = heartbeat_path(schedule_filename)
    age = heartbeat_age(path)
    if age is None:
        return False, f"no heartbeat at {path}: beat has not published anything yet"
    if age > max_age:
        return False, f"last publish {age:.0f}s ago (limit {max_age:.0f}s)"
    return True, f"last publish {age:.0f}s ago"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker.health", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="role", required=True)
    beat = sub.add_parser("beat", help="beat published a task recently")
    beat.add_argument("--schedule", default=DEFAULT_SCHEDULE, help="beat's --schedule file")
    beat.add_argument(
        "--max-age",
        type=float,
        help="seconds (default: 4 dispatch intervals, at least 120)",
    )
    args = parser.parse_args(argv)
    max_age = args.max_age
    if max_age is None:
        from worker.settings import SettingsError, load_settings

        try:
            max_age = beat_max_age(load_settings().dispatch_interval_seconds)
        except SettingsError as exc:
            print(f"unhealthy: {exc}", file=sys.stderr)
            return 1
    healthy, message = check_beat(args.schedule, max_age)
    print(("healthy: " if healthy else "unhealthy: ") + message, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
