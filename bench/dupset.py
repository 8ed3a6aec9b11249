"""Deterministic duplicate-detection test set built from real ECB+ articles.

For each sampled original it makes one copy of every kind the issue names:

* ``tracking``: the same page under its address plus tracking parameters
  (text identical; the URL layer should already catch it);
* ``mirror``: the same text on another host, re-flowed (paragraph breaks,
  straight quotes, re-attached punctuation);
* ``wire``: a syndicated rewrite with its own "CITY (Agency) —" dateline,
  byline, "Also Read: …" inserts and agency footer;
* ``edited``: 10% of sentences dropped or reworded, a new headline;
* ``excerpt``: the first half (by words, cut at a sentence end), sometimes
  with a "Read more" tail.

Mirrors and wire copies live on another site than their original; edited
copies and excerpts on a random site of the pool, sometimes the original's
own (a site re-publishing an updated story), where the stricter same-site
rule applies.

Hard negatives are the whole ECB+ corpus itself (every other article of the
same event and of the same topic) and a separate "site boilerplate" page
set: different articles wrapped in one site's identical long header and
footer paragraphs.

ECB+ already contains syndicated copies of its own (same-event documents
sharing most of their text). Originals are therefore sampled only among
documents that share less than ``UNIQUE_MAX_CONTAINMENT`` of their shingles
with every other document, and corpus-to-corpus pairs are labelled by their
exact native overlap (:func:`native_overlap`): below ``NEGATIVE_MAX`` they
are different articles (a link is a false merge), at or above
``NATIVE_COPY_MIN`` they are copies in the wild, in between "don't care".
The labels use the exact shingle containment, never the algorithm under test.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from bench.data import load_ecbplus
from worker.dedupe.minhash import text_shingles
from worker.model.urls import site_of

SEED = 20260
UNIQUE_MAX_CONTAINMENT = 0.3
NEGATIVE_MAX = 0.5
NATIVE_COPY_MIN = 0.8
MIN_ORIGINAL_WORDS = 40
MIN_BOILERPLATE_WORDS = 20
COPY_KINDS = ("tracking", "mirror", "wire", "edited", "excerpt")


@dataclass(frozen=True, slots=True)
class Doc:
    key: str
    source_id: str  # ECB+ document the text comes from
    topic: int
    event: str
    kind: str  # "corpus", one of COPY_KINDS, or "boilerplate"
    url: str
    title: str
    text: str
    original: str | None = None  # key of the doc this is a copy of


@dataclass(frozen=True, slots=True)
class DupSet:
    corpus: tuple[Doc, ...]
    copies: tuple[Doc, ...]
    boilerplate_pages: tuple[Doc, ...]
    originals: tuple[str, ...]
    #: exact containment (smaller in larger) for corpus pairs that overlap at all
    native: dict[tuple[str, str], float]


def native_overlap(docs: Sequence[Doc]) -> dict[tuple[str, str], float]:
    """Exact containment (smaller in larger) of every overlapping corpus pair."""
    shingles = {d.key: text_shingles(d.text) for d in docs}
    by_topic: dict[int, list[Doc]] = {}
    for d in docs:
        by_topic.setdefault(d.topic, []).append(d)
    overlap: dict[tuple[str, str], float] = {}
    # Cross-topic overlap is negligible in ECB+ (max 0.12 measured); pairs
    # outside a topic are labelled "different" without computing.
    for group in by_topic.values():
        for a, b in combinations(group, 2):
            sa, sb = shingles[a.key], shingles[b.key]
            if not sa or not sb:
                continue
            inter = len(sa & sb)
            if inter:
                value = inter / min(len(sa), len(sb))
                overlap[(a.key, b.key)] = value
                overlap[(b.key, a.key)] = value
    return overlap


# --- copy makers -----------------------------------------------------------

_AGENCIES = ("AP", "Reuters", "AFP", "UPI", "PTI", "IANS", "dpa", "ANSA", "EFE", "Xinhua")
_CITIES = (
    "WASHINGTON",
    "LONDON",
    "NEW YORK",
    "LOS ANGELES",
    "PARIS",
    "NEW DELHI",
    "SYDNEY",
    "TORONTO",
    "BERLIN",
    "MADRID",
    "CHICAGO",
    "MUMBAI",
)
_NAMES = (
    "Jane Doe",
    "Peter Okafor",
    "Maria Rossi",
    "Li Wei",
    "Ahmed Karimi",
    "Sara Lindqvist",
    "Tom Becker",
    "Ana Souza",
    "Ravi Menon",
    "Claire Dubois",
)
_HOSTS = (
    "dailycourier.test",
    "metro-herald.test",
    "the-bugle.test",
    "newsnow.test",
    "globalwire.test",
    "morningpost.test",
    "valleytimes.test",
    "citydesk.test",
)
_TRACKING = (
    "utm_source=twitter&utm_medium=social&utm_campaign=share",
    "fbclid=IwAR0xyz123",
    "utm_source=rss&utm_medium=feed",
    "gclid=abc123&utm_term=news",
    "ocid=msn_rss",
)
_SYNONYMS = {
    "said": "stated",
    "says": "states",
    "told": "informed",
    "after": "following",
    "before": "prior to",
    "police": "authorities",
    "people": "individuals",
    "killed": "left dead",
    "announced": "revealed",
    "reported": "said",
    "also": "additionally",
    "but": "however",
    "big": "large",
    "new": "fresh",
    "former": "ex",
    "according": "as per",
    "about": "around",
    "officials": "authorities",
    "company": "firm",
    "week": "seven days",
    "year": "twelve months",
    "died": "passed away",
    "show": "programme",
    "star": "celebrity",
    "game": "match",
    "won": "claimed",
    "early": "initial",
    "more": "additional",
    "than": "compared with",
    "during": "throughout",
    "because": "since",
    "however": "but",
    "while": "whereas",
    "has": "had",
    "will": "would",
    "was": "had been",
    "is": "remains",
}
_NEW_HEADLINE_PREFIX = ("UPDATE:", "Breaking:", "Report:", "Watch:", "Latest:")


def detokenise(text: str) -> str:
    """Attach punctuation the way publishers print it (ECB+ text is tokenised)."""
    out = text.replace("“ ", '"').replace(" ”", '"').replace("“", '"').replace("”", '"')
    out = out.replace(" ’ ", "'").replace("’", "'").replace("‘", "'")
    out = re.sub(r" ([,.;:!?%)])", r"\1", out)
    out = re.sub(r"([($]) ", r"\1", out)
    return out


def sentences(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if line.strip()]


def reword(sentence: str, rng: random.Random) -> str:
    """Edit a sentence the way a copy desk does: synonyms, cuts, a new lead-in."""
    tokens = sentence.split()
    changed = 0
    for i, tok in enumerate(tokens):
        syn = _SYNONYMS.get(tok.lower())
        if syn and rng.random() < 0.8:
            tokens[i] = syn
            changed += 1
    if len(tokens) > 6:
        del tokens[rng.randrange(1, len(tokens) - 1)]
        j = rng.randrange(1, len(tokens) - 2)
        tokens[j], tokens[j + 1] = tokens[j + 1], tokens[j]
        changed += 2
    lead = rng.choice(("Meanwhile,", "According to reports,", "Notably,", "In addition,"))
    if changed < 3:
        tokens.insert(len(tokens) // 2, rng.choice(("reportedly", "apparently", "officially")))
    return " ".join([lead, *tokens])


def make_tracking(orig: Doc, rng: random.Random) -> Doc:
    sep = "&" if "?" in orig.url else "?"
    return Doc(
        f"tracking:{orig.source_id}",
        orig.source_id,
        orig.topic,
        orig.event,
        "tracking",
        f"{orig.url}{sep}{rng.choice(_TRACKING)}#comments",
        orig.title,
        orig.text,
        orig.key,
    )


def other_host(orig: Doc, rng: random.Random) -> str:
    """A host that is not the original's: mirrors and syndication are other sites."""
    return rng.choice([h for h in _HOSTS if h != site_of(orig.url)])


