"""Authors: JSON-LD first, then author meta tags, then a visible byline next to the headline;
names only (no "By", roles, dates, e-mail addresses, site names)."""

from __future__ import annotations

import re

from lxml.html import HtmlElement

from worker.normalise.dates import MONTH_STEMS
from worker.normalise.pagemeta import PageMeta, byline_texts, jsonld_names
from worker.normalise.textclean import normalise_unicode, text_key

_BY_PREFIX = re.compile(
    r"^(?:(?:written|posted|reported|published|story|text|words|photos?|reviewed|edited|compiled"
    r"|medically reviewed|fact[- ]checked)\s+by|by|von|par|por|di|door|av|author|authors|autor"
    r"|auteur|reporter|writer|contributor|posted)\b\s*[:|-]?\s*",
    re.I,
)
_ROLE_WORDS = re.compile(
    r"\b(?:staff|senior|junior|chief|managing|executive|deputy|associate|contributing|guest|special"
    r"|political|foreign|business|science|health|technology|tech|sports?|news|digital|features?"
    r"|investigative|national|international|freelance|lead|former|white house|editorial)?\s*"
    r"(?:writer|reporter|editor|correspondent|columnist|contributor|journalist|producer|analyst"
    r"|photographer|critic|author|staff|team|desk|intern|anchor|host|blogger|expert)s?\b",
    re.I,
)
_CREDENTIAL = re.compile(
    r"^(?:md|m\.d\.|phd|ph\.d\.|rn|ms|msc|ma|mba|mph|rdn|ld|do|dds|cpa|cfp|jr\.?|sr\.?|ii|iii|iv"
    r"|facs|faap|lcsw|np|pa-c|cscs|cpt|bsn|esq\.?|dvm|rd|ibclc|cde|cdces|lmft|psyd)$",
    re.I,
)
_DATE_WORDS = re.compile(
    rf"\b(?:updated|published|posted|last modified|on (?:{'|'.join(MONTH_STEMS)})|\d{{1,2}}:\d{{2}}"
    rf"|\d{{4}}|(?:{'|'.join(m for m in MONTH_STEMS if m != 'may')})[a-z]*\.? \d)",
    re.I,
)
_SPLIT_AUTHORS = re.compile(
    r"\s*(?:;|&|\||\x1f|\band\b|\bund\b|\bet\b|\by\b|,|\bwith\b|·|•)\s*", re.I
)
_ROLE_SEP = re.compile(r"\s+[-–—|]\s+")
_NAME_OK = re.compile(r"^[^\W\d_][\w’'.\- ]*[\w.]$")
_PARTICLES = frozenset(
    {
        "de",
        "van",
        "von",
        "der",
        "den",
        "bin",
        "al",
        "da",
        "di",
        "la",
        "le",
        "du",
        "dos",
        "das",
        "del",
        "el",
        "ibn",
        "ter",
        "ten",
        "st.",
        "mc",
        "y",
    }
)
_NOT_NAMES = frozenset(
    {
        "admin",
        "administrator",
        "staff",
        "editor",
        "editors",
        "team",
        "guest",
        "user",
        "webmaster",
        "sign",
        "in",
        "community",
        "podcast",
        "marketing",
        "home",
        "about",
        "contact",
        "share",
        "our",
        "news",
        "blog",
        "read",
        "more",
        "follow",
        "subscribe",
        "login",
        "log",
        "menu",
        "search",
        "written",
        "posted",
        "updated",
        "published",
        "reviewed",
        "the",
        "a",
        "an",
        "of",
        "for",
        "to",
        "by",
        "view",
        "all",
        "posts",
        "articles",
        "profile",
        "bio",
        "email",
        "twitter",
        "facebook",
        "linkedin",
        "instagram",
        "comments",
        "comment",
        "reply",
        "min",
        "mins",
        "minute",
        "minutes",
        "featured",
        "sponsored",
        "partner",
        "content",
        "desk",
        "wire",
        "services",
        "service",
        "press",
        "media",
        "inc",
        "llc",
        "ltd",
        "company",
        "group",
        "magazine",
        "newsletter",
        "unknown",
        "anonymous",
        "hardware",
        "software",
        "support",
        "info",
        "help",
        "print",
        "save",
        "listen",
        "audio",
        "video",
        "photo",
        "photos",
        "image",
        "images",
        "source",
        "sources",
        "editorial",
        "board",
        "opinion",
        "multiplatform",
        "producer",
        "senior",
        "manager",
        "coordinator",
        "event",
        "director",
        "officer",
        "specialist",
        "founder",
        "ceo",
        "president",
        "head",
        "lead",
        "expert",
        "experts",
        "reviewer",
    }
)


