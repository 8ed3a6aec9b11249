"""CPU of story features (``worker.stories.link.story_features``) and a golden check that a
cheaper implementation gives byte-identical outputs.

    PYTHONPATH=$PWD python -m bench.features_cost --golden-from /work/main   # write main's outputs
    PYTHONPATH=$PWD python -m bench.features_cost --check                    # equal to them?
    PYTHONPATH=$PWD python -m bench.features_cost --reps 5                   # this checkout's CPU
    PYTHONPATH=$PWD python -m bench.features_cost --compare-with /work/main --rounds 3   # ABBA

The corpus is every text at hand, in this order: the ECB+ articles (with their dates, so that
the date keys of ``incident_keys`` are exercised), the incident stream of ``bench.incident_stream``
(seeds 19 and 7, and seed 19 with ``realism``), and the text that
``worker.normalise.extract.extract_article`` extracts from every page of the extraction
development sets (aeb, wcxb-test, trafilatura-eval: many languages, real boilerplate), with the
language it detects. Extraction is slow, so the corpus is cached in ``--corpus`` (a pickle
under /tmp); delete it to rebuild.

``--golden-from TREE`` computes ``story_features`` of every article with the checkout at TREE,
in a child process, and pickles the outputs to ``--golden``. ``--check`` computes them with this
checkout and counts the articles whose ``StoryFeatures`` (title terms, sentences with keys and
terms, incident keys) are equal to the golden ones; it exits 1 if any differ.

Timing: process time of ``story_features`` over the whole corpus, after one untimed pass (the
stemmer and term caches are warm, as in a worker that runs for hours); best and median of
``--reps`` passes, in ms per article. ``--compare-with OTHER`` runs this checkout and OTHER in
child processes (each with its own ``.venv`` python when it has one), in ABBA order for
``--rounds`` rounds, and prints the ratio this/other of the medians of the per-child best passes.
``--part keys`` times ``evidence.incident_keys`` alone (the share of the keys); ``--every N`` times
every N-th article only (quicker, noisier); ``--sets ecb,pages`` times those parts of the corpus
only (``stream`` is the synthetic crime stream, most of the corpus; ``pages`` the extracted pages).
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
from pathlib import Path
from typing import Any

from bench.data import load_ecbplus, run_in_checkout, shared_data

Article = tuple[str, str, Any, str, str]  # title, text, published_at, source, language

CORPUS = Path("/tmp/featcost_corpus.pkl")
GOLDEN = Path("/tmp/featcost_golden.pkl")


def _extraction_pages(root: Path) -> list[Article]:
    """The extracted text of every page of the extraction sets (slow: ~1 minute)."""
    from bench.extraction_quality import load_aeb, load_teval, load_wcxb
    from worker.normalise.extract import extract_article

    out: list[Article] = []
    for loader in (load_aeb, load_wcxb, load_teval):
        for page in loader(root):
            try:
                art = extract_article(page.body, url=page.url or "http://unknown.invalid/")
            except Exception:  # a page the extractor rejects has no text to test
                continue
            source = f"{page.set_name}:{page.page_id}"
            out.append((art.title or "", art.text, art.published_at, source, art.language or "en"))
    return out


def build_corpus() -> list[Article]:
    from bench.incident_stream import build_stream
    from bench.story_quality import ecb_docs

    root = shared_data()
    arts: list[Article] = [
        (d.title, d.text, d.published_at, d.source, "en") for d in ecb_docs(load_ecbplus(), with_dates=True)
    ]
    for seed, realism in ((19, False), (7, False), (19, True)):
        arts += [(d.title, d.text, d.published_at, d.source, "en") for d in build_stream(seed=seed, realism=realism)]
    arts += _extraction_pages(root)
    return arts


def load_corpus(path: Path) -> list[Article]:
    if not path.exists():
        arts = build_corpus()
        path.write_bytes(pickle.dumps(arts))
    corpus: list[Article] = pickle.loads(path.read_bytes())
    return corpus


# Runs in a child process, with the checkout under test first on sys.path: times one checkout's
# story_features on the cached corpus and optionally pickles its outputs.
_CHILD = r"""
import json, pickle, sys, time
from worker.stories import evidence, link
corpus = pickle.loads(open(sys.argv[1], "rb").read())
reps, part, out = int(sys.argv[2]), sys.argv[3], sys.argv[4]
if part == "keys":
    def one(a):
        return evidence.incident_keys(a[0], a[1], a[2])
else:
    def one(a):
        return link.story_features(a[0], a[1], a[2], a[3], a[4])
results = [one(a) for a in corpus]  # untimed: warms the stemmer and term caches
if out:
    open(out, "wb").write(pickle.dumps(results))
