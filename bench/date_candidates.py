"""Publication dates: each candidate, and the rules that combine them, on WCXB articles and trafilatura-eval.

Candidates per page: ``S`` stated (JSON-LD, meta tags, microdata), ``U`` the permalink's date,
``N`` the date printed by the headline (``Nupd``: only an "Updated" one), ``L`` a date labelled
"Published", ``HS`` htmldate (not extensive) on the headline's surroundings, ``HE`` htmldate
extensive with original dates on the whole page. Each rule is scored as the share of pages whose
labelled day it gets exactly (a page labelled without a date must get none), and as the share of
the dated pages only (``+d``), per set. AEB labels no dates.

    PYTHONPATH=$PWD python -m bench.date_candidates [--limit N]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from typing import Any

from htmldate import find_date
from trafilatura.utils import load_html

from bench.data import shared_data
from bench.extraction_quality import load_teval, load_wcxb
from worker.normalise import dates as d
from worker.normalise.decoding import decode_body
from worker.normalise.pagemeta import read_page_meta
from worker.normalise.title import choose_title, find_headline, publisher_names

Record = dict[str, Any]


def candidates(page: Any) -> Record:
    url = page.url or "http://unknown.invalid/"
    text, _ = decode_body(page.body)
    rec: Record = {"set": page.set_name, "truth": page.date, "id": page.page_id}
    tree = load_html(text)
    if tree is None:
        return rec
    pm = read_page_meta(tree)
    names = [n.lstrip("@") for n in (pm.first("og:site_name", "application-name"), *publisher_names(pm)) if n]
    headline = find_headline(tree, choose_title(pm, url, names))
    stated, _ = d.page_dates(pm)
    order = d.numeric_date_order(d._declared_locale(pm))
    near, only_updated = d._date_near_headline(headline, order)
    labelled = d._labelled_published_date(tree, order)
    scoped = d._htmldate(tree, url, headline)
    try:
        extensive = find_date(text, url=url, extensive_search=True, original_date=True)
    except (ValueError, TypeError):
        extensive = None

    def day(x: d.PageDate | None) -> str | None:
        return x.local.isoformat() if x else None

    rec.update(S=day(stated), U=day(d.url_date(url)), N=day(near), Nupd=only_updated, L=day(labelled),
               HS=day(scoped), HE=extensive)  # fmt: skip
    return rec


def printed(r: Record) -> str | None:
    """What ``dates.printed_page_date`` returns."""
    if r.get("N") and not r.get("Nupd"):
        return r["N"]  # type: ignore[no-any-return]
    if r.get("L"):
        return r["L"]  # type: ignore[no-any-return]
    if not r.get("N"):
        return r.get("HS")
    hs = r.get("HS")
    return hs if hs and hs < r["N"] else r["N"]  # type: ignore[no-any-return]


def near(r: Record) -> str | None:
    return r["N"] if r.get("N") and not r.get("Nupd") else None  # type: ignore[no-any-return]


def _days(a: str, b: str) -> int:
    return abs((date.fromisoformat(a) - date.fromisoformat(b)).days)


def _printed_beats_stated(r: Record) -> str | None:
    n, s = near(r), r.get("S")
    if n and s and n != s and _days(n, s) <= 3:
        return n
    return s or r.get("U") or printed(r)


RULES: dict[str, Callable[[Record], str | None]] = {
    "stated > permalink > printed (before)": lambda r: r.get("S") or r.get("U") or printed(r),
    "  + printed day beats stated 1-3 days off (kept)": _printed_beats_stated,
    "  + htmldate extensive when nothing else": lambda r: _printed_beats_stated(r) or r.get("HE"),
    "stated > htmldate ext. > permalink > printed": lambda r: r.get("S") or r.get("HE") or r.get("U") or printed(r),
    "htmldate ext. > stated > permalink > printed": lambda r: r.get("HE") or r.get("S") or r.get("U") or printed(r),
    "htmldate extensive alone": lambda r: r.get("HE"),
}


def _ok(truth: str | None, pred: str | None) -> bool:
    if not truth:
        return pred is None
    return pred is not None and pred[:10] == truth[:10]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args(argv)
    root = shared_data()
    sets = {
        "wcxb": [p for p in load_wcxb(root) if p.kind == "article"],
        "teval": [p for p in load_teval(root) if p.has_meta],
    }
    if args.limit:
        sets = {name: pages[: args.limit] for name, pages in sets.items()}
    records = {name: [candidates(p) for p in pages] for name, pages in sets.items()}
    print(f"{'rule':52}", *(f"{n:>8} {n + '+d':>8}" for n in records))
    for label, rule in RULES.items():
        cells = []
        for recs in records.values():
            dated = [r for r in recs if r["truth"]]
            cells.append(f"{sum(_ok(r['truth'], rule(r)) for r in recs) / len(recs):8.3f}")
            cells.append(f"{sum(_ok(r['truth'], rule(r)) for r in dated) / max(1, len(dated)):8.3f}")
        print(f"{label:52}", *cells)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
