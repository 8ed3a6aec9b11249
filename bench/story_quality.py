"""Story-linking quality on ECB+ (random orders) and on time-ordered streams.

    python -m bench.story_quality            # ECB+ x3 orders + time-ordered runs
    python -m bench.story_quality --quick    # one order, no synthetic stream
    python -m bench.story_quality --seeds 4,5,6,7,8,9   # other ECB+ orders

Scores the story ids produced by :func:`worker.stories.link.link_article` and the refinement pass
(:func:`worker.stories.refine.refine_dirty`, every REFINE_EVERY articles and at the end; in-memory
index, the same code path as the SQL index) against ECB+ gold ``event``: BCubed P/R/F1 and
pairwise P/R/F1, mean over 3 fixed seeds; counts topics whose two look-alike events share a
story. The "online step only" rows are the ablation without the pass. Thresholds are the
constants in worker/stories.py and worker/storyrefine.py: nothing is tuned here.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from bench.data import load_ecbplus, shared_data
from worker.model import story as story_model
from worker.stories import link as st
from worker.stories.refine import refine_dirty

SEEDS = (1, 2, 3)
# articles between two refinement passes: a beat every few minutes at a few articles a minute
REFINE_EVERY = 50


@dataclass(frozen=True)
class Doc:
    id: str
    gold: str
    topic: str
    title: str
    text: str
    source: str
    published_at: datetime | None


@dataclass(frozen=True)
class Scores:
    b_p: float
    b_r: float
    b_f: float
    p_p: float
    p_r: float
    p_f: float
    mixed_topics: int
    merged_topics: int
    stories: int
    merges: int
    wrong_links: int  # joins of a story holding only other events' docs (the seeds of mixing)


def bcubed(pred: dict[str, int], gold: dict[str, str]) -> tuple[float, float, float]:
    by_pred: dict[int, set[str]] = defaultdict(set)
    by_gold: dict[str, set[str]] = defaultdict(set)
    for d, s in pred.items():
        by_pred[s].add(d)
        by_gold[gold[d]].add(d)
    p = r = 0.0
    for d in pred:
        cp, cg = by_pred[pred[d]], by_gold[gold[d]]
        inter = len(cp & cg)
        p += inter / len(cp)
        r += inter / len(cg)
    n = len(pred)
    p, r = p / n, r / n
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def pairwise(pred: dict[str, int], gold: dict[str, str]) -> tuple[float, float, float]:
    def pairs(counts: Iterable[int]) -> int:
        return sum(c * (c - 1) // 2 for c in counts)

    both = Counter((pred[d], gold[d]) for d in pred)
    tp = pairs(both.values())
    pp = pairs(Counter(pred.values()).values())
    gp = pairs(Counter(gold.values()).values())
    p = tp / pp if pp else 1.0
    r = tp / gp if gp else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def topic_mixing(pred: dict[str, int], docs: Sequence[Doc]) -> tuple[int, int]:
    """(topics where some story holds docs of both events, topics whose events' main stories
    are the same story)."""
    by_topic: dict[str, list[Doc]] = defaultdict(list)
    for d in docs:
        by_topic[d.topic].append(d)
    mixed = merged = 0
    for tdocs in by_topic.values():
        events: dict[str, Counter[int]] = defaultdict(Counter)
        for d in tdocs:
            events[d.gold][pred[d.id]] += 1
        if len(events) < 2:
            continue
        sets = [set(c) for c in events.values()]
        if set.intersection(*sets):
            mixed += 1
        mains = {c.most_common(1)[0][0] for c in events.values()}
        if len(mains) < len(events):
            merged += 1
    return mixed, merged


def background_texts() -> list[tuple[str, str]]:
    """(title, text) of unrelated web and news pages: the extraction benchmarks' ground truth.

    A deployed linker has seen many documents before any given story; starting the online
    document frequencies from these pages (never from ECB+) plays that part without leaking
    anything about the evaluation set."""
    out: list[tuple[str, str]] = []
    root = shared_data() / "extraction"
    aeb = root / "aeb" / "ground-truth.json"
    if aeb.exists():
        for v in json.loads(aeb.read_text(encoding="utf-8")).values():
            out.append(("", str(v.get("articleBody") or "")))
    for f in sorted((root / "wcxb-test" / "ground-truth").glob("*.json")):
        gt = json.loads(f.read_text(encoding="utf-8")).get("ground_truth", {})
        out.append((str(gt.get("title") or ""), str(gt.get("main_content") or "")))
    return [(t, x) for t, x in out if x.strip()]


_BACKGROUND: list[story_model.StoryFeatures] = []


def warm_index() -> st.MemoryStoryIndex:
    """An index whose document frequencies have seen the background pages."""
    if not _BACKGROUND:
        _BACKGROUND.extend(
            st.story_features(t, x, None, f"background:{i}", "en") for i, (t, x) in enumerate(background_texts())
        )
    index = st.MemoryStoryIndex()
    for f in _BACKGROUND:
        index.record_document(f.source, [], sorted(f.vocabulary()))
    return index


def run_stream(
    docs: Sequence[Doc],
    arrivals: Sequence[datetime],
    linker: st.Linker | None = None,
    warm: bool = True,
    refine_every: int | None = REFINE_EVERY,
) -> tuple[dict[str, int], st.MemoryStoryIndex, float, int]:
    """(final story per doc, index, CPU seconds per article, wrong first links).

    ``refine_every``: run the refinement pass (worker.stories.refine) after this many articles,
    as the beat task does every few minutes, and once at the end; None: online linking only."""
    index = warm_index() if warm else st.MemoryStoryIndex()
    assigned: dict[str, int] = {}
    events_in: dict[int, set[str]] = defaultdict(set)  # live story id -> gold events so far
    wrong = 0
    cpu = 0.0
    for d, arrived in zip(docs, arrivals, strict=True):
        t0 = time.process_time()
        feats = st.story_features(d.title, d.text, d.published_at, d.source, "en")
        res = st.link_article(index, feats, arrived, linker, article_id=len(assigned))
        if refine_every and (len(assigned) + 1) % refine_every == 0:
            refine_dirty(index, arrived)
        cpu += time.process_time() - t0
        assigned[d.id] = res.story_id
        held = events_in[res.story_id]
        for gone in res.merged:
            held |= events_in.pop(gone, set())
        if not res.created and held and d.gold not in held:
            wrong += 1
        held.add(d.gold)
    if refine_every:
        t0 = time.process_time()
        refine_dirty(index, arrivals[-1] if arrivals else datetime.now(UTC))
        cpu += time.process_time() - t0
    member = {m.article_id: m.story_id for m in index.members_by_id.values()}
    final = {k: index.resolve(member.get(n, v)) for n, (k, v) in enumerate(assigned.items())}
    return final, index, cpu / max(1, len(docs)), wrong


def score(pred: dict[str, int], docs: Sequence[Doc], index: st.MemoryStoryIndex, wrong: int = 0) -> Scores:
    gold = {d.id: d.gold for d in docs}
    b = bcubed(pred, gold)
    p = pairwise(pred, gold)
    mixed, merged = topic_mixing(pred, docs)
    return Scores(*b, *p, mixed, merged, len(set(pred.values())), len(index.merges), wrong)


_DETOK = (
    (re.compile(r"(\d)\s*([.,:])\s+(?=\d)"), r"\1\2"),  # "4. 6" -> "4.6", "1: 32" -> "1:32"
    (re.compile(r"(\w)\s+-\s+(?=\w)"), r"\1-"),  # "court - mandated"
    (re.compile(r"\s+(['’](?:s|re|ve|ll|d|t)\b)"), r"\1"),  # "actress 's"
    (re.compile(r"\s+([,.;:!?%)])"), r"\1"),
    (re.compile(r"([($])\s+"), r"\1"),
)


def detokenize(s: str) -> str:
    """Undo ECB+'s token-XML spacing so the text reads like the article it came from."""
    for rx, rep in _DETOK:
        s = rx.sub(rep, s)
    return s