times = []
for _ in range(reps):
    t0 = time.process_time()
    for a in corpus:
        one(a)
    times.append(time.process_time() - t0)
print("TIMES " + json.dumps(times))
"""


def run_child(tree: Path, corpus: Path, reps: int, part: str = "all", out: Path | None = None) -> list[float]:
    """Seconds per timed pass of the checkout at ``tree`` (and its outputs pickled to ``out``)."""
    proc = run_in_checkout(tree, _CHILD, str(corpus), str(reps), part, str(out or ""))
    line = next(x for x in proc.stdout.splitlines() if x.startswith("TIMES "))
    times: list[float] = json.loads(line[len("TIMES ") :])
    return times


def check(corpus: list[Article], golden: Path) -> int:
    """Articles whose features differ from the golden ones (printed with a few examples)."""
    from worker.stories import link

    expected = pickle.loads(golden.read_bytes())
    if len(expected) != len(corpus):
        raise SystemExit(f"golden has {len(expected)} articles, corpus {len(corpus)}: rebuild both")
    bad = [i for i, a in enumerate(corpus) if link.story_features(*a) != expected[i]]
    for i in bad[:5]:
        got = link.story_features(*corpus[i])
        print(
            f"DIFF {corpus[i][3]}: title_terms {got.title_terms == expected[i].title_terms}, "
            f"sentences {got.sentences == expected[i].sentences}, keys {got.keys == expected[i].keys}"
        )
    print(f"equal: {len(corpus) - len(bad)} of {len(corpus)} articles")
    return len(bad)


def _set_of(article: Article) -> str:
    """ecb, stream or pages, by the article's source (see build_corpus)."""
    source = article[3]
    if source.split(":")[0] in ("aeb", "wcxb", "teval"):
        return "pages"
    return "stream" if source.endswith(".example") else "ecb"  # the stream's outlets are made up


def _ms(seconds: float, n: int) -> str:
    return f"{1000 * seconds / n:.3f}"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--golden", type=Path, default=GOLDEN)
    ap.add_argument("--golden-from", type=Path, help="write the golden outputs with the checkout at this path")
    ap.add_argument("--check", action="store_true", help="compare this checkout's outputs with the golden ones")
    ap.add_argument("--compare-with", type=Path, help="another checkout, timed against this one in ABBA order")
    ap.add_argument("--rounds", type=int, default=2, help="ABBA rounds with --compare-with")
    ap.add_argument("--reps", type=int, default=3, help="timed passes over the corpus per run")
    ap.add_argument("--part", choices=("all", "keys"), default="all", help="keys: incident_keys alone")
    ap.add_argument("--every", type=int, default=1, help="time every N-th article only")
    ap.add_argument("--sets", default="ecb,stream,pages", help="parts of the corpus timed")
    args = ap.parse_args(argv)
    here = Path(__file__).resolve().parents[1]
    corpus = load_corpus(args.corpus)
    n = len(corpus)
    print(f"corpus: {n} articles ({args.corpus})")
    if args.golden_from:
        run_child(args.golden_from.resolve(), args.corpus, 0, out=args.golden)
        print(f"golden outputs of {args.golden_from} -> {args.golden}")
    if args.check and check(corpus, args.golden):
        raise SystemExit(1)
    timed = [a for a in corpus if _set_of(a) in args.sets.split(",")][:: args.every]
    if len(timed) != n:
        n = len(timed)
        args.corpus = args.corpus.with_name(f"{args.corpus.stem}-{args.sets.replace(',', '+')}-{args.every}.pkl")
        args.corpus.write_bytes(pickle.dumps(timed))
        print(f"timed: {n} articles ({args.sets}, every {args.every})")
    if args.compare_with:
        trees = {"this": here, "other": args.compare_with.resolve()}
        best: dict[str, list[float]] = {"this": [], "other": []}
        for r in range(args.rounds):
            for label in ("this", "other", "other", "this"):
                times = run_child(trees[label], args.corpus, args.reps, args.part)
                best[label].append(min(times))
                passes = [_ms(t, n) for t in times]
                print(f"round {r + 1} {label:5s} best {_ms(min(times), n)} ms/article  passes {passes}")
        this, other = statistics.median(best["this"]), statistics.median(best["other"])
        print(
            f"{args.part}: this {_ms(this, n)} ms/article, other {_ms(other, n)} ms/article, "
            f"ratio this/other {this / other:.3f} ({here} vs {trees['other']}, {args.rounds} ABBA rounds)"
        )
    elif not (args.check or args.golden_from):
        times = run_child(here, args.corpus, args.reps, args.part)
        print(f"{args.part}: best {_ms(min(times), n)} ms/article, median {_ms(statistics.median(times), n)}")


if __name__ == "__main__":
    main()
