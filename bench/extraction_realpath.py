"""Extraction through the real path, against calling ``extract_article`` directly, in one run.

The pages of a development set are served on 127.0.0.1 under their original paths behind RSS
feeds whose items carry only the link (``../shared/tools/pageweb.py``); a fresh SQLite database
gets the feeds (``newsworker feeds add``), ``newsworker run --once`` fetches and normalises every
page, and ``newsworker export`` is scored with ``bench.extraction_quality``'s measures (main text
shingle P/R/F1; title, author and date exactness where the set labels them). The same page bytes
go through ``extract_article`` directly in the same run. Prints a table; writes only a temporary
directory.

    PYTHONPATH=$PWD python -m bench.extraction_realpath [--set aeb|wcxb|teval] [--limit N]

``dated``/``d±1``: the UTC day of ``published_at`` exact / within one day, on dated pages only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.data import shared_data
from bench.extraction_quality import (
    Page,
    Result,
    _segment_hits,
    author_ok,
    date_near,
    date_ok,
    f1_of,
    load_aeb,
    load_teval,
    load_wcxb,
    norm_text,
    ours,
    shingle_pr,
)
from worker.model.urls import InvalidURL, canonical_url

PAGEWEB = Path(__file__).resolve().parents[1] / ".." / "shared" / "tools" / "pageweb.py"


def _newsworker(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worker", *args], env=env, capture_output=True, text=True, check=False, timeout=3600
    )


def _score(pages: list[Page], results: dict[str, Result]) -> dict[str, float]:
    """Main text (shingle F1 averaged over pages; trafilatura-eval: its segment F1 pooled over
    segments), titles exact on labelled pages, authors and dates on pages with metadata labels,
    dates also on dated pages only (exact, and within one day)."""
    ps, rs = [], []
    tp = fn = fp = 0
    title = title_n = author = date = meta_n = dated = dated_1 = dated_n = 0
    for page in pages:
        res = results.get(page.page_id, Result(""))
        if page.with_segments or page.without_segments:
            a, b, c = _segment_hits(page, res.text)
            tp, fn, fp = tp + a, fn + b, fp + c
        else:
            p, r = shingle_pr(page.text, res.text)
            ps.append(p)
            rs.append(r)
        if not page.has_meta:
            continue
        meta_n += 1
        if page.title is not None:
            title_n += 1
            title += norm_text(res.title) == norm_text(page.title)
        author += author_ok(page.author, res.authors)
        date += date_ok(page.date, res.date_utc)
        if page.date:
            dated_n += 1
            dated += date_ok(page.date, res.date_utc)
            dated_1 += date_near(page.date, res.date_utc)
    if ps:
        _, _, f1 = f1_of(ps, rs)
    else:
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    n = len(pages)
    m = max(1, meta_n)
    return {
        "f1": f1,
        "title": title / max(1, title_n),
        "author": author / m,
        "date": date / m,
        "dated": dated / max(1, dated_n),
        "dated_1": dated_1 / max(1, dated_n),
        "found": len(results) / n,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="set_name", choices=["aeb", "wcxb", "teval"], default="aeb")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    root = shared_data()
    if args.set_name == "aeb":
        pages = list(load_aeb(root))
    elif args.set_name == "wcxb":
        pages = [p for p in load_wcxb(root) if p.kind == "article"]
    else:
        pages = list(load_teval(root))
    if args.limit:
        pages = pages[: args.limit]
    # pageweb serves text as UTF-8: both paths get exactly these bytes
    pages = [
        Page(p.set_name, p.page_id, p.url, p.body.decode("utf-8", "replace").encode("utf-8"), p.text, p.title,
             p.author, p.date, p.kind, p.has_meta, p.with_segments, p.without_segments)
        for p in pages
    ]  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="nw-realpath-"))
    with (work / "pages.jsonl").open("w", encoding="utf-8") as handle:
        for p in pages:
            handle.write(json.dumps({"url": p.url, "html": p.body.decode("utf-8")}) + "\n")
    server = subprocess.Popen(
        [sys.executable, str(PAGEWEB), str(work / "pages.jsonl"), str(work / "site")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()  # the port: the site is built
        expected = json.loads((work / "site" / "expected.json").read_text("utf-8"))
        env = {
            **os.environ,
            "NEWSWORKER_DATABASE_URL": f"sqlite:///{work / 'nw.db'}",
            "NEWSWORKER_ALLOW_PRIVATE_NETWORKS": "true",
            "NEWSWORKER_HOST_REQUESTS_PER_MINUTE": "100000",
            "NEWSWORKER_HOST_MAX_CONCURRENCY": "8",
            "NEWSWORKER_LOG_LEVEL": "WARNING",
        }
        env.pop("NEWSWORKER_BROKER_URL", None)
        env.pop("NEWSWORKER_REDIS_URL", None)
        started = time.perf_counter()
        assert _newsworker(env, "db", "upgrade").returncode == 0
        for feed in expected["feeds"]:
            added = _newsworker(env, "feeds", "add", feed)
            assert added.returncode == 0, added.stderr
        ran = _newsworker(env, "run", "--once")
        print(ran.stdout.strip().splitlines()[-1] if ran.stdout.strip() else ran.stderr[-2000:], file=sys.stderr)
        exported = _newsworker(env, "export")
        real_seconds = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait()
    served: dict[str, str] = {}
    for address, original in expected["served"].items():
        served[address] = original
        with contextlib.suppress(InvalidURL):
            served[canonical_url(address)] = original
    by_url = {p.url: p for p in pages}
    real: dict[str, Result] = {}
    for line in exported.stdout.splitlines():
        row = json.loads(line)
        for address in [row["url"], *row.get("urls", [])]:
            original = served.get(address)
            if original is not None and original in by_url:
                published = row.get("published_at")
                real[by_url[original].page_id] = Result(
                    row.get("text") or "",
                    row.get("title"),
                    tuple(row.get("authors") or ()),
                    published[:10] if published else None,
                    has_meta=True,
                )
                break
    started = time.perf_counter()
    direct = {p.page_id: ours(p) for p in pages}
    direct_seconds = time.perf_counter() - started
    print(f"{args.set_name}: {len(pages)} pages")
    print(
        f"{'path':44} {'text F1':>8} {'title':>6} {'author':>6} {'date':>6} {'dated':>6} {'d±1':>6}"
        f" {'found':>6} {'sec':>6}"
    )
    meta = args.set_name != "aeb"
    for label, results, seconds in (
        ("real path (feeds add, run --once, export)", real, real_seconds),
        ("extract_article on the same bytes", direct, direct_seconds),
    ):
        s = _score(pages, results)
        keys = ("title", "author", "date", "dated", "dated_1")
        cells = " ".join(f"{s[k] if meta else float('nan'):6.3f}" for k in keys)
        print(f"{label:44} {s['f1']:8.3f} {cells} {s['found']:6.3f} {seconds:6.1f}")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