def ecb_docs(raw: Sequence[dict[str, object]], with_dates: bool = False) -> list[Doc]:
    out = []
    for r in raw:
        url = str(r.get("url") or "")
        src = (urlsplit(url).hostname if url else None) or f"unknown:{r['id']}"
        out.append(
            Doc(
                id=str(r["id"]),
                gold=str(r["event"]),
                topic=str(r["topic"]),
                title=detokenize(str(r.get("title") or "")),
                text=detokenize(str(r.get("text") or "")),
                source=src,
                published_at=parse_date(detokenize(str(r["date"])))
                if with_dates and r.get("date") and len(str(r["date"])) <= 60
                else None,
            )
        )
    return out


def parse_date(s: str) -> datetime | None:
    """Best-effort parse of ECB+'s free-text dates (the bench's concern, not the linker's)."""
    from dateutil import parser as dparser  # installed with celery/dateparser

    cleaned = re.sub(r"(?i)\b(p\.\s*m\.)", "pm", s)
    cleaned = re.sub(r"(?i)\b(a\.\s*m\.)", "am", cleaned)
    cleaned = re.sub(r"[@|]", " ", cleaned)
    cleaned = re.sub(r"\(GMT[^)]*\)", " ", cleaned)
    try:
        dt: datetime = dparser.parse(cleaned, fuzzy=True, default=datetime(1900, 1, 1), ignoretz=True)
        if 1990 <= dt.year <= 2030:
            return dt.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        pass
    from dateparser.search import search_dates

    found = search_dates(cleaned, languages=["en"]) or []
    for text, found_dt in found:
        when: datetime = found_dt
        if re.search(r"(19|20)[0-9]{2}", text) and 1990 <= when.year <= 2030:
            return when.replace(tzinfo=UTC)
    return None


