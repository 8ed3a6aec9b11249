"""Titles: the headline as shown, without the site's name.

Candidates are the stated titles (``og:title``, JSON-LD ``headline``, ``<title>``) and the
page's ``<h1>`` elements; site-name parts are recognised from the site's names (``og:site_name``,
the publisher, names learned from the site's other pages) and its host name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import unescape as html_unescape

from lxml import etree
from lxml.html import HtmlElement

from worker.model.urls import site_of
from worker.normalise.pagemeta import PageMeta, jsonld_names, squash
from worker.normalise.textclean import CleanedText, key_words, normalise_unicode, text_key

_TITLE_SEP = re.compile(r"\s+(?:[|–—~·•»:]|-{1,2}|::|/)\s+|\s*\|\s*|\s*[»›]\s*")


def site_urls(pm: PageMeta, url: str) -> tuple[str, ...]:
    """The page's address and the addresses it states for itself (canonical link, ``og:url``):
    a page fetched from a mirror, an AMP cache or a local copy still names its site there."""
    stated = (pm.canonical, pm.first("og:url"))
    return (url, *(u for u in stated if u and u.startswith(("http://", "https://")) and u != url))


def site_keys(site_names: list[str], url: str | Sequence[str]) -> set[str]:
    # a "name" of more than eight words is a mislabelled headline, not a site name
    keys = {text_key(n) for n in site_names if n and len(text_key(n)) >= 3 and len(n.split()) <= 8}
    for address in (url,) if isinstance(url, str) else url:
        _host_keys(keys, address)
    return {k for k in keys if k}


def _host_keys(keys: set[str], url: str) -> None:
    host = site_of(url)
    if host:
        labels = host.split(".")
        keys.add(text_key(host))
        # "nytimes" for www.nytimes.com, "bbc" for bbc.co.uk
        core = [label for label in labels if label not in _HOST_NOISE and len(label) >= 3]
        if core:
            keys.add(text_key(core[0] if len(core) == 1 else core[-1]))
            keys.update(text_key(c) for c in core)


_HOST_NOISE = frozenset(
    {
        "www",
        "com",
        "org",
        "net",
        "co",
        "uk",
        "news",
        "blog",
        "en",
        "de",
        "fr",
        "edu",
        "gov",
        "au",
        "ca",
        "in",
        "io",
        "info",
        "us",
        "m",
        "amp",
        "mobile",
    }
)


def is_site_part(part: str, keys: set[str]) -> bool:
    k = text_key(part)
    if not k:
        return True
    for site in keys:
        if k == site or (len(site) >= 4 and (k.startswith(site) or k.endswith(site)) and len(part.split()) <= 6):
            return True
        if len(k) >= 4 and site.startswith(k) and len(part.split()) <= 4:
            return True
    return False


def _is_site_name(title: str, keys: set[str]) -> bool:
    """A whole stated title that is only the site's name ("City Herald", "cityherald.com"), not
    "Headline - City Herald" or "CityHerald: Headline"."""
    if text_key(title) in keys:
        return True
    return (
        len(title.split()) <= 3
        and ": " not in title
        and len(_TITLE_SEP.split(title)) == 1
        and is_site_part(title, keys)
    )


def clean_title(raw: str | None, *, site_names: list[str], url: str | Sequence[str], h1: list[str]) -> str | None:
    """Strip "Title | Site", "Title - Site", "Site: Title" using what we know of the site."""
    if not raw:
        return None
    title = squash(normalise_unicode(raw))
    if not title:
        return None
    h1_keys = {text_key(h): h for h in h1 if len(h) >= 3}
    if text_key(title) in h1_keys:
        return title
    keys = site_keys(site_names, url)
    prefix, colon, rest = title.partition(": ")
    if (
        colon
        and rest
        and len(prefix.split()) <= 5
        and len(_TITLE_SEP.split(prefix)) == 1
        and is_site_part(prefix, keys)
    ):
        title = rest.strip()
    parts = _TITLE_SEP.split(title)
    if len(parts) > 1:
        seps = _TITLE_SEP.findall(title)
        # Drop site-name parts from either end.
        start, end = 0, len(parts)
        while end - start > 1 and is_site_part(parts[end - 1], keys):
            end -= 1
        while end - start > 1 and is_site_part(parts[start], keys):
            start += 1
        if (start, end) != (0, len(parts)):
            return _join(parts, seps, start, end)
        # An h1 that is one side of the title is the headline.
        for i in range(len(parts)):
            for j in range(i + 1, len(parts) + 1):
                if (i, j) != (0, len(parts)) and text_key(_join(parts, seps, i, j)) in h1_keys:
                    return _join(parts, seps, i, j)
        # Unknown trailing segment after a pipe is section/site furniture.
        if seps and "|" in seps[-1] and len(parts[-1].split()) <= 5 and len(parts[0].split()) >= 2:
            end = len(parts) - 1
            while end > 1 and "|" in seps[end - 1] and len(parts[end - 1].split()) <= 3:
                end -= 1
            return _join(parts, seps, 0, end)
    return title


def _join(parts: list[str], seps: list[str], start: int, end: int) -> str:
    out = parts[start]
    for i in range(start + 1, end):
        out += seps[i - 1] + parts[i]
    return out.strip()


def _word_overlap(a: str, b: str) -> float:
    wa, wb = set(key_words(a)), set(key_words(b))
    return len(wa & wb) / max(1, min(len(wa), len(wb)))


_TRAILER_SEP = re.compile(r"\s+(?:[|–—]|-{1,2})\s+|\s*\|\s*")


def drop_trailer(title: str) -> str:
    """Drop what follows the first spaced dash or pipe: a site name or a tagline.

    "Title - Site" is the commonest shape of a stated title; when the site is unknown the
    trailing part is still far more often furniture (site, section, tagline) than headline.
    """
    parts = _TRAILER_SEP.split(title, maxsplit=1)
    if len(parts) == 2 and len(parts[0].split()) >= 2 and len(parts[0]) >= 10:
        return parts[0].strip()
    return title


# Where the chosen title came from ("stated-prefix", "h1-equals-stated", "h1-overlaps-stated",
# "stated", "h1") for which a trailing " - part" is kept rather than dropped as furniture. "h1":
# an h1 no stated title confirms is shown whole (site names sit in <title>, not in the h1;
# t-eval +2 pages, WCXB unchanged). Keeping it where the h1 equals a stated title gains on
# trafilatura-eval (whose labels keep subtitles) and loses on WCXB (whose labels drop them);
# ``python -m bench.title_variants`` measures each.
KEEP_TRAILER: frozenset[str] = frozenset({"h1"})
# "site-template": kept where a stated title shows the dash part before a recognised site name
# ("Headline – Subtitle | Site"), whatever the source.
TITLE_SOURCES = ("stated-prefix", "h1-equals-stated", "h1-overlaps-stated", "stated", "h1", "site-template")


# A title's dash part is kept where the page states the headline with it on its own: its
# JSON-LD ``headline`` (the CMS's headline field, not the SEO <title> that og:title often
# copies), or an og:title that the <title> repeats before a short tail ("Headline – Subtitle"
# and "Headline – Subtitle | Site": the site's template appends its name to the headline, so the
# dash part is the headline's). Measured rule by rule in docs/normalisation.md (titles):
# trafilatura-eval +30 pages and -0, WCXB no page changed.
DECLARED_KEEPS = frozenset({"h1-equals-stated", "h1-overlaps-stated", "h1", "stated", "stated-prefix"})
_TEMPLATE_TAIL_WORDS = 7


def _declared(ld_headline: str | None, og: str | None, title_tag: str | None) -> frozenset[str]:
    """Keys of headlines the page states whole (see DECLARED_KEEPS)."""
    out = set()
    if ld_headline:
        out.add(text_key(normalise_unicode(ld_headline)))
    if og and title_tag:
        bare = squash(normalise_unicode(html_unescape(og)))
        templated = squash(normalise_unicode(html_unescape(title_tag)))
        tail = templated[len(bare) :]
        if bare and templated.startswith(bare) and _TITLE_SEP.match(tail) and len(tail.split()) <= _TEMPLATE_TAIL_WORDS:
            out.add(text_key(bare))
    return frozenset(out)


def _trimmed(
    source: str, title: str, templated: frozenset[str] = frozenset(), declared: frozenset[str] = frozenset()
) -> str:
    if "site-template" in KEEP_TRAILER and text_key(title) in templated:
        return title
    if source in DECLARED_KEEPS and declared and text_key(title) in declared:
        return title
    return title if source in KEEP_TRAILER else drop_trailer(title)


def _templated(raws: list[str | None], keys: set[str]) -> frozenset[str]:
    """Keys of stated titles "Headline - Subtitle | Site" with the recognised site part dropped:
    the publisher's template is "headline | site", so the dash part belongs to the headline."""
    out = set()
    for raw in raws:
        if not raw:
            continue
        text = squash(normalise_unicode(html_unescape(raw)))
        parts = _TITLE_SEP.split(text)
        if len(parts) >= 3 and is_site_part(parts[-1], keys):
            out.add(text_key(_join(parts, _TITLE_SEP.findall(text), 0, len(parts) - 1)))
    return frozenset(out)


