"""End to end, distributed: real `celery worker` processes and beat on Redis and PostgreSQL.

    PYTHONPATH=$PWD python -m bench.distributed                      # 150 pages, c = 1, 2, 4 and 4, 8, 16 at 200 ms
    PYTHONPATH=$PWD python -m bench.distributed --pages 60 --concurrency 1,2 --latency-concurrency 8

For each worker concurrency: a fresh PostgreSQL database (127.0.0.1:5432, user postgres, dropped
afterwards) and a fresh private redis-server; ``newsworker worker -c N`` and ``newsworker beat``
are started and left to settle; then ``newsworker feeds import`` adds the feeds of the local news
web (:mod:`bench.site`), which with a broker sends their polls at once, and the clock runs until
every entry is stored as an article and linked into a story. CPU counted: the worker's processes
(parent and prefork children) and beat, and the PostgreSQL backends serving this database
(utime+stime from /proc), from the moment the feeds are imported.

Also: ``cold start``, the time from starting worker and beat on an empty deployment with one
feed to its first stored article. Results go to ``bench/runs/distributed.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import func, select, text

from bench.throughput import REPO, RESULTS, SiteServer, machine
from storage.db import Database
from storage.models import Article


def _tree_cpu(pids: list[int]) -> float:
    """CPU of processes and all their descendants, the exited ones included: a pool child that
    Celery replaced (``worker_max_tasks_per_child``) is counted in its parent's children times
    once reaped."""
    total = 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            procs = [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for p in procs:
            try:
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.NoSuchProcess:
                pass
    return total


def _backend_cpu(db: Database, name: str) -> dict[int, float]:
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :n"), {"n": name})
        pids = [int(r[0]) for r in rows]
    out: dict[int, float] = {}
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            out[pid] = t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return out


def _count(db: Database, processed: bool = False) -> int:
    query = select(func.count()).select_from(Article)
    if processed:
        query = query.where(Article.processed_at.is_not(None))
    with db.reader() as session:
        return int(session.scalar(query) or 0)


class Deployment:
    """One fresh database + Redis + worker + beat."""

    def __init__(self, concurrency: int, workdir: Path, extra_env: dict[str, str]) -> None:
        from tests.support.services import temporary_postgres_database, temporary_redis_server

        self._pg = temporary_postgres_database("nwbench")
        self.database_url = self._pg.__enter__()
        self._redis = temporary_redis_server()
        self.redis_url = self._redis.__enter__()
        self.name = self.database_url.rsplit("/", 1)[1]
        self.workdir = workdir
        self.concurrency = concurrency
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("NEWSWORKER_")},
            "PYTHONPATH": str(REPO),
            "NEWSWORKER_DATABASE_URL": self.database_url,
            "NEWSWORKER_BROKER_URL": self.redis_url,
            "NEWSWORKER_ALLOW_PRIVATE_NETWORKS": "true",
            "NEWSWORKER_HOST_REQUESTS_PER_MINUTE": "100000",
            "NEWSWORKER_LOG_LEVEL": "WARNING",
            **extra_env,
        }
        self.db = Database(self.database_url)
        self.procs: list[subprocess.Popen[bytes]] = []

    def cli(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "worker", *args],
            env=self.env,
            cwd=self.workdir,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self) -> None:
        log = open(self.workdir / "worker.log", "wb")  # noqa: SIM115 - closed with the process
        self.procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "worker", "worker", "-c", str(self.concurrency)],
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        self.procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "worker", "beat", "--schedule", str(self.workdir / "beat-schedule")],
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the worker has its prefork children (and a little more for them to connect)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                kids = psutil.Process(self.procs[0].pid).children(recursive=True)
            except psutil.NoSuchProcess as exc:
                raise RuntimeError((self.workdir / "worker.log").read_text()[-3000:]) from exc
            if len(kids) >= self.concurrency:
                time.sleep(3)
                return
            time.sleep(0.2)
        raise RuntimeError("the worker did not start its processes")

    def rss_mb(self) -> tuple[float, float]:
        """The worker's main process and its largest pool child, MB (the limit is per child)."""
        try:
            main = psutil.Process(self.procs[0].pid)
            kids = main.children(recursive=True)
            parent = main.memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            return 0.0, 0.0
        largest = 0.0
        for kid in kids:
            with contextlib.suppress(psutil.NoSuchProcess):
                largest = max(largest, kid.memory_info().rss / 2**20)
        return parent, largest

    def cpu(self) -> tuple[float, dict[int, float]]:
        return _tree_cpu([p.pid for p in self.procs]), _backend_cpu(self.db, self.name)

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.db.dispose()
        self._redis.__exit__(None, None, None)
        self._pg.__exit__(None, None, None)


