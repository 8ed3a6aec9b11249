"""Who holds a work item's lease in the embedded mode, and whether that process is gone.

The embedded mode's leases are taken by a process of this host (``run``, ``import``), named
``<mode>:<host>:<pid>.<start>:<token>`` (``start``: when the process started, so that a pid used
again, as by a restarted container, is not taken for the process that held the lease). When such
a process dies before it could free its leases (SIGKILL, a crash, a failure while freeing them on
Ctrl-C), the next embedded run on the same host sees that it is gone and frees them at once,
instead of leaving the work to wait out a full lease (the hard time limit plus a margin) while
that run finishes without it. Leases of Celery workers and of other hosts are never judged here:
they run out as before.
"""

from __future__ import annotations

import os
import socket
import uuid

_HOST_CHARS = 24  # the owner column holds 64 characters
_MODES = ("pool", "local")


def _host() -> str:
    return socket.gethostname()[:_HOST_CHARS].replace(":", "-")


def _started(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux); "" where that is not known."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # the command name (field 2) may hold spaces and parentheses: count from its end
            fields = stat.read().rsplit(b")", 1)[1].split()
        return fields[19].decode()
    except (OSError, IndexError, UnicodeDecodeError):
        return ""


def embedded_owner(mode: str) -> str:
    """A lease owner for this process's embedded dispatcher (``mode``: pool or local)."""
    assert mode in _MODES
    pid = os.getpid()
    return f"{mode}:{_host()}:{pid}.{_started(pid)}:{uuid.uuid4().hex[:8]}"


def embedded_owner_is_gone(owner: str) -> bool:
    """True when ``owner`` names an embedded process of this host that no longer runs; False
    when it runs, or when that cannot be told (another host, a Celery worker, an older name)."""
    parts = owner.split(":")
    if len(parts) != 4 or parts[0] not in _MODES or parts[1] != _host():
        return False
    pid_text, _, started = parts[2].partition(".")
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's (PermissionError), or not to be told
        return False
    now_started = _started(pid)
    return bool(started and now_started and now_started != started)  # the pid runs another process