def make_mirror(orig: Doc, rng: random.Random) -> Doc:
    host = other_host(orig, rng)
    text = "\n\n".join(detokenise(s) for s in sentences(orig.text))
    return Doc(
        f"mirror:{orig.source_id}",
        orig.source_id,
        orig.topic,
        orig.event,
        "mirror",
        f"https://{host}/mirror/{orig.source_id}",
        orig.title,
        text,
        orig.key,
    )


def make_wire(orig: Doc, rng: random.Random, other_titles: Sequence[str]) -> Doc:
    agency = rng.choice(_AGENCIES)
    paras = [detokenise(s) for s in sentences(orig.text)]
    paras[0] = f"{rng.choice(_CITIES)} ({agency}) — {paras[0]}"
    inserts = rng.sample(list(other_titles), 2)
    out = [f"By {rng.choice(_NAMES)}", *paras]
    if len(out) > 3:
        out.insert(3, f"Also Read: {inserts[0]}")
    if len(out) > 7:
        out.insert(7, f"Also Read: {inserts[1]}")
    out.append(f"(Reporting by {rng.choice(_NAMES)}; Editing by {rng.choice(_NAMES)})")
    out.append(
        f"Copyright {agency}. All rights reserved. This material may not be published, "
        "broadcast, rewritten or redistributed."
    )
    return Doc(
        f"wire:{orig.source_id}",
        orig.source_id,
        orig.topic,
        orig.event,
        "wire",
        f"https://{other_host(orig, rng)}/wire/{agency.lower()}-{orig.source_id}",
        orig.title,
        "\n".join(out),
        orig.key,
    )