def measure(
    concurrency: int, feeds: list[str], expected: int, timeout: float, env: dict[str, str] | None = None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nwdist-") as tmp:
        workdir = Path(tmp)
        (workdir / "feeds.txt").write_text("\n".join(feeds) + "\n")
        dep = Deployment(concurrency, workdir, {"NEWSWORKER_WORKER_CONCURRENCY": str(concurrency), **(env or {})})
        try:
            dep.cli("db", "upgrade")
            dep.start()
            dep.wait_ready()
            worker0, backends0 = dep.cpu()
            t0 = time.perf_counter()
            # with a broker every poll is sent at once; exit 1 (an unusable line) still adds the rest
            with contextlib.suppress(subprocess.CalledProcessError):
                dep.cli("feeds", "import", "feeds.txt")
            first = None
            parent_rss = child_rss = 0.0
            end = time.monotonic() + timeout
            seen: dict[int, float] = {}
            while time.monotonic() < end:
                seen.update(_backend_cpu(dep.db, dep.name))  # a backend that exits keeps its last reading
                parent_mb, child_mb = dep.rss_mb()
                parent_rss, child_rss = max(parent_rss, parent_mb), max(child_rss, child_mb)
                stored = _count(dep.db)
                if first is None and stored:
                    first = time.perf_counter() - t0
                if stored >= expected and _count(dep.db, processed=True) >= expected:
                    break
                time.sleep(0.25)
            wall = time.perf_counter() - t0
            worker1, backends1 = dep.cpu()
            backends1 = {**seen, **backends1}
            articles = _count(dep.db)
            processed = _count(dep.db, processed=True)
        finally:
            dep.close()
    db_cpu = sum(cpu - backends0.get(pid, 0.0) for pid, cpu in backends1.items())
    n = max(1, processed)
    result = {
        "concurrency": concurrency,
        "articles": articles,
        "processed": processed,
        "expected": expected,
        "wall_s": wall,
        "first_article_s": first,
        "per_second": processed / wall,
        "worker_cpu_s": worker1 - worker0,
        "db_cpu_s": db_cpu,
        "worker_cpu_ms_per_article": 1000 * (worker1 - worker0) / n,
        "db_cpu_ms_per_article": 1000 * db_cpu / n,
        "peak_rss_mb": {"worker_main": parent_rss, "largest_pool_child": child_rss},
    }
    print(
        f"  c={concurrency}: {processed}/{expected} articles in {wall:.1f} s ({result['per_second']:.1f}/s), "
        f"worker CPU {result['worker_cpu_ms_per_article']:.1f} ms + PostgreSQL {result['db_cpu_ms_per_article']:.1f} ms"
        f" per article; peak RSS {parent_rss:.0f} MB main process, {child_rss:.0f} MB largest pool child;"
        f" first article {first if first is None else round(first, 1)} s after `feeds import` started (feeds added"
        " while running)",
        flush=True,
    )
    return result


def cold_start(feed: str, timeout: float = 60) -> dict[str, Any]:
    """Empty deployment, one feed: seconds from starting worker and beat to the first stored article."""
    with tempfile.TemporaryDirectory(prefix="nwdist-") as tmp:
        dep = Deployment(1, Path(tmp), {"NEWSWORKER_WORKER_CONCURRENCY": "1"})
        try:
            dep.cli("db", "upgrade")
            # added without the broker in its environment, so the CLI sends no poll: what polls the
            # feed is beat's dispatch at start
            no_broker = {k: v for k, v in dep.env.items() if k != "NEWSWORKER_BROKER_URL"}
            subprocess.run(
                [sys.executable, "-m", "worker", "feeds", "add", feed],
                env=no_broker,
                cwd=tmp,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            t0 = time.perf_counter()
            dep.start()
            first = None
            end = time.monotonic() + timeout
            while time.monotonic() < end and first is None:
                if _count(dep.db):
                    first = time.perf_counter() - t0
                time.sleep(0.1)
        finally:
            dep.close()
    print(f"  cold start: first article stored {first:.1f} s after starting worker and beat", flush=True)
    return {"first_article_s": first}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=150)
    ap.add_argument("--hosts", type=int, default=16)
    ap.add_argument("--concurrency", default="1,2,4", help="worker processes, CPU-bound runs")
    ap.add_argument("--latency-concurrency", default="4,8,16", help="worker processes, runs with --latency")
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--out", type=Path, default=RESULTS / "distributed.json")
    ap.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for worker and beat in the measured runs (repeatable), e.g. NEWSWORKER_TASK_EVENTS=1",
    )
    args = ap.parse_args(argv)
    env = dict(item.split("=", 1) for item in args.env)
    if bad := [name for name in env if not name.startswith("NEWSWORKER_")]:
        ap.error(f"--env takes NEWSWORKER_* settings only: {', '.join(bad)}")
    command = "PYTHONPATH=$PWD python -m bench.distributed " + shlex.join(argv if argv is not None else sys.argv[1:])
    results: dict[str, Any] = {"command": command.strip(), "machine": machine(), "pages": args.pages}
    print(f"machine: {results['machine']}", flush=True)
    server = SiteServer(args.pages, args.hosts, 0.0)
    try:
        site = server.manifest
        feeds = site["feeds"] + site["failing_feeds"]
        results["site"] = {"entries": site["entries"], "feeds": len(feeds)}
        results["cold_start"] = cold_start(site["feeds"][0])
        results["cpu_bound"] = [
            measure(int(c), feeds, site["entries"], args.timeout, env) for c in args.concurrency.split(",") if c
        ]
    finally:
        server.stop()
    if args.latency_concurrency:
        server = SiteServer(args.pages, args.hosts, args.latency)
        try:
            site = server.manifest
            feeds = site["feeds"] + site["failing_feeds"]
            results["latency_s"] = args.latency
            results["with_latency"] = [
                measure(int(c), feeds, site["entries"], args.timeout, env)
                for c in args.latency_concurrency.split(",")
                if c
            ]
        finally:
            server.stop()
    rates: dict[int, list[float]] = {}
    for r in results["cpu_bound"]:
        rates.setdefault(r["concurrency"], []).append(r["per_second"])
    if 1 in rates and 2 in rates:
        # a concurrency given more than once (--concurrency 1,2,1,2: alternating on a shared
        # machine) counts by its median
        results["speedup_2_over_1"] = statistics.median(rates[2]) / statistics.median(rates[1])
        print(f"2 processes / 1: {results['speedup_2_over_1']:.2f}x (articles/s, medians of {rates[1]} and {rates[2]})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
