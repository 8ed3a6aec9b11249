"""Extraction quality: newsworker's normaliser against trafilatura, side by side in one run.

Scores main text with the article-extraction benchmark's measure (word 4-gram shingles,
precision and recall per page, averaged over pages, F1 of the averages) on

* ``aeb``: the article-extraction benchmark (181 news/blog pages, MIT),
* ``wcxb``: the article pages of the web content extraction benchmark test split
  (CC BY 4.0), where title, author and date exactness are scored too, and
* ``teval``: trafilatura's evaluation set (990 pages, many languages), scored as its README
  says: a ``with`` segment found in the text is a true positive, missing a false negative, a
  ``without`` segment found a false positive; P/R/F1 pooled over all segments; title, author and
  date exactness on the 851 pages that label them (an empty label: the page has none),

and reports how well non-article pages of wcxb are flagged (``page_kind != "article"``).
htmldate (extensive search, original date) runs as the dates reference. Prints one table per
set; writes nothing.

Columns: ``title`` exact after NFKC, case folding and dropping punctuation; ``author`` the
set of names equal (a page without an author must get none); ``date`` the UTC day of
``published_at`` equal to the labelled day, ``dloc`` the publisher's own calendar day
(``published_date``) equal to it (a page without a date must get none); ``nonart`` share
of wcxb's 254 non-article pages flagged, ``art`` share of its 257 article pages kept;
``dated`` the UTC day exact on the pages labelled with a date only (how htmldate, which always
answers, is usually scored), ``d±1`` the UTC day within one day of the label on those pages.
Systems without metadata show "-". trafilatura runs on the same bytes in the same run.

    PYTHONPATH=$PWD python -m bench.extraction_quality [--limit N] [--no-trafilatura] [--sets aeb,wcxb,teval]
        [--systems news,htmldate]
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
from datetime import date
from pathlib import Path

import lxml.html
import trafilatura
from htmldate import find_date

from bench.data import shared_data
from worker.normalise import extract as extract_module
from worker.normalise import extraction as extraction_module
from worker.normalise.decoding import decode_body
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
    has_meta: bool = False  # title/author/date labelled
    with_segments: tuple[str, ...] = ()  # trafilatura-eval: must be in the text
    without_segments: tuple[str, ...] = ()  # trafilatura-eval: must not be


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
            has_meta=True,
        )


def load_teval(root: Path) -> Iterator[Page]:
    """trafilatura's evaluation set: text scored by segments that must (not) be in the output;
    title/author/date on the pages that label them (an empty label: the page has none)."""
    base = root / "extraction" / "trafilatura-eval"
    data = json.loads((base / "evaldata.json").read_text("utf-8"))
    for url in sorted(data):
        item = data[url]
        body = gzip.decompress((base / "html" / item["file"]).read_bytes())
        author = item.get("author")
        if isinstance(author, list):
            author = ", ".join(author)
        yield Page(
            "teval",
            item["file"].split(".")[0],
            url,
            body,
            "",
            item.get("title") or None if "title" in item else None,
            author or None,
            item.get("date") or None,
            has_meta="date" in item,
            with_segments=tuple(item.get("with") or ()),
            without_segments=tuple(item.get("without") or ()),
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


# A degree or licence after a name ("Angela Holliday-Bell, MD", "Grant Tinsley, PhD") is part of
# that author, not another one: labels keep or drop it as the page shows it.
_CREDENTIAL_KEY = re.compile(
    r"^(?:md|m d|phd|ph d|rn|ms|msc|ma|mba|mph|m p h|rdn|rd|r d|ld|do|dds|cpa|cfp|jr|sr|ii|iii|iv"
    r"|facs|faap|lcsw|np|pa c|esq|dvm|ibclc|cde|cdces|lmft|psyd)$"
)


def names_of(value: str) -> frozenset[str]:
    """The set of authors in a label or a prediction: split on the separators labels use (German
    "und" as "and"), credentials after a name dropped."""
    split = re.split(r"\s*(?:,|;|&|\band\b|\bund\b|\bwith\b)\s*", value, flags=re.I)
    parts = [n for n in (norm_text(p) for p in split) if n]
    return frozenset(n for i, n in enumerate(parts) if i == 0 or not _CREDENTIAL_KEY.match(n))


def author_ok(truth: str | None, pred: tuple[str, ...]) -> bool:
    if not truth:
        return not pred
    return names_of(truth) == names_of(", ".join(pred))


def date_ok(truth: str | None, pred: str | None) -> bool:
    if not truth:
        return pred is None
    return pred is not None and pred[: len(truth)] == truth


def date_near(truth: str, pred: str | None, days: int = 1) -> bool:
    """The predicted day at most ``days`` from the labelled one (a time-zone shift)."""
    if pred is None:
        return False
    try:
        gap = abs((date.fromisoformat(pred[:10]) - date.fromisoformat(truth[:10])).days)
    except ValueError:
        return False
    return gap <= days


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


def trafilatura_full_meta_system(page: Page) -> Result:
    doc = trafilatura.bare_extraction(page.body, url=page.url or None, include_comments=False, with_metadata=True)
    if doc is None:
        return Result("", has_meta=True)
    authors = tuple(a.strip() for a in (doc.author or "").split(";") if a.strip())
    return Result(doc.text or "", doc.title, authors, doc.date, doc.date, has_meta=True)


def resiliparse_system(page: Page) -> Result:
    """resiliparse (C++, Apache-2.0) main-content heuristics, plain text with paragraphs: a
    second library's candidate. Needs the ``bench`` extra."""
    from resiliparse.extract.html2text import extract_plain_text

    html, _ = decode_body(page.body, None)
    text = extract_plain_text(
        html,
        preserve_formatting=True,
        main_content=True,
        list_bullets=False,
        alt_texts=False,
        links=False,
        form_fields=False,
        noscript=False,
        comments=False,
    )
    return Result(text)


