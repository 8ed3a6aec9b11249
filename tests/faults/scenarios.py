"""The fault scenarios of issue #14, each on a fresh database, Redis, workers and beat.

Each scenario returns a :class:`Result`: the counts (``measure.count``) once everything is
stored and linked, and the seconds from its last fault until then. ``Profile`` sizes a run:
``SHORT`` is the CI version (small site, short time limits so a lease is 30 s), ``full(pages)``
the documented run with the production defaults (lease 90 s, dispatch every 10 s).
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import func, select

from storage import repo
from storage.db import Database
from storage.models import FetchLog
from storage.schema import upgrade
from tests.faults.cluster import Cluster, RedisServer, pg_proxy, scenario_env
from tests.faults.measure import Counts, count
from tests.faults.site import Site
from tests.support.processes import REPO, wait_for
from tests.support.services import temporary_postgres_database
from worker.settings import Settings


@dataclass(frozen=True)
class Profile:
    feeds: int
    pages_per_feed: int
    copies: int
    page_delay: float
    env: dict[str, str]
    kills: int = 10
    kill_every: float = 3.0
    restart_after: float = 3.0
    pg_outage: float = 60.0
    two_beats_for: float = 60.0  # seconds both beats run
    writers: int = 8
    writer_share: float = 1.0  # the part of the pages each writer imports (a shuffled sample)
    poison_rows: int = 800_000
    settle_timeout: float = 600.0
    workers: int = 2
    concurrency: int = 2

    @property
    def pages(self) -> int:
        return self.feeds * self.pages_per_feed + self.copies


SHORT = Profile(
    feeds=3,
    pages_per_feed=10,
    copies=3,
    page_delay=0.4,
    env={
        "NEWSWORKER_DISPATCH_INTERVAL_SECONDS": "2",
        "NEWSWORKER_TASK_SOFT_TIME_LIMIT_SECONDS": "5",
        "NEWSWORKER_TASK_TIME_LIMIT_SECONDS": "10",  # a lease of 25 s
        "NEWSWORKER_STORY_REFINE_INTERVAL_SECONDS": "30",
    },
    kills=6,
    kill_every=2.0,
    pg_outage=10.0,
    two_beats_for=8.0,
    writer_share=0.5,
    poison_rows=200_000,
    settle_timeout=120.0,
)


# The production default of pool processes per worker (NEWSWORKER_WORKER_CONCURRENCY): fetches
# and linking mostly wait (network, the database), so a worker runs more processes than cores.
PRODUCTION_CONCURRENCY = int(Settings.model_fields["worker_concurrency"].default)


def full(pages: int = 1000) -> Profile:
    """20 feeds (fewer for a small run) with the production defaults for time limits, ticks and
    pool processes per worker (the full run used 2 until 2026-12; see the README)."""
    feeds = 20 if pages >= 200 else max(2, pages // 10)
    per_feed = max(1, (pages - 20) // feeds) if pages >= 200 else max(1, pages // feeds)
    return Profile(
        feeds=feeds,
        pages_per_feed=per_feed,
        copies=max(0, pages - feeds * per_feed) or 10,
        page_delay=0.1,
        env={"NEWSWORKER_STORY_REFINE_INTERVAL_SECONDS": "60"},
        concurrency=PRODUCTION_CONCURRENCY,
    )


@dataclass
class Result:
    scenario: str
    counts: Counts
    settled_after: float | None  # seconds from the last fault until stored and linked (None: never)
    poison_after: float | None = None  # seconds from the start until the poison page was recorded failed
    notes: list[str] = field(default_factory=list)
    last_fault_wall: float | None = None  # time.time() of the last fault
    started_after: float = 0.0  # seconds from the cluster's start to the last fault

    @property
    def ok(self) -> bool:
        c = self.counts
        poison_ok = c.poison_page is None or c.poison_page.startswith("failed")
        feed_ok = c.poison_feed is None or c.poison_feed.startswith("error recorded")
        return (
            c.missing == 0
            and c.stored_twice == 0
            and c.without_story == 0
            and self.settled_after is not None
            and self.settled_after <= 120
            and poison_ok
            and feed_ok
        )


class Run:
    """One scenario's services: site, database (through the proxy), Redis, workers, beat."""

    def __init__(self, profile: Profile, site: Site, stack: ExitStack, workdir: Path) -> None:
        self.profile = profile
        self.site = site
        self.workdir = workdir
        direct_url = stack.enter_context(temporary_postgres_database("nwfaults"))
        self.proxy, self.database_url = stack.enter_context(pg_proxy(direct_url))
        self.db = Database(direct_url)  # the counting side never goes through the proxy
        stack.callback(self.db.dispose)
        upgrade(self.db.engine, direct_url)
        with self.db.transaction() as session:
            for path in site.feed_paths():
                repo.add_feed(session, site.url(path))
        self.redis = RedisServer().start()
        stack.callback(self.redis.close)
        env = scenario_env(self.database_url, self.redis.url, **profile.env)
        self.cluster = Cluster(env, workdir, concurrency=profile.concurrency)
        stack.callback(self.cluster.stop_all)
        self.started = time.monotonic()

    def start(self, *, beat: bool = True) -> None:
        for i in range(self.profile.workers):
            self.cluster.start_worker(f"w{i + 1}")
        if beat:
            self.cluster.start_beat()

    def counts(self) -> Counts:
        return count(self.db, self.site)

    def stored(self) -> int:
        return self.counts().stored

    def wait_stored(self, fraction: float, timeout: float = 300) -> None:
        target = int(self.profile.pages * fraction)
        wait_for(lambda: self.stored() >= target, timeout, f"{target} stored pages", interval=0.5)

    def settle(self, last_fault: float, *, poison: bool = False) -> Result:
        """Wait until everything is stored and linked; the seconds since ``last_fault``."""
        deadline = last_fault + self.profile.settle_timeout
        settled_after: float | None = None
        poison_after: float | None = None
        counts = self.counts()
        while time.monotonic() < deadline:
            counts = self.counts()
            if settled_after is None and counts.settled:
                settled_after = time.monotonic() - last_fault
            if poison and poison_after is None and self._poison_done(counts):
                poison_after = time.monotonic() - self.started
            if settled_after is not None and (not poison or poison_after is not None):
                break
            time.sleep(1.0)
        return Result(
            "",
            counts,
            settled_after,
            poison_after,
            last_fault_wall=time.time() - (time.monotonic() - last_fault),
            started_after=last_fault - self.started,
        )

    @staticmethod
    def _poison_done(c: Counts) -> bool:
        page = c.poison_page is None or c.poison_page.startswith("failed")
        feed = c.poison_feed is None or c.poison_feed.startswith("error recorded")
        return page and feed

    def fetch_queue_length(self) -> int:
        client = self.redis.client()
        try:
            return sum(int(client.llen(key)) for key in client.keys("fetch*") if client.type(key) == b"list")
        finally:
            client.close()

    def log(self, message: str) -> None:
        print(f"  [{time.monotonic() - self.started:6.1f}s] {message}", flush=True)


