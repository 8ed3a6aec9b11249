"""Per-host politeness shared by every worker through Redis.

At most ``max_concurrent`` requests in flight and ``per_minute`` request
starts in any 60-second window per host, plus a host-wide "slow down until"
set when any feed on the host answers 429/503 with ``Retry-After`` — a rate
limit belongs to the host, so 500 feeds on it must all back off.

Each check-and-take is one Lua script on the Redis clock (``TIME``), so
workers on different machines neither race nor disagree about time.
Concurrency slots are leases in a sorted set scored by expiry: a worker
killed mid-request loses its slot after ``lease_seconds`` instead of
holding it forever. When no slot is free in time, :meth:`HostLimiter.acquire`
raises :class:`HostBusy` with a retry hint, so the task layer can retry the
poll later instead of parking a worker for minutes.

Keys: ``{prefix}host:{key}:slots`` (zset token -> lease expiry ms),
``{prefix}host:{key}:starts`` (zset token -> start ms, the last minute) and
``{prefix}host:{key}:slow`` (string, slow-down end ms). ``key`` is the host,
or the override domain that covers it, so one override can group subdomains.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol


@dataclass(frozen=True)
class HostLimit:
    max_concurrent: int = 2
    per_minute: int = 60  # request starts per rolling 60 s; 0 = no rate limit

    def __post_init__(self) -> None:
        if self.max_concurrent < 1 or self.per_minute < 0:
            raise ValueError("max_concurrent must be >= 1 and per_minute >= 0")


class HostBusy(Exception):
    """No request slot for ``host`` in time; try again after ``retry_after_seconds``."""

    def __init__(self, host: str, retry_after_seconds: float, reason: str) -> None:
        super().__init__(f"host {host} is busy ({reason}); retry in {retry_after_seconds:.1f}s")
        self.host = host
        self.retry_after_seconds = retry_after_seconds
        self.reason = reason  # "concurrency" | "rate" | "slowdown"


@dataclass(frozen=True)
class HostUsage:
    """A snapshot for admins (``feeds show``) and logs."""

    key: str
    in_flight: int
    started_last_minute: int
    slowdown_remaining_seconds: float
    limit: HostLimit


class _Script(Protocol):
    def __call__(self, keys: list[str], args: list[Any]) -> Any: ...


# KEYS: slots, starts, slow. ARGV: max_concurrent, per_minute, token, lease_ms.
# Returns {1, 0, "ok"} or {0, retry_after_ms, reason}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max_c = tonumber(ARGV[1])
local per_min = tonumber(ARGV[2])
local lease = tonumber(ARGV[4])
local slow = tonumber(redis.call('GET', KEYS[3]) or '0')
if slow > now then
  return {0, slow - now, 'slowdown'}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= max_c then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(first[2]) - now, 'concurrency'}
end
if per_min > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 60000)
  if redis.call('ZCARD', KEYS[2]) >= per_min then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return {0, tonumber(oldest[2]) + 60000 - now, 'rate'}
  end
  redis.call('ZADD', KEYS[2], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[2], 61000)
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
redis.call('PEXPIRE', KEYS[1], lease + 1000)
return {1, 0, 'ok'}
"""

# KEYS: slow. ARGV: duration_ms. Only ever extends the slow-down.
_PENALIZE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untl = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if untl > cur then
  redis.call('SET', KEYS[1], untl, 'PXAT', untl)
  return untl
end
return cur
"""

# KEYS: slots, starts, slow. Returns {in_flight, starts_last_minute, slow_remaining_ms}.
_USAGE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local inflight = redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
local starts = redis.call('ZCOUNT', KEYS[2], now - 60000, '+inf')
local slow = tonumber(redis.call('GET', KEYS[3]) or '0')
local rem = 0
if slow > now then rem = slow - now end
return {inflight, starts, rem}
"""