def readability_system(page: Page) -> Result:
    """readability-lxml (Python, Apache-2.0): its summary's block elements as paragraphs. Needs
    the ``bench`` extra."""
    from readability import Document

    html, _ = decode_body(page.body, None)
    try:
        summary = Document(html, url=page.url or None).summary(html_partial=True)
    except Exception:  # readability raises its own Unparseable and lxml errors
        return Result("")
    root = lxml.html.fromstring(summary) if summary.strip() else None
    if root is None:
        return Result("")
    blocks = [b.text_content().strip() for b in root.iter("p", "li", "h1", "h2", "h3", "h4", "pre", "td")]
    return Result("\n\n".join(b for b in blocks if b) or root.text_content())


def ours(page: Page) -> Result:
    art = extract_article(page.body, url=page.url or "http://unknown.invalid/")
    local = art.published_date.isoformat() if art.published_date else None
    utc = art.published_at.date().isoformat() if art.published_at else None
    return Result(art.text, art.title, art.authors, utc, local, art.page_kind, has_meta=True)


def htmldate_system(page: Page) -> Result:
    """htmldate alone, extensive search, original date: the dates reference."""
    try:
        found = find_date(page.body, url=page.url or None, extensive_search=True, original_date=True)
    except (ValueError, TypeError):
        found = None
    return Result("", None, (), found, found, has_meta=True)


DATE_ONLY = {"htmldate extensive original (dates only)"}

SYSTEMS: dict[str, Callable[[Page], Result]] = {
    "newsworker extract_article": ours,
    "trafilatura default (no comments)": trafilatura_system(include_comments=False),
    "trafilatura fast (no comments)": trafilatura_system(fast=True, include_comments=False),
    "trafilatura favor_precision": trafilatura_system(favor_precision=True, include_comments=False),
    "trafilatura favor_recall": trafilatura_system(favor_recall=True, include_comments=False),
    "trafilatura fast+with_metadata": trafilatura_meta_system,
    "trafilatura default+with_metadata": trafilatura_full_meta_system,
    "htmldate extensive original (dates only)": htmldate_system,
    "resiliparse main_content": resiliparse_system,
    "readability-lxml": readability_system,
}


