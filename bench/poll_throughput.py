"""Poll throughput: 10,000 conditional GETs against a local feed server, mostly 304s.

Run from the repo root:

    PYTHONPATH=$PWD /work/main/.venv/bin/python -m bench.poll_throughput
    PYTHONPATH=$PWD /work/main/.venv/bin/python bench/poll_throughput.py --feeds 2000 --threads 1,8

A server process (so its CPU is not billed to the client) serves ``/feed/N``;
it answers 304 when the client's ``If-None-Match`` is current, which is the
case for 95 % of feeds (``--changed-every 20``); the rest return a gzip RSS
of 20 items, parsed with feedparser (``--no-parse`` to skip). Each client mode
polls every feed once:

* ``requests``: a bare ``requests.Session`` (``trust_env=False``): the floor;
* ``fetcher``: :class:`worker.http.fetch.Fetcher` with all its guards;
* ``limited`` (opt-in, ``--modes requests,fetcher,limited``): the Fetcher inside a
  :class:`worker.http.hostlimits.HostLimiter` slot on a private redis-server
  (limits set high enough not to throttle), i.e. the politeness overhead.

Figures are side by side in one run; the ratio row is Fetcher / bare
requests. CPU per feed is ``time.process_time`` of the client process
(all its threads) divided by the polls.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.server
import multiprocessing
import multiprocessing.connection
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import feedparser
import redis
import requests

from tests.support.services import temporary_redis_server
from worker.http.fetch import Fetcher, FetchPolicy
from worker.http.hostlimits import HostLimit, HostLimiter
from worker.model.fetch import FEED_ACCEPT

ETAG_OLD = '"v1"'
ETAG_NEW = '"v2"'


def _feed_body(i: int) -> bytes:
    items = "".join(
        f"<item><title>Story {i}-{k}</title><link>https://news.example/{i}/{k}</link>"
        f"<guid>https://news.example/{i}/{k}</guid>"
        f"<pubDate>Mon, 02 Mar 2026 {k % 24:02d}:00:00 GMT</pubDate>"
        f"<description>Short summary of story {k} in feed {i}.</description></item>"
        for k in range(20)
    )
    xml = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Feed {i}</title><link>https://news.example/{i}</link>{items}</channel></rss>"
    )
    return gzip.compress(xml.encode(), 6)


def _serve(conn: multiprocessing.connection.Connection, changed_every: int) -> None:
    bodies: dict[int, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            if self.path == "/__cpu":
                payload = f"{time.process_time():.6f}".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            i = int(self.path.rsplit("/", 1)[-1])
            current = ETAG_NEW if i % changed_every == 0 else ETAG_OLD
            if self.headers.get("If-None-Match") == current:
                self.send_response(304)
                self.send_header("ETag", current)
                self.end_headers()
                return
            body = bodies.get(i)
            if body is None:
                body = bodies[i] = _feed_body(i)
            self.send_response(200)
            self.send_header("ETag", current)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    server = Server(("127.0.0.1", 0), Handler)
    conn.send(server.server_address[1])
    server.serve_forever(poll_interval=0.2)


@dataclass
class Run:
    mode: str
    threads: int
    polls: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    server_cpu: float = 0.0
    entries: int = 0
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def feeds_per_second(self) -> float:
        return self.polls / self.wall

    @property
    def cpu_ms_per_feed(self) -> float:
        return 1000 * self.cpu / self.polls


def _server_cpu(base: str) -> float:
    return float(requests.get(f"{base}/__cpu", timeout=5).text)


Poll = Callable[[int], tuple[int, bytes]]


def _client(mode: str, base: str, threads: int, redis_url: str | None = None) -> tuple[Poll, Callable[[], None]]:
    if mode == "limited":
        assert redis_url is not None
        client = redis.Redis.from_url(redis_url)
        limiter = HostLimiter(client, HostLimit(max_concurrent=max(threads, 1), per_minute=0))
        limited = Fetcher(FetchPolicy(allow_private_networks=True, pool_maxsize=max(8, threads)))

        def poll_limited(i: int) -> tuple[int, bytes]:
            with limiter.acquire("127.0.0.1", timeout=30):
                r = limited.get(f"{base}/feed/{i}", etag=ETAG_OLD, accept=FEED_ACCEPT)
            return r.status, r.body

        def close_limited() -> None:
            limited.close()
            client.close()

        return poll_limited, close_limited
    if mode == "fetcher":
        fetcher = Fetcher(FetchPolicy(allow_private_networks=True, pool_maxsize=max(8, threads)))

        def poll_fetcher(i: int) -> tuple[int, bytes]:
            r = fetcher.get(f"{base}/feed/{i}", etag=ETAG_OLD, accept=FEED_ACCEPT)
            return r.status, r.body

        return poll_fetcher, fetcher.close
    if mode == "requests":
        session = requests.Session()
        session.trust_env = False
        session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=max(8, threads)))

        def poll_requests(i: int) -> tuple[int, bytes]:
            r = session.get(
                f"{base}/feed/{i}",
                headers={"If-None-Match": ETAG_OLD, "Accept": FEED_ACCEPT},
                timeout=(10, 20),
            )
            return r.status_code, r.content

        return poll_requests, session.close
    raise SystemExit(f"unknown mode {mode!r}")


def _block(run: Run, poll: Poll, feeds: range, pool: ThreadPoolExecutor | None, parse: bool, base: str) -> None:
    lock = threading.Lock()

    def one(i: int) -> None:
        status, body = poll(i)
        found = 0
        if parse and status == 200:
            parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
            found = len(parsed.entries)
        with lock:
            run.statuses[status] += 1
            run.entries += found

    server0 = _server_cpu(base)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if pool is None:
        for i in feeds:
            one(i)
    else:
        list(pool.map(one, feeds, chunksize=16))
    run.wall += time.perf_counter() - wall0
    run.cpu += time.process_time() - cpu0
    run.server_cpu += _server_cpu(base) - server0
    run.polls += len(feeds)


def _measure(
    modes: list[str],
    threads: int,
    base: str,
    feeds: int,
    block: int,
    parse: bool,
    redis_url: str | None,
) -> list[Run]:
    """Poll every feed once per mode, alternating modes block by block (ABBA...) so
    both see the same machine noise."""
    clients = {m: _client(m, base, threads, redis_url) for m in modes}
    runs = {m: Run(m, threads) for m in modes}
    pool = ThreadPoolExecutor(threads) if threads > 1 else None
    try:
        for poll, _ in clients.values():
            for i in range(min(100, feeds)):  # warm pools and the server's body cache
                poll(i)
        for n, lo in enumerate(range(0, feeds, block)):
            order = modes if n % 2 == 0 else modes[::-1]
            for mode in order:
                _block(runs[mode], clients[mode][0], range(lo, min(feeds, lo + block)), pool,
                       parse, base)  # fmt: skip
    finally:
        if pool is not None:
            pool.shutdown()
        for _, close in clients.values():
            close()
    return [runs[m] for m in modes]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=10_000)
    ap.add_argument("--threads", default="1,4", help="comma-separated pool sizes")
    ap.add_argument("--changed-every", type=int, default=20, help="1 in N feeds returns 200")
    ap.add_argument("--no-parse", action="store_true", help="do not feedparse the 200s")
    ap.add_argument("--modes", default="requests,fetcher")
    ap.add_argument("--block", type=int, default=500, help="polls per alternation block")
    args = ap.parse_args(argv)

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(child, args.changed_every), daemon=True)
    server.start()
    port = parent.recv()
    base = f"http://127.0.0.1:{port}"
    shown = argv if argv is not None else sys.argv[1:]
    print("command:", " ".join([sys.executable, "-m", "bench.poll_throughput", *shown]))
    print(
        f"{args.feeds} feeds, 1 in {args.changed_every} changed (200 + gzip RSS of 20 items"
        f"{', feedparsed' if not args.no_parse else ''}), the rest 304; server in pid {server.pid}"
    )
    runs: list[Run] = []
    modes = args.modes.split(",")
    stack = contextlib.ExitStack()
    redis_url = stack.enter_context(temporary_redis_server()) if "limited" in modes else None
    try:
        for threads in (int(t) for t in args.threads.split(",")):
            measured = _measure(modes, threads, base, args.feeds, args.block, not args.no_parse, redis_url)
            for run in measured:
                runs.append(run)
                mode = run.mode
                print(
                    f"  {mode:9s} threads={threads:<2d} {run.feeds_per_second:8.0f} feeds/s  "
                    f"client CPU {run.cpu_ms_per_feed:6.3f} ms/feed  "
                    f"server CPU {1000 * run.server_cpu / run.polls:6.3f} ms/feed  "
                    f"statuses {dict(sorted(run.statuses.items()))}  entries {run.entries}",
                    flush=True,
                )
    finally:
        stack.close()
        server.terminate()
        server.join(5)
    by = {(r.mode, r.threads): r for r in runs}
    for threads in sorted({r.threads for r in runs}):
        for mode in ("fetcher", "limited"):
            f, b = by.get((mode, threads)), by.get(("requests", threads))
            if f and b:
                print(
                    f"  ratio {mode}/requests threads={threads}: "
                    f"CPU per feed x{f.cpu_ms_per_feed / b.cpu_ms_per_feed:.2f}, "
                    f"throughput x{f.feeds_per_second / b.feeds_per_second:.2f}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