class HostSlot:
    """A held request slot (shared or in-process); leaving the ``with`` frees it at once."""

    def __init__(self, key: str, free: Callable[[], None]) -> None:
        self.key = key
        self._free = free
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._free()

    def __enter__(self) -> HostSlot:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class HostLimiter:
    """Shared per-host limits. ``redis_client`` is a ``redis.Redis`` (any db)."""

    def __init__(
        self,
        redis_client: Any,
        default: HostLimit | None = None,
        overrides: Mapping[str, HostLimit] | None = None,
        *,
        prefix: str = "newsworker:",
        lease_seconds: float = 90.0,
        poll_seconds: float = 0.05,
        rng: random.Random | None = None,
    ) -> None:
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be > 0")
        self._redis = redis_client
        self.default = default or HostLimit()
        self.overrides = {_norm(k): v for k, v in (overrides or {}).items()}
        self.prefix = prefix
        self.lease_ms = int(lease_seconds * 1000)
        self.poll_seconds = poll_seconds
        self._rng = rng or random.Random()
        self._acquire: _Script = redis_client.register_script(_ACQUIRE)
        self._penalize: _Script = redis_client.register_script(_PENALIZE)
        self._usage: _Script = redis_client.register_script(_USAGE)

    def limit_for(self, host: str) -> tuple[str, HostLimit]:
        """The counting key and limit for ``host``: the most specific override domain wins."""
        return _limit_for(host, self.overrides, self.default)

    def _keys(self, key: str) -> list[str]:
        base = f"{self.prefix}host:{key}:"
        return [base + "slots", base + "starts", base + "slow"]

    def try_acquire(self, host: str) -> HostSlot | HostBusy:
        """One atomic attempt: a slot, or the HostBusy saying why and for how long."""
        key, limit = self.limit_for(host)
        token = uuid.uuid4().hex
        ok, wait_ms, why = self._acquire(
            keys=self._keys(key),
            args=[limit.max_concurrent, limit.per_minute, token, self.lease_ms],
        )
        if int(ok) == 1:
            return HostSlot(key, lambda: self._release(key, token))
        reason = why.decode() if isinstance(why, bytes) else str(why)
        return HostBusy(key, max(0.0, int(wait_ms) / 1000.0), reason)

    def acquire(self, host: str, timeout: float = 0.0) -> HostSlot:
        """A slot for ``host`` within ``timeout`` seconds, else :class:`HostBusy`.

        Waits only when the wait can succeed in time: a slow-down or rate
        window longer than the remaining timeout fails at once.
        """
        end = time.monotonic() + max(0.0, timeout)
        while True:
            got = self.try_acquire(host)
            if isinstance(got, HostSlot):
                return got
            remaining = end - time.monotonic()
            if got.reason == "concurrency":
                # A slot usually frees long before its lease ends; poll briefly.
                pause = self.poll_seconds * (0.5 + self._rng.random())
                hint = min(got.retry_after_seconds, max(self.poll_seconds, 1.0))
            else:
                pause = got.retry_after_seconds + 0.001
                hint = got.retry_after_seconds
            if pause > remaining:
                raise HostBusy(got.host, hint, got.reason)
            time.sleep(pause)

    def _release(self, key: str, token: str) -> None:
        self._redis.zrem(self._keys(key)[0], token)

    def penalize(self, host: str, seconds: float) -> float:
        """Slow every feed on ``host`` for ``seconds`` (never shortens); returns the end (epoch)."""
        key, _ = self.limit_for(host)
        until_ms = self._penalize(keys=[self._keys(key)[2]], args=[max(1, int(seconds * 1000))])
        return int(until_ms) / 1000.0

    def penalize_until(self, host: str, when: datetime, now: datetime | None = None) -> float:
        """Same as :meth:`penalize` from a scheduler decision's ``host_slowdown_until``."""
        current = now or datetime.now(UTC)
        return self.penalize(host, max(0.0, (when - current).total_seconds()))

    def usage(self, host: str) -> HostUsage:
        key, limit = self.limit_for(host)
        in_flight, starts, slow_ms = self._usage(keys=self._keys(key), args=[])
        return HostUsage(key, int(in_flight), int(starts), int(slow_ms) / 1000.0, limit)


def _norm(host: str) -> str:
    return host.strip().rstrip(".").lower()


class HostLimits(Protocol):
    """What the fetcher needs of per-host limits: :class:`HostLimiter` (Redis, every worker) or
    :class:`LocalHostLimiter` (this process only)."""

    def limit_for(self, host: str) -> tuple[str, HostLimit]: ...

    def acquire(self, host: str, timeout: float = 0.0) -> AbstractContextManager[object]: ...

    def penalize_until(self, host: str, when: datetime, now: datetime | None = None) -> float: ...

    def usage(self, host: str) -> HostUsage: ...