def fmt(name: str, s: Scores, topics: bool = True) -> str:
    """``topics``: ECB+ only (two look-alike events per topic); meaningless elsewhere."""
    out = (
        f"{name:<34} BCubed P/R/F1 {s.b_p:.3f}/{s.b_r:.3f}/{s.b_f:.3f}  "
        f"pairwise P/R/F1 {s.p_p:.3f}/{s.p_r:.3f}/{s.p_f:.3f}  "
        f"stories {s.stories}  merges {s.merges}  wrong links {s.wrong_links}"
    )
    if topics:
        out += f"  topics mixed {s.mixed_topics} merged {s.merged_topics}"
    return out


def mean(scores: Sequence[Scores]) -> Scores:
    n = len(scores)
    return Scores(
        sum(s.b_p for s in scores) / n,
        sum(s.b_r for s in scores) / n,
        sum(s.b_f for s in scores) / n,
        sum(s.p_p for s in scores) / n,
        sum(s.p_r for s in scores) / n,
        sum(s.p_f for s in scores) / n,
        max(s.mixed_topics for s in scores),
        max(s.merged_topics for s in scores),
        round(sum(s.stories for s in scores) / n),
        round(sum(s.merges for s in scores) / n),
        round(sum(s.wrong_links for s in scores) / n),
    )


def ecb_random_orders(
    docs: Sequence[Doc], seeds: Sequence[int], refine_every: int | None = REFINE_EVERY, quiet: bool = False
) -> list[Scores]:
    out = []
    start = datetime(2020, 1, 1, tzinfo=UTC)
    for seed in seeds:
        order = list(docs)
        random.Random(seed).shuffle(order)
        arrivals = [start + timedelta(minutes=i) for i in range(len(order))]
        pred, index, cpu, wrong = run_stream(order, arrivals, refine_every=refine_every)
        s = score(pred, order, index, wrong)
        out.append(s)
        if not quiet:
            print(fmt(f"ECB+ random order seed={seed}", s), f" cpu/article {cpu * 1000:.2f} ms")
    return out


