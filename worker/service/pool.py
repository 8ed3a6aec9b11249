"""The embedded mode's concurrency: many fetches at once, one writer.

:class:`PooledDispatcher` runs messages in this process like
:class:`worker.service.messages.LocalDispatcher`, but a message that fetches (``start``
returns a :class:`~worker.service.staged.Fetching` step) has its network part run in a bounded
pool of threads (``NEWSWORKER_FETCH_CONCURRENCY``). Everything that touches the database --
each step's ``start``, ``finish`` and ``fail``, and the messages that do not fetch (story
linking, dispatch) -- runs in the thread that called :meth:`PooledDispatcher.drain`: the single
writer. SQLite never sees two writers, so nothing is ever "database is locked".

Per-host limits: the pool hands a host no more fetches than its ``max_concurrent`` (so threads
do not queue on one slow site while others wait), and the fetcher's limiter enforces the rest
(requests per minute, slow-down after 429/503). A fetch refused because its host is busy for a
short while is sent again when the host has room; a longer refusal is left to the handler (a
poll is deferred in the database, an entry stays pending for the next dispatch).

Interrupted (Ctrl-C) or failed, the writer abandons every started step (poll leases are
released) and writes nothing half: each store is one transaction. The fetch threads are
daemons; a fetch in flight is dropped with its result.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from worker.http.hostlimits import HostBusy
from worker.service import work
from worker.service.messages import IngestEntry, Message
from worker.service.owners import embedded_owner
from worker.service.runtime import Runtime, host_limiter, warm_up
from worker.service.staged import Done, Fetching

log = logging.getLogger("newsworker.pool")

# A host busy for at most this long: the fetch is sent again when it has room. Longer (a
# slow-down after 429/503): the handler decides (polls are deferred in the database).
REQUEUE_WAIT_SECONDS = 60.0


def _is_staged(message: Message) -> bool:
    return type(message).start is not Message.start


@dataclass
class _Started:
    message: Message
    step: Fetching[object]
    key: str
    limit: int | None  # most fetches in flight for the host key; None: unlimited
    lease: work.Lease  # the work item's lease, ended by the finishing stage's transaction


@dataclass
class PoolStats:
    """What a drain did, for tests and benchmarks."""

    fetched: int = 0
    requeued: int = 0
    peak_in_flight: int = 0
    writer_threads: set[int] = field(default_factory=set)


def usable_cpus() -> float:
    """CPUs this process may use: its affinity, capped by a cgroup v2 quota (a container's
    ``--cpus``), which the affinity does not show."""
    try:
        cpus: float = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, int(quota) / int(period))
    except (OSError, ValueError):
        pass
    return cpus


def normaliser_count(setting: int | Literal["auto"], cpus: float | None = None) -> int:
    """``NEWSWORKER_NORMALISE_PROCESSES`` resolved: ``auto`` is one process where two CPUs or more
    are usable. One is what pays: the writer (storage, dedupe, story linking) is most of the rest
    of an article's CPU and needs a core of its own; bench.throughput --normalise-processes 1
    on 2 CPUs: 1.37-1.49x the articles/s, the same CPU per article."""
    if setting != "auto":
        return setting
    return 1 if (usable_cpus() if cpus is None else cpus) >= 2 else 0


def _start_normaliser() -> None:
    # Ctrl-C goes to the whole process group: the writer handles it, the pool's processes must not.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warm_up()


def _ready() -> None:
    """Submitted first: done once a process has started and warmed up."""


class PooledDispatcher:
    """Runs messages in this process: fetches in a pool of ``concurrency`` threads, writes in one.

    ``normalise_processes`` > 0: article pages are normalised in a pool of that many processes
    (CPU-bound extraction on more than one core); 0 keeps it in the fetch threads.
    """

    def __init__(self, concurrency: int = 16, *, normalise_processes: int = 0, start_processes_at: int = 50) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.concurrency = concurrency
        self.normalise_processes = normalise_processes
        self.start_processes_at = start_processes_at
        self.pages_sent = 0  # article pages sent to this dispatcher (when to start the processes)
        self.pending: deque[Message] = deque()  # fetching messages, in order
        self.local: deque[Message] = deque()  # the rest: run whole by the writer
        self.stats = PoolStats()
        self.lease_owner = embedded_owner("pool")  # the work items' lease owner

    @classmethod
    def attach(cls, rt: Runtime) -> PooledDispatcher:
        """A pooled dispatcher for ``rt`` (the embedded ``run``), sized by its settings; without Redis
        the per-host limits are kept in this process."""
        dispatcher = cls(
            rt.settings.fetch_concurrency, normalise_processes=normaliser_count(rt.settings.normalise_processes)
        )
        rt.dispatcher = dispatcher
        if rt.fetcher.limiter is None:
            rt.fetcher.limiter = host_limiter(rt.settings, local=True)
        return dispatcher

    def send(self, message: Message) -> None:
        if isinstance(message, IngestEntry):
            self.pages_sent += 1
        (self.pending if _is_staged(message) else self.local).append(message)

    def sent(self, kind: type[Message]) -> list[Message]:
        return [m for m in (*self.pending, *self.local) if isinstance(m, kind)]

    def backlog(self, queue: str) -> int | None:
        """Messages of ``queue`` waiting here (the sweeper re-sends lost work only from idle queues)."""
        return sum(1 for m in (*self.pending, *self.local) if queue == m.QUEUE)

    def drain(self, rt: Runtime, on_done: Callable[[Message, object], None] | None = None) -> int:
        """Run every pending message (and what they send) to completion; returns how many ran.

        The normalising processes (if any) are started once ``start_processes_at`` pages have
        been sent to fetch (a process costs ~1.5 s of CPU to start: a small run is done sooner
        without), take pages once they are ready, and live as long as the runtime
        (:meth:`Runtime.close`), so a long ``run`` does not start them again every pass; an
        interrupted drain stops them at once, dropping the pages they held."""
        run = _Drain(self, rt, on_done)
        finished = False
        try:
            done = run.loop()
            finished = True
            return done
        finally:
            run.stop()
            if not finished:
                rt.stop_normalising(wait=False)


class _Drain:
    def __init__(self, owner: PooledDispatcher, rt: Runtime, on_done: Callable[[Message, object], None] | None):
        self.owner = owner
        self.rt = rt
        self.on_done = on_done
        self.done = 0
        self.ready: dict[str, deque[_Started]] = {}  # started, waiting for their host to have room
        self.ready_count = 0
        self.in_flight: dict[int, _Started] = {}
        self.per_host: Counter[str] = Counter()
        self.delayed: list[tuple[float, int, Message]] = []  # (monotonic time, seq, message)
        self.seq = itertools.count()
        self.jobs: queue.SimpleQueue[tuple[int, _Started] | None] = queue.SimpleQueue()
        self.results: queue.SimpleQueue[tuple[int, bool, Any]] = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []
        self.ids = itertools.count()
        self.current: Message | None = None  # the message the writer is running (released if interrupted)

    # ------------------------------------------------------------ the fetch threads

    def _fetcher(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            ident, started = job
            try:
                out: Any = started.step.work()
                ok = True
            except BaseException as exc:  # handed to the writer, which decides
                out, ok = exc, False
            self.results.put((ident, ok, out))

    def _ensure_threads(self) -> None:
        while len(self.threads) < min(self.owner.concurrency, len(self.in_flight)):
            thread = threading.Thread(target=self._fetcher, name=f"newsworker-fetch-{len(self.threads)}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        """Abandon what was started and not finished; let the threads go."""
        started = [*self.in_flight.values(), *(s for q in self.ready.values() for s in q)]
        for item in started:
            try:
                item.step.abandon()
            except Exception:  # the database may be what failed; leases expire on their own
                log.warning("could not release a started step", exc_info=True)
        leased = [s.message for s in started] + [m for _, _, m in self.delayed]
        if self.current is not None:
            leased.append(self.current)
        self.in_flight.clear()
        self.ready.clear()
        try:  # poll leases and claims: freed by the next run's start (handlers.resume_embedded)
            work.let_go(self.rt, leased, self.owner.lease_owner)
        except Exception:
            log.warning("could not release the leases of unfinished work", exc_info=True)
        for _ in self.threads:
            self.jobs.put(None)

    # ------------------------------------------------------------ the writer

    def _finished(self, message: Message, result: object) -> None:
        self.current = None
        self.done += 1
        if self.on_done is not None:
            self.on_done(message, result)

    def _limit(self, host: str) -> tuple[str, int | None]:
        limiter = self.rt.fetcher.limiter
        if limiter is None:
            return host, None
        key, limit = limiter.limit_for(host)
        return key, limit.max_concurrent

    def _start_normalisers(self) -> None:
        """Start the normalising processes once enough pages were sent (see :meth:`PooledDispatcher.drain`)."""
        owner = self.owner
        if owner.normalise_processes > 0 and not self.rt.normalising and owner.pages_sent >= owner.start_processes_at:
            pool = ProcessPoolExecutor(
                owner.normalise_processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_normaliser,
            )
            self.rt.start_normalising(pool, _ready)

    def _start_next(self) -> None:
        message = self.current = self.owner.pending.popleft()
        self.owner.stats.writer_threads.add(threading.get_ident())
        owner, rt = self.owner.lease_owner, self.rt
        lease = work.lease(rt, message, owner)
        if lease.refused:
            self._finished(message, work.Skipped("held"))
            return
        step = work.attempt(rt, message, owner, lambda: message.start(rt), lease=lease)
        if isinstance(step, work.Skipped):
            self._finished(message, step)
            return
        if isinstance(step, Done):
            work.done(rt, message, lease)
            self._finished(message, step.value)
            return
        assert isinstance(step, Fetching)
        key, limit = self._limit(step.host)
        self.ready.setdefault(key, deque()).append(_Started(message, step, key, limit, lease))
        self.ready_count += 1

    def _submit_ready(self) -> bool:
        submitted = False
        for key in list(self.ready):
            waiting = self.ready[key]
            while waiting and len(self.in_flight) < self.owner.concurrency:
                started = waiting[0]
                if started.limit is not None and self.per_host[key] >= started.limit:
                    break
                waiting.popleft()
                self.ready_count -= 1
                ident = next(self.ids)
                self.in_flight[ident] = started
                self.per_host[key] += 1
                self._ensure_threads()
                self.jobs.put((ident, started))
                submitted = True
            if not waiting:
                del self.ready[key]
        stats = self.owner.stats
        stats.peak_in_flight = max(stats.peak_in_flight, len(self.in_flight))
        return submitted

    def _complete(self, ident: int, ok: bool, out: Any) -> None:
        started = self.in_flight.pop(ident)
        self.per_host[started.key] -= 1
        self.owner.stats.writer_threads.add(threading.get_ident())
        self.owner.stats.fetched += 1
        step, message, rt = started.step, started.message, self.rt
        self.current = message
        if not ok and isinstance(out, HostBusy) and out.retry_after_seconds <= REQUEUE_WAIT_SECONDS:
            step.abandon()
            delay = max(0.05, out.retry_after_seconds)
            work.keep_lease(rt, message, self.owner.lease_owner, timedelta(seconds=delay))
            self.owner.stats.requeued += 1
            heapq.heappush(self.delayed, (time.monotonic() + delay, next(self.seq), message))
            return
        try:
            result = work.attempt(
                rt,
                message,
                self.owner.lease_owner,
                (lambda: step.finish(out)) if ok else (lambda: step.fail(out)),
                lease=started.lease,
            )
        except HostBusy as busy:
            # A long slow-down: the item keeps its lease until then; the sweeper sends it again.
            log.info("host busy, left for a later dispatch", extra={**message.subject(), "host": busy.host})
            result = work.Skipped("held")
        if not isinstance(result, work.Skipped):
            work.done(rt, message, started.lease)
        self._finished(message, result)

    def _collect(self, timeout: float | None) -> bool:
        """Finish completed fetches; wait up to ``timeout`` for the first (None: don't wait)."""
        got = False
        try:
            item = self.results.get(timeout=timeout) if timeout is not None else self.results.get_nowait()
        except queue.Empty:
            return False
        while True:
            self._complete(*item)
            got = True
            try:
                item = self.results.get_nowait()
            except queue.Empty:
                return got

    def _release_delayed(self) -> float | None:
        """Move messages whose wait is over back to the queue; seconds until the next one."""
        now = time.monotonic()
        while self.delayed and self.delayed[0][0] <= now:
            _, _, message = heapq.heappop(self.delayed)
            self.owner.pending.appendleft(message)
        return self.delayed[0][0] - now if self.delayed else None

    def loop(self) -> int:
        owner = self.owner
        room = 4 * owner.concurrency  # started steps waiting for a host, at most
        while True:
            self._collect(None)
            self._start_normalisers()
            next_delayed = self._release_delayed()
            self._submit_ready()
            # keep the pool busy: start fetching messages while threads are idle
            while owner.pending and len(self.in_flight) < owner.concurrency and self.ready_count < room:
                self._start_next()
                self._submit_ready()
            if owner.local:
                message = self.current = owner.local.popleft()
                owner.stats.writer_threads.add(threading.get_ident())
                self._finished(message, work.run(self.rt, message, owner=owner.lease_owner))
                continue
            if self.in_flight:
                self._collect(min(next_delayed, 1.0) if next_delayed is not None else 1.0)
                continue
            if owner.pending:
                continue
            if next_delayed is not None:
                time.sleep(min(next_delayed, 1.0))
                continue
            if self.ready_count:  # cannot happen: a waiting host always has a fetch in flight
                raise RuntimeError("steps wait for a host with nothing in flight")
            return self.done
