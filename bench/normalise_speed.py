"""Speed of the whole normalisation against trafilatura's bare ``extract``, side by side.

Every page of the two extraction benchmarks is handed, in turn and interleaved (so that
machine noise hits all systems alike), to

* ``newsworker``: ``worker.normalise.extract.extract_article`` (decode, parse once, extraction,
  metadata, dates, language, canonical address, cleaning, sanitised HTML, page kind);
* ``trafilatura bare``: ``trafilatura.extract(body, url=url)`` with its defaults;
* ``trafilatura bare_extraction+metadata``: ``trafilatura.bare_extraction(body, url=url,
  with_metadata=True)``, the library doing what newsworker's normalisation does (issue #15's
  cost target: at most 1.1x this);
* ``trafilatura fast``: ``trafilatura.extract(body, url=url, fast=True, include_comments=False)``,
  the configuration newsworker itself starts from.

CPU time per page (``time.process_time``), summed over ``--rounds`` rounds; prints the
ratios. Writes nothing.

    PYTHONPATH=$PWD python -m bench.normalise_speed [--rounds 3] [--limit N] [--teval]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import trafilatura

from bench.data import shared_data
from bench.extraction_quality import Page, load_aeb, load_teval, load_wcxb
from worker.normalise.extract import extract_article


def _ours(page: Page) -> object:
    return extract_article(page.body, url=page.url or "http://unknown.invalid/")


def _bare(page: Page) -> object:
    return trafilatura.extract(page.body, url=page.url or None)


def _meta(page: Page) -> object:
    return trafilatura.bare_extraction(page.body, url=page.url or None, with_metadata=True)


def _fast(page: Page) -> object:
    return trafilatura.extract(page.body, url=page.url or None, fast=True, include_comments=False)


SYSTEMS: dict[str, Callable[[Page], object]] = {
    "newsworker extract_article": _ours,
    "trafilatura bare extract": _bare,
    "trafilatura bare_extraction+metadata": _meta,
    "trafilatura fast, no comments": _fast,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="pages (0 = all)")
    parser.add_argument("--teval", action="store_true", help="add trafilatura-eval's 990 pages")
    args = parser.parse_args(argv)
    root = shared_data()
    if not (root / "extraction").is_dir():
        print(f"shared data not found under {root}", file=sys.stderr)
        return 2
    pages = list(load_aeb(root)) + list(load_wcxb(root))
    if args.teval:
        pages += list(load_teval(root))
    if args.limit:
        pages = pages[: args.limit]
    for system in SYSTEMS.values():  # warm imports, models and caches
        system(pages[0])
    totals = dict.fromkeys(SYSTEMS, 0.0)
    for round_no in range(args.rounds):
        order = list(SYSTEMS.items())
        if round_no % 2:
            order.reverse()
        for page in pages:
            for name, system in order:
                started = time.process_time()
                system(page)
                totals[name] += time.process_time() - started
    calls = len(pages) * args.rounds
    ours = totals["newsworker extract_article"]
    sets = "AEB + wcxb-test" + (" + trafilatura-eval" if args.teval else "")
    print(f"{len(pages)} pages ({sets}) x {args.rounds} rounds, CPU ms per page")
    print(f"{'system':34} {'ms/page':>8} {'newsworker / this':>18}")
    for name, total in totals.items():
        print(f"{name:34} {total / calls * 1000:8.2f} {ours / total:18.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