_KICKER_MAX_WORDS = 6


def _without_kicker(h1s: list[str], h1_parts: list[tuple[str, ...]], stated: list[str]) -> str | None:
    """The headline without its kicker: an ``<h1>`` and a stated title that agree but for a few
    leading words on one side share the headline as a suffix. In the ``<h1>`` the kicker is its
    own element ("<span>Tunesien</span> Große Aufgaben ..." and og:title "Große Aufgaben ...");
    in a stated title it ends with a colon or a dash ("Chronik: Lotte Tobisch ist tot")."""
    for h, parts in zip(h1s[:2], h1_parts[:2], strict=False):
        hk = text_key(h)
        tails = {text_key(" ".join(parts[i:])) for i in range(1, len(parts))}
        for c in stated:
            for part in dict.fromkeys([c, *_KICKER_SPLIT.split(c, maxsplit=1)[1:]]):
                pk = text_key(part)
                if not pk or len(part.split()) < 2:
                    continue
                if part is not c and pk == hk:
                    return h
                if pk in tails and len(h.split()) - len(part.split()) <= _KICKER_MAX_WORDS:
                    return part.strip()
    return None


_KICKER_SPLIT = re.compile(r":\s+|\s+[|–—]\s+|\s+-\s+")


def _kicker_element_dropped(stated: str, parts: tuple[str, ...]) -> str | None:
    """The headline of an ``<h1>`` whose first element is a kicker: the ``<h1>`` sets it apart
    in its own element ("<span>Olympische Spiele in Paris</span> Getränke per Schiff ...") and
    the stated title equal to the ``<h1>`` sets it apart with a separator ("Olympische Spiele
    in Paris - Getränke per Schiff ..."): both say it is not part of the headline."""
    if len(parts) < 2 or len(parts[0].split()) > _KICKER_MAX_WORDS:
        return None
    if parts[0].rstrip().endswith(":") or parts[1].lstrip().startswith(":"):
        return None  # "Kicker: Headline" shown with its colon reads as one title
    pieces = _KICKER_SPLIT.split(stated, maxsplit=1)
    if len(pieces) != 2 or text_key(pieces[0]) != text_key(parts[0]) or len(pieces[1].split()) < 2:
        return None
    return pieces[1].strip()


