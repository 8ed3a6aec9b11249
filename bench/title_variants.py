"""Titles: where a trailing " - part" is kept rather than dropped, per source of the title, on
WCXB articles and trafilatura-eval (titles exact after NFKC, case folding and punctuation).

Each row sets ``worker.normalise.title.KEEP_TRAILER`` (the shipped value is the first row) and
scores ``choose_title`` on every labelled page. AEB labels no titles.

    PYTHONPATH=$PWD python -m bench.title_variants
"""

from __future__ import annotations

from typing import Any

from trafilatura.utils import load_html

from bench.data import shared_data
from bench.extraction_quality import load_teval, load_wcxb, norm_text
from worker.normalise import title
from worker.normalise.decoding import decode_body
from worker.normalise.pagemeta import PageMeta, read_page_meta


def main() -> int:
    root = shared_data()
    pages = [p for p in load_wcxb(root) if p.kind == "article"] + [p for p in load_teval(root) if p.title]
    prepared: list[tuple[Any, PageMeta | None, list[str]]] = []
    for page in pages:
        tree = load_html(decode_body(page.body)[0])
        if tree is None:
            prepared.append((page, None, []))
            continue
        pm = read_page_meta(tree)
        first = pm.first("og:site_name", "application-name", "al:android:app_name", "twitter:site")
        names = [n.lstrip("@") for n in (first, *title.publisher_names(pm)) if n]
        prepared.append((page, pm, names))
    shipped = title.KEEP_TRAILER
    variants = [shipped, *(frozenset([s]) for s in title.TITLE_SOURCES), frozenset(title.TITLE_SOURCES)]
    print(f"{'trailer kept for':48} {'wcxb':>8} {'teval':>8}")
    for variant in variants:
        title.KEEP_TRAILER = variant
        cells = []
        for set_name in ("wcxb", "teval"):
            items = [(p, pm, n) for p, pm, n in prepared if p.set_name == set_name]
            hits = sum(
                norm_text(title.choose_title(pm, p.url or "http://unknown.invalid/", n) if pm else None)
                == norm_text(p.title)
                for p, pm, n in items
            )
            cells.append(f"{hits / len(items):8.3f}")
        print(f"{', '.join(sorted(variant)) or '(none: shipped)':48}", *cells)
    title.KEEP_TRAILER = shipped
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