# ------------------------------------------------------------------ the scenarios


def baseline(run: Run) -> Result:
    """(0) No fault: how long the same site takes to be stored and linked from a cold start (the
    yardstick for the other rows' settling times, which include the ingest still to do)."""
    run.start()
    return run.settle(run.started)


def sigkills(run: Run) -> Result:
    """(1) SIGKILLs during ingest, alternately one pool child and a whole worker; a killed
    worker is started again ``restart_after`` seconds later."""
    p = run.profile
    run.start()
    run.wait_stored(0.05)
    names = sorted(run.cluster.workers)
    restarts: list[threading.Timer] = []
    last = time.monotonic()
    for k in range(p.kills):
        name = names[(k // 2) % len(names)]
        if k % 2 == 0:
            run.cluster.wait_for_pool(name)
            pid = run.cluster.kill_child(name)
            run.log(f"kill {k + 1}: SIGKILL pool child {pid} of {name} (stored {run.stored()})")
        else:
            run.cluster.wait_for_pool(name)
            run.cluster.kill_worker(name)
            run.log(f"kill {k + 1}: SIGKILL worker {name} (stored {run.stored()})")
            timer = threading.Timer(p.restart_after, run.cluster.start_worker, args=(name,))
            timer.start()
            restarts.append(timer)
        last = time.monotonic()
        time.sleep(p.kill_every)
    for timer in restarts:
        timer.join()
    return run.settle(last)


def redis_kill(run: Run) -> Result:
    """(2) ``kill -9`` of Redis with tasks queued; restarted 3 s later on its port and directory."""
    run.start()
    deadline = time.monotonic() + 90
    while run.fetch_queue_length() < max(3, run.profile.pages // 8) and time.monotonic() < deadline:
        time.sleep(0.1)  # kill with a backlog queued (or, on a very slow machine, with what there is)
    queued = run.fetch_queue_length()
    run.redis.kill()
    run.log(f"redis killed with {queued} fetch tasks queued (stored {run.stored()})")
    time.sleep(3)
    run.redis.start()
    last = time.monotonic()
    run.log(f"redis restarted: {run.fetch_queue_length()} fetch tasks queued after its AOF replay")
    result = run.settle(last)
    result.notes.append(f"{queued} queued at the kill")
    return result


def postgres_outage(run: Run) -> Result:
    """(3) PostgreSQL unreachable (the proxy in front of it cut) for ``pg_outage`` seconds."""
    run.start()
    run.wait_stored(0.2)
    run.proxy.cut()
    run.log(f"postgres cut (stored {run.stored()})")
    time.sleep(run.profile.pg_outage)
    run.proxy.restore()
    last = time.monotonic()
    run.log(f"postgres back (stored {run.stored()})")
    return run.settle(last)


def two_beats(run: Run) -> Result:
    """(4) Two beats side by side for several dispatch intervals; only one may send."""
    run.start(beat=False)
    run.cluster.start_beat("beat-a")
    run.cluster.start_beat("beat-b")
    time.sleep(run.profile.two_beats_for)
    last = time.monotonic()
    result = run.settle(last)
    senders = []
    for name in ("beat-a", "beat-b"):
        text = "".join(p.read_text(errors="replace") for p in run.workdir.glob(f"{name}.*.log"))
        if text.count("Sending due task") > 0:
            senders.append(f"{name} sent {text.count('Sending due task')}")
    with run.db.reader() as session:
        polls = session.execute(select(FetchLog.feed_id, func.count()).group_by(FetchLog.feed_id)).all()
    twice = sum(1 for _, n in polls if n > 1)
    result.notes.append(f"beats that sent: {len(senders)} ({', '.join(senders)}); feeds polled twice: {twice}")
    return result


def concurrent_writers(run: Run) -> Result:
    """(5) 8 ``newsworker import`` processes on the same articles and their copies, in different
    orders, while the workers ingest the same pages from the feeds."""
    p = run.profile
    paths = run.site.article_paths()
    files = []
    for w in range(p.writers):
        order = list(paths)
        random.Random(w).shuffle(order)
        order = order[: max(1, int(len(order) * p.writer_share))]
        file = run.workdir / f"writer-{w}.jsonl"
        file.write_text("".join(json.dumps(run.site.import_line(path)) + "\n" for path in order))
        files.append(file)
    run.start()
    writers = [
        subprocess.Popen(
            [sys.executable, "-m", "worker", "import", str(file), "--source", f"writer-{w}"],
            env=run.cluster.env,
            cwd=run.workdir,
            stdout=(run.workdir / f"writer-{w}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for w, file in enumerate(files)
    ]
    codes = [w.wait(timeout=900) for w in writers]
    last = time.monotonic()
    run.log(f"writers done: exit codes {codes}")
    result = run.settle(last)
    failures = sum(1 for c in codes if c != 0)
    result.notes.append(f"writers failed: {failures} of {len(codes)}")
    if failures:
        logs = [(run.workdir / f"writer-{w}.log").read_text(errors="replace")[-600:] for w, c in enumerate(codes) if c]
        result.notes.append(logs[0])
    return result


def poison(run: Run) -> Result:
    """(6) A poison page (malformed table markup, more than any article page has: refused before
    extraction, the page's failure recorded) and a poison feed (an HTML error page served as the
    feed, every time)."""
    run.start()
    last = run.started
    result = run.settle(last, poison=True)
    return result


SCENARIOS: dict[str, Callable[[Run], Result]] = {
    "baseline": baseline,
    "sigkill": sigkills,
    "redis": redis_kill,
    "postgres": postgres_outage,
    "two-beats": two_beats,
    "writers": concurrent_writers,
    "poison": poison,
}


def site_for(profile: Profile, scenario: str) -> Site:
    delay = profile.page_delay
    return Site(
        feeds=profile.feeds,
        pages_per_feed=profile.pages_per_feed,
        copies=profile.copies,
        page_delay=delay,
        poison_page=scenario == "poison",
        poison_feed=scenario == "poison",
        poison_rows=profile.poison_rows,
    )


@contextmanager
def _workdir(keep: Path | None, name: str) -> Iterator[Path]:
    if keep is not None:
        path = keep / name
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix=f"nw-faults-{name}-") as tmp:
        yield Path(tmp)


def run_scenario(name: str, profile: Profile, *, keep: Path | None = None) -> Result:
    site = site_for(profile, name).serve()
    try:
        with _workdir(keep, name) as workdir, ExitStack() as stack:
            run = Run(profile, site, stack, workdir)
            run.log(f"scenario {name}: {profile.pages} pages on {profile.feeds} feeds, {site.url('/')}")
            result = SCENARIOS[name](run)
            result = replace(result, scenario=name)
            logs = run.cluster.logs()
            result.notes.extend(_log_findings(logs))
            result.notes.extend(_recovery(logs, result.last_fault_wall))
            return result
    finally:
        site.close()


def _log_findings(logs: str) -> list[str]:
    """Errors worth a look in the workers' and beats' logs (counted, not asserted)."""
    notes = []
    for needle in ("Traceback", "StringDataRightTruncation", "cannot be acknowledged", "work given up", "deadlock"):
        n = logs.count(needle)
        if n:
            notes.append(f"log: {n}x {needle!r}")
    return notes


# The text log format starts with an ISO date and time in UTC ("2026-12-06T12:10:02.351Z ...").
_RESENT = re.compile(r"^(?:\d{4}-\d\d-\d\dT)?(\d\d):(\d\d):(\d\d\.\d+)Z? .*lost work sent again.*?resent=(\d+)", re.M)


def _recovery(logs: str, last_fault_wall: float | None) -> list[str]:
    """How much lost work the sweeper sent again, and when it sent the last of it."""
    sends = [(int(h) * 3600 + int(m) * 60 + float(sec), int(n)) for h, m, sec, n in _RESENT.findall(logs)]
    resumed = logs.count("work resumed after a worker died")
    if not sends:
        return [f"resumed after a death: {resumed}"] if resumed else []
    total = sum(n for _, n in sends)
    note = f"sweeper resent {total} item(s) in {len(sends)} tick(s)"
    if last_fault_wall is not None:
        tm = time.gmtime(last_fault_wall)
        fault = tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec + last_fault_wall % 1
        first, last = (min(t for t, _ in sends) - fault, max(t for t, _ in sends) - fault)
        first, last = ((x + 43200) % 86400 - 43200 for x in (first, last))  # across midnight
        note += f", {first:.0f} to {last:.0f} s after the last fault"
    return [note + (f"; {resumed} resumed after a worker died" if resumed else "")]


def table(results: list[Result]) -> str:
    head = (
        "| scenario | expected | stored | missing | stored twice | without a story | settled (s after last fault) "
        "| from start (s) | poison | notes |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in results:
        c = r.counts
        settled = f"{r.settled_after:.0f}" if r.settled_after is not None else "not settled"
        total = f"{r.started_after + r.settled_after:.0f}" if r.settled_after is not None else "-"
        poison_bits = [b for b in (c.poison_page and f"page: {c.poison_page[:120]}", c.poison_feed and
                                   f"feed: {c.poison_feed[:120]}") if b]  # fmt: skip
        if r.poison_after is not None:
            poison_bits.append(f"both recorded {r.poison_after:.0f} s after start")
        notes = list(r.notes)
        if c.missing_paths:
            notes.append("missing: " + ", ".join(c.missing_paths[:3]))
        if c.unprocessed or c.work_queued or c.not_articles:
            notes.append(f"unprocessed {c.unprocessed}, work queued {c.work_queued}, not articles {c.not_articles}")
        lines.append(
            f"| {r.scenario} | {c.expected} | {c.stored} | {c.missing} | {c.stored_twice} | {c.without_story} "
            f"| {settled} | {total} | {'; '.join(poison_bits) or '-'} | {'; '.join(n.replace('|', '/') for n in notes) or '-'} |"
        )
    return "\n".join(lines)


__all__ = ["REPO", "SCENARIOS", "SHORT", "Profile", "Result", "full", "run_scenario", "table"]