def _h1_site_names(h1s: list[str], raws: list[str | None], keys: set[str]) -> list[str]:
    """``<h1>`` texts that are the trailing part of a stated title ("Headline | Blog Name" over
    ``<h1>Blog Name</h1>``): blog themes spend the first ``<h1>`` on the site's name, and the
    publisher's template puts that name last. Not when the leading part is the site's name
    ("Site » Headline"), is shorter than the ``<h1>`` ("Section | Headline") or a stated title
    is the ``<h1>`` alone: then the ``<h1>`` is the headline."""
    texts = [squash(normalise_unicode(html_unescape(raw))) for raw in raws if raw]
    whole = {text_key(t) for t in texts}
    out: list[str] = []
    for text in texts:
        parts = _TITLE_SEP.split(text)
        if len(parts) < 2 or len(" ".join(parts[:-1]).split()) < 2:
            continue
        if any(is_site_part(p, keys) for p in parts[:-1]):
            continue
        last, lead_words = text_key(parts[-1]), len(" ".join(parts[:-1]).split())
        # a site's name is not longer than the headline it follows ("Section | Long Headline")
        out.extend(
            h for h in h1s if len(h) >= 3 and text_key(h) == last and last not in whole and len(h.split()) <= lead_words
        )
    return list(dict.fromkeys(out))


