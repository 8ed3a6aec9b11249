"""The distributed form on one machine, with handles to break it.

- PostgreSQL: a throw-away database on the shared server, reached through :class:`TcpProxy`
  on loopback (cut it to make the database unavailable without stopping the shared server);
- Redis: a private ``redis-server`` with ``appendonly yes``, killed with SIGKILL and restarted
  on the same port with the same directory (its append-only file);
- ``newsworker worker`` processes (pool children found through ``/proc``) and ``newsworker beat``.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.processes import service_env, start, stop, wait_for
from tests.support.services import free_port


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; :meth:`cut` drops every connection and refuses new
    ones (the listening socket is closed: clients get "connection refused", as from a server that is
    down); :meth:`restore` listens again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> TcpProxy:
        self._listen()
        return self

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(256)
        self._listener = listener
        self._stop.clear()
        self._thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._thread.start()

    def _accept(self, listener: socket.socket) -> None:
        listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        sel.register(a, selectors.EVENT_READ, b)
        sel.register(b, selectors.EVENT_READ, a)
        try:
            while True:
                for key, _ in sel.select(timeout=1.0):
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    key.data.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            sel.close()
            for s in (a, b):
                with self._lock:
                    self._conns.discard(s)
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def cut(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._lock:
            conns = list(self._conns)
        for s in conns:
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        self._listen()

    def close(self) -> None:
        self.cut()


class RedisServer:
    """A private redis-server with its append-only file; SIGKILL and restart keep port and dir."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.binary = binary
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="nw-faults-redis-")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                "--maxmemory-policy", "noeviction"]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_timeout=1)

        def up() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_for(up, 30, "redis-server to answer")
        client.close()
        return self

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def close(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (Linux ``/proc``)."""
    out: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry))
    return sorted(out)


@dataclass
class Cluster:
    """Workers and beats of one scenario, all with the same environment."""

    env: dict[str, str]
    workdir: Path
    concurrency: int = 2
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    beats: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _logs: int = 0

    def _log(self, name: str) -> Path:
        self._logs += 1
        return self.workdir / f"{name}.{self._logs}.log"

    def start_worker(self, name: str) -> None:
        args = ["worker", "-c", str(self.concurrency), "-n", f"{name}@%h", "--without-mingle", "--without-gossip"]
        self.workers[name] = start(args, self.env, self.workdir, self._log(name))

    def start_beat(self, name: str = "beat") -> None:
        args = ["beat", "--schedule", str(self.workdir / f"{name}-schedule")]
        self.beats[name] = start(args, self.env, self.workdir, self._log(name))

    def pool_children(self, name: str) -> list[int]:
        return children(self.workers[name].pid)

    def wait_for_pool(self, name: str, timeout: float = 60) -> None:
        wait_for(lambda: len(self.pool_children(name)) >= self.concurrency, timeout, f"{name}'s pool")

    def kill_worker(self, name: str) -> None:
        """SIGKILL a whole worker: its main process and its pool children."""
        process = self.workers[name]
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def kill_child(self, name: str) -> int | None:
        kids = self.pool_children(name)
        if not kids:
            return None
        victim = kids[0]
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            return None
        return victim

    def stop_all(self, timeout: float = 20) -> None:
        """SIGTERM every beat and worker at once, then wait for them together (one by one, each
        worker's warm shutdown added a few seconds to every scenario)."""
        processes = [p for p in [*self.beats.values(), *self.workers.values()] if p.poll() is None]
        for process in processes:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                stop(process, signal.SIGKILL, timeout=10)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.workdir.glob("*.log")))


def scenario_env(database_url: str, broker_url: str, **extra: str) -> dict[str, str]:
    return service_env(
        NEWSWORKER_DATABASE_URL=database_url,
        NEWSWORKER_BROKER_URL=broker_url,
        NEWSWORKER_ALLOW_PRIVATE_NETWORKS="true",
        # every page is on one host (127.0.0.1): the per-host politeness limits would pace the whole run
        NEWSWORKER_HOST_MAX_CONCURRENCY="64",
        NEWSWORKER_HOST_REQUESTS_PER_MINUTE="100000",
        NEWSWORKER_LOG_FORMAT="text",
        **extra,
    )


@contextmanager
def pg_proxy(database_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """A proxy in front of the database's server; yields it and the database URL through it."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432)).start()
    try:
        yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    finally:
        proxy.close()


def now() -> float:
    return time.monotonic()