# --------------------------------------------------------------------------------------
# A dense time-ordered stream of look-alike local stories (built here, deterministic)
# --------------------------------------------------------------------------------------
_TOWNS = [
    "Ashford",
    "Bramley",
    "Carlton",
    "Dunmore",
    "Eastwick",
    "Fairview",
    "Glenwood",
    "Harrow",
    "Ingleby",
    "Jasper",
    "Kenton",
    "Langley",
    "Milford",
    "Northam",
    "Oakridge",
    "Pembroke",
    "Quinton",
    "Redfield",
    "Stanton",
    "Thornbury",
    "Upton",
    "Vernon",
    "Westbury",
    "Yarmouth",
    "Alston",
    "Belford",
    "Cromer",
    "Dalton",
    "Elmore",
    "Fenwick",
    "Garston",
    "Hadley",
    "Ilford",
    "Kelso",
    "Lydney",
    "Marston",
    "Norwood",
    "Olney",
    "Penrith",
    "Rydal",
]
_STREETS = [
    "Main",
    "Oak",
    "Maple",
    "Cedar",
    "Elm",
    "Pine",
    "Church",
    "Mill",
    "Station",
    "Bridge",
    "Park",
    "High",
    "Hill",
    "Lake",
    "River",
    "Market",
    "School",
    "Spring",
    "Union",
    "Victoria",
]
_FIRST = [
    "James",
    "Mary",
    "Robert",
    "Linda",
    "Michael",
    "Susan",
    "David",
    "Karen",
    "Daniel",
    "Nancy",
    "Mark",
    "Lisa",
    "Paul",
    "Sandra",
    "Steven",
    "Donna",
    "Kevin",
    "Carol",
    "Brian",
    "Ruth",
]
_LAST = [
    "Holloway",
    "Brennan",
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Castillo",
    "Whitfield",
    "Nakamura",
    "Petrov",
    "Gallagher",
    "Abernathy",
    "Delacroix",
    "Fitzgerald",
    "Haldane",
    "Iverson",
    "Jablonski",
    "Kowalczyk",
    "Mbeki",
    "Novak",
    "Ortega",
]
_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "fire": (
        (
            "House fire on {street} Street in {town}",
            "{town} blaze destroys home on {street} Street",
        ),
        (
            "Firefighters were called to a house fire on {street} Street in {town} on {weekday}.",
            "A {age}-year-old resident, {name}, was taken to hospital with smoke inhalation.",
            "Crews from {count} stations fought the blaze for two hours.",
        ),
        (
            "Investigators said the {street} Street fire in {town} started in the kitchen.",
            "{name}, {age}, remains in hospital, relatives said.",
        ),
    ),
    "shooting": (
        ("Man shot on {street} Street in {town}", "{town} police investigate shooting"),
        (
            "A {age}-year-old man was shot on {street} Street in {town} late on {weekday}.",
            "Police named the victim as {name} and said {count} suspects fled in a car.",
            "Officers asked witnesses to come forward.",
        ),
        (
            "Police in {town} arrested a suspect in the {street} Street shooting of {name}.",
            "{name}, {age}, is in stable condition, police said.",
        ),
    ),
    "crash": (
        ("Crash on {street} Road near {town} kills driver", "Fatal crash near {town}"),
        (
            "A {age}-year-old driver died after a crash on {street} Road near {town} on {weekday}.",
            "The driver was identified as {name}. {count} passengers were injured.",
            "The road was closed for several hours while police investigated.",
        ),
        (
            "Police said speed was a factor in the {street} Road crash that killed {name}.",
            "A memorial for {name}, {age}, was held in {town}.",
        ),
    ),
    "burglary": (
        ("Burglary at {street} Street shop in {town}", "{town} shop burgled overnight"),
        (
            "Thieves broke into a shop on {street} Street in {town} overnight on {weekday}.",
            "Owner {name}, {age}, said {count} thousand dollars of goods were taken.",
            "Police are reviewing security camera footage.",
        ),
        (
            "Two men were charged over the burglary at {name}'s shop on {street} Street in {town}.",
            "{name} said the shop would reopen next week.",
        ),
    ),
    "missing": (
        ("{town} police search for missing {age}-year-old", "Missing person: {name} of {town}"),
        (
            "Police in {town} are searching for {name}, {age}, who was last seen on {weekday}.",
            "{name} was last seen near {street} Street wearing a blue jacket.",
            "Volunteers from {count} local groups joined the search.",
        ),
        (
            "{name}, the {age}-year-old missing from {town}, has been found safe, police said.",
            "Police thanked the volunteers who searched around {street} Street.",
        ),
    ),
}
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_SITES = [f"news{i}.example" for i in range(25)]


def _boilerplate(site: str) -> str:
    name = site.split(".")[0].title()
    return (
        f"Subscribe to {name} Daily for unlimited access to local news and weather. "
        "You must enter the characters shown in the image to continue reading this story. "
        f"Copyright 2024 {name} Media Group, all rights reserved, do not redistribute."
    )


