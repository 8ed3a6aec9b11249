"""Quality of the dedupe stage on the ECB+ duplicate test set (bench/dupset.py).

Run: ``PYTHONPATH=$PWD python -m bench.dedupe_quality [--originals 200] [--seed N]``

Stream: every ECB+ document first (seeded order; they are the originals and
the hard negatives), then every generated copy (seeded order), each through
the same check-then-register path the worker uses. A separate stream holds
the "site boilerplate" pages. Prints per-kind recall, pairwise precision,
false merges by relation, the fate of ECB+'s own syndicated copies, and how
far the exact thresholds are from the nearest copy and the nearest hard
negative.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations

from bench.dupset import (
    COPY_KINDS,
    NATIVE_COPY_MIN,
    NEGATIVE_MAX,
    SEED,
    Doc,
    DupSet,
    build,
)
from worker.dedupe.minhash import MemoryDuplicateIndex, classify, fingerprint, similarity, text_shingles
from worker.model.dedupe import DuplicateVerdict
from worker.model.urls import canonical_url, site_of

TARGET_KINDS = ("tracking", "mirror", "wire", "edited")


@dataclass
class Report:
    recall: dict[str, tuple[int, int]] = field(default_factory=dict)
    verdict_kinds: dict[str, Counter[str]] = field(default_factory=dict)
    address_recall: tuple[int, int] = (0, 0)
    true_links: int = 0
    false_links: list[tuple[str, str, str]] = field(default_factory=list)  # (new, old, relation)
    native: Counter[str] = field(default_factory=Counter)
    boilerplate_merges: list[tuple[str, str, str]] = field(default_factory=list)
    boilerplate_pages: int = 0
    pair_merges: Counter[str] = field(default_factory=Counter)
    pair_totals: Counter[str] = field(default_factory=Counter)
    #: nearest negatives: relation -> (max Jaccard, max containment of smaller in larger)
    nearest_negative: dict[str, tuple[float, float]] = field(default_factory=dict)

    def note_negative(self, rel: str, jaccard: float, contained: float) -> None:
        j, c = self.nearest_negative.get(rel, (0.0, 0.0))
        self.nearest_negative[rel] = (max(j, jaccard), max(c, contained))

    @property
    def precision(self) -> float:
        total = self.true_links + len(self.false_links) + len(self.boilerplate_merges)
        return self.true_links / total if total else 1.0

    def target_recall(self) -> float:
        found = sum(self.recall[k][0] for k in TARGET_KINDS)
        total = sum(self.recall[k][1] for k in TARGET_KINDS)
        return found / total if total else 0.0


def relation(a: Doc, b: Doc) -> str:
    if a.event == b.event:
        return "same event"
    if a.topic == b.topic:
        return "same topic"
    return "unrelated"


def run_stream(docs: list[Doc], use_site: bool = True) -> tuple[dict[str, int], dict[str, DuplicateVerdict]]:
    index = MemoryDuplicateIndex()
    ids: dict[str, int] = {}
    verdicts: dict[str, DuplicateVerdict] = {}
    for number, doc in enumerate(docs, start=1):
        ids[doc.key] = number
        verdicts[doc.key] = index.ingest(number, doc.text, site_of(doc.url) if use_site else "")
    return ids, verdicts


def evaluate(ds: DupSet, seed: int = SEED, use_site: bool = True) -> Report:
    """``use_site=False`` switches the same-site rule off (ablation)."""
    rng = random.Random(seed + 1)
    corpus = list(ds.corpus)
    rng.shuffle(corpus)
    copies = list(ds.copies)
    rng.shuffle(copies)
    stream = corpus + copies
    ids, verdicts = run_stream(stream, use_site)
    by_id = {ids[d.key]: d for d in stream}
    by_key = {d.key: d for d in stream}
    rep = Report()

    for kind in COPY_KINDS:
        rep.recall[kind] = (0, 0)
        rep.verdict_kinds[kind] = Counter()
    addr_found = 0
    for copy in ds.copies:
        assert copy.original is not None
        orig_id = ids[copy.original]
        orig_root = verdicts[copy.original].original_id or orig_id
        verdict = verdicts[copy.key]
        found = verdict.original_id in (orig_id, orig_root)
        hit, total = rep.recall[copy.kind]
        rep.recall[copy.kind] = (hit + found, total + 1)
        rep.verdict_kinds[copy.kind][verdict.kind or "none"] += 1
        if copy.kind == "tracking":
            addr_found += canonical_url(copy.url) == canonical_url(by_key[copy.original].url)
    rep.address_recall = (addr_found, rep.recall["tracking"][1])

    # Every link the stage made, judged by what the two texts really are.
    for doc in stream:
        verdict = verdicts[doc.key]
        if verdict.matched_id is None:
            continue
        matched = by_id[verdict.matched_id]
        if doc.kind != "corpus":
            if matched.key == doc.original or matched.original == doc.original:
                rep.true_links += 1
            else:
                rep.false_links.append((doc.key, matched.key, relation(doc, matched)))
            continue
        native = ds.native.get((doc.key, matched.key), 0.0)
        if native >= NATIVE_COPY_MIN:
            rep.native["linked copy in the wild"] += 1
        elif native >= NEGATIVE_MAX:
            rep.native["linked grey-zone pair (don't care)"] += 1
        else:
            rep.false_links.append((doc.key, matched.key, relation(doc, matched)))
    seen_pairs = 0
    for (key_a, key_b), value in ds.native.items():
        if key_a < key_b and value >= NATIVE_COPY_MIN:
            seen_pairs += 1
    rep.native["copy-in-the-wild pairs in ECB+"] = seen_pairs

    # Classifier alone on every same-topic corpus pair that is labelled
    # "different" (no candidate generation in the way): the strict check.
    corpus_by_topic: dict[int, list[Doc]] = {}
    for d in ds.corpus:
        corpus_by_topic.setdefault(d.topic, []).append(d)
    shingles = {d.key: text_shingles(d.text) for d in ds.corpus}
    fps_ok = {d.key: fingerprint(d.text).comparable for d in ds.corpus}
    for group in corpus_by_topic.values():
        for a, b in combinations(group, 2):
            if ds.native.get((a.key, b.key), 0.0) >= NEGATIVE_MAX:
                continue
            if not (fps_ok[a.key] and fps_ok[b.key]):
                continue
            rel = relation(a, b)
            rep.pair_totals[rel] += 1
            sim = similarity(shingles[a.key], shingles[b.key])
            merged, _ = classify(sim)
            if merged is not None:
                rep.pair_merges[rel] += 1
            small = min(sim.new_size, sim.old_size)
            rep.note_negative(rel, sim.jaccard, sim.intersection / small if small else 0.0)
    pages = [text_shingles(d.text) for d in ds.boilerplate_pages]
    for sa, sb in combinations(pages, 2):
        sim = similarity(sa, sb)
        small = min(sim.new_size, sim.old_size)
        rep.note_negative("site boilerplate", sim.jaccard, sim.intersection / small)

    _, bverdicts = run_stream(list(ds.boilerplate_pages), use_site)
    bdocs = list(ds.boilerplate_pages)
    rep.boilerplate_pages = len(bdocs)
    for number, doc in enumerate(bdocs, start=1):
        verdict = bverdicts[doc.key]
        if verdict.matched_id is not None:
            other = bdocs[verdict.matched_id - 1]
            rep.boilerplate_merges.append((doc.key, other.key, relation(doc, other)))
        del number
    return rep


def margins(ds: DupSet) -> list[str]:
    """Exact similarities of each copy kind to its original: how close to the edge."""
    by_key = {d.key: d for d in ds.corpus}
    lines = []
    for kind in COPY_KINDS:
        js, cs = [], []
        for copy in ds.copies:
            if copy.kind != kind or copy.original is None:
                continue
            sim = similarity(text_shingles(copy.text), text_shingles(by_key[copy.original].text))
            js.append(sim.jaccard)
            small = min(sim.new_size, sim.old_size)
            cs.append(sim.intersection / small if small else 0.0)
        js.sort()
        cs.sort()
        lines.append(
            f"  {kind:<9} Jaccard min {js[0]:.2f} p5 {js[len(js) // 20]:.2f} median "
            f"{js[len(js) // 2]:.2f} | containment min {cs[0]:.2f} p5 "
            f"{cs[len(cs) // 20]:.2f}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--originals", type=int, default=200)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args(argv)
    ds = build(n_originals=args.originals, seed=args.seed)
    rep = evaluate(ds, seed=args.seed)
    print(
        f"ECB+ duplicate test set (seed {args.seed}): {len(ds.corpus)} corpus docs ingested "
        f"first, {len(ds.originals)} originals, {len(ds.copies)} copies, "
        f"{rep.boilerplate_pages} boilerplate pages\n"
    )
    print(f"{'kind':<10}{'recall':>9}{'found':>8}{'n':>6}   verdicts")
    for kind in COPY_KINDS:
        hit, total = rep.recall[kind]
        kinds = ", ".join(f"{k}={v}" for k, v in sorted(rep.verdict_kinds[kind].items()))
        print(f"{kind:<10}{hit / total:>9.3f}{hit:>8}{total:>6}   {kinds}")
    hit, total = rep.address_recall
    print(f"{'tracking (address via canonical_url)':<38}{hit / total:.3f} ({hit}/{total})")
    print(f"\nrecall over tracking+mirror+wire+edited: {rep.target_recall():.4f}  (target >= 0.97)")
    exc_hit, exc_total = rep.recall["excerpt"]
    print(f"excerpt recall: {exc_hit / exc_total:.4f}  (target >= 0.8)")
    n_false = len(rep.false_links) + len(rep.boilerplate_merges)
    print(
        f"pairwise precision (all links made): {rep.precision:.4f}  "
        f"({rep.true_links} true, {n_false} false; target >= 0.99)"
    )
    rel = Counter(r for _, _, r in rep.false_links)
    print(
        f"false merges in the main stream by relation: same event {rel['same event']}, "
        f"same topic {rel['same topic']}, unrelated {rel['unrelated']}  (target: 0 same event)"
    )
    print(f"site-boilerplate pages merged: {len(rep.boilerplate_merges)} of {rep.boilerplate_pages} (target 0)")
    print(
        "classifier alone on every same-topic ECB+ pair with native overlap < "
        f"{NEGATIVE_MAX}: "
        + ", ".join(f"{k} {rep.pair_merges[k]}/{rep.pair_totals[k]} merged" for k in ("same event", "same topic"))
    )
    print("ECB+'s own copies: " + ", ".join(f"{k}: {v}" for k, v in sorted(rep.native.items())))
    print("\nexact similarity of each copy to its original:")
    print("\n".join(margins(ds)))
    print("nearest negatives (max over all pairs):")
    for relation_name, (j, c) in sorted(rep.nearest_negative.items()):
        print(f"  {relation_name:<16} Jaccard max {j:.2f} | containment max {c:.2f}")
    off = evaluate(ds, seed=args.seed, use_site=False)
    print(
        f"\nablation, same-site rule off: recall {off.target_recall():.4f}, excerpt "
        f"{off.recall['excerpt'][0] / off.recall['excerpt'][1]:.4f}, precision "
        f"{off.precision:.4f}, boilerplate pages merged {len(off.boilerplate_merges)} of "
        f"{off.boilerplate_pages}"
    )
    if args.show_errors:
        for new, old, r in rep.false_links + rep.boilerplate_merges:
            print("FALSE", new, "->", old, r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
