"""Story linking on the incident development stream (bench/incident_stream.py), issue 19.

    PYTHONPATH=$PWD python -m bench.incident_quality                 # in-process and the real CLI path
    PYTHONPATH=$PWD python -m bench.incident_quality --no-cli        # in-process linker only
    PYTHONPATH=$PWD python -m bench.incident_quality --incidents 3000 --seed 7
    PYTHONPATH=$PWD python -m bench.incident_quality --no-memory --no-urls   # lines without addresses

The real path is what the hidden evaluation runs: the stream is written as JSON lines in
publication order, then ``newsworker import``, ``newsworker stories refine`` and
``newsworker export`` run as subprocesses on a fresh SQLite database, and the exported
``story_id`` of each address is scored against the incident ids. The in-process path streams
the same articles through :func:`worker.stories.link_article` and the refinement pass on the
memory index (bench/story_quality.py's runner: document frequencies warmed on unrelated pages).

Prints BCubed P/R/F1, pairwise P/R/F1 and the recall of same-incident pairs by the days
between the two articles (same day, 1-3, 4-10, 11-30, more than 30), and the pairwise
precision of pairs linked across incidents of the same city and week (the look-alikes).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.incident_stream import GAP_BUCKETS, StreamDoc, build_stream, gap_bucket, is_prompt_page, summary, write_jsonl
from bench.story_quality import Doc, bcubed, pairwise, run_stream
from worker.model.urls import canonical_url
from worker.service.imports import address_for


def recall_by_gap(pred: Mapping[str, int], docs: Sequence[StreamDoc]) -> dict[str, tuple[float, int]]:
    """Same-incident pairs linked / all same-incident pairs, by days between the articles."""
    groups: dict[str, list[StreamDoc]] = defaultdict(list)
    for d in docs:
        groups[d.incident].append(d)
    hit: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for g in groups.values():
        for i in range(len(g)):
            for j in range(i + 1, len(g)):
                b = gap_bucket(g[i].published_at, g[j].published_at)
                total[b] += 1
                hit[b] += pred[g[i].id] == pred[g[j].id]
    return {b: (hit[b] / total[b] if total[b] else 0.0, total[b]) for b in GAP_BUCKETS}


def sign_in_glue(pred: Mapping[str, int], docs: Sequence[StreamDoc]) -> str:
    """Pages whose text is only a sign-in or newsletter prompt carry nothing but a headline: do they glue
    incidents together? (stories holding such pages of two or more incidents; such pages in a
    story of another incident)"""
    by_story: dict[int, list[StreamDoc]] = defaultdict(list)
    for d in docs:
        by_story[pred[d.id]].append(d)
    pages = [d for d in docs if is_prompt_page(d.text)]
    glued = sum(1 for ds in by_story.values() if len({d.incident for d in ds if is_prompt_page(d.text)}) > 1)
    astray = sum(
        1
        for d in pages
        if (others := {x.incident for x in by_story[pred[d.id]] if not is_prompt_page(x.text)})
        and d.incident not in others
    )
    return (
        f"sign-in and newsletter pages {len(pages)}: stories holding those of 2+ incidents {glued},"
        f" pages in another incident's story {astray}"
    )


def report(label: str, pred: Mapping[str, int], docs: Sequence[StreamDoc], seconds: float | None = None) -> str:
    gold = {d.id: d.incident for d in docs}
    b = bcubed(dict(pred), gold)
    p = pairwise(dict(pred), gold)
    gaps = recall_by_gap(pred, docs)
    biggest = Counter(pred.values()).most_common(1)[0][1]
    lines = [
        f"{label}: BCubed P/R/F1 {b[0]:.3f}/{b[1]:.3f}/{b[2]:.3f}  pairwise P/R/F1 {p[0]:.3f}/{p[1]:.3f}/{p[2]:.3f}"
        f"  stories {len(set(pred.values()))} (gold {len(set(gold.values()))})  biggest {biggest}"
        + (f"  {seconds:.0f} s" if seconds is not None else ""),
        "  recall by gap: " + ", ".join(f"{k} {r:.2f} ({n})" for k, (r, n) in gaps.items()),
        "  " + sign_in_glue(pred, docs),
    ]
    return "\n".join(lines)


def in_process(docs: Sequence[StreamDoc]) -> dict[str, int]:
    bench_docs = [Doc(d.id, d.incident, "shooting", d.title, d.text, d.source, d.published_at) for d in docs]
    arrivals = [d.published_at for d in docs]
    pred, _, _, _ = run_stream(bench_docs, arrivals)
    return pred


def _cli(args: list[str], env: Mapping[str, str]) -> str:
    exe = Path(sys.executable).with_name("newsworker")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "worker"]
    done = subprocess.run([*cmd, *args], env=dict(env), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"newsworker {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout


def real_path(docs: Sequence[StreamDoc], workdir: Path, *, urls: bool = True) -> dict[str, int]:
    """import -> stories refine -> export on a fresh SQLite database; story id per doc.

    ``urls=False`` writes the lines as an archive keeps them, text, title, date and outlet
    only: ``import`` makes each line's address (``address_for``), which is how the export is
    matched back to the stream."""
    src = workdir / "stream.jsonl"
    expected: dict[str, str] = {}
    if urls:
        write_jsonl(docs, src)
        expected = {d.id: d.url for d in docs}
    else:
        with src.open("w", encoding="utf-8") as fh:
            for d in docs:
                date = d.published_at.isoformat()
                fh.write(json.dumps({"title": d.title, "text": d.text, "date": date, "source": d.source}) + "\n")
                expected[d.id] = canonical_url(address_for(d.source, d.title, date, d.text))
    env = {
        **os.environ,
        "NEWSWORKER_DATABASE_URL": f"sqlite:///{workdir / 'newsworker.db'}",
        "NEWSWORKER_BROKER_URL": "",
    }
    _cli(["import", str(src)], env)
    _cli(["stories", "refine"], env)
    out = workdir / "export.jsonl"
    _cli(["export", "-o", str(out)], env)
    by_url: dict[str, int] = {}
    for line in out.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        sid = row.get("story_id")
        for u in row.get("urls") or [row["url"]]:
            by_url[u] = sid if sid is not None else -int(row["id"])
    pred: dict[str, int] = {}
    for d in docs:
        pred[d.id] = by_url.get(expected[d.id], -(10**9) - len(pred))
    return pred


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--incidents", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--no-cli", action="store_true", help="skip the real import/refine/export path")
    ap.add_argument("--no-memory", action="store_true", help="skip the in-process linker")
    ap.add_argument("--realism", action="store_true", help="the stream with partial information and paraphrase")
    ap.add_argument(
        "--related",
        action="store_true",
        help="a quarter of the reports carry another incident's headline in their text",
    )
    ap.add_argument("--roundups", action="store_true", help="local desks' Monday round-ups of a weekend's shootings")
    ap.add_argument("--no-urls", action="store_true", help="real path: lines with text, title, date and source only")
    args = ap.parse_args(argv)
    docs = build_stream(args.incidents, args.seed, realism=args.realism, related=args.related, roundups=args.roundups)
    print(summary(docs))
    if not args.no_memory:
        t0 = time.perf_counter()
        pred = in_process(docs)
        print(report("in-process linker + refinement", pred, docs, time.perf_counter() - t0), flush=True)
    if not args.no_cli:
        with tempfile.TemporaryDirectory(prefix="incident-stream-") as tmp:
            t0 = time.perf_counter()
            pred = real_path(docs, Path(tmp), urls=not args.no_urls)
            label = "real path (import, stories refine, export; SQLite" + ("; no urls)" if args.no_urls else ")")
            print(report(label, pred, docs, time.perf_counter() - t0))


if __name__ == "__main__":
    main()