class LocalHostLimiter:
    """The same limits as :class:`HostLimiter`, counted in this process (the embedded mode without
    Redis): at most ``max_concurrent`` requests in flight per host, ``per_minute`` starts in any
    rolling minute, and a host-wide slow-down after 429/503. Thread-safe; waits on a condition."""

    def __init__(
        self,
        default: HostLimit | None = None,
        overrides: Mapping[str, HostLimit] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.default = default or HostLimit()
        self.overrides = {_norm(k): v for k, v in (overrides or {}).items()}
        self._clock = clock
        self._cond = threading.Condition()
        self._in_flight: dict[str, int] = {}
        self._starts: dict[str, deque[float]] = {}
        self._slow_until: dict[str, float] = {}
        self.peak_in_flight: dict[str, int] = {}  # most requests a host ever had in flight (tests, benchmarks)

    def limit_for(self, host: str) -> tuple[str, HostLimit]:
        return _limit_for(host, self.overrides, self.default)

    def _refusal(self, key: str, limit: HostLimit, now: float) -> HostBusy | None:
        slow = self._slow_until.get(key, 0.0)
        if slow > now:
            return HostBusy(key, slow - now, "slowdown")
        if self._in_flight.get(key, 0) >= limit.max_concurrent:
            return HostBusy(key, 1.0, "concurrency")
        if limit.per_minute > 0:
            starts = self._starts.setdefault(key, deque())
            while starts and starts[0] <= now - 60.0:
                starts.popleft()
            if len(starts) >= limit.per_minute:
                return HostBusy(key, starts[0] + 60.0 - now, "rate")
        return None

    def try_acquire(self, host: str) -> HostSlot | HostBusy:
        key, limit = self.limit_for(host)
        with self._cond:
            return self._take(key, limit)

    def _take(self, key: str, limit: HostLimit) -> HostSlot | HostBusy:
        now = self._clock()
        refused = self._refusal(key, limit, now)
        if refused is not None:
            return refused
        count = self._in_flight.get(key, 0) + 1
        self._in_flight[key] = count
        self.peak_in_flight[key] = max(count, self.peak_in_flight.get(key, 0))
        if limit.per_minute > 0:
            self._starts.setdefault(key, deque()).append(now)
        return HostSlot(key, lambda: self._release(key))

    def acquire(self, host: str, timeout: float = 0.0) -> HostSlot:
        """A slot within ``timeout`` seconds, else :class:`HostBusy` (at once when the wait
        cannot succeed in time: a slow-down or rate window longer than the timeout)."""
        key, limit = self.limit_for(host)
        end = self._clock() + max(0.0, timeout)
        with self._cond:
            while True:
                got = self._take(key, limit)
                if isinstance(got, HostSlot):
                    return got
                remaining = end - self._clock()
                if remaining <= 0 or (got.reason != "concurrency" and got.retry_after_seconds > remaining):
                    raise got
                # a released slot notifies; a rate window or slow-down ends on its own
                self._cond.wait(min(remaining, got.retry_after_seconds + 0.001))

    def in_flight(self, host: str) -> int:
        key, _ = self.limit_for(host)
        with self._cond:
            return self._in_flight.get(key, 0)

    def _release(self, key: str) -> None:
        with self._cond:
            left = self._in_flight.get(key, 0) - 1
            if left > 0:
                self._in_flight[key] = left
            else:
                self._in_flight.pop(key, None)
            self._cond.notify_all()

    def penalize(self, host: str, seconds: float) -> float:
        key, _ = self.limit_for(host)
        with self._cond:
            until = max(self._slow_until.get(key, 0.0), self._clock() + max(0.001, seconds))
            self._slow_until[key] = until
            return time.time() + (until - self._clock())

    def penalize_until(self, host: str, when: datetime, now: datetime | None = None) -> float:
        current = now or datetime.now(UTC)
        return self.penalize(host, max(0.0, (when - current).total_seconds()))

    def usage(self, host: str) -> HostUsage:
        key, limit = self.limit_for(host)
        with self._cond:
            now = self._clock()
            starts = self._starts.get(key, deque())
            recent = sum(1 for t in starts if t > now - 60.0)
            slow = max(0.0, self._slow_until.get(key, 0.0) - now)
            return HostUsage(key, self._in_flight.get(key, 0), recent, slow, limit)


def _limit_for(host: str, overrides: Mapping[str, HostLimit], default: HostLimit) -> tuple[str, HostLimit]:
    """The counting key and limit for ``host``: the most specific override domain wins."""
    name = _norm(host)
    best: str | None = None
    for domain in overrides:
        if (name == domain or name.endswith("." + domain)) and (best is None or len(domain) > len(best)):
            best = domain
    if best is not None:
        return best, overrides[best]
    return name, default
