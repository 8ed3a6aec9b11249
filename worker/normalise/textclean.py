"""Plain-text cleaning shared by page extraction and feed content.

A generic extractor returns the main block of a page; a news pipeline also knows
what wire copy carries that is not story: photo captions printed twice, "Also
Read:" inserts, desk codes such as ``(T/R07/R01)``, agency footers, share and
newsletter prompts, and the dateline prefix (``WASHINGTON (Reuters) -``), which
is parsed into fields and dropped from the text so that syndicated copies of one
story start with the same sentence.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from worker.normalise.dates import parse_loose_date

# ---------------------------------------------------------------- unicode

# Zero-width characters, soft hyphen, bidi marks and BOM: invisible, and they split words.
_INVISIBLE = dict.fromkeys(
    [0x00AD, 0x180E, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0x2061, 0x2062, 0x2063,
     0x2064, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0xFEFF]
)  # fmt: skip
# Control characters except tab and newline; carriage returns become newlines first.
_INVISIBLE.update(dict.fromkeys(c for c in range(0x20) if c not in (0x09, 0x0A)))
_INVISIBLE.update(dict.fromkeys(range(0x7F, 0xA0)))
# Typographic spaces fold to a plain space; line/paragraph separators to newlines.
_SPACES = dict.fromkeys(
    [0x00A0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008,
     0x2009, 0x200A, 0x202F, 0x205F, 0x3000, 0x09],
    " ",
)  # fmt: skip
_SPACES.update({0x2028: "\n", 0x2029: "\n\n", 0x0B: "\n", 0x0C: "\n", 0x85: "\n"})
_TRANSLATE: dict[int, str | None] = {**_INVISIBLE, **_SPACES}
# str.translate looks every character up in the dict (~0.2 ms for an article's text); the few
# that are in it are found by a regex (a tenth of that) and mapped one by one, the same way.
_TRANSLATED = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(_TRANSLATE)) + "]")


def _translate_char(m: re.Match[str]) -> str:
    return _TRANSLATE[ord(m.group())] or ""


_MULTISPACE = re.compile(r" {2,}")
_BLANKLINES = re.compile(r"\n\s*\n")


_NONWORD = re.compile(r"[\W_]+")


def text_key(text: str) -> str:
    """A comparison key: NFKC, case-folded, letters and digits only ("Title | Site" vs "title site")."""
    return _NONWORD.sub("", unicodedata.normalize("NFKC", text).casefold())


def key_words(text: str) -> list[str]:
    """The comparison keys of the words of ``text``."""
    return [w for w in (text_key(w) for w in text.split()) if w]


def normalise_unicode(text: str) -> str:
    """NFC, no invisible or control characters, typographic spaces folded."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _TRANSLATED.sub(_translate_char, text)
    text = unicodedata.normalize("NFC", text)
    return _MULTISPACE.sub(" ", text)


