"""The full fault run: ``python -m tests.faults.run --scenario all --pages 1000``.

Prints one line per event while it runs and, at the end, the table the README reports
(expected / stored / missing / stored twice / without a story / seconds from the last fault
until everything is stored and linked / how the poison ended). Exit code 1 if a scenario
missed a target. Needs PostgreSQL (NEWSWORKER_TEST_PG, default 127.0.0.1:5432) and redis-server.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from tests.faults.scenarios import SCENARIOS, SHORT, full, run_scenario, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="all", help=f"all, or a comma-separated list of {', '.join(SCENARIOS)}")
    parser.add_argument("--pages", type=int, default=1000, help="article pages on the local site (default 1000)")
    parser.add_argument("--short", action="store_true", help="the CI profile (small site, 30 s leases)")
    parser.add_argument("--concurrency", type=int, help="pool processes per worker (default: the profile's)")
    parser.add_argument("--keep", type=Path, help="keep the workers' and beats' logs in this directory")
    args = parser.parse_args(argv)
    names = list(SCENARIOS) if args.scenario == "all" else [s.strip() for s in args.scenario.split(",")]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    profile = SHORT if args.short else full(args.pages)
    if args.concurrency:
        profile = replace(profile, concurrency=args.concurrency)
    results = []
    started = time.monotonic()
    for name in names:
        result = run_scenario(name, profile, keep=args.keep)
        results.append(result)
        print(table([result]).splitlines()[-1], flush=True)
    print()
    print(table(results))
    print(f"\n{len(results)} scenario(s) in {time.monotonic() - started:.0f} s; "
          f"{sum(r.ok for r in results)} met every target")  # fmt: skip
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