# The page's only <h1>, of at least this many words, is the headline shown even when it shares
# no words with the stated (SEO) titles. Measured with bench.title_variants' scorer: t-eval +5/-1
# pages, WCXB +2/-2 (its labels follow the <h1> on two pages and og:title on two); 3 words loses
# 3 more WCXB pages, 0 turns it off.
SOLE_H1_WINS = 4
_BLOG_ARCHIVE = re.compile(r"(.+?)\s*[»|]\s*Blog[- ]Archiv(?:e|es)?\s*[»|]\s*(?=\S)", re.I)


def choose_title(pm: PageMeta, url: str, site_names: list[str]) -> str | None:
    """The headline as shown: a visible h1 that is not the site's logo wins over SEO titles."""
    art = pm.ld_article()
    ld_headline = None
    if art is not None:
        value = art.get("headline") or art.get("name")
        if isinstance(value, str):
            ld_headline = squash(html_unescape(value))
    og = pm.first("og:title", "twitter:title", "dc.title", "parsely-title", "sailthru.title")
    urls = site_urls(pm, url)
    keys = site_keys(site_names, urls)
    logo_h1 = _h1_site_names(pm.h1, [og, ld_headline, pm.title_tag], keys)
    if logo_h1:
        site_names = [*site_names, *logo_h1]
        keys = site_keys(site_names, urls)
    templated = _templated([og, ld_headline, pm.title_tag], keys)
    declared = _declared(ld_headline, og, pm.title_tag)
    stated = [squash(normalise_unicode(html_unescape(c))) for c in (og, ld_headline, pm.title_tag) if c]
    # WordPress's default template: "Site » Blog Archive » Headline"; the leading part is the site
    archived = [m for m in (_BLOG_ARCHIVE.match(c) for c in stated) if m]
    if archived:
        site_names = [*site_names, *(m[1] for m in archived)]
        keys = site_keys(site_names, urls)
        stated = [c[m.end() :] if (m := _BLOG_ARCHIVE.match(c)) else c for c in stated]
    # a stated title that is the site's name alone ("City Herald"), not "Headline - City Herald"
    stated = [c for c in stated if c and not _is_site_name(c, keys)]
    # a stated title of one or two words sharing no word with a long h1: the site's name
    long_h1_words = [set(key_words(h)) for h in pm.h1 if len(h.split()) >= 4]
    stated = [
        c
        for c in stated
        if len(c.split()) > 2 or not long_h1_words or any(set(key_words(c)) & w for w in long_h1_words)
    ]
    h1_pairs = [
        (h, parts)
        for h, parts in zip(
            (squash(normalise_unicode(h)) for h in pm.h1), pm.h1_parts or [()] * len(pm.h1), strict=False
        )
        if h and not is_site_part(h, keys) and len(h) <= 300
    ]
    h1s = [h for h, _ in h1_pairs]
    h1_parts = [tuple(normalise_unicode(p) for p in parts) for _, parts in h1_pairs]
    h1_keys = {text_key(h) for h in h1s}
    cleaned_stated = [c for c in (clean_title(s, site_names=site_names, url=urls, h1=h1s) for s in stated) if c]
    by_key = {text_key(h): h for h in reversed(h1s)}
    # The visible h1 agreeing with a stated title, before anything else. Site-name parts are
    # dropped here by what is known of the site only, not by matching an h1 (an h1 can be the
    # site's own name: "Title | Blog Name" over <h1>Blog Name</h1>).
    plain_stated = [c for c in (clean_title(s, site_names=site_names, url=urls, h1=[]) for s in stated) if c]
    parts_by_key = {text_key(h): parts for h, parts in zip(h1s, h1_parts, strict=False)}
    for cleaned in plain_stated:
        if text_key(cleaned) in h1_keys:
            shown = by_key[text_key(cleaned)]
            headline = _kicker_element_dropped(cleaned, parts_by_key.get(text_key(cleaned), ()))
            return _trimmed("h1-equals-stated", headline or shown, templated, declared)
    kicked = _without_kicker(h1s, h1_parts, plain_stated)
    if kicked is not None:
        return _trimmed("h1-equals-stated", kicked, templated, declared)
    # A stated title that is the first part of another one ("T" and "T | Blog").
    stated_keys = {text_key(c) for c in stated}
    for c in stated:
        first = _TITLE_SEP.split(c)[0]
        if first != c and text_key(first) in stated_keys:
            return _trimmed("stated-prefix", first, templated, declared)
    for cleaned in cleaned_stated:
        if text_key(cleaned) in h1_keys:
            return _trimmed("h1-equals-stated", by_key[text_key(cleaned)], templated, declared)
    # An h1 that is a stated title followed by three words or more (a subtitle or a byline set
    # inside the h1): the stated title is the headline. Fewer: the stated title is cut short.
    for c in cleaned_stated:
        ck = text_key(c)
        if len(c.split()) >= 3 and any(
            text_key(h).startswith(ck) and len(h.split()) - len(c.split()) >= 3 for h in h1s
        ):
            return _trimmed("stated", c, templated, declared)
    # The first h1 that shares words with a stated title (or any h1 if nothing is stated).
    firsts = [_TITLE_SEP.split(c)[0] for c in cleaned_stated]
    for h in h1s:
        if len(h.split()) < 2 and cleaned_stated:
            continue
        if not cleaned_stated or any(
            _word_overlap(h, c) >= 0.3 and len(set(key_words(h)) & set(key_words(c))) >= 2 for c in firsts
        ):
            return _trimmed("h1-overlaps-stated", h, templated, declared)
    if SOLE_H1_WINS and len(pm.h1) == 1 and len(h1s) == 1 and len(h1s[0].split()) >= SOLE_H1_WINS:
        return _trimmed("h1", h1s[0], templated, declared)
    if cleaned_stated:
        return _trimmed("stated", cleaned_stated[0], templated, declared)
    return _trimmed("h1", h1s[0], templated, declared) if h1s else None


