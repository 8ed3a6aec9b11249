"""What the Redis broker holds, for the sweeper: did it restart, which messages survived.

Why: Redis with its append-only file written every second loses the messages of the last second
when it is killed. Those items are ``queued`` in ``work_items`` with no lease, like items whose
message simply waits in a long queue, so the sweeper used to send them again only once their
queue was empty (160 s after a restart in the 1,000-page fault run). A restart is visible (the
server's ``run_id`` changes); after one, the messages Redis still holds (queued, or delivered and
not acknowledged since the restart) are read in one MULTI/EXEC, and every queued item with no
lease and no message among them is lost: the sweeper sends it again at once. (A message
delivered before the restart sits in the unacknowledged hash of a connection that died with the
old server until the visibility timeout, hours later: lost too.) The cost is one INFO and one GET per
tick, and one read of the queues only after a restart.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any

from worker.service.messages import REGISTRY, decode
from worker.service.runtime import BrokerHeld

# kombu's Redis transport: one list per queue and priority step ("<queue>" for step 0,
# "<queue>\x06\x16<step>" for the others) and the hash of delivered, unacknowledged messages.
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)
UNACKED_KEY = "unacked"
UNACKED_INDEX_KEY = "unacked_index"
# A restart is handled once: the run id it was handled for is kept under this key (in Redis
# itself: the key survives in the append-only file, a server started empty has none).
RUN_ID_KEY = "broker:run_id"
# Beyond this many messages the queues are not read (the idle-queue rule still applies).
MAX_MESSAGES = 200_000


def restarted(client: Any, prefix: str, now: float) -> tuple[str, float] | None:
    """The server's run id and when it started (epoch seconds, at or just after the real start) when
    the run id differs from the one the last handled restart recorded (also on the first tick
    ever: a fresh server may have lost everything), else None."""
    info = client.info("server")
    run_id = str(info["run_id"])
    seen = client.get(prefix + RUN_ID_KEY)
    seen_id = seen.decode() if isinstance(seen, bytes) else seen
    if seen_id == run_id:
        return None
    # ``now``: the server's clock (TIME), read by the caller in this look
    # uptime is counted in whole seconds (of the clock, from a whole second): this is at most 2 s
    # after the real start, so a message delivered before the restart is always before it (one
    # delivered just after may count as lost too, and be sent twice: that does nothing)
    return run_id, now - float(info["uptime_in_seconds"]) + 1.0


def held(client: Any, run_id: str, queues: Iterable[str], *, started: float) -> BrokerHeld | None:
    """Every tracked message the broker holds, read atomically: queued, or delivered since the
    server ``started`` and not acknowledged. A message delivered before is in the unacknowledged
    hash of a connection that died with the old server: nobody will run or acknowledge it
    before the visibility timeout, so it does not count. None when the queues are too long to
    read or a message cannot be read (then nothing is taken for lost)."""
    keys = [queue if step == 0 else f"{queue}{PRIORITY_SEPARATOR}{step}" for queue in queues for step in PRIORITY_STEPS]
    pipe = client.pipeline(transaction=True)
    for key in keys:
        pipe.llen(key)
    pipe.hlen(UNACKED_KEY)
    if sum(int(n) for n in pipe.execute()) > MAX_MESSAGES:
        return None
    pipe = client.pipeline(transaction=True)  # MULTI/EXEC: no message moves between the reads
    for key in keys:
        pipe.lrange(key, 0, -1)
    pipe.hgetall(UNACKED_KEY)
    pipe.zrange(UNACKED_INDEX_KEY, 0, -1, withscores=True)  # delivery tag -> delivered at (epoch)
    *lists, unacked, index = pipe.execute()
    delivered = {tag: at for tag, at in index}
    items: set[tuple[str, str]] = set()
    try:
        for payload in (p for values in lists for p in values):
            _add(items, json.loads(payload))
        for tag, entry in unacked.items():
            if delivered.get(tag, 0.0) >= started:
                _add(items, json.loads(entry)[0])  # [message, exchange, routing key]
    except (ValueError, KeyError, TypeError, IndexError):
        return None
    return BrokerHeld(run_id, frozenset(items))


def acknowledge(client: Any, prefix: str, run_id: str) -> None:
    """The lost work of this restart was sent again: do not look again until the next one."""
    client.set(prefix + RUN_ID_KEY, run_id)


def _add(items: set[tuple[str, str]], message: dict[str, Any]) -> None:
    name = message["headers"]["task"]
    kind = REGISTRY.get(name)
    if kind is None or not kind.TRACKED:
        return
    body: Any = message["body"]
    if message.get("properties", {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    args, kwargs, _ = json.loads(body)
    items.add((name, decode(name, args, kwargs).key()))