def _person_like(name: str, strict: bool) -> bool:
    words = name.split(",")[0].split()
    if not words or len(words) > 5:
        return False
    lowered = [w.casefold().strip(".") for w in words]
    if any(w in _NOT_NAMES for w in lowered):
        return False
    if not strict:
        return True
    if not 2 <= len(words) <= 4:
        return False
    return all(w[0].isupper() or w.casefold() in _PARTICLES for w in words)


def clean_authors(
    raw_names: list[str], *, site_keys: set[str], strict: bool = False
) -> tuple[str, ...]:
    """Names only: no "By", roles, dates, e-mail addresses, URLs or site names.

    ``strict`` is for free text found on the page (bylines), where only person-shaped names
    (two to four capitalised words) are believed.
    """
    out: list[str] = []
    seen: set[str] = set()
    for raw in raw_names:
        text = normalise_unicode(raw.replace("\x1f", "\n")).replace("\n", "\x1f")
        text = re.sub(r"[ \t]+", " ", text).strip()
        if not text or "://" in text or text.startswith("www."):
            continue
        text = re.sub(r"\S+@\S+", " ", text)
        m = _DATE_WORDS.search(text)
        if m and m.start() > 2:
            text = text[: m.start()]
        text = _BY_PREFIX.sub("", text.strip(" |-–—:,\x1f"))
        names: list[str] = []
        # "Name - Role" / "Name | Site": what follows a spaced dash counts only if person-shaped.
        head, *tails = _ROLE_SEP.split(text)
        pieces = _SPLIT_AUTHORS.split(head)
        for tail in tails:
            pieces.extend(p for p in _SPLIT_AUTHORS.split(tail) if _person_like(p.strip(), True))
        for piece in pieces:
            piece = _BY_PREFIX.sub("", piece.strip(" .|-–—:,()"))
            if not piece:
                continue
            if _CREDENTIAL.match(piece):
                if names:
                    names[-1] = f"{names[-1]}, {piece}"
                continue
            stripped = _ROLE_WORDS.sub("", piece).strip(" ,.-|")
            if not stripped:
                continue
            names.append(stripped if _ROLE_WORDS.search(piece) else piece)
        for name in names:
            name = name.strip(" ,-|")
            base = name.split(",")[0]
            if not _NAME_OK.match(base) or len(base) < 2 or not _person_like(name, strict):
                continue
            if " " not in base and (base.islower() or (base.isupper() and len(base) <= 4)):
                continue  # handles and initials ("officialrajdeepsingh", "MCJ")
            k = text_key(name)
            if k in seen or (strict and k in site_keys):
                continue
            if " " not in name.strip() and any(
                s.startswith(k) and len(s) <= len(k) + 3 for s in site_keys
            ):
                continue  # a one-word "author" that is the site's own name is the organisation
            if name.isupper() and len(name) > 4:
                name = name.title()
            seen.add(k)
            out.append(name)
    return tuple(out[:10])


def choose_authors(
    pm: PageMeta, tree: HtmlElement, site_keys: set[str], headline: HtmlElement | None = None
) -> tuple[str, ...]:
    """JSON-LD first, then author meta tags, then a visible byline on the page (next to
    ``headline`` when known).

    CMS display names are often a first name only; the visible byline has the full one.
    """
    names = _stated_authors(pm, site_keys)
    if not names:
        return _byline_authors(tree, site_keys, headline)
    if any(" " in n for n in names):
        return names
    for full in _byline_authors(tree, site_keys, headline):
        if full.split()[0].casefold() == names[0].casefold():
            return (full, *names[1:])
    return names


def _stated_authors(pm: PageMeta, site_keys: set[str]) -> tuple[str, ...]:
    art = pm.ld_article()
    if art is not None:
        names = clean_authors(
            jsonld_names(art.get("author") or art.get("creator")), site_keys=site_keys
        )
        if names:
            return names
    for key in (
        "author#all",
        "article:author#all",
        "parsely-author#all",
        "sailthru.author#all",
        "dc.creator#all",
        "citation_author#all",
        "dcterms.creator#all",
        "byl#all",
        "twitter:creator:name",
    ):
        value = pm.meta.get(key)
        if value:
            names = clean_authors([v for v in value.split("\x1f") if v], site_keys=site_keys)
            if names:
                return names
    for i in range(1, 4):
        label = pm.meta.get(f"twitter:label{i}", "").casefold()
        if label.startswith(("written by", "author")):
            names = clean_authors([pm.meta.get(f"twitter:data{i}", "")], site_keys=site_keys)
            if names:
                return names
    for obj in pm.jsonld:
        if obj is not art and obj.get("author"):
            names = clean_authors(jsonld_names(obj.get("author")), site_keys=site_keys)
            if names:
                return names
    return ()


def _byline_authors(tree: HtmlElement, site_keys: set[str], headline: HtmlElement | None) -> tuple[str, ...]:
    for node in byline_texts(tree, headline):
        names = clean_authors([node], site_keys=site_keys, strict=True)
        if names:
            return names
    return ()

