"""Authors alone: ``choose_authors`` on WCXB articles and trafilatura-eval's labelled pages, per set
and on halves of each (by page id, and trafilatura-eval by German-speaking host or not), so that a
rule can be seen to hold on parts it was not looked at on.

Scored as ``bench.extraction_quality`` scores authors (the set of people equal; a page labelled
without an author must get none). Runs the page-level steps ``extract_article`` runs before the
authors (decode, parse, page metadata, site names, title, headline), not the text extraction.
``--show-misses`` prints every page scored wrong.

    PYTHONPATH=$PWD python -m bench.author_quality [--show-misses]
"""

from __future__ import annotations

import argparse
import hashlib
from urllib.parse import urlsplit

from trafilatura.utils import load_html

from bench.data import shared_data
from bench.extraction_quality import Page, author_ok, load_teval, load_wcxb
from worker.normalise.authors import choose_authors
from worker.normalise.decoding import decode_body
from worker.normalise.pagemeta import read_page_meta
from worker.normalise.title import choose_title, find_headline, publisher_names, site_keys, site_urls


def authors_of(page: Page) -> tuple[str, ...]:
    url = page.url or "http://unknown.invalid/"
    text, _ = decode_body(page.body)
    tree = load_html(text) if text.strip() else None
    if tree is None:
        return ()
    pm = read_page_meta(tree)
    first = pm.first("og:site_name", "application-name", "al:android:app_name", "twitter:site")
    names = [n.lstrip("@") for n in (first, *publisher_names(pm)) if n]
    headline = find_headline(tree, choose_title(pm, url, names))
    return choose_authors(pm, tree, site_keys(names, site_urls(pm, url)), headline)


def _host(url: str) -> str:
    if "web.archive.org/web/" in url:  # the archived page's own host
        url = "http://" + url.split("/http", 1)[-1].split("://", 1)[-1]
    return urlsplit(url).hostname or ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args(argv)
    root = shared_data()
    pages = [p for p in load_wcxb(root) if p.kind == "article"] + [p for p in load_teval(root) if p.has_meta]
    groups: dict[str, list[bool]] = {}
    for page in pages:
        found = authors_of(page)
        ok = author_ok(page.author, found)
        if args.show_misses and not ok:
            print(f"AUTHOR {page.set_name} {page.page_id} truth={page.author!r} ours={found!r} {page.url[:70]}")
        key = f"{page.set_name}/{page.page_id}"
        half = int(hashlib.md5(key.encode()).hexdigest(), 16) % 2
        names = [page.set_name, f"{page.set_name} half {half}"]
        if page.set_name == "teval":
            names.append("teval de/at/ch" if _host(page.url).endswith((".de", ".at", ".ch")) else "teval other")
        for name in names:
            groups.setdefault(name, []).append(ok)
    for name in sorted(groups):
        hits = groups[name]
        print(f"{name:16} {sum(hits) / len(hits):.3f}  ({sum(hits)}/{len(hits)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
