"""End to end, embedded: newsworker against bare extraction and a minimal ingester, side by side.

    PYTHONPATH=$PWD python -m bench.throughput                  # all 437 pages (a few minutes)
    PYTHONPATH=$PWD python -m bench.throughput --pages 150      # quicker
    PYTHONPATH=$PWD python -m bench.throughput --pages 150 --compare-with ../main --rounds 4
                                         # only bare + `run --once` of two checkouts, alternating

One run, on the local news web of :mod:`bench.site` (real article pages, syndicated copies,
failing feeds, a missing page or two), measures in turn, each in its own process:

1. ``bare``: trafilatura's ``extract`` (``fast=True``, no comments) of every page the run
   ingests (originals and copies), from memory: the cost no ingester can avoid;
2. ``minimal``: the simplest peer, requests + trafilatura + one SQLite INSERT per page, with
   the same number of concurrent fetches as newsworker;
3. ``newsworker``: ``newsworker run --once`` (SQLite, the default ``NEWSWORKER_FETCH_CONCURRENCY``
   unless ``--concurrency``, the default ``NEWSWORKER_NORMALISE_PROCESSES``: one normalising
   process where two CPUs are usable), which also dedupes, links stories and stores everything;
4. ``newsworker`` again with ``NEWSWORKER_NORMALISE_PROCESSES=--normalise-processes`` (default 0:
   normalised in the fetch threads; does the process pool pay?);
5. a second ``run --once`` over the same feeds made due again: every feed answers 304;
6. the same as 2 and 3 with ``--latency`` seconds (default 0.2) added to every response;
7. a profiled ``run --once`` (cProfile per thread, thread CPU clock, normalised in the threads) whose stage shares
   (fetch, parse, normalise, dedupe, link, store) split newsworker's measured CPU per article;
8. what events cost: writing them (``storage.outbox.add``, inside store and link, its share of
   the profile) and publishing them (after run 3, every outbox row relayed to a Redis Stream on
   a private ``redis-server``: this process's CPU and redis-server's).

CPU is each process's own user+system time after start-up (imports and database creation are
not counted for anyone), plus that of its child processes. The site server runs in another
process and is counted for no one. Results go to ``bench/runs/throughput.json``
(``python -m bench.report`` turns them into BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import platform
import pstats
import re
import resource
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "runs"


# ---------------------------------------------------------------- measuring a child process


def _cpu_now() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _report(payload: dict[str, Any]) -> None:
    """A child's last line on stdout: its measurements."""
    print("RESULT " + json.dumps(payload), flush=True)


