"""Story-linking quality on ECB+ (random orders) and on time-ordered streams.

    python -m bench.story_quality            # ECB+ x3 orders + time-ordered runs
    python -m bench.story_quality --quick    # one order, no synthetic stream

Scores the story ids produced by :func:`worker.stories.link_article` (in-memory index, the
same code path as the SQL index) against ECB+ gold ``event``: BCubed P/R/F1 and pairwise
P/R/F1, mean over 3 fixed seeds; counts topics whose two look-alike events share a story.
Thresholds are the constants in worker/stories.py: nothing is tuned here.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from worker import stories as st

SEEDS = (1, 2, 3)


def shared_data() -> Path:
    env = os.environ.get("NEWSWORKER_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def load_ecbplus(path: Path | None = None) -> list[dict[str, object]]:
    p = path or shared_data() / "ecbplus.jsonl"
    with p.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


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


def run_stream(
    docs: Sequence[Doc], arrivals: Sequence[datetime], linker: st.Linker | None = None
) -> tuple[dict[str, int], st.MemoryStoryIndex, float]:
    index = st.MemoryStoryIndex()
    assigned: dict[str, int] = {}
    cpu = 0.0
    for d, arrived in zip(docs, arrivals, strict=True):
        t0 = time.process_time()
        feats = st.story_features(d.title, d.text, d.published_at, d.source, "en")
        res = st.link_article(index, feats, arrived, linker)
        cpu += time.process_time() - t0
        assigned[d.id] = res.story_id
    final = {k: index.resolve(v) for k, v in assigned.items()}
    return final, index, cpu / max(1, len(docs))


def score(pred: dict[str, int], docs: Sequence[Doc], index: st.MemoryStoryIndex) -> Scores:
    gold = {d.id: d.gold for d in docs}
    b = bcubed(pred, gold)
    p = pairwise(pred, gold)
    mixed, merged = topic_mixing(pred, docs)
    return Scores(*b, *p, mixed, merged, len(set(pred.values())), len(index.merges))


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
                published_at=parse_date(str(r["date"])) if with_dates and r.get("date") else None,
            )
        )
    return out


_DATE_CLEAN = re.compile(r"(?i)\b(published|updated|posted|first|last|on|at|hrs|:)\b")


def parse_date(s: str) -> datetime | None:
    """Best-effort parse of ECB+'s free-text dates (the bench's concern, not the linker's)."""
    import dateparser  # installed with trafilatura/htmldate

    cleaned = re.sub(r"\s*:\s*", ":", s)
    cleaned = re.sub(r"\s*/\s*", "/", cleaned)
    cleaned = re.sub(r"\s+-\s+", "-", cleaned)
    found = dateparser.search.search_dates(
        cleaned, languages=["en"], settings={"RETURN_AS_TIMEZONE_AWARE": True, "TIMEZONE": "UTC"}
    )
    if not found:
        return None
    for _, dt in found:
        if 1990 <= dt.year <= 2030:
            return dt.astimezone(UTC)
    return None


def fmt(name: str, s: Scores) -> str:
    return (
        f"{name:<34} BCubed P/R/F1 {s.b_p:.3f}/{s.b_r:.3f}/{s.b_f:.3f}  "
        f"pairwise P/R/F1 {s.p_p:.3f}/{s.p_r:.3f}/{s.p_f:.3f}  "
        f"stories {s.stories}  merges {s.merges}  topics mixed {s.mixed_topics} "
        f"merged {s.merged_topics}"
    )


def mean(scores: Sequence[Scores]) -> Scores:
    n = len(scores)
    return Scores(
        *(sum(getattr(s, f) for s in scores) / n for f in ("b_p", "b_r", "b_f", "p_p", "p_r")),
        sum(s.p_f for s in scores) / n,
        max(s.mixed_topics for s in scores),
        max(s.merged_topics for s in scores),
        round(sum(s.stories for s in scores) / n),
        round(sum(s.merges for s in scores) / n),
    )


def ecb_random_orders(docs: Sequence[Doc], seeds: Sequence[int]) -> list[Scores]:
    out = []
    start = datetime(2020, 1, 1, tzinfo=UTC)
    for seed in seeds:
        order = list(docs)
        random.Random(seed).shuffle(order)
        arrivals = [start + timedelta(minutes=i) for i in range(len(order))]
        pred, index, cpu = run_stream(order, arrivals)
        s = score(pred, order, index)
        out.append(s)
        print(fmt(f"ECB+ random order seed={seed}", s), f" cpu/article {cpu * 1000:.2f} ms")
    return out


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    raw = load_ecbplus()
    docs = ecb_docs(raw)
    runs = ecb_random_orders(docs, SEEDS[:1] if args.quick else SEEDS)
    print(fmt("ECB+ MEAN", mean(runs)))


if __name__ == "__main__":
    main()