def make_edited(orig: Doc, rng: random.Random) -> Doc:
    sents = sentences(orig.text)
    n_change = max(1, round(len(sents) * 0.1))
    picked = sorted(rng.sample(range(len(sents)), min(n_change, len(sents))))
    n_drop = n_change // 2 if n_change > 1 else rng.randint(0, 1)
    drop = set(picked[:n_drop])
    edit = set(picked[n_drop:])
    out = [reword(s, rng) if i in edit else s for i, s in enumerate(sents) if i not in drop]
    if not out:
        out = [reword(sents[0], rng)]
    title = f"{rng.choice(_NEW_HEADLINE_PREFIX)} {orig.title}"
    return Doc(
        f"edited:{orig.source_id}",
        orig.source_id,
        orig.topic,
        orig.event,
        "edited",
        f"https://{rng.choice(_HOSTS)}/edited/{orig.source_id}",
        title,
        "\n".join(out),
        orig.key,
    )


def make_excerpt(orig: Doc, rng: random.Random) -> Doc:
    sents = sentences(orig.text)
    total = sum(len(s.split()) for s in sents)
    out: list[str] = []
    count = 0
    for s in sents:
        n = len(s.split())
        if out and abs(count + n - total / 2) > abs(count - total / 2):
            break
        out.append(s)
        count += n
    if len(out) == len(sents) and len(sents) > 1:
        out = out[:-1]
    if not out or count > 0.7 * total:  # a single long sentence: cut by words
        half = orig.text.split()[: max(1, total // 2)]
        out = [" ".join(half)]
    if rng.random() < 0.5:
        out.append("Read more")
    return Doc(
        f"excerpt:{orig.source_id}",
        orig.source_id,
        orig.topic,
        orig.event,
        "excerpt",
        f"https://{rng.choice(_HOSTS)}/excerpt/{orig.source_id}",
        orig.title,
        "\n".join(out),
        orig.key,
    )


_BOILER_HEAD = (
    "Welcome to The Valley Chronicle, your trusted source for local and national news since "
    "1923. Sign up for our free morning newsletter to get the day's top stories delivered to "
    "your inbox, and follow us on Facebook, Twitter and Instagram for breaking updates.",
    "We use cookies to personalise content and ads, to provide social media features and to "
    "analyse our traffic. By continuing to browse this site you agree to our use of cookies "
    "as described in our privacy policy and terms of service.",
)
_BOILER_FOOT = (
    "The Valley Chronicle is an independent newspaper owned by Chronicle Media Group. Our "
    "journalism is funded by readers like you: subscribe today for unlimited digital access, "
    "the e-edition and exclusive newsletters from our award-winning reporters.",
    "Have a news tip? Contact our newsroom at any time of day or night. Comments are "
    "moderated and must follow our community guidelines. Copyright The Valley Chronicle, all "
    "rights reserved. Content may not be reproduced without written permission.",
)


def wrap_boilerplate(doc: Doc) -> Doc:
    body = [detokenise(s) for s in sentences(doc.text)]
    text = "\n".join([*_BOILER_HEAD, *body, *_BOILER_FOOT])
    return Doc(
        f"boilerplate:{doc.source_id}",
        doc.source_id,
        doc.topic,
        doc.event,
        "boilerplate",
        f"https://valleychronicle.test/news/{doc.source_id}",
        doc.title,
        text,
        None,
    )


def build(
    n_originals: int = 200,
    seed: int = SEED,
    n_boilerplate: int = 200,
    records: Sequence[dict[str, object]] | None = None,
) -> DupSet:
    rng = random.Random(seed)
    rows = list(records) if records is not None else load_ecbplus()
    corpus: list[Doc] = []
    for row in rows:
        sid = str(row["id"])
        url = str(row.get("url") or f"https://{_HOSTS[hash_index(sid)]}/story/{sid}")
        corpus.append(
            Doc(
                f"ecb:{sid}",
                sid,
                int(str(row["topic"])),
                str(row["event"]),
                "corpus",
                url,
                str(row.get("title") or ""),
                str(row["text"]),
            )
        )
    native = native_overlap(corpus)
    worst: dict[str, float] = {}
    for (a, _b), value in native.items():
        worst[a] = max(worst.get(a, 0.0), value)
    eligible = [
        d
        for d in corpus
        if len(d.text.split()) >= MIN_ORIGINAL_WORDS and worst.get(d.key, 0.0) < UNIQUE_MAX_CONTAINMENT
    ]
    originals = rng.sample(eligible, min(n_originals, len(eligible)))
    copies: list[Doc] = []
    for orig in originals:
        others = [d.title for d in corpus if d.topic != orig.topic and d.title]
        copies.append(make_tracking(orig, rng))
        copies.append(make_mirror(orig, rng))
        copies.append(make_wire(orig, rng, rng.sample(others, 10)))
        copies.append(make_edited(orig, rng))
        copies.append(make_excerpt(orig, rng))
    # Short stories are the hard case under a long shared boilerplate.
    long_enough = [
        d for d in corpus if len(d.text.split()) >= MIN_BOILERPLATE_WORDS and worst.get(d.key, 0.0) < NEGATIVE_MAX
    ]
    boiler_src = rng.sample(long_enough, min(n_boilerplate, len(long_enough)))
    boiler = [wrap_boilerplate(d) for d in boiler_src]
    return DupSet(tuple(corpus), tuple(copies), tuple(boiler), tuple(o.key for o in originals), native)


def hash_index(text: str) -> int:
    """Stable small hash (Python's str hash is salted per process)."""
    return sum(text.encode()) % len(_HOSTS)


if __name__ == "__main__":
    ds = build()
    print(
        f"corpus {len(ds.corpus)} docs, {len(ds.originals)} originals, "
        f"{len(ds.copies)} copies, {len(ds.boilerplate_pages)} boilerplate pages"
    )
    for doc in ds.copies[:5]:
        print("---", doc.kind, doc.url, "\n", doc.text[:400])