def _run_child(args: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> dict[str, Any]:
    """Run ``python -m bench.throughput <args>`` and return its RESULT line, with its total CPU
    (from wait4: the child and the children it waited for) and peak RSS."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.throughput", *args],
        env=full_env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out_chunks: list[str] = []
    err_chunks: list[str] = []
    t_out = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read() if proc.stdout else ""))
    t_err = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read() if proc.stderr else ""))
    t_out.start()
    t_err.start()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    t_out.join()
    t_err.join()
    out, err = "".join(out_chunks), "".join(err_chunks)
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"bench child {args} failed ({proc.returncode}):\n{err[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    result["process_cpu_s"] = usage.ru_utime + usage.ru_stime
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    return result


# ---------------------------------------------------------------- the site server


class SiteServer:
    def __init__(self, pages: int | None, hosts: int, latency: float, repeat: int = 1) -> None:
        cmd = [sys.executable, "-m", "bench.site", "serve", "--hosts", str(hosts), "--latency", str(latency)]
        cmd += ["--repeat", str(repeat)]
        if pages is not None:
            cmd += ["--pages", str(pages)]
        self.proc = subprocess.Popen(
            cmd, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.manifest: dict[str, Any] = json.loads(self.proc.stdout.readline())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


# ---------------------------------------------------------------- contenders (child side)


def _page_htmls(pages: int | None) -> list[tuple[str, bytes]]:
    """The HTML of every page the run ingests: each original, and each syndicated copy."""
    from bench.site import build, load_pages

    site = build(load_pages(pages), port=1)
    return [(path, body) for (_, path), (status, ctype, body) in site.routes.items() if ctype.startswith("text/html")]


def child_bare(pages: int | None) -> None:
    import trafilatura

    htmls = _page_htmls(pages)
    start = _cpu_now()
    t0 = time.perf_counter()
    words = 0
    for path, html in htmls:
        text = trafilatura.extract(html.decode("utf-8", "replace"), url=path, fast=True, include_comments=False)
        words += len((text or "").split())
    _report(
        {
            "pages": len(htmls),
            "cpu_s": _cpu_now() - start,
            "wall_s": time.perf_counter() - t0,
            "words": words,
        }
    )


def child_minimal(feeds: list[str], concurrency: int, db_path: str) -> None:
    """requests + trafilatura + one INSERT per page, ``concurrency`` fetches at once."""
    import requests
    import trafilatura

    conn = sqlite3.connect(db_path, check_same_thread=False)
    conn.execute("CREATE TABLE articles (id INTEGER PRIMARY KEY, url TEXT UNIQUE, text TEXT)")
    lock = threading.Lock()
    extracting = threading.Lock()
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return local.session  # type: ignore[no-any-return]

    def feed_links(url: str) -> list[str]:
        try:
            reply = session().get(url, timeout=30)
            if reply.status_code != 200:
                return []
            return [el.text or "" for el in ElementTree.fromstring(reply.content).iter("link")][1:]
        except (requests.RequestException, ElementTree.ParseError):
            return []

    def ingest(url: str) -> int:
        try:
            reply = session().get(url, timeout=30)
        except requests.RequestException:
            return 0
        if reply.status_code != 200:
            return 0
        with extracting:  # trafilatura's module-level lxml parser is not for two threads at once
            text = trafilatura.extract(reply.text, url=url, fast=True, include_comments=False) or ""
        with lock:
            conn.execute("INSERT OR IGNORE INTO articles (url, text) VALUES (?, ?)", (url, text))
            conn.commit()
        return 1

    start = _cpu_now()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        links = [link for found in pool.map(feed_links, feeds) for link in found]
        stored = sum(pool.map(ingest, links))
    wall = time.perf_counter() - t0
    _report({"articles": stored, "entries": len(links), "cpu_s": _cpu_now() - start, "wall_s": wall})


def cli(args: list[str]) -> None:
    """A newsworker command in this process (an exit code other than 0 or 1 is a failure)."""
    from worker.cli import cli as group

    try:
        group(args, prog_name="newsworker", standalone_mode=False)
    except SystemExit as exc:
        if exc.code not in (None, 0, 1):
            raise


def _prepare_newsworker(feeds: list[str]) -> None:
    Path("feeds.txt").write_text("\n".join(feeds) + "\n")
    cli(["feeds", "import", "feeds.txt"])


def _counts() -> dict[str, int]:
    from sqlalchemy import func, select

    from storage.db import Database
    from storage.models import Article, Entry
    from worker.settings import get_settings

    db = Database(get_settings().database_url)
    with db.reader() as session:
        counts = {
            "articles": int(session.scalar(select(func.count()).select_from(Article)) or 0),
            "duplicates": int(
                session.scalar(select(func.count()).select_from(Article).where(Article.duplicate_of.is_not(None))) or 0
            ),
            "entries": int(session.scalar(select(func.count()).select_from(Entry)) or 0),
            "processed": int(
                session.scalar(select(func.count()).select_from(Article).where(Article.processed_at.is_not(None))) or 0
            ),
        }
    db.dispose()
    return counts


def _make_all_due() -> None:
    from sqlalchemy import update

    from storage.db import Database
    from storage.models import Feed
    from worker.model.clock import utcnow
    from worker.settings import get_settings

    db = Database(get_settings().database_url)
    with db.transaction() as session:
        session.execute(update(Feed).values(next_poll_at=utcnow(), lease_until=None))
    db.dispose()


def child_newsworker(feeds: list[str], repoll: bool, profile: str | None) -> None:
    """``newsworker run --once`` in this process, timed after start-up (imports, schema, feeds)."""
    cli(["db", "upgrade"])
    _prepare_newsworker(feeds)
    profiles: list[cProfile.Profile] = []
    if profile:
        _profile_threads(profiles)
    start = _cpu_now()
    t0 = time.perf_counter()
    if profile:
        main_profile = cProfile.Profile(time.thread_time)
        profiles.append(main_profile)
        main_profile.runcall(cli, ["run", "--once"])
    else:
        cli(["run", "--once"])
    result: dict[str, Any] = {"cpu_s": _cpu_now() - start, "wall_s": time.perf_counter() - t0, **_counts()}
    if repoll:
        _make_all_due()
        start = _cpu_now()
        t0 = time.perf_counter()
        cli(["run", "--once"])
        result["repoll"] = {"cpu_s": _cpu_now() - start, "wall_s": time.perf_counter() - t0, "feeds": len(feeds)}
    if os.environ.get("BENCH_EVENTS_REDIS_URL"):
        result["relay"] = _relay_events(os.environ["BENCH_EVENTS_REDIS_URL"])
    if profile:
        result["stages"] = _stage_cpu(profiles)
        result["events_write_s"] = _cumulative(profiles, "storage/outbox.py", "add")
        if dump := os.environ.get("BENCH_PROFILE_DUMP"):  # for pstats / snakeviz: where a stage's CPU goes
            stats = pstats.Stats(profiles[0])
            for prof in profiles[1:]:
                stats.add(prof)
            stats.dump_stats(dump)
    _report(result)


def _relay_events(redis_url: str) -> dict[str, Any]:
    """Publish every event the run wrote to a Redis Stream, as beat's relay does; CPU counted."""
    import redis

    from worker.service.events import relay_events
    from worker.service.messages import LocalDispatcher
    from worker.service.runtime import Runtime
    from worker.settings import get_settings

    rt = Runtime.build(get_settings().model_copy(update={"redis_url": redis_url}), LocalDispatcher())
    client = redis.Redis.from_url(redis_url)

    def redis_cpu() -> float:
        info = client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    start, redis_start = _cpu_now(), redis_cpu()
    published = 0
    while (batch := relay_events(rt, prune=False).published) > 0:
        published += batch
    result = {"cpu_s": _cpu_now() - start, "redis_cpu_s": redis_cpu() - redis_start, "events": published}
    rt.fetcher.close()
    rt.db.dispose()
    return result


def _merged(profiles: list[cProfile.Profile]) -> dict[Any, Any]:
    """pstats' table of every thread's profile: (file, line, function) -> (cc, nc, tt, ct, callers)."""
    stats = pstats.Stats(profiles[0])
    for prof in profiles[1:]:
        stats.add(prof)
    return stats.stats  # type: ignore[attr-defined,no-any-return]


def _cumulative(profiles: list[cProfile.Profile], file_suffix: str, name: str) -> float:
    table = _merged(profiles)
    return float(sum(v[3] for (f, _, fn), v in table.items() if fn == name and f.endswith(file_suffix)))


def _profile_threads(profiles: list[cProfile.Profile]) -> None:
    """Run every fetch thread of the pool under its own profiler (thread CPU clock)."""
    from worker.service import pool

    original = pool._Drain._fetcher

    def profiled(self: Any) -> None:
        prof = cProfile.Profile(time.thread_time)
        profiles.append(prof)
        prof.runcall(original, self)

    pool._Drain._fetcher = profiled  # type: ignore[method-assign]


# (file suffix, function name) of each stage's entry points; cumulative CPU counted
STAGES: dict[str, list[tuple[str, str]]] = {
    "fetch": [("worker/http/fetch.py", "get")],
    "parse": [("worker/poll/feeds.py", "parse_feed"), ("worker/service/handlers.py", "_sanitised")],
    "normalise": [
        ("worker/normalise/extract.py", "extract_article"),
        # a feed entry's own content (defined in content.py, so a profile names it there; the
        # pages' fallback calls it outside extract_article, see _stage_cpu) and the page weighed
        # against it
        ("worker/normalise/content.py", "article_from_content"),
        ("worker/normalise/content.py", "content_word_count"),
    ],
    "dedupe": [("worker/dedupe/minhash.py", "fingerprint"), ("worker/dedupe/minhash.py", "check_duplicate")],
    "link": [("worker/service/handlers.py", "process_article"), ("worker/service/handlers.py", "refine_stories")],
    # the database work of polls and ingests, less the pure stages inside them
    "store": [
        ("worker/service/handlers.py", "_store_entry"),
        ("worker/service/handlers.py", "_record_poll"),
        ("worker/service/handlers.py", "start_ingest"),
        ("worker/service/handlers.py", "start_poll"),
        ("worker/service/handlers.py", "dispatch_due_feeds"),
        # the work items' leases (worker/service/work.py): taken before a message runs, dropped after
        # (or, for the messages whose handlers take and end them in their own transactions, inside
        # those: see _stage_cpu)
        ("worker/service/work.py", "begin"),
        ("worker/service/work.py", "lease"),
        ("worker/service/work.py", "done"),
    ],
}


def _stage_cpu(profiles: list[cProfile.Profile]) -> dict[str, float]:
    table = _merged(profiles)

    def cumulative(file_suffix: str, name: str) -> float:
        return sum(v[3] for (f, _, fn), v in table.items() if fn == name and f.endswith(file_suffix))

    stages = {stage: sum(cumulative(*key) for key in keys) for stage, keys in STAGES.items()}
    # the lease taken and ended inside the linking transaction is the store's work, not linking's
    in_linking = sum(
        c[3]
        for (f, _, fn), v in table.items()
        if fn in ("claim_in", "finish_in") and f.endswith("worker/service/work.py")
        for (cf, _, cfn), c in v[4].items()
        if cfn == "step" and cf.endswith("worker/service/handlers.py")
    )
    stages["link"] -= in_linking
    stages["store"] += in_linking
    # feed content normalised inside extract_article (a page without text) is counted there already
    stages["normalise"] -= sum(
        c[3]
        for (f, _, fn), v in table.items()
        if fn == "article_from_content" and f.endswith("worker/normalise/content.py")
        for (cf, _, cfn), c in v[4].items()
        if cfn in ("with_feed_content", "unparseable_page") and cf.endswith("worker/normalise/fallback.py")
    )
    # fingerprint and the duplicate check run inside _store_entry; the sanitiser inside _record_poll
    stages["store"] -= stages["dedupe"] + cumulative("worker/service/handlers.py", "_sanitised")
    total = sum(v[2] for v in table.values())  # own time of every function: all profiled CPU
    stages["other"] = max(0.0, total - sum(stages.values()))
    stages["total"] = total
    return stages


# ---------------------------------------------------------------- the driver


def _rate(result: dict[str, Any], count_key: str) -> dict[str, Any]:
    n = max(1, int(result[count_key]))
    result["per_second"] = n / result["wall_s"]
    result["cpu_ms_per_item"] = 1000 * result["cpu_s"] / n
    return result


def _machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    with contextlib.suppress(OSError, IndexError):
        mem_kb = int(re.findall(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[0])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "system": platform.platform(),
        "load_average_at_start": os.getloadavg(),
    }


def machine() -> dict[str, Any]:
    return _machine()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=None, help="article pages (default: all 437); copies come on top")
    ap.add_argument("--hosts", type=int, default=16, help="publisher sites (loopback addresses)")
    ap.add_argument("--concurrency", type=int, default=None, help="fetches at once (default: newsworker's, 16)")
    ap.add_argument("--latency", type=float, default=0.2, help="seconds added per response in the latency runs")
    ap.add_argument(
        "--normalise-processes",
        type=int,
        default=0,
        help="run 4: newsworker with this many normalising processes, beside the default (auto: one"
        " where two CPUs are usable); 0: in the fetch threads",
    )
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--skip-profile", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="default bench/runs/throughput.json")
    ap.add_argument(
        "--compare-with",
        type=Path,
        default=None,
        help="another checkout: only bare extraction and `run --once` from that checkout and from this one, "
        "alternating, --rounds times (default out: bench/runs/throughput-compare.json)",
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child)
        return

    from tests.support.services import temporary_redis_server
    from worker.settings import load_settings

    concurrency = args.concurrency or load_settings().fetch_concurrency
    command = "PYTHONPATH=$PWD python -m bench.throughput " + shlex.join(argv if argv is not None else sys.argv[1:])
    results: dict[str, Any] = {"command": command.strip(), "machine": _machine(), "concurrency": concurrency}
    base_env = {
        "NEWSWORKER_ALLOW_PRIVATE_NETWORKS": "true",
        # the per-minute limit would make this a test of politeness; concurrency per host stays at 2
        "NEWSWORKER_HOST_REQUESTS_PER_MINUTE": "100000",
        "NEWSWORKER_FETCH_CONCURRENCY": str(concurrency),
        "NEWSWORKER_LOG_LEVEL": "WARNING",
    }
    pages = [] if args.pages is None else ["--pages", str(args.pages)]

    def newsworker(feeds: list[str], tag: str, *extra: str, env: dict[str, str] | None = None) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="nwbench-") as tmp:
            feeds_file = Path(tmp) / "feeds.json"
            feeds_file.write_text(json.dumps(feeds))
            run_env = {**base_env, "NEWSWORKER_DATABASE_URL": f"sqlite:///{tmp}/nw.db", **(env or {})}
            out = _run_child(["--child", "newsworker", str(feeds_file), *extra], run_env, cwd=tmp)
        print(f"  {tag}: {out['articles']} articles in {out['wall_s']:.1f} s, CPU {out['cpu_s']:.1f} s", flush=True)
        return _rate(out, "articles")

    def minimal(feeds: list[str], tag: str) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="nwbench-") as tmp:
            feeds_file = Path(tmp) / "feeds.json"
            feeds_file.write_text(json.dumps(feeds))
            out = _run_child(["--child", "minimal", str(feeds_file), str(concurrency), f"{tmp}/min.db"])
        print(f"  {tag}: {out['articles']} articles in {out['wall_s']:.1f} s, CPU {out['cpu_s']:.1f} s", flush=True)
        return _rate(out, "articles")

    if args.compare_with is not None:
        results["comparison"] = _compare(args, pages, newsworker)
        out = args.out or RESULTS / "throughput-compare.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"written {out}")
        return
    print(f"machine: {results['machine']}", flush=True)
    server = SiteServer(args.pages, args.hosts, 0.0)
    try:
        site = server.manifest
        feeds = site["feeds"] + site["failing_feeds"]
        results["site"] = {k: v for k, v in site.items() if k not in ("feeds", "failing_feeds")} | {
            "feeds": len(site["feeds"]),
            "failing_feeds": len(site["failing_feeds"]),
        }
        print(f"site: {results['site']}", flush=True)
        bare = _run_child(["--child", "bare", *pages])
        print(f"  bare extraction: {bare['pages']} pages, CPU {bare['cpu_s']:.1f} s", flush=True)
        results["bare"] = _rate(bare, "pages")
        results["minimal"] = minimal(feeds, "minimal ingester")
        with temporary_redis_server() as events_redis:
            results["newsworker"] = newsworker(
                feeds, "newsworker run --once", "--repoll", env={"BENCH_EVENTS_REDIS_URL": events_redis}
            )
        results["normalise_processes"] = args.normalise_processes
        from worker.service.pool import normaliser_count  # here: the measured children need none of it

        results["default_normalise_processes"] = normaliser_count("auto")
        results["newsworker_processes"] = newsworker(
            feeds,
            f"newsworker, {args.normalise_processes} normalising processes",
            env={"NEWSWORKER_NORMALISE_PROCESSES": str(args.normalise_processes)},
        )
        if not args.skip_profile:
            # in the fetch threads, where the profiler sees normalisation (the CPU is the same)
            results["profiled"] = newsworker(
                feeds, "newsworker, profiled", "--profile", env={"NEWSWORKER_NORMALISE_PROCESSES": "0"}
            )
    finally:
        server.stop()
    if not args.skip_latency:
        server = SiteServer(args.pages, args.hosts, args.latency)
        try:
            feeds = server.manifest["feeds"] + server.manifest["failing_feeds"]
            results["latency_s"] = args.latency
            results["latency_minimal"] = minimal(feeds, f"minimal ingester, {args.latency * 1000:.0f} ms latency")
            results["latency_newsworker"] = newsworker(feeds, f"newsworker, {args.latency * 1000:.0f} ms latency")
        finally:
            server.stop()
    _summarise(results)
    out = args.out or RESULTS / "throughput.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {out}")