def _hard_wrapped(lines: list[str]) -> bool:
    """Lines of one block that are a paragraph wrapped at a fixed width, not separate lines."""
    if len(lines) < 3:
        return False
    body = lines[:-1]
    lengths = sorted(len(line) for line in body)
    median = lengths[len(lengths) // 2]
    open_ends = sum(not line.endswith((".", "!", "?", ":", '"', "”", ")")) for line in body)
    return 50 <= median <= 100 and open_ends >= 0.7 * len(body)


def paragraphs_of(text: str) -> list[str]:
    """Paragraphs of plain text: every line, unless a blank-line block is hard-wrapped prose."""
    out: list[str] = []
    for block in _BLANKLINES.split(text):
        lines = [line.strip() for line in block.split("\n")]
        lines = [line for line in lines if line]
        if _hard_wrapped(lines):
            out.append(" ".join(lines))
        else:
            out.extend(lines)
    return out


# ---------------------------------------------------------------- boilerplate

# Inserts that point at other stories. Dropped when they open a paragraph with a colon/dash,
# or when the paragraph is nothing but the label.
_INSERT_LABELS = (
    r"also read|read also|read more|more to read|must read|don'?t miss|related(?: articles?|"
    r" stories"
    r"| news| coverage| content| reading| posts?)?|see also|recommended(?: stories| articles|"
    r" reading)?"
    r"|recommended for you|you may also like|you might also like|more from [\w .]{1,30}"
    r"|more on this story|more on this|top stories|trending|trending now|editor'?s picks?"
    r"|suggested reading|further reading|related links?|also on [\w .]{1,30}|in other news"
    r"|latest news|popular now|most read|also see|watch|listen|click here|baca juga"
    r"|lesen sie auch|lire aussi|à lire aussi|leggi anche|lee también|leia también|zie ook"
    # US local desks: "MORE: Man, 19, shot dead in Englewood", "PREVIOUS COVERAGE: ..."
    r"|more|(?:previous|earlier|full|more|continuing|complete) coverage|previously|read next"
    r"|related videos?"
)
# a label may open inside brackets: "[Related: Chicago man, 19, shot dead in Englewood]"
_INSERT_RE = re.compile(rf"^\s*[\[(]?\s*(?:{_INSERT_LABELS})\s*(?:[:»>|–—-]|\.{{3}}|…)", re.I)
_INSERT_ALONE_RE = re.compile(rf"^\s*(?:{_INSERT_LABELS})\s*[:.!]?\s*$", re.I)

_PROMPT_RE = re.compile(
    r"^(?:share (?:this|on|via|the)\b|click to (?:share|print|email)|tweet this|share$|share:"
    r"|print$|email$|e-mail$|facebook$|twitter$|whatsapp$|linkedin$|pinterest$|reddit$|copy link$"
    r"|follow us\b|like us on facebook|follow (?:us|me) on\b|comments?$|\d+ comments?$"
    r"|leave a (?:comment|reply)|advertisement$|advertising$|sponsored$|scroll to continue"
    r"|continue reading below|story continues below|article continues below"
    r"|skip to (?:main )?content|back to top$|previous article|next article|previous post|next"
    r" post|skip advertisement|tell us what you think|what do you think\?$"
    r"|(?:last )?(?:updated|posted|published)(?: on)?:? "
    r"(?:\w+\.? \d{1,2},? \d{4}|\d{1,2} \w+ \d{4})$)",
    re.I,
)
# The page's own stamp on a line of its own: "Updated at 1:23 p.m.", "UPDATED: Tue., Nov. 19,
# 2019", "Posted: Thursday, April 21, 2022. 10:11 pm CST.", "Last updated on August 2, 2025 by
# Shannon", "posted 19 years ago" (not "Posted on" alone: a headline after it would then open the
# text, and go as the title repeated)
_MONTH_WORD = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_WEEKDAY_WORD = r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?"
_STAMP_LINE_RE = re.compile(
    r"^(?:last )?(?:posted|updated|published|modified)(?: on| at)?\s*:?\s*"
    rf"(?:(?:{_WEEKDAY_WORD}\s*)?(?:{_MONTH_WORD} \d{{1,2}}|\d{{1,2}}(?:st|nd|rd|th)? {_MONTH_WORD})"
    r"|\d{1,2}(?::\d\d)?\s*[ap]\.?m\b|\d+ (?:second|minute|hour|day|week|month|year)s? ago\b)",
    re.I,
)
_NEWSLETTER_RE = re.compile(
    r"\b(?:sign up (?:for|to) (?:our|the)\b[^.]{0,40}\bnewsletters?|subscribe to (?:our"
    r"|the)\b[^.]{0,40}"
    r"\b(?:newsletters?|channel|mailing list)|newsletter sign[- ]?up|delivered (?:straight "
    r"|directly )?"
    r"to your inbox|enter your e-?mail(?: address)?|get (?:our|the) (?:free )?newsletter"
    r"|we use cookies|this (?:web)?site uses cookies|accept (?:all )?cookies|cookie (?:policy"
    r"|settings)"
    r"|by continuing to (?:use|browse) (?:this|our) (?:site|website)|you agree to (?:our|the)"
    r" use of cookies"
    r"|all rights reserved|[©ⓒ]\s*\d{4}|copyright [©ⓒ]"
    r"|copyright\s*[©ⓒ]?\s*(?:\d{4}|\w+(?: \w+)? \d{4})"
    r"|subscribe to get the latest|latest posts sent to your e-?mail"
    r"|(?:post|article|page|content) (?:may )?contains? affiliate links"
    r"|we may earn (?:a )?commission"
    r"|supported by (?:its )?readers"
    r"|earn (?:a small )?commission (?:from|on) (?:qualifying )?purchases"
    r"|this material may not be published, broadcast, rewritten|enable javascript)",
    re.I,
)
# Desk codes closing wire copy: "(T/R07/R01)", "(dpa/lno)", "(ma/dw)", "(RA/IT)".
_DESK_CODE_RE = re.compile(r"\s*\((?=[^)]*\d|[^a-z)]*\))[A-Za-z]{1,4}\d{0,3}(?:/[A-Za-z]{1,4}\d{0,3}){1,4}\)\s*$")
# Short footers naming a news agency: "Mi’raj Islamic News Agency (MINA)", "(Reuters)".
_AGENCY_FOOTER_RE = re.compile(
    r"^[\w’'.&\- ]{0,60}\b(?:news agency|press agency|news service|newswire|wire service|agency"
    r"|press|news)\b[\w’'.&\- ]{0,30}\(\s*[A-Z][A-Za-z]{1,7}\s*\)\s*\.?$"
    r"|^\(\s*[A-Z][A-Za-z]{1,7}\s*\)\s*$",
    re.I,
)
_CAPTION_RE = re.compile(
    r"\((?:photo|photograph|picture|pic|image|foto|file photo|credit|source)s?\b[^)]{0,80}\)"
    r"|\b(?:photo|image|picture|credit|foto)s?\s*(?:credit)?\s*:\s*\S"
    r"|\b(?:getty images|ap photo|afp via getty|afp photo|reuters/|epa[-/]efe|shutterstock"
    r"|file photo|photo by|photograph by|image by|illustration by)\b",
    re.I,
)


def is_desk_code(text: str) -> bool:
    """A desk code on its own, as :func:`drop_boilerplate` reports it among the dropped."""
    return len(text) <= 40 and _DESK_CODE_RE.fullmatch(" " + text) is not None


def _is_caption(par: str) -> bool:
    return len(par) < 300 and bool(_CAPTION_RE.search(par))


def _word_count(par: str) -> int:
    return len(par.split())


def _caption_key(text: str) -> str:
    return re.sub(r"\W+", "", text.casefold())


# A label alone that introduces other stories ("MORE FROM WGN:", "Related stories"; not "Watch",
# nor "See also", which lists a manual's own pages) and, after it to the end of the text, nothing
# but their headlines (short lines that do not read as sentences) and other boilerplate: a list of
# other stories that text pasted from a page keeps. It names other incidents' places and days, so
# it goes whole. Development sets: WCXB one page (a shop blog's related posts, precision 0.987 ->
# 1.000), trafilatura-eval one (no segment changes), AEB none.
TEASER_LISTS = True
_TEASER_MAX_WORDS = 16
_GENERIC_LABEL_RE = re.compile(r"^\s*(?:watch|listen|click here|see also)\b", re.I)


def _teaser_tail(pars: list[str]) -> int:
    """Where a trailing list of other stories' headlines starts (``len(pars)`` if none)."""
    if not TEASER_LISTS:
        return len(pars)
    start = len(pars)
    for i in range(len(pars) - 1, -1, -1):
        par = pars[i]
        words = _word_count(par)
        if words <= 12 and _INSERT_ALONE_RE.match(par) and not _GENERIC_LABEL_RE.match(par):
            start = i  # a label; an earlier one may head the list too
            continue
        boilerplate = words <= 30 and (_INSERT_RE.match(par) or _PROMPT_RE.match(par) or _NEWSLETTER_RE.search(par))
        if not (boilerplate or _is_teaser(par, words)):
            break
    return start  # the earliest label of the trailing run: never the story's own last short lines


def _listed_under_labels(pars: list[str], words: list[int]) -> set[int]:
    """Paragraphs of a list of other stories' headlines under a label standing alone inside the
    text ("RELATED STORIES:", then two or more headlines); one short line after a label may be the
    story's own subhead, and stays. ``words``: each paragraph's word count."""
    listed: set[int] = set()
    for i, par in enumerate(pars):
        if words[i] > 12 or not _INSERT_ALONE_RE.match(par) or _GENERIC_LABEL_RE.match(par):
            continue
        run = list(itertools.takewhile(lambda j: _is_headline(pars[j], words[j]), range(i + 1, len(pars))))
        if len(run) >= 2:
            listed.update(run)
    return listed


def _is_headline(par: str, words: int) -> bool:
    """A teaser that is not a question or an exclamation either (a guide's own subheads are)."""
    return _is_teaser(par, words) and not par.rstrip().endswith(("?", "!"))


def _is_teaser(par: str, words: int) -> bool:
    """Another story's headline: short, and not ended as a sentence is."""
    return words <= _TEASER_MAX_WORDS and not par.rstrip().endswith((".", ":", ";", ",", "”", '"'))


def drop_boilerplate(pars: list[str], captions: frozenset[str] = frozenset()) -> tuple[list[str], list[str]]:
    """Remove inserts, prompts, captions, duplicates and footers; return (kept, dropped).

    ``captions``: keys (see :func:`caption_keys`) of the page's image captions; a paragraph
    that repeats one of them is the caption printed again as text.
    """
    tail = _teaser_tail(pars)
    kept: list[str] = []
    dropped: list[str] = list(pars[tail:])
    pars = pars[:tail]
    counts: dict[str, int] = {}
    for par in pars:
        key = par.casefold()
        counts[key] = counts.get(key, 0) + 1
    word_counts = [_word_count(par) for par in pars]
    listed = _listed_under_labels(pars, word_counts)
    for i, par in enumerate(pars):
        key = par.casefold()
        words = word_counts[i]
        # Boilerplate is short: long paragraphs skip the pattern tests.
        short = words <= 40
        if (
            i in listed
            or (short and words <= 30 and _INSERT_RE.match(par))
            or (words <= 12 and (_INSERT_ALONE_RE.match(par) or _PROMPT_RE.match(par) or _STAMP_LINE_RE.match(par)))
            or (short and _NEWSLETTER_RE.search(par))
            or (counts[key] > 1 and _is_caption(par))
            or (captions and len(par) < 400 and _caption_key(par) in captions)
            or (kept and key == kept[-1].casefold() and words >= 3)
        ):
            dropped.append(par)
            continue
        kept.append(par)
    # Footers: strip trailing agency lines and desk codes at the end of the story.
    while kept and _AGENCY_FOOTER_RE.match(kept[-1]) and _word_count(kept[-1]) <= 10:
        dropped.append(kept.pop())
    if kept:
        last = _DESK_CODE_RE.sub("", kept[-1])
        if last != kept[-1]:
            dropped.append(kept[-1][len(last) :].strip())
            if last.strip():
                kept[-1] = last.rstrip()
            else:
                kept.pop()
    return kept, dropped


# ---------------------------------------------------------------- dateline


@dataclass(frozen=True)
class Dateline:
    place: str | None
    agency: str | None
    day: date | None
    prefix: str  # the exact text removed from the opening paragraph


_DASH = r"(?:-{1,2}|–|—|:)"
_AGENCY = r"\(\s*(?P<agency>[A-Z][\w&.’' /-]{0,30}?|[a-z]{2,6})\s*\)"
_PLACE_MIXED = r"(?P<place>[A-Z][\w’'.\-]+(?: [A-Z][\w’'.\-]+){0,3}(?:, [A-Z][A-Za-z.\- ]{1,25}?)?)"
_PLACE_CAPS = r"(?P<place>[A-Z][A-Z’'.\-]+(?: [A-Z][A-Z’'.\-]+){0,3}(?:, [A-Z][A-Za-z.\- ]{1,25}?)?)"
_DATEPART = r"(?:,\s*(?P<date>[^()\n]{3,48}?\d[^()\n]{0,20}?))?"
_DATELINE_RES = (
    # "Tehran, 16 Rajab 2437/24 April 2016 (MINA) –", "WASHINGTON (Reuters) -", "Berlin (dpa) -"
    re.compile(rf"^{_PLACE_MIXED}{_DATEPART}\s*{_AGENCY}\s*{_DASH}\s*"),
    # "LONDON, May 4 —", "WASHINGTON —" (place in capitals, no agency)
    re.compile(rf"^{_PLACE_CAPS}{_DATEPART}\s*{_DASH}\s+(?=[A-Z\"“‘'0-9])"),
)
_NOT_PLACES = frozenset(
    {"update", "updated", "editor's note", "note", "breaking", "exclusive", "analysis",
     "opinion", "photo", "video", "watch", "live", "correction", "q", "a", "by", "i", "faq"}
)  # fmt: skip


def parse_dateline(first_paragraph: str) -> Dateline | None:
    """Find a wire dateline at the start of the story, if it carries one."""
    head = first_paragraph[:160]
    for regex in _DATELINE_RES:
        m = regex.match(head)
        if not m:
            continue
        place = m.group("place").strip(" ,")
        if place.casefold() in _NOT_PLACES or len(place) > 60:
            continue
        agency = m.groupdict().get("agency")
        raw_date = m.group("date")
        day = parse_loose_date(raw_date) if raw_date else None
        if raw_date and day is None and not re.search(r"\d", raw_date):
            continue
        city, sep, region = place.partition(",")
        if city.isupper() and len(city) > 3:
            place = city.title() + sep + region
        rest = first_paragraph[m.end() :]
        if len(rest.split()) < 4:
            continue
        return Dateline(place, agency.strip() if agency else None, day, m.group(0))
    return None


def dateline_prefix(place: str | None, agency: str | None) -> str:
    """A stored dateline as wire copy prints it ("Baltimore", "AP" -> "BALTIMORE (AP) — "; ""
    without one): story linking reads where it happened from it."""
    if not place:
        return ""
    city, sep, region = place.partition(",")
    printed = city.upper() + sep + region
    return f"{printed} ({agency}) — " if agency else f"{printed} — "


# ---------------------------------------------------------------- entry points


@dataclass(frozen=True)
class CleanedText:
    text: str
    paragraphs: tuple[str, ...]
    dateline: Dateline | None
    dropped: tuple[str, ...]


def caption_keys(captions: list[str]) -> frozenset[str]:
    return frozenset(k for k in (_caption_key(c) for c in captions) if len(k) >= 12)


def clean_paragraphs(
    pars: list[str], *, strip_dateline: bool = True, captions: frozenset[str] = frozenset()
) -> CleanedText:
    """Boilerplate removal and dateline parsing over already-normalised paragraphs."""
    kept, dropped = drop_boilerplate(pars, captions)
    dateline = None
    if strip_dateline:
        # The dateline opens the story, which may follow a headline or a standfirst.
        for i, par in enumerate(kept[:3]):
            dateline = parse_dateline(par)
            if dateline is not None:
                kept[i] = par[len(dateline.prefix) :].lstrip()
                break
    return CleanedText("\n\n".join(kept), tuple(kept), dateline, tuple(dropped))


def clean_text_full(text: str, *, strip_dateline: bool = True) -> CleanedText:
    return clean_paragraphs(paragraphs_of(normalise_unicode(text)), strip_dateline=strip_dateline)


def clean_text(text: str) -> str:
    """Unicode and boilerplate cleaning of plain text; dateline prefix dropped."""
    return clean_text_full(text).text
