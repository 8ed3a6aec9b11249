"""Does the embedded run's normalising process pay here? ``run --once`` alternating settings.

    PYTHONPATH=$PWD python -m bench.normalise_pool                          # 250 pages, auto,0,0,auto
    PYTHONPATH=$PWD python -m bench.normalise_pool --pages 6 --hosts 2      # a small run: the start cost
    PYTHONPATH=$PWD python -m bench.normalise_pool --settings auto,0,0,auto,auto,0,0,auto

Each run is a whole ``newsworker run --once`` in its own process on a fresh SQLite database,
over the local news web of :mod:`bench.throughput` (its ``SiteServer``), with
``NEWSWORKER_NORMALISE_PROCESSES`` set to each value in turn (ABBA order: a shared machine's
load changes during a run; pairs taken in both orders cancel its drift). Wall and CPU
(the process and its children, start-up included: a small run pays the pool's start) per run,
then the mean per setting and the ratio of articles/s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench.throughput import REPO, SiteServer


def run_once(feeds: list[str], setting: str) -> tuple[float, float, str]:
    with tempfile.TemporaryDirectory(prefix="nwpool-") as tmp:
        Path(tmp, "feeds.txt").write_text("\n".join(feeds) + "\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWORKER_")}
        env.update(
            PYTHONPATH=str(REPO),
            NEWSWORKER_DATABASE_URL=f"sqlite:///{tmp}/nw.db",
            NEWSWORKER_ALLOW_PRIVATE_NETWORKS="true",
            NEWSWORKER_HOST_REQUESTS_PER_MINUTE="100000",
            NEWSWORKER_NORMALISE_PROCESSES=setting,
        )
        before, t0 = os.times(), time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "worker", "run", "--once", "--feeds", f"{tmp}/feeds.txt"],
            env=env,
            cwd=tmp,
            capture_output=True,
            text=True,
        )
        wall, after = time.perf_counter() - t0, os.times()
    if done.returncode not in (0, 1):  # 1: the site's failing feeds failed, as they should
        raise RuntimeError(f"run --once exited {done.returncode}: {done.stderr[-2000:]}")
    cpu = after.children_user + after.children_system - before.children_user - before.children_system
    return wall, cpu, done.stdout.strip().splitlines()[-1]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=250)
    ap.add_argument("--hosts", type=int, default=16)
    ap.add_argument("--settings", default="auto,0,0,auto", help="NEWSWORKER_NORMALISE_PROCESSES values, in order")
    args = ap.parse_args(argv)
    print(f"load average at start: {os.getloadavg()}", flush=True)
    server = SiteServer(args.pages, args.hosts, 0.0)
    runs: dict[str, list[tuple[float, float]]] = defaultdict(list)
    try:
        feeds = server.manifest["feeds"] + server.manifest["failing_feeds"]
        for setting in args.settings.split(","):
            wall, cpu, summary = run_once(feeds, setting)
            runs[setting].append((wall, cpu))
            print(
                f"  NEWSWORKER_NORMALISE_PROCESSES={setting}: wall {wall:.2f} s, CPU {cpu:.2f} s ({summary})",
                flush=True,
            )
    finally:
        server.stop()
    means = {s: (statistics.mean(w for w, _ in r), statistics.mean(c for _, c in r)) for s, r in runs.items()}
    for setting, (wall, cpu) in means.items():
        print(f"mean {setting}: wall {wall:.2f} s, CPU {cpu:.2f} s over {len(runs[setting])} runs")
    if len(means) == 2:
        (a, (wa, ca)), (b, (wb, cb)) = means.items()
        print(f"articles/s {a} / {b}: {wb / wa:.2f}; CPU {a} / {b}: {ca / cb:.2f}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
