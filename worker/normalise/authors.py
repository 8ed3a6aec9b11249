"""Authors: JSON-LD first, then author meta tags, then a visible byline next to the headline,
then the page's author markup (rel=author, hCard, microdata); names only (no "By", roles,
dates, e-mail addresses, site names, companies)."""

from __future__ import annotations

import html
import re
from typing import Any

from lxml import etree
from lxml.html import HtmlElement

from worker.normalise.dates import MONTH_STEMS
from worker.normalise.pagemeta import AUTHOR_ELEMENT_PATHS, PageMeta, byline_texts, jsonld_names
from worker.normalise.textclean import normalise_unicode, text_key

_BY_PREFIX = re.compile(
    r"^(?:(?:written|posted|reported|published|story|text|words|photos?|reviewed|edited|compiled"
    r"|medically reviewed|fact[- ]checked)\s+by|by|von|par|por|di|door|av|author|authors|autor"
    r"|auteur|reporter|writer|contributor|posted)\b\s*[:|-]?\s*",
    re.I,
)
# Byline labels of other languages and the links to an author's page ("Veröffentlicht von",
# "Publié par", "Alle Beiträge von", "View all posts by"): templates put them before the name.
_BY_PREFIX_MORE = re.compile(
    r"^(?:(?:veröffentlicht|eingestellt|erstellt|verfasst|geschrieben|gespeichert|gepostet|text"
    r"|ein beitrag|ein artikel|beitrag|artikel|autorenseite|alle beiträge|alle artikel|alles|mehr"
    r"|weitere artikel|weitere beiträge)\s+von|(?:publié|écrit|rédigé|article)\s+par"
    r"|(?:escrito|publicado|redactado)\s+por|(?:scritto|pubblicato)\s+da|geschreven\s+door"
    r"|(?:skrivet|publicerad)\s+av|(?:view\s+)?(?:all\s+)?(?:posts|articles|stories)\s+by"
    r"|more\s+(?:from|by)|autoren|autorinnen|autorin|auteurs|autores|autori|redaktion:)\b\s*[:|-]?\s*",
    re.I,
)
# German job titles, also in compounds ("FOCUS-Online-Experte Robin Tschöpe").
_ROLE_WORDS_DE = re.compile(
    r"\b[\w-]*(?:redakteur|redaktorin|redaktor|experte|expertin|korrespondent|reporterin|autorin"
    r"|gastautor|volontär|fotograf)(?:in|innen)?\b",
    re.I,
)
# Legal forms of companies and associations: such a credit ("Olympia-Verlag GmbH, Nürnberg,
# Germany", "wegewerk GmbH", the web agency) names an organisation, not a writer.
_LEGAL_FORM = re.compile(
    r"\b(?:gmbh|mbh|ag|se|kg|kgaa|ohg|eg|e\.\s?v|inc|ltd|llc|plc|gbr|s\.a|s\.l|s\.p\.a|b\.v|n\.v)\b",
    re.I,
)
_NO_AUTHOR = frozenset({"noauthor", "unknownauthor", "keinautor"})
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
    rf"|\d{{1,2}}[./-]\d{{1,2}}[./-]\d{{2,4}}"
    rf"|\d{{4}}|(?:{'|'.join(m for m in MONTH_STEMS if m != 'may')})[a-z]*\.? \d)",
    re.I,
)
_SPLIT_AUTHORS = re.compile(r"\s*(?:;|&|\||\x1f|\band\b|\bund\b|\bet\b|\by\b|,|\bwith\b|·|•)\s*", re.I)
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
        "review",
        "reviews",
        "rating",
        "relevance",
        "popularity",
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


def clean_authors(raw_names: list[str], *, site_keys: set[str], strict: bool = False) -> tuple[str, ...]:
    """Names only: no "By", roles, dates, e-mail addresses, URLs or site names.

    ``strict`` is for free text found on the page (bylines), where only person-shaped names
    (two to four capitalised words) are believed.
    """
    out: list[str] = []
    seen: set[str] = set()
    for raw in raw_names:
        if "&" in raw:
            raw = html.unescape(raw)  # "Redacci&oacute;n" in JSON-LD and meta values
        text = normalise_unicode(raw.replace("\x1f", "\n")).replace("\n", "\x1f")
        text = re.sub(r"[ \t]+", " ", text).strip()
        if not text or "://" in text or text.startswith("www."):
            continue
        text = re.sub(r"\S+@\S+", " ", text)
        m = _DATE_WORDS.search(text, 3)  # "Posted by X on May 5": the opener is not the date
        if m:
            text = text[: m.start()]
        text = _BY_PREFIX_MORE.sub("", text.strip(" |-–—:,\x1f"))
        text = _BY_PREFIX.sub("", text.strip(" |-–—:,\x1f"))
        if _LEGAL_FORM.search(text) or text_key(text) in _NO_AUTHOR:
            continue
        names: list[str] = []
        # "Name - Role", "Name | Site", "Andrea Valeria - Remote Jobs" (a display name with a
        # tagline): what follows a spaced dash is never another author (on the development sets
        # a person-shaped tail was a tagline or a shop's name every time).
        pieces = _SPLIT_AUTHORS.split(_ROLE_SEP.split(text, maxsplit=1)[0])
        for piece in pieces:
            piece = _BY_PREFIX_MORE.sub("", piece.strip(" .|-–—:,()"))
            piece = _BY_PREFIX.sub("", piece.strip(" .|-–—:,()"))
            piece = _ROLE_WORDS_DE.sub("", piece).strip(" ,.-|")
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
            if " " not in name.strip() and any(s.startswith(k) and len(s) <= len(k) + 3 for s in site_keys):
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
    names = _stated_authors(pm, site_keys, tree)
    if not names:
        return _byline_authors(tree, site_keys, headline)
    if any(" " in n for n in names):
        return names
    for full in _byline_authors(tree, site_keys, headline):
        if full.split()[0].casefold() == names[0].casefold():
            return (full, *names[1:])
    return names