def _segment_hits(page: Page, text: str) -> tuple[int, int, int]:
    """trafilatura-eval's scoring of one page: (true positives, false negatives, false positives)."""
    out = " ".join(text.split())
    tp = fn = fp = 0
    for seg in page.with_segments:
        if " ".join(seg.split()) in out:
            tp += 1
        else:
            fn += 1
    for seg in page.without_segments:
        fp += " ".join(seg.split()) in out
    return tp, fn, fp


def score_set(
    set_name: str, pages: list[Page], system: Callable[[Page], Result], show: str | None = None, label: str = ""
) -> dict[str, object]:
    """Main text (shingle P/R/F1 averaged over pages, or segment P/R/F1 pooled over segments for
    trafilatura-eval) and, where the set has them, title/author/date exactness."""
    row: dict[str, object] = {}
    ps: list[float] = []
    rs: list[float] = []
    tp = fn = fp = 0
    title_hits = title_n = author_hits = author_n = date_hits = date_local_hits = date_n = 0
    dated_n = dated_hits = dated_near = 0
    has_meta = False
    for page in pages:
        res = system(page)
        has_meta = res.has_meta
        if page.with_segments or page.without_segments:
            a, b, c = _segment_hits(page, res.text)
            tp, fn, fp = tp + a, fn + b, fp + c
        else:
            p, r = shingle_pr(page.text, res.text)
            ps.append(p)
            rs.append(r)
            if show == "text" and label.startswith("news") and p * r < 0.8:
                _show_miss("text", page, res, p, r)
        if page.has_meta:
            title_n += page.title is not None
            title_hits += page.title is not None and norm_text(res.title) == norm_text(page.title)
            author_n += 1
            author_hits += author_ok(page.author, res.authors)
            date_n += 1
            date_hits += date_ok(page.date, res.date_utc)
            date_local_hits += date_ok(page.date, res.date_local)
            if page.date:
                dated_n += 1
                dated_hits += date_ok(page.date, res.date_utc)
                dated_near += date_near(page.date, res.date_utc)
            if show and show != "text" and label.startswith("news"):
                _show_miss(show, page, res, 1.0, 1.0)
    if ps:
        row["f1"] = f1_of(ps, rs)
    else:
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        row["f1"] = (precision, recall, 2 * precision * recall / (precision + recall) if tp else 0.0)
    if has_meta and date_n:
        row["title"] = title_hits / max(1, title_n)
        row["author"] = author_hits / date_n
        row["date"] = date_hits / date_n
        row["date_local"] = date_local_hits / date_n
        row["dated"] = dated_hits / max(1, dated_n)
        row["dated_1"] = dated_near / max(1, dated_n)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="pages per set (0 = all)")
    parser.add_argument("--no-trafilatura", action="store_true", help="score newsworker only")
    parser.add_argument("--sets", default="aeb,wcxb,teval", help="comma-separated: aeb, wcxb, teval")
    parser.add_argument(
        "--last-resort-date", choices=["article", "all", "none"], help="override extract.LAST_RESORT_DATE"
    )
    parser.add_argument(
        "--full-extraction", action="store_true", help="trafilatura without fast mode (extraction.FAST_FIRST off)"
    )
    parser.add_argument(
        "--retry-below", type=int, default=0, help="override extraction.SHORT_RESULT_WORDS (second, full extraction)"
    )
    parser.add_argument("--show-misses", choices=["title", "author", "date", "kind", "text"])
    parser.add_argument(
        "--systems", default="", help="comma-separated name prefixes of the systems to run (e.g. news,htmldate)"
    )
    args = parser.parse_args(argv)
    root = shared_data()
    if not (root / "extraction").is_dir():
        print(f"shared data not found under {root}", file=sys.stderr)
        return 2
    if args.retry_below:
        extraction_module.SHORT_RESULT_WORDS = args.retry_below
    if args.full_extraction:
        extraction_module.FAST_FIRST = False
    if args.last_resort_date:
        extract_module.LAST_RESORT_DATE = args.last_resort_date
    wanted = args.sets.split(",")
    sets: dict[str, list[Page]] = {}
    wcxb_all: list[Page] = []
    if "aeb" in wanted:
        sets["aeb"] = list(load_aeb(root))
    if "wcxb" in wanted:
        wcxb_all = list(load_wcxb(root))
        sets["wcxb"] = [p for p in wcxb_all if p.kind == "article"]
    if "teval" in wanted and (root / "extraction" / "trafilatura-eval").is_dir():
        sets["teval"] = list(load_teval(root))
    if args.limit:
        sets = {k: v[: args.limit] for k, v in sets.items()}
        wcxb_all = wcxb_all[: args.limit * 2]
    systems = {k: v for k, v in SYSTEMS.items() if not args.no_trafilatura or k.startswith("news")}
    if args.systems:
        systems = {k: v for k, v in systems.items() if k.startswith(tuple(args.systems.split(",")))}

    for set_name, pages in sets.items():
        print(f"\n{set_name}: {len(pages)} pages", flush=True)
        global _HEADER_DONE
        _HEADER_DONE = False
        for name, system in systems.items():
            if set_name == "aeb" and name in DATE_ONLY:
                continue
            started = time.perf_counter()
            row: dict[str, object] = {"system": name, **score_set(set_name, pages, system, args.show_misses, name)}
            if name in DATE_ONLY:
                row = {k: v for k, v in row.items() if k not in ("f1", "title", "author")}
            if set_name == "wcxb" and name.startswith("news"):
                others = [p for p in wcxb_all if p.kind != "article"]
                flagged: Counter[tuple[bool, bool]] = Counter()
                for page in wcxb_all:
                    res = system(page)
                    flagged[(page.kind == "article", res.kind == "article")] += 1
                    if args.show_misses == "kind" and (page.kind == "article") != (res.kind == "article"):
                        print(f"KIND {page.page_id} truth={page.kind} ours={res.kind} {page.url[:90]}")
                row["nonarticle_flagged"] = flagged[(False, False)] / max(1, len(others))
                row["article_kept"] = flagged[(True, True)] / max(1, len(pages))
            row["seconds"] = time.perf_counter() - started
            _print_row(row)
    return 0


