"""Growth: dedupe and story linking cost per article with 10k, 100k (and 1M) articles stored.

    PYTHONPATH=$PWD python -m bench.growth              # 10k and 100k (a few minutes)
    PYTHONPATH=$PWD python -m bench.growth --million    # also 1M (about 15 minutes, ~4 GB of PostgreSQL)

Runs the two existing benchmarks, each against throw-away PostgreSQL databases on
127.0.0.1:5432, and collects their figures: ``bench.dedupe_cost`` (fingerprint + duplicate
check against the index; client and server CPU per article) and ``bench.story_cost`` (online
link + refinement, client and server CPU per article). Their own docstrings say how. Results go
to ``bench/runs/growth.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.throughput import REPO, RESULTS, machine

_DEDUPE_ROW = re.compile(r"^\s*([\d,]+)\s+([\d.]+)ms\s+([\d.]+)ms\s+([\d.]+)ms")
_STORY_ROW = re.compile(
    r"^\s*(\d+)k stored articles: link CPU client ([\d.]+) ms \+ server ([\d.]+) ms per article"
    r".*refinement every \d+: client ([\d.]+) ms \+ server ([\d.]+) ms"
)


def _run(module: str, *args: str) -> str:
    print(f"  python -m {module} {' '.join(args)}", flush=True)
    out = subprocess.run(
        [sys.executable, "-m", module, *args],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    print(out, flush=True)
    return out


def dedupe(large: int) -> dict[int, dict[str, float]]:
    rows: dict[int, dict[str, float]] = {}
    for line in _run("bench.dedupe_cost", "--small", "10000", "--large", str(large), "--rounds", "3").splitlines():
        m = _DEDUPE_ROW.match(line)
        if m:
            size = int(m.group(1).replace(",", ""))
            rows[size] = {"client_ms": float(m.group(2)), "server_ms": float(m.group(3)), "total_ms": float(m.group(4))}
    return rows


def stories(million: bool) -> dict[int, dict[str, float]]:
    rows: dict[int, dict[str, float]] = {}
    for line in _run("bench.story_cost", *([] if million else ["--quick"])).splitlines():
        m = _STORY_ROW.match(line)
        if m:
            size = int(m.group(1)) * 1000
            client = float(m.group(2)) + float(m.group(4))
            server = float(m.group(3)) + float(m.group(5))
            rows[size] = {"client_ms": client, "server_ms": server, "total_ms": client + server}
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--million", action="store_true", help="also 1,000,000 stored articles")
    ap.add_argument("--out", type=Path, default=RESULTS / "growth.json")
    args = ap.parse_args(argv)
    command = "PYTHONPATH=$PWD python -m bench.growth " + shlex.join(argv if argv is not None else sys.argv[1:])
    result: dict[str, Any] = {"command": command.strip(), "machine": machine()}
    result["dedupe"] = dedupe(100_000)
    result["stories"] = stories(False)
    if args.million:
        result["dedupe"].update({k: v for k, v in dedupe(1_000_000).items() if k == 1_000_000})
        result["stories"].update({k: v for k, v in stories(True).items() if k == 1_000_000})
    print(json.dumps({k: result[k] for k in ("dedupe", "stories")}, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