def _stated_authors(pm: PageMeta, site_keys: set[str], tree: HtmlElement) -> tuple[str, ...]:
    art = pm.ld_article()
    if art is not None:
        value = art.get("author") or art.get("creator")
        names = clean_authors(jsonld_names(value), site_keys=site_keys)
        if names:
            return names
        # Yoast's graph points to a Person node ({"@id": ...}): the site's account for the post,
        # often a login handle or a name the page never shows, so it must be shown to count.
        resolved = _resolve_refs(value, pm)
        if resolved is not value:
            names = clean_authors(jsonld_names(resolved), site_keys=site_keys)
            if names and _shown(names, tree):
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


def _resolve_refs(value: object, pm: PageMeta) -> object:
    """``{"@id": ...}`` references replaced by the JSON-LD node they point to (``value`` itself
    when there is none)."""
    items = value if isinstance(value, list) else [value]
    if not any(isinstance(i, dict) and "name" not in i and isinstance(i.get("@id"), str) for i in items):
        return value
    ids = {o["@id"]: o for o in pm.jsonld if isinstance(o.get("@id"), str)}
    return [
        ids.get(i["@id"], i) if isinstance(i, dict) and "name" not in i and isinstance(i.get("@id"), str) else i
        for i in items
    ]


_BODY_TEXT = etree.XPath("//body//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]")


def _shown(names: tuple[str, ...], tree: HtmlElement) -> bool:
    """Every name is in the page's visible text (spacing and case aside)."""
    body = " ".join(" ".join(_BODY_TEXT(tree)).split()).casefold()
    return all(" ".join(n.split()).casefold() in body for n in names)


def _byline_authors(tree: HtmlElement, site_keys: set[str], headline: HtmlElement | None) -> tuple[str, ...]:
    texts = byline_texts(tree, headline, xpath=_byline_hits)
    # Three or more "by ..." lines are a list of other items (forum topics, products), not a byline.
    listing = len({t for t in texts if _OPENER.match(t)}) > 2
    for node in texts:
        names = clean_authors([node], site_keys=site_keys, strict=True)
        if names:
            return names
        if not listing and _OPENER.match(node):
            # "Posted by Konstantin", "von Ulrike": one capitalised name after an explicit opener
            names = clean_authors([node], site_keys=site_keys)
            if len(names) == 1 and " " not in names[0] and names[0][0].isupper():
                return names
    return _marked_up_authors(tree, site_keys, headline) or _labelled_author_anywhere(tree, site_keys)


def _labelled_author_anywhere(tree: HtmlElement, site_keys: set[str]) -> tuple[str, ...]:
    """The last resort: an author element anywhere on the page that labels its name ("By:
    Melissa Dittmann Tracey", "Author Maryna Shulzhenko"), where every such label names one
    person. Author boxes sit beside the article or below it, out of the headline's reach;
    unlabelled author elements are also the writers of the related stories listed around it."""
    found: set[str] = set()
    first: tuple[str, ...] = ()
    for node in byline_texts(tree, None, limit=40, xpath=_AUTHOR_CLASSES, whole_page=True):
        if not _LABEL.match(node):
            continue
        names = clean_authors([node], site_keys=site_keys, strict=True)
        if names:
            first = first or names
            found.update(text_key(n) for n in names)
    return first if len(found) == 1 else ()


# The page's elements with an author or byline class (the whole page's rel/href/itemprop tests
# would cost as much again, ~1 ms a page, for no page of the development sets).
_AUTHOR_CLASSES = etree.XPath("//@class[contains(.,'author') or contains(.,'Author') or contains(.,'byline')]/..")


