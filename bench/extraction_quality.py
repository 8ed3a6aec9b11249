"""Extraction quality: newsworker's normaliser against trafilatura, side by side in one run.

Scores main text with the article-extraction benchmark's measure (word 4-gram shingles,
precision and recall per page, averaged over pages, F1 of the averages) on

* ``aeb``: the article-extraction benchmark (181 news/blog pages, MIT), and
* ``wcxb``: the article pages of the web content extraction benchmark test split
  (CC BY 4.0), where title, author and date exactness are scored too,

and reports how well non-article pages of wcxb are flagged (``page_kind != "article"``).
Prints a table; writes nothing.

Columns: ``title`` exact after NFKC, case folding and dropping punctuation; ``author`` the
set of names equal (a page without an author must get none); ``date`` the UTC day of
``published_at`` equal to the labelled day, ``dloc`` the publisher's own calendar day
(``published_date``) equal to it (a page without a date must get none); ``nonart`` share
of wcxb's 254 non-article pages flagged, ``art`` share of its 257 article pages kept.
Systems without metadata show "-". trafilatura runs on the same bytes in the same run.

    PYTHONPATH=$PWD python -m bench.extraction_quality [--limit N] [--no-trafilatura]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import trafilatura

from bench.data import shared_data
from worker.normalise.extract import extract_article

_TOKEN_RE = re.compile(r"\w+", re.UNICODE)




@dataclass(frozen=True)
class Page:
    set_name: str
    page_id: str
    url: str
    body: bytes
    text: str
    title: str | None = None
    author: str | None = None
    date: str | None = None
    kind: str = "article"


def load_aeb(root: Path) -> Iterator[Page]:
    truth = json.loads((root / "extraction" / "aeb" / "ground-truth.json").read_text("utf-8"))
    for page_id in sorted(truth):
        path = root / "extraction" / "aeb" / "html" / f"{page_id}.html.gz"
        body = gzip.decompress(path.read_bytes())
        yield Page("aeb", page_id, truth[page_id]["url"], body, truth[page_id]["articleBody"])


def load_wcxb(root: Path) -> Iterator[Page]:
    base = root / "extraction" / "wcxb-test"
    for path in sorted((base / "ground-truth").glob("*.json")):
        data = json.loads(path.read_text("utf-8"))
        truth = data["ground_truth"]
        body = gzip.decompress((base / "html" / f"{path.stem}.html.gz").read_bytes())
        yield Page(
            "wcxb",
            path.stem,
            data.get("url") or "",
            body,
            truth.get("main_content") or "",
            truth.get("title"),
            truth.get("author"),
            truth.get("publish_date"),
            data["_internal"]["page_type"]["primary"],
        )


# ---------------------------------------------------------------- scoring


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN_RE.findall(text or "")
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)))


def shingle_pr(truth: str, pred: str) -> tuple[float, float]:
    """Per-page precision and recall of predicted 4-gram shingles (multiset counts)."""
    t, p = shingles(truth), shingles(pred)
    tp = sum((t & p).values())
    fp = sum(p.values()) - tp
    fn = sum(t.values()) - tp
    if tp == fp == fn == 0:
        return 1.0, 1.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall


def f1_of(precisions: list[float], recalls: list[float]) -> tuple[float, float, float]:
    p = sum(precisions) / len(precisions)
    r = sum(recalls) / len(recalls)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def norm_text(value: str | None) -> str:
    value = unicodedata.normalize("NFKC", value or "").casefold()
    value = re.sub(r"[^\w\s]", " ", value)
    return " ".join(value.split())


def names_of(value: str) -> frozenset[str]:
    parts = re.split(r"\s*(?:,|;|&|\band\b|\bwith\b)\s*", value, flags=re.I)
    return frozenset(n for n in (norm_text(p) for p in parts) if n)


def author_ok(truth: str | None, pred: tuple[str, ...]) -> bool:
    if not truth:
        return not pred
    return names_of(truth) == names_of(", ".join(pred))


def date_ok(truth: str | None, pred: str | None) -> bool:
    if not truth:
        return pred is None
    return pred is not None and pred[: len(truth)] == truth


# ---------------------------------------------------------------- systems


@dataclass
class Result:
    text: str
    title: str | None = None
    authors: tuple[str, ...] = ()
    date_utc: str | None = None
    date_local: str | None = None
    kind: str = "article"
    has_meta: bool = False


def trafilatura_system(**kwargs: object) -> Callable[[Page], Result]:
    def run(page: Page) -> Result:
        return Result(trafilatura.extract(page.body, url=page.url or None, **kwargs) or "")  # type: ignore[arg-type]

    return run


def trafilatura_meta_system(page: Page) -> Result:
    doc = trafilatura.bare_extraction(
        page.body, url=page.url or None, fast=True, include_comments=False, with_metadata=True
    )
    if doc is None:
        return Result("")
    authors = tuple(a.strip() for a in (doc.author or "").split(";") if a.strip())
    return Result(doc.text or "", doc.title, authors, doc.date, doc.date, has_meta=True)


def ours(page: Page) -> Result:
    art = extract_article(page.body, url=page.url or "http://unknown.invalid/")
    local = art.published_date.isoformat() if art.published_date else None
    utc = art.published_at.date().isoformat() if art.published_at else None
    return Result(art.text, art.title, art.authors, utc, local, art.page_kind, has_meta=True)


SYSTEMS: dict[str, Callable[[Page], Result]] = {
    "newsworker extract_article": ours,
    "trafilatura default (no comments)": trafilatura_system(include_comments=False),
    "trafilatura fast (no comments)": trafilatura_system(fast=True, include_comments=False),
    "trafilatura favor_precision": trafilatura_system(favor_precision=True, include_comments=False),
    "trafilatura favor_recall": trafilatura_system(favor_recall=True, include_comments=False),
    "trafilatura fast+with_metadata": trafilatura_meta_system,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="pages per set (0 = all)")
    parser.add_argument("--no-trafilatura", action="store_true", help="score newsworker only")
    parser.add_argument("--show-misses", choices=["title", "author", "date", "kind", "text"])
    args = parser.parse_args(argv)
    root = shared_data()
    if not (root / "extraction").is_dir():
        print(f"shared data not found under {root}", file=sys.stderr)
        return 2
    aeb = list(load_aeb(root))
    wcxb_all = list(load_wcxb(root))
    if args.limit:
        aeb, wcxb_all = aeb[: args.limit], wcxb_all[: args.limit * 2]
    wcxb = [p for p in wcxb_all if p.kind == "article"]
    systems = {k: v for k, v in SYSTEMS.items() if not args.no_trafilatura or k.startswith("news")}

    rows = []
    for name, system in systems.items():
        started = time.perf_counter()
        row: dict[str, object] = {"system": name}
        for set_name, pages in (("aeb", aeb), ("wcxb", wcxb)):
            ps, rs = [], []
            title_hits = author_hits = date_hits = date_local_hits = 0
            for page in pages:
                res = system(page)
                p, r = shingle_pr(page.text, res.text)
                ps.append(p)
                rs.append(r)
                if set_name == "wcxb":
                    title_hits += norm_text(res.title) == norm_text(page.title)
                    author_hits += author_ok(page.author, res.authors)
                    date_hits += date_ok(page.date, res.date_utc)
                    date_local_hits += date_ok(page.date, res.date_local)
                    if args.show_misses and name.startswith("news"):
                        _show_miss(args.show_misses, page, res, p, r)
                elif args.show_misses == "text" and name.startswith("news") and p * r < 0.8:
                    _show_miss("text", page, res, p, r)
            row[f"{set_name}_f1"] = f1_of(ps, rs)
            if set_name == "wcxb" and res.has_meta:
                n = len(pages)
                row["title"] = title_hits / n
                row["author"] = author_hits / n
                row["date"] = date_hits / n
                row["date_local"] = date_local_hits / n
        if name.startswith("news"):
            others = [p for p in wcxb_all if p.kind != "article"]
            flagged = Counter()
            for page in wcxb_all:
                res = system(page)
                flagged[(page.kind == "article", res.kind == "article")] += 1
                if args.show_misses == "kind" and (page.kind == "article") != (
                    res.kind == "article"
                ):
                    print(f"KIND {page.page_id} truth={page.kind} ours={res.kind} {page.url[:90]}")
            row["nonarticle_flagged"] = flagged[(False, False)] / max(1, len(others))
            row["article_kept"] = flagged[(True, True)] / max(1, len(wcxb))
        row["seconds"] = time.perf_counter() - started
        rows.append(row)
        _print_row(row)
    return 0


def _show_miss(kind: str, page: Page, res: Result, p: float, r: float) -> None:
    if kind == "title" and norm_text(res.title) != norm_text(page.title):
        print(f"TITLE {page.page_id} truth={page.title!r} ours={res.title!r}")
    elif kind == "author" and not author_ok(page.author, res.authors):
        print(f"AUTHOR {page.page_id} truth={page.author!r} ours={res.authors!r} {page.url[:60]}")
    elif kind == "date" and not date_ok(page.date, res.date_local):
        print(
            f"DATE {page.page_id} truth={page.date} ours={res.date_local} utc={res.date_utc}"
            f" {page.url[:60]}"
        )
    elif kind == "text" and 2 * p * r / (p + r or 1) < 0.8:
        print(f"TEXT {page.set_name} {page.page_id} p={p:.2f} r={r:.2f} {page.url[:80]}")


_HEADER_DONE = False


def _print_row(row: dict[str, object]) -> None:
    global _HEADER_DONE
    if not _HEADER_DONE:
        print(
            f"{'system':36} {'AEB P/R/F1':>20} {'wcxb-art P/R/F1':>20} {'title':>6} {'author':>6}"
            f" {'date':>6} {'dloc':>6} {'nonart':>7} {'art':>6} {'sec':>6}"
        )
        _HEADER_DONE = True

    def prf(key: str) -> str:
        p, r, f = row[key]  # type: ignore[misc]
        return f"{p:.3f}/{r:.3f}/{f:.3f}"

    def pct(key: str) -> str:
        value = row.get(key)
        return f"{value:.3f}" if isinstance(value, float) else "-"

    print(
        f"{row['system']!s:36} {prf('aeb_f1'):>20} {prf('wcxb_f1'):>20} {pct('title'):>6}"
        f" {pct('author'):>6} {pct('date'):>6} {pct('date_local'):>6}"
        f" {pct('nonarticle_flagged'):>7}"
        f" {pct('article_kept'):>6} {row['seconds']:6.1f}",
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
