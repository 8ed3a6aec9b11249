"""Scheduling policy (provisional skeleton version; the adaptive policy replaces it)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SchedulePolicy:
    min_interval_seconds: int = 300
    max_interval_seconds: int = 86400
    error_backoff_max_seconds: int = 86400
    failing_after_seconds: int = 86400
    jitter_fraction: float = 0.1


@dataclass(frozen=True)
class ScheduleDecision:
    next_poll_at: datetime
    interval_seconds: int
    status: str
    consecutive_errors: int
    reason: str


def decide(
    *,
    succeeded: bool,
    http_status: int | None,
    consecutive_errors: int,
    first_error_at: datetime | None,
    policy: SchedulePolicy,
    now: datetime,
    rng: random.Random,
) -> ScheduleDecision:
    if http_status == 410:
        return ScheduleDecision(now + timedelta(days=3650), 0, "gone", consecutive_errors + 1, "410 Gone")
    if succeeded:
        interval = policy.min_interval_seconds * 6
        interval = int(interval * (1 + rng.uniform(0, policy.jitter_fraction)))
        return ScheduleDecision(now + timedelta(seconds=interval), interval, "ok", 0, "ok")
    errors = consecutive_errors + 1
    interval = min(policy.error_backoff_max_seconds, policy.min_interval_seconds * 2 ** min(errors, 20))
    interval = int(interval * (1 + rng.uniform(0, policy.jitter_fraction)))
    since = first_error_at or now
    status = "failing" if (now - since).total_seconds() >= policy.failing_after_seconds else "ok"
    return ScheduleDecision(now + timedelta(seconds=interval), interval, status, errors, "error back-off")
