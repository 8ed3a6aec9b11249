"""Site names learned per site: titles with and without the site's other titles, on the pages of
WCXB (all labelled pages) and trafilatura-eval that share a host with other pages of their set.

Each page is given, as storage would give a feed's recent titles, the stated titles (``<title>``,
``og:title``) of the other pages of its host in the set; hosts with at least
``title.SITE_AFFIX_MIN_TITLES`` other pages can teach a name. Two paths are scored (title exact
after NFKC, case folding and punctuation, as in ``bench.extraction_quality``):

* ``page``: the title chosen from the page (``choose_title`` plus the learned names);
* ``feed``: the title a feed gives, simulated by the page's own ``<title>`` (feeds that put the
  site's name into their item titles): kept as given before, stripped of learned names after.

    PYTHONPATH=$PWD python -m bench.site_names [--min-titles N]

No development set has several pages of one site: WCXB has at most 3 pages a host, and
trafilatura-eval's one large host is web.archive.org (21 copies of different sites). Lowering
``--min-titles`` to 2 scores the WCXB hosts with 3 pages.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from typing import Any

from trafilatura.utils import load_html

from bench.data import shared_data
from bench.extraction_quality import load_teval, load_wcxb, norm_text
from worker.model.urls import site_of
from worker.normalise import title as t
from worker.normalise.decoding import decode_body
from worker.normalise.pagemeta import read_page_meta, squash
from worker.normalise.textclean import normalise_unicode


def _names(pm: Any) -> list[str]:
    first = pm.first("og:site_name", "application-name", "al:android:app_name", "twitter:site")
    return [n.lstrip("@") for n in (first, *t.publisher_names(pm)) if n]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-titles", type=int, default=t.SITE_AFFIX_MIN_TITLES)
    args = parser.parse_args(argv)
    root = shared_data()
    sets = {"wcxb": [p for p in load_wcxb(root) if p.title], "teval": [p for p in load_teval(root) if p.title]}
    heads = ("page before", "page after", "feed before", "feed after")
    print(f"{'set':6} {'pages':>6} {'hosts':>6}", *(f"{h:>11}" for h in heads))
    for name, pages in sets.items():
        by_host: dict[str, list[tuple[Any, Any]]] = defaultdict(list)
        for page in pages:
            tree = load_html(decode_body(page.body)[0])
            if tree is not None:
                by_host[site_of(page.url) or ""].append((page, read_page_meta(tree)))
        scored = [(h, items) for h, items in by_host.items() if h and len(items) > args.min_titles]
        n, hits = 0, [0, 0, 0, 0]
        for _, items in scored:
            for i, (page, pm) in enumerate(items):
                others = [
                    s for j, (_, o) in enumerate(items) if j != i for s in (o.title_tag, o.first("og:title")) if s
                ]
                learned = t.learn_site_names(others, args.min_titles)
                url = page.url or "http://unknown.invalid/"
                before = t.choose_title(pm, url, _names(pm))
                after = t.strip_site_names(t.choose_title(pm, url, [*_names(pm), *learned]), learned)
                feed = squash(normalise_unicode(pm.title_tag or "")) or None
                feed_after = t.strip_site_names(feed, learned)
                truth = norm_text(page.title)
                n += 1
                for k, got in enumerate((before, after, feed, feed_after)):
                    hits[k] += norm_text(got) == truth
        cells = " ".join(f"{h / max(1, n):>11.3f}" for h in hits)
        print(f"{name:6} {n:6d} {len(scored):6d} {cells}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