# Text nodes that open a byline, in the languages of the development sets and their neighbours
# (XPath 1.0 has no case folding, so the usual spellings are listed).
_OPENERS = (
    "By ", "by ", "BY ", "Written by", "Posted by", "Von ", "von ", "VON ", "Von:", "Par ", "par ",
    "PAR ", "Por ", "por ", "POR ", "Autor:", "Autor ", "Autoren", "Autorin", "Author:", "Auteur",
    "Auteurs", "Autore", "Text:", "Text von", "Texto:", "Veröffentlicht von", "Eingestellt von",
    "Erstellt von", "Verfasst von", "Geschrieben von", "Gespeichert von", "Ein Artikel von",
    "Ein Beitrag von",
)  # fmt: skip
# An opener that is a text node of its own, the name in the next element ("<span>By</span><span><a>
# Alex Bozarjian</a></span>"): the one-word openers ("By ", "Von ", "Par "), with or without a colon
_BARE_OPENERS = frozenset(
    form for o in _OPENERS if o.endswith(" ") and " " not in o.strip() for form in (o.strip(), o.strip() + ":")
)
_OPENER = re.compile(
    r"^\s*(?:by|von|par|por|posted by|written by|veröffentlicht von|eingestellt von|erstellt von"
    r"|verfasst von|geschrieben von|gespeichert von|ein artikel von|ein beitrag von)[\s:]",
    re.I,
)
# One normalize-space per text node: its first word is looked up among the openers' first words,
# and the few hits are checked against the openers in Python (35 starts-with tests in XPath
# cost 2 ms a page).
# An opener or an "Author" label: what an author element far from the headline must start with.
_LABEL = re.compile(r"^\s*(?:author|autor|autorin|auteur|autore)[\s:]|" + _OPENER.pattern[1:], re.I)
_FIRST_WORDS = {o.split()[0].rstrip(":") for o in _OPENERS}
_OPENER_WORDS = "|" + "|".join(sorted(_FIRST_WORDS | {w + ":" for w in _FIRST_WORDS})) + "|"
_BYLINE_HITS = etree.XPath(
    AUTHOR_ELEMENT_PATHS + f" | .//text()[contains('{_OPENER_WORDS}',"
    " concat('|', substring-before(concat(normalize-space(.), ' '), ' '), '|'))]"
)


def _byline_hits(scope: HtmlElement) -> list[Any]:
    """Author elements and the text nodes that open with one of ``_OPENERS``, or are one of
    ``_BARE_OPENERS`` alone (the name in the next element)."""
    return [
        hit
        for hit in _BYLINE_HITS(scope)
        if isinstance(hit, etree._Element)
        or (text := " ".join(str(hit).split())).startswith(_OPENERS)
        or text in _BARE_OPENERS
    ]


# Elements whose own text is the author's name by the page's markup: a link to the author
# (rel=author), an hCard "fn" inside an "author" element, schema.org microdata. Comments, forum
# posts, answers and product reviews carry the same markup for their writers and are left out.
# (Attributes tested as nodes: 0.5 instead of 1.2 ms a page, the same elements on every page.)
_MARKED_AUTHORS = etree.XPath(
    "(.//a/@rel[contains(concat(' ', normalize-space(.), ' '), ' author ')]/.."
    " | descendant::*/@itemprop[.='author']/../descendant::*/@itemprop[.='name']/.."
    " | descendant::*/@itemprop[.='author']/parent::*[not(descendant::*[@itemprop='name'])]"
    " | descendant::*/@class[contains(., 'author')]/../descendant::*/@class[contains(., 'fn')]/..)"
    "[not(ancestor-or-self::*[contains(@class, 'comment') or contains(@id, 'comment')"
    " or contains(@itemtype, 'Comment') or contains(@itemtype, 'Review') or contains(@itemtype, 'Answer')"
    " or contains(@itemtype, 'Question') or contains(@itemtype, 'DiscussionForumPosting')])]"
)


def _is_author_markup(el: HtmlElement) -> bool:
    """``rel=author``, microdata, or an hCard ``fn`` inside an element of class ``author`` (the
    XPath's class tests also match "author-box" and "fname")."""
    if "author" in (el.get("rel") or "").lower().split() or el.get("itemprop") in ("author", "name"):
        return True
    if "fn" not in (el.get("class") or "").split():
        return False
    return any("author" in (a.get("class") or "").split() for a in el.iterancestors())


def _marked_up_authors(tree: HtmlElement, site_keys: set[str], headline: HtmlElement | None) -> tuple[str, ...]:
    """The name in the page's author markup near the headline: its own text, so one word
    ("Heiko", "Realiberry") is believed here as it is not in free text."""
    scope = tree
    if headline is not None:
        ancestors = [a for a in headline.iterancestors() if a.tag not in ("body", "html")]
        if ancestors:
            scope = ancestors[min(3, len(ancestors) - 1)]
    for el in _MARKED_AUTHORS(scope):
        if not _is_author_markup(el):
            continue
        text = " ".join(el.text_content().split())
        if text and len(text) <= 60:
            names = clean_authors([text], site_keys=site_keys)
            if names:
                return names
    return ()
