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

``--steps``: newsworker alone, its CPU per page split by sub-step (exclusive time of each
function ``extract_article`` calls, trafilatura's ``bare_extraction`` apart), on the bench
site's pages (``--site-pages N`` articles and their copies, as ``bench.throughput --pages N``
ingests them) or on the extraction sets' pages.

    PYTHONPATH=$PWD python -m bench.normalise_speed [--rounds 3] [--limit N] [--teval]
    PYTHONPATH=$PWD python -m bench.normalise_speed --steps [--site-pages 150] [--rounds 2]
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

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


# extract.py's names that are timed by --steps (exclusive CPU: what they call is counted apart)
_STEP_NAMES = [
    *("decode_body", "parse_html", "_may_be_too_complex", "read_page_meta", "learn_site_names"),
    *("extract_main", "caption_elements", "caption_keys", "clean_paragraphs", "paragraphs_of"),
    *("normalise_unicode", "choose_title", "strip_site_names", "drop_leading_title", "find_headline"),
    *("choose_authors", "page_dates", "reconcile_stated", "url_date", "printed_page_date"),
    *("feed_or_page_date", "page_html", "classify_page", "last_resort_date", "detect_language"),
    *("image_url", "choose_url", "with_feed_content", "site_keys", "site_urls", "publisher_names", "squash"),
    *("load_html", "CAPTIONS"),  # their names before parse_html and caption_elements (older checkouts)
]


def steps(bodies: list[tuple[str, bytes, str | None]], rounds: int) -> Counter[str]:
    """CPU seconds of each sub-step of ``extract_article`` over ``bodies`` (url, body, content
    type), ``rounds`` times; "extract_article itself" is what is left in its own body."""
    import worker.normalise.extract as ex
    import worker.normalise.extraction as extraction

    spent: Counter[str] = Counter()
    stack: list[int] = []
    clock = time.thread_time_ns

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            stack.append(0)
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = clock() - started
                inner = stack.pop()
                spent[name] += elapsed - inner
                if stack:
                    stack[-1] += elapsed

        return run

    saved = {name: getattr(ex, name) for name in _STEP_NAMES if hasattr(ex, name)}
    saved_bare = extraction.bare_extraction  # type: ignore[attr-defined]
    try:
        for name, fn in saved.items():
            setattr(ex, name, timed(name, fn))
        extraction.bare_extraction = timed("  trafilatura bare_extraction", saved_bare)  # type: ignore[attr-defined]
        run = timed("extract_article itself", ex.extract_article)
        for url, body, ctype in bodies[:3]:  # warm models and caches
            run(body, url=url, content_type=ctype)
        spent.clear()
        for _ in range(rounds):
            for url, body, ctype in bodies:
                run(body, url=url, content_type=ctype)
    finally:
        for name, fn in saved.items():
            setattr(ex, name, fn)
        extraction.bare_extraction = saved_bare  # type: ignore[attr-defined]
    return Counter({name: ns / 1e9 for name, ns in spent.items()})


def _print_steps(args: argparse.Namespace, root: Any) -> int:
    bodies: list[tuple[str, bytes, str | None]]
    if args.site_pages:
        from bench.throughput import _page_htmls

        ctype = "text/html; charset=utf-8"  # as the site serves them
        bodies = [("http://127.0.0.1:1" + path, body, ctype) for path, body in _page_htmls(args.site_pages)]
        what = f"bench site, {args.site_pages} articles and their copies"
    else:
        pages = list(load_aeb(root)) + list(load_wcxb(root))
        bodies = [(p.url or "http://unknown.invalid/", p.body, None) for p in pages]
        what = "AEB + wcxb-test"
    if args.limit:
        bodies = bodies[: args.limit]
    spent = steps(bodies, args.rounds)
    calls = len(bodies) * args.rounds
    total = sum(spent.values()) / calls * 1000
    print(f"{len(bodies)} pages ({what}) x {args.rounds} rounds: extract_article {total:.2f} ms/page CPU")
    for name, seconds in spent.most_common():
        print(f"{name:34} {seconds / calls * 1000:7.3f} ms")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="pages (0 = all)")
    parser.add_argument("--teval", action="store_true", help="add trafilatura-eval's 990 pages")
    parser.add_argument("--steps", action="store_true", help="newsworker's CPU per page by sub-step")
    parser.add_argument("--site-pages", type=int, default=0, help="--steps on the bench site's pages")
    args = parser.parse_args(argv)
    root = shared_data()
    if not (root / "extraction").is_dir():
        print(f"shared data not found under {root}", file=sys.stderr)
        return 2
    if args.steps:
        return _print_steps(args, root)
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