def local_stream(n_stories: int = 3000, days: int = 730, seed: int = 11) -> list[Doc]:
    """Many small look-alike local stories over ``days``: mostly one article each, some with
    follow-ups 0.2-6 days later; every site appends its own boilerplate paragraph."""
    rng = random.Random(seed)
    start = datetime(2022, 1, 1, tzinfo=UTC)
    docs: list[Doc] = []
    for sid in range(n_stories):
        kind = rng.choice(sorted(_KINDS))
        titles, lead, follow = _KINDS[kind]
        t0 = start + timedelta(seconds=rng.uniform(0, days * 86400))
        slots = {
            "town": rng.choice(_TOWNS),
            "street": rng.choice(_STREETS),
            "name": f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
            "age": rng.randint(18, 90),
            "count": rng.randint(2, 9),
            "weekday": _WEEKDAYS[t0.weekday()],
        }
        r = rng.random()
        n = 1 if r < 0.65 else 2 if r < 0.85 else rng.randint(3, 5)
        for k in range(n):
            site = rng.choice(_SITES)
            if k == 0 or rng.random() < 0.5:
                t = t0 + timedelta(hours=rng.uniform(0, 8))
                sents = list(lead)
            else:
                t = t0 + timedelta(days=rng.uniform(0.2, 6))
                sents = [*follow, lead[0]]
            rng.shuffle(sents[1:])
            body = " ".join(x.format(**slots) for x in sents) + "\n" + _boilerplate(site)
            docs.append(
                Doc(
                    id=f"local-{sid}-{k}",
                    gold=f"local-{sid}",
                    topic=kind,
                    title=rng.choice(titles).format(**slots),
                    text=body,
                    source=site,
                    published_at=t,
                )
            )
    docs.sort(key=lambda d: (d.published_at or start, d.id))
    return docs


def time_ordered(
    docs: Sequence[Doc], label: str, window: bool = True, topics: bool = True, refine: bool = True
) -> Scores:
    """Stream in publication order; ``window=False`` is the ablation without window/decay."""
    saved = (story_model.WINDOW, st.HALF_LIFE)
    if not window:
        story_model.WINDOW, st.HALF_LIFE = timedelta(days=36500), timedelta(days=36500)
    try:
        arrivals = [d.published_at or datetime(2030, 1, 1, tzinfo=UTC) for d in docs]
        pred, index, cpu, wrong = run_stream(docs, arrivals, refine_every=REFINE_EVERY if refine else None)
    finally:
        story_model.WINDOW, st.HALF_LIFE = saved
    s = score(pred, docs, index, wrong)
    biggest = Counter(pred.values()).most_common(1)[0][1]
    gold_biggest = Counter(d.gold for d in docs).most_common(1)[0][1]
    print(
        fmt(label, s, topics),
        f" biggest story {biggest} (gold {gold_biggest})  cpu/article {cpu * 1000:.2f} ms",
    )
    return s


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--seeds",
        type=lambda v: tuple(int(x) for x in v.split(",")),
        default=None,
        help="ECB+ orders to stream, e.g. 4,5,6 (default: 1,2,3, the orders the targets are stated on)",
    )
    args = ap.parse_args(argv)
    raw = load_ecbplus()
    docs = ecb_docs(raw)
    seeds = args.seeds or (SEEDS[:1] if args.quick else SEEDS)
    runs = ecb_random_orders(docs, seeds)
    print(fmt("ECB+ MEAN", mean(runs)))
    online = ecb_random_orders(docs, seeds, refine_every=None, quiet=True)
    print(fmt("  same, online step only (ablation)", mean(online)))
    dated = sorted(
        (d for d in ecb_docs(raw, with_dates=True) if d.published_at is not None),
        key=lambda d: (d.published_at, d.id),
    )
    time_ordered(dated, f"ECB+ dated docs ({len(dated)}) by date")
    time_ordered(dated, "  same, no window (ablation)", window=False)
    if not args.quick:
        stream = local_stream()
        time_ordered(stream, f"local look-alikes ({len(stream)} docs)", topics=False)
        time_ordered(stream, "  same, online step only (ablation)", topics=False, refine=False)
        time_ordered(stream, "  same, no window (ablation)", window=False, topics=False)


if __name__ == "__main__":
    main()