# A part at either end of at least this many of a site's (distinct) titles, set off by a
# separator, is the site's name: "Headline A | City Herald", "Headline B | City Herald", ...
SITE_AFFIX_MIN_TITLES = 3
SITE_AFFIX_MIN_SHARE = 0.25
_SITE_AFFIX_MAX_WORDS = 8


def learn_site_names(titles: Sequence[str], min_titles: int = SITE_AFFIX_MIN_TITLES) -> tuple[str, ...]:
    """Site names learned from a site's other titles (the titles of a feed's recent entries and
    articles): the leading or trailing part that at least ``min_titles`` distinct titles, and a
    quarter of them, share.
    A page alone cannot tell "Headline - Subtitle" from "Headline - Site"; the site's other
    pages can, since only the site's name repeats."""
    counts: dict[str, int] = {}
    shown: dict[str, str] = {}
    seen: set[str] = set()
    for raw in titles:
        text = squash(normalise_unicode(raw or ""))
        key = text_key(text)
        if not key or key in seen:
            continue
        seen.add(key)
        parts = _TITLE_SEP.split(text)
        ends = [parts[-1], parts[0]] if len(parts) > 1 else []
        lead, colon, rest = text.partition(": ")
        if colon and rest and len(parts) == 1:
            ends.append(lead)
        for pk, part in {text_key(p): p for p in ends}.items():
            if pk and len(part.split()) <= _SITE_AFFIX_MAX_WORDS and pk != key:
                counts[pk] = counts.get(pk, 0) + 1
                shown.setdefault(pk, part.strip())
    # ... and by a quarter of them: a feed that mixes sites (an aggregator) shares "Video" or
    # "Live" between a few titles, not its sites' names
    least = max(min_titles, SITE_AFFIX_MIN_SHARE * len(seen))
    return tuple(shown[k] for k, n in counts.items() if n >= least)