def _compare(args: argparse.Namespace, pages: list[str], newsworker: Any) -> dict[str, Any]:
    """Two checkouts side by side: ``run --once`` from each, alternating (ABBA), with bare
    extraction once per round; CPU per article of each run and the medians' ratios to bare."""
    trees = {"other": str(args.compare_with.resolve()), "this": str(REPO)}
    cpu: dict[str, list[float]] = {name: [] for name in trees}
    bare_ms: list[float] = []
    server = SiteServer(args.pages, args.hosts, 0.0)
    try:
        feeds = server.manifest["feeds"] + server.manifest["failing_feeds"]
        for r in range(args.rounds):
            bare = _rate(_run_child(["--child", "bare", *pages]), "pages")
            bare_ms.append(bare["cpu_ms_per_item"])
            order = list(trees) if r % 2 == 0 else list(trees)[::-1]
            for name in order:
                out = newsworker(feeds, f"round {r} {name} ({trees[name]})", env={"PYTHONPATH": trees[name]})
                cpu[name].append(out["cpu_ms_per_item"])
    finally:
        server.stop()

    def median(values: list[float]) -> float:
        ordered = sorted(values)
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2

    summary = {
        "trees": trees,
        "cpu_ms_per_article": cpu,
        "bare_ms_per_page": bare_ms,
        "median_ratio_to_bare": {name: median(v) / median(bare_ms) for name, v in cpu.items()},
        "this_minus_other_by_round_ms": [t - o for t, o in zip(cpu["this"], cpu["other"], strict=True)],
    }
    print(json.dumps(summary, indent=2))
    return summary


