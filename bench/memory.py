"""Memory: the resident size of one `newsworker run --once` process over many articles.

    PYTHONPATH=$PWD python -m bench.memory                   # about 3,000 articles
    PYTHONPATH=$PWD python -m bench.memory --repeat 12       # about 8,000

The embedded mode holds everything in one process (fetch pool, normalisation, dedupe, story
linking, the writer), so it is the worst case for growth; a Celery worker process runs the same
handlers one task at a time. The local news web (:mod:`bench.site`) publishes every page
``--repeat`` times under other addresses; the RSS of the process (and its children) is sampled
every second beside the number of articles stored so far. Flat after warm-up means no leak.
Results go to ``bench/runs/memory.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.throughput import REPO, RESULTS, SiteServer, machine


def _rss_mb(pid: int) -> float:
    try:
        proc = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20
    except psutil.NoSuchProcess:
        return 0.0


def _articles(db_path: Path) -> int:
    try:
        with sqlite3.connect(db_path, timeout=5) as conn:
            return int(conn.execute("select count(*) from articles").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5, help="times every page is published (437 pages each)")
    ap.add_argument("--hosts", type=int, default=16)
    ap.add_argument("--out", type=Path, default=RESULTS / "memory.json")
    args = ap.parse_args(argv)
    command = "PYTHONPATH=$PWD python -m bench.memory " + shlex.join(argv if argv is not None else sys.argv[1:])
    server = SiteServer(None, args.hosts, 0.0, repeat=args.repeat)
    samples: list[dict[str, float]] = []
    try:
        site = server.manifest
        with tempfile.TemporaryDirectory(prefix="nwmem-") as tmp:
            db_path = Path(tmp) / "nw.db"
            (Path(tmp) / "feeds.txt").write_text("\n".join(site["feeds"]) + "\n")
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("NEWSWORKER_")},
                "PYTHONPATH": str(REPO),
                "NEWSWORKER_DATABASE_URL": f"sqlite:///{db_path}",
                "NEWSWORKER_ALLOW_PRIVATE_NETWORKS": "true",
                "NEWSWORKER_HOST_REQUESTS_PER_MINUTE": "100000",
                "NEWSWORKER_LOG_LEVEL": "WARNING",
            }
            proc = subprocess.Popen(
                [sys.executable, "-m", "worker", "run", "--once", "--feeds", "feeds.txt"],
                env=env,
                cwd=tmp,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            t0 = time.perf_counter()
            while proc.poll() is None:
                samples.append(
                    {"seconds": time.perf_counter() - t0, "articles": _articles(db_path), "rss_mb": _rss_mb(proc.pid)}
                )
                time.sleep(1.0)
            stored = _articles(db_path)
    finally:
        server.stop()
    live = [s for s in samples if s["rss_mb"] > 0]
    after_warmup = [s for s in live if s["articles"] >= min(500, stored // 4)]
    result: dict[str, Any] = {
        "command": command.strip(),
        "machine": machine(),
        "entries": site["entries"],
        "articles": stored,
        "peak_rss_mb": max((s["rss_mb"] for s in live), default=0.0),
        "rss_after_warmup_mb": after_warmup[0]["rss_mb"] if after_warmup else None,
        "rss_at_end_mb": live[-1]["rss_mb"] if live else None,
        "samples": samples,
    }
    print(
        f"{stored} articles; RSS {result['rss_after_warmup_mb']:.0f} MB after warm-up, "
        f"{result['rss_at_end_mb']:.0f} MB at the end, peak {result['peak_rss_mb']:.0f} MB"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
