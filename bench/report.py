"""Write BENCHMARKS.md (tables) and bench/charts/*.png from the benchmarks' results.

    PYTHONPATH=$PWD python -m bench.report            # reads bench/runs/*.json

Each benchmark writes its figures to ``bench/runs/<name>.json`` together with the exact
command that produced them and the machine it ran on; this command only renders them, so the
document always says what was measured, how, and where. Charts need matplotlib (``pip install
-e '.[bench]'``); without it the tables are still written.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from bench.throughput import REPO, RESULTS

CHARTS = REPO / "bench" / "charts"
STAGES = ["fetch", "parse", "normalise", "dedupe", "link", "store", "other"]


def _load(name: str, results: Path) -> dict[str, Any] | None:
    path = results / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _plt() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _machine_line(m: dict[str, Any]) -> str:
    load = ", ".join(f"{x:.1f}" for x in m.get("load_average_at_start", []))
    return (
        f"{m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, Python {m['python']}, {m['system']}; "
        f"load average at start {load} (the machine is shared: absolute figures are noisy, ratios measured "
        "side by side in one run are what to read)"
    )


def _f(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def throughput_section(r: dict[str, Any], plt: Any, charts: Path) -> list[str]:
    s = r["summary"]
    site = r["site"]
    out = [
        "## End to end, embedded (SQLite)",
        "",
        f"Command: `{r['command']}`  ",
        f"Machine: {_machine_line(r['machine'])}.",
        "",
        f"Local news web: {site['articles']} real article pages on {len(site['hosts'])} sites, {site['copies']} "
        f"syndicated copies, {site['missing_pages']} entries whose page is missing, {site['feeds']} feeds and "
        f"{site['failing_feeds']} failing ones ({site['entries']} entries). Fetch concurrency {r['concurrency']} "
        "for newsworker and the minimal ingester alike.",
        "",
        "| run | items | wall s | items/s | CPU s | CPU ms per item |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    rows = [
        ("bare trafilatura `extract` (pages, in memory, one thread)", r["bare"], "pages"),
        ("minimal ingester: requests + trafilatura + one INSERT", r["minimal"], "articles"),
        (
            f"**newsworker `run --once`** (default: {r.get('default_normalise_processes', 0)} normalising processes)",
            r["newsworker"],
            "articles",
        ),
        (f"newsworker, {r.get('normalise_processes', 2)} normalising processes", r["newsworker_processes"], "articles"),
    ]
    if "latency_newsworker" in r:
        ms = r["latency_s"] * 1000
        rows += [
            (f"minimal ingester, {ms:.0f} ms per response", r["latency_minimal"], "articles"),
            (f"**newsworker, {ms:.0f} ms per response**", r["latency_newsworker"], "articles"),
        ]
    for label, row, key in rows:
        out.append(
            f"| {label} | {row[key]} | {_f(row['wall_s'])} | {_f(row['per_second'])} | {_f(row['cpu_s'])} "
            f"| {_f(row['cpu_ms_per_item'])} |"
        )
    repoll = r["newsworker"].get("repoll")
    if repoll:
        out += [
            "",
            f"Second pass over the same {repoll['feeds']} feeds made due again (every feed answers 304 Not "
            f"Modified): {_f(repoll['wall_s'], 2)} s wall, {_f(repoll['cpu_s'], 2)} s CPU.",
        ]
    out += [
        "",
        "Wall-clock rows depend on how busy the shared machine was during each row (the runs follow each "
        "other, they do not overlap); the CPU columns do not.",
        "",
        "| ratio (same run) | value | target |",
        "|---|---:|---|",
        f"| newsworker CPU per article / bare extraction CPU per page | {_f(s['cpu_ratio_to_bare'], 2)} | ≤ 1.25 |",
        f"| minimal ingester CPU per article / bare extraction | {_f(s['cpu_ratio_minimal_to_bare'], 2)} | |",
        f"| newsworker articles/s / minimal ingester articles/s | {_f(s['wall_ratio_to_minimal'], 2)} | ≥ 1 |",
        f"| newsworker articles/s with a normalisation process pool / without "
        f"| {_f(s['process_pool_speedup'], 2)} | > 1 to keep it |",
    ]
    if "latency_share_of_cpu_bound" in s:
        out.append(
            f"| newsworker articles/s with {r['latency_s'] * 1000:.0f} ms latency / CPU-bound | "
            f"{_f(s['latency_share_of_cpu_bound'], 2)} | ≥ 0.80 |"
        )
    if "stage_cpu_ms_per_article" in s:
        ms = s["stage_cpu_ms_per_article"]
        share = s["stage_share"]
        out += [
            "",
            "CPU per article by stage: shares from a profiled run (cProfile in every thread, thread CPU clock) "
            "applied to the unprofiled run's CPU per article. Entry points: fetch = `Fetcher.get` (feeds and "
            "pages); parse = `parse_feed` + entry sanitising; normalise = `extract_article` + "
            "`article_from_content`; dedupe = MinHash `fingerprint` + `check_duplicate`; link = "
            "`process_article` + `refine_stories`; store = the handlers' database work less the stages inside, "
            "and the work items' leases (`worker/service/work.py` lease/begin/done, and the claim and finish "
            "that ingests and linking write in their own transactions; runs before that was added count "
            "them as other); other = the rest (pool, logging, metrics).",
            "",
            "| stage | share | CPU ms per article |",
            "|---|---:|---:|",
            *[f"| {k} | {share[k] * 100:.1f}% | {ms[k]:.2f} |" for k in STAGES if k in ms],
            f"| bare extraction, for scale | | {r['bare']['cpu_ms_per_item']:.2f} |",
        ]
    if plt is not None:
        fig, ax = plt.subplots(figsize=(8, 3.8))
        labels = ["minimal ingester", "newsworker", "newsworker +processes"]
        values = [r["minimal"]["per_second"], r["newsworker"]["per_second"], r["newsworker_processes"]["per_second"]]
        colors = ["#999999", "#1f77b4", "#6baed6"]
        if "latency_newsworker" in r:
            labels += ["minimal, latency", "newsworker, latency"]
            values += [r["latency_minimal"]["per_second"], r["latency_newsworker"]["per_second"]]
            colors += ["#cccccc", "#ff7f0e"]
        ax.barh(labels, values, color=colors)
        ax.axvline(r["bare"]["per_second"], color="black", linestyle="--", label="bare extraction, one thread")
        ax.set_xlabel("articles per second (wall)")
        ax.set_title("Embedded throughput, same local site, same run")
        ax.legend(loc="lower right")
        fig.tight_layout()
        fig.savefig(charts / "throughput.png", dpi=110)
        plt.close(fig)
        out += ["", "![throughput](bench/charts/throughput.png)"]
        if "stage_cpu_ms_per_article" in s:
            fig, ax = plt.subplots(figsize=(8, 2.6))
            left = 0.0
            palette = ["#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#d9d9d9"]
            for name, color in zip(STAGES, palette, strict=True):
                value = s["stage_cpu_ms_per_article"].get(name, 0.0)
                ax.barh(["newsworker"], [value], left=left, color=color, label=name)
                left += value
            ax.barh(["bare extraction"], [r["bare"]["cpu_ms_per_item"]], color="#444444")
            ax.set_xlabel("CPU ms per article")
            ax.set_title("CPU per article by stage")
            ax.legend(ncol=7, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.35))
            fig.tight_layout()
            fig.savefig(charts / "cpu_by_stage.png", dpi=110)
            plt.close(fig)
            out += ["", "![CPU by stage](bench/charts/cpu_by_stage.png)"]
    return out


def distributed_section(r: dict[str, Any], plt: Any, charts: Path) -> list[str]:
    out = [
        "## End to end, distributed (Celery workers, Redis, PostgreSQL, beat)",
        "",
        f"Command: `{r['command']}`  ",
        f"Machine: {_machine_line(r['machine'])}.",
        "",
        f"{r['site']['entries']} entries from {r['site']['feeds']} feeds of the same local news web; each "
        "concurrency on a fresh database and Redis, from `feeds import` (which sends every poll at once) until "
        "every entry is stored and linked.",
        "",
        "| worker processes | latency | articles | wall s | articles/s | worker CPU ms/article "
        "| PostgreSQL CPU ms/article | total | first article s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, latency in (("cpu_bound", 0.0), ("with_latency", r.get("latency_s", 0.0))):
        for row in r.get(key, []):
            total = row["worker_cpu_ms_per_article"] + row["db_cpu_ms_per_article"]
            out.append(
                f"| {row['concurrency']} | {latency * 1000:.0f} ms | {row['processed']}/{row['expected']} "
                f"| {_f(row['wall_s'])} | {_f(row['per_second'])} | {_f(row['worker_cpu_ms_per_article'])} "
                f"| {_f(row['db_cpu_ms_per_article'])} | {_f(total)} | {_f(row.get('first_article_s'))} |"
            )
    out += [
        "",
        "First article: seconds from the start of `feeds import` (the CLI's own start-up included) to the first "
        "stored article, feeds added while worker and beat run (target ≤ 5 s).",
    ]
    if "speedup_2_over_1" in r:
        out += [
            "",
            f"2 worker processes / 1, CPU-bound: **{r['speedup_2_over_1']:.2f}×** (articles/s; medians where a "
            "concurrency ran more than once; target ≥ 1.8).",
        ]
    cold = r.get("cold_start", {}).get("first_article_s")
    if cold is not None:
        out += [
            "",
            f"Cold start (empty deployment, one feed added before start, no poll sent by the CLI): first article "
            f"stored **{cold:.1f} s** after starting worker and beat (target ≤ 5 s; the start-up of the Celery "
            "processes themselves is part of it).",
        ]
    if plt is not None:
        fig, ax = plt.subplots(figsize=(6.5, 3.6))
        latency_label = f"{r.get('latency_s', 0) * 1000:.0f} ms per response"
        for key, label in (("cpu_bound", "no added latency"), ("with_latency", latency_label)):
            by_concurrency: dict[int, list[float]] = {}
            for x in r.get(key, []):
                by_concurrency.setdefault(x["concurrency"], []).append(x["per_second"])
            if by_concurrency:  # a concurrency that ran more than once: its median
                xs = sorted(by_concurrency)
                ys = [statistics.median(by_concurrency[c]) for c in xs]
                ax.plot(xs, ys, marker="o", label=label)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("worker processes (prefork concurrency)")
        ax.set_ylabel("articles per second")
        ax.set_title("Distributed throughput by concurrency")
        ax.legend()
        fig.tight_layout()
        fig.savefig(charts / "distributed.png", dpi=110)
        plt.close(fig)
        out += ["", "![distributed](bench/charts/distributed.png)"]
    return out


def growth_section(r: dict[str, Any], plt: Any, charts: Path) -> list[str]:
    out = [
        "## Growth: dedupe and story linking with more stored articles (PostgreSQL)",
        "",
        f"Command: `{r['command']}` (runs `bench.dedupe_cost` and `bench.story_cost`)  ",
        f"Machine: {_machine_line(r['machine'])}.",
        "",
        "| stored articles | dedupe client ms | dedupe server ms | linking client ms | linking server ms |",
        "|---:|---:|---:|---:|---:|",
    ]
    sizes = sorted({int(k) for k in r["dedupe"]} | {int(k) for k in r["stories"]})
    for size in sizes:
        d = r["dedupe"].get(str(size)) or r["dedupe"].get(size) or {}
        st = r["stories"].get(str(size)) or r["stories"].get(size) or {}
        out.append(
            f"| {size:,} | {_f(d.get('client_ms'), 2)} | {_f(d.get('server_ms'), 2)} "
            f"| {_f(st.get('client_ms'), 2)} | {_f(st.get('server_ms'), 2)} |"
        )
    out += ["", "Linking includes the refinement pass's share per article."]
    if plt is not None:
        fig, ax = plt.subplots(figsize=(6.5, 3.6))
        for key, label in (("dedupe", "dedupe"), ("stories", "story linking")):
            pts = sorted((int(k), v["total_ms"]) for k, v in r[key].items())
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
        ax.set_xscale("log")
        ax.set_xlabel("stored articles")
        ax.set_ylabel("CPU ms per article (client + server)")
        ax.set_title("Cost by corpus size")
        ax.legend()
        fig.tight_layout()
        fig.savefig(charts / "growth.png", dpi=110)
        plt.close(fig)
        out += ["", "![growth](bench/charts/growth.png)"]
    return out


def memory_section(r: dict[str, Any], plt: Any, charts: Path) -> list[str]:
    out = [
        "## Memory: one embedded process over many articles",
        "",
        f"Command: `{r['command']}`  ",
        f"Machine: {_machine_line(r['machine'])}.",
        "",
        f"{r['articles']} articles stored by one `newsworker run --once` process (fetch pool, normalisation, "
        f"dedupe, linking and the writer all in it): resident size {_f(r['rss_after_warmup_mb'], 0)} MB after "
        f"warm-up, {_f(r['rss_at_end_mb'], 0)} MB at the end, peak {_f(r['peak_rss_mb'], 0)} MB.",
    ]
    if plt is not None and r["samples"]:
        fig, ax = plt.subplots(figsize=(6.5, 3.4))
        pts = [s for s in r["samples"] if s["rss_mb"] > 0]
        ax.plot([s["articles"] for s in pts], [s["rss_mb"] for s in pts])
        ax.set_xlabel("articles stored")
        ax.set_ylabel("RSS, MB")
        ax.set_ylim(bottom=0)
        ax.set_title("Resident memory over a run")
        fig.tight_layout()
        fig.savefig(charts / "memory.png", dpi=110)
        plt.close(fig)
        out += ["", "![memory](bench/charts/memory.png)"]
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    args = ap.parse_args(argv)
    plt = _plt()
    CHARTS.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Benchmarks",
        "",
        "Written by `PYTHONPATH=$PWD python -m bench.report` from `bench/runs/*.json`; each section names "
        "the command that produced its figures and the machine. How each benchmark works: "
        "[bench/README.md](bench/README.md).",
        "",
    ]
    sections = (
        ("throughput", throughput_section),
        ("distributed", distributed_section),
        ("growth", growth_section),
        ("memory", memory_section),
    )
    for name, render in sections:
        data = _load(name, args.results)
        if data is None:
            lines += [f"## {name}", "", f"Not run yet (`bench/runs/{name}.json` is missing).", ""]
            continue
        lines += [*render(data, plt, CHARTS), ""]
    args.out.write_text("\n".join(lines))
    print(f"written {args.out}" + ("" if plt else " (no charts: matplotlib is not installed)"))


if __name__ == "__main__":
    main()