def _pool_speedup(r: dict[str, Any]) -> float:
    nw, other = r["newsworker"]["per_second"], r["newsworker_processes"]["per_second"]
    # runs before the default became auto compared 0 (default) with --normalise-processes
    default = r.get("default_normalise_processes", 0)
    return nw / other if default > r.get("normalise_processes", 2) else other / nw


def _summarise(r: dict[str, Any]) -> None:
    nw, bare, mini = r["newsworker"], r["bare"], r["minimal"]
    summary = {
        "cpu_ratio_to_bare": nw["cpu_ms_per_item"] / bare["cpu_ms_per_item"],
        "cpu_ratio_minimal_to_bare": mini["cpu_ms_per_item"] / bare["cpu_ms_per_item"],
        "wall_ratio_to_minimal": nw["per_second"] / mini["per_second"],
        # articles/s with more normalising processes over with fewer (the default is auto)
        "process_pool_speedup": _pool_speedup(r),
    }
    if "latency_newsworker" in r:
        summary["latency_share_of_cpu_bound"] = r["latency_newsworker"]["per_second"] / nw["per_second"]
        summary["latency_wall_ratio_to_minimal"] = (
            r["latency_newsworker"]["per_second"] / r["latency_minimal"]["per_second"]
        )
    if "profiled" in r:
        stages = r["profiled"]["stages"]
        total = stages["total"] or 1.0
        summary["stage_share"] = {k: v / total for k, v in stages.items() if k != "total"}
        summary["stage_cpu_ms_per_article"] = {
            k: v / total * nw["cpu_ms_per_item"] for k, v in stages.items() if k != "total"
        }
        if "relay" in nw:
            articles = max(1, int(nw["articles"]))
            write_ms = r["profiled"]["events_write_s"] / total * nw["cpu_ms_per_item"]
            relay_ms = 1000 * (nw["relay"]["cpu_s"] + nw["relay"]["redis_cpu_s"]) / articles
            summary["events_ms_per_article"] = {"write": write_ms, "publish": relay_ms, "total": write_ms + relay_ms}
    r["summary"] = summary
    print(json.dumps(summary, indent=2))


def _child(argv: list[str]) -> None:
    kind, rest = argv[0], argv[1:]
    if kind == "bare":
        child_bare(int(rest[1]) if rest[:1] == ["--pages"] else None)
    elif kind == "minimal":
        child_minimal(json.loads(Path(rest[0]).read_text()), int(rest[1]), rest[2])
    elif kind == "newsworker":
        feeds = json.loads(Path(rest[0]).read_text())
        child_newsworker(feeds, "--repoll" in rest, "profile" if "--profile" in rest else None)
    else:
        raise SystemExit(f"unknown child {kind}")


if __name__ == "__main__":
    main()