def strip_site_names(title: str | None, names: Sequence[str]) -> str | None:
    """``title`` without a leading or trailing part that is one of the learned ``names``."""
    if not title or not names:
        return title
    keys = {text_key(n) for n in names}
    parts = _TITLE_SEP.split(title)
    seps = _TITLE_SEP.findall(title)
    start, end = 0, len(parts)
    while end - start > 1 and text_key(parts[end - 1]) in keys:
        end -= 1
    while end - start > 1 and text_key(parts[start]) in keys:
        start += 1
    out = _join(parts, seps, start, end) if (start, end) != (0, len(parts)) else title
    lead, colon, rest = out.partition(": ")
    if colon and rest.strip() and text_key(lead) in keys:
        out = rest.strip()
    return out


_H1 = etree.XPath("//body//h1")
_H2 = etree.XPath("//body//h2")


def find_headline(tree: HtmlElement, title: str | None) -> HtmlElement | None:
    """The story's headline element: the first ``<h1>`` that reads like the page's title,
    else an ``<h2>`` that does (themes that spend ``<h1>`` on the logo or "0 Comments"),
    else the first non-empty ``<h1>`` (empty ones hold logos)."""
    title_words = set(key_words(title or ""))

    def like_title(text: str) -> bool:
        words = set(key_words(text))
        return bool(title_words) and len(words & title_words) >= 0.6 * max(len(words), len(title_words))

    first_h1: HtmlElement | None = None
    for el in _H1(tree):
        text = squash(el.text_content())
        if text and like_title(text):
            return el
        if text and first_h1 is None:
            first_h1 = el
    if title_words:
        for el in _H2(tree):
            if like_title(squash(el.text_content())):
                return el
    return first_h1


def publisher_names(pm: PageMeta) -> list[str]:
    names: list[str] = []
    for obj in pm.jsonld:
        raw = obj.get("@type")
        types = {str(t).lower() for t in (raw if isinstance(raw, list) else [raw])}
        if types & {"organization", "newsmediaorganization", "website"}:
            names.extend(jsonld_names(obj, people_only=False))
        names.extend(jsonld_names(obj.get("publisher"), people_only=False))
    return names[:4]


def drop_leading_title(cleaned: CleanedText, title: str | None) -> CleanedText:
    """Extractors sometimes repeat the headline as the first paragraph; the title field has it."""
    if not title or not cleaned.paragraphs or text_key(cleaned.paragraphs[0]) != text_key(title):
        return cleaned
    pars = cleaned.paragraphs[1:]
    return CleanedText("\n\n".join(pars), pars, cleaned.dateline, (*cleaned.dropped, cleaned.paragraphs[0]))
