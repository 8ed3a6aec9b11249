"""Exactly one active beat: a leader lock in Redis with a TTL the active beat keeps renewing.

A second ``newsworker beat`` started by mistake (or as a hot standby) finds the
lock taken and sends nothing; when the active beat dies without releasing it,
the lock expires after ``ttl_seconds`` and the standby takes over on its next
check. The lock is only ever renewed or released by its owner (compare the
owner token atomically in Lua), so a beat that stalled past the TTL and woke
up again sees it lost the lock instead of stealing it back.

The scheduler hook that uses this lives in :mod:`tasks.beat` (no Celery here).
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any, Literal, Protocol

LockState = Literal["acquired", "renewed", "held_elsewhere"]

# KEYS: lock. ARGV: token, ttl_ms. 2 = acquired, 1 = renewed (already ours), 0 = someone else's.
_ACQUIRE_OR_RENEW = """
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
"""

# KEYS: lock. ARGV: token. Deletes only our own lock.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class _Script(Protocol):
    def __call__(self, keys: list[str], args: list[Any]) -> Any: ...


@dataclass(frozen=True)
class LockInfo:
    """Who holds the lock and for how much longer (for logs, ``config``, tests)."""

    owner: str | None
    ttl_seconds: float


def default_owner() -> str:
    """``host:pid:random`` — readable in logs, unique even for a restarted pid."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaderLock:
    """A renewable leader lock. ``redis_client`` is a ``redis.Redis``."""

    def __init__(self, redis_client: Any, key: str, ttl_seconds: float, owner: str | None = None) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be > 0")
        self._redis = redis_client
        self.key = key
        self.ttl_ms = max(1, int(ttl_seconds * 1000))
        self.owner = owner or default_owner()
        self._acquire: _Script = redis_client.register_script(_ACQUIRE_OR_RENEW)
        self._release: _Script = redis_client.register_script(_RELEASE)

    @property
    def renew_every_seconds(self) -> float:
        """Renew three times per TTL, so one late renewal never loses the lock."""
        return self.ttl_ms / 3000.0

    def acquire_or_renew(self) -> LockState:
        """One atomic attempt: take the free lock, extend our own, or report it is taken."""
        code = int(self._acquire(keys=[self.key], args=[self.owner, self.ttl_ms]))
        return "acquired" if code == 2 else "renewed" if code == 1 else "held_elsewhere"

    def release(self) -> bool:
        """Give the lock up at once (clean shutdown) so a standby need not wait for the TTL."""
        return int(self._release(keys=[self.key], args=[self.owner])) == 1

    def info(self) -> LockInfo:
        pipe = self._redis.pipeline()
        pipe.get(self.key)
        pipe.pttl(self.key)
        owner, pttl = pipe.execute()
        name = owner.decode() if isinstance(owner, bytes) else owner
        return LockInfo(name, max(0, int(pttl)) / 1000.0 if name is not None else 0.0)


def beat_lock_key(prefix: str) -> str:
    return f"{prefix}beat:leader"