def _show_miss(kind: str, page: Page, res: Result, p: float, r: float) -> None:
    if kind == "title" and norm_text(res.title) != norm_text(page.title):
        print(f"TITLE {page.page_id} truth={page.title!r} ours={res.title!r}")
    elif kind == "author" and not author_ok(page.author, res.authors):
        print(f"AUTHOR {page.page_id} truth={page.author!r} ours={res.authors!r} {page.url[:60]}")
    elif kind == "date" and not date_ok(page.date, res.date_local):
        print(f"DATE {page.page_id} truth={page.date} ours={res.date_local} utc={res.date_utc} {page.url[:60]}")
    elif kind == "text" and 2 * p * r / (p + r or 1) < 0.8:
        print(f"TEXT {page.set_name} {page.page_id} p={p:.2f} r={r:.2f} {page.url[:80]}")


_HEADER_DONE = False


def _print_row(row: dict[str, object]) -> None:
    global _HEADER_DONE
    if not _HEADER_DONE:
        print(
            f"{'system':36} {'text P/R/F1':>20} {'title':>6} {'author':>6}"
            f" {'date':>6} {'dloc':>6} {'dated':>6} {'d±1':>6} {'nonart':>7} {'art':>6} {'sec':>6}"
        )
        _HEADER_DONE = True

    def prf(key: str) -> str:
        if key not in row:
            return "-"
        p, r, f = row[key]  # type: ignore[misc]
        return f"{p:.3f}/{r:.3f}/{f:.3f}"

    def pct(key: str) -> str:
        value = row.get(key)
        return f"{value:.3f}" if isinstance(value, float) else "-"

    print(
        f"{row['system']!s:36} {prf('f1'):>20} {pct('title'):>6}"
        f" {pct('author'):>6} {pct('date'):>6} {pct('date_local'):>6}"
        f" {pct('dated'):>6} {pct('dated_1'):>6}"
        f" {pct('nonarticle_flagged'):>7}"
        f" {pct('article_kept'):>6} {row['seconds']:6.1f}",
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
