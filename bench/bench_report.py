"""`trackyard report` on a large workspace: build time and page load time in Chromium.

    .venv/bin/python bench/bench_report.py [--runs 10000] [--chromium /usr/bin/chromium]

One real calibration run is recorded through trackyard (so the store has consist's real
schema), then the store is bulk-filled by copying that row ``--runs`` times with varied ids,
names, configs (three parameters), metrics, cache hits (10 %) and failures (3 %), each with an
output artifact and a JSON snapshot holding its config, as consist writes them. Then:

1. ``build_report`` (query, read 10,000 snapshots, build sections, write the HTML), in-process;
2. the page opened in headless Chromium: its first contentful paint (the browser's own
   ``first-contentful-paint`` entry: the summary and tables show), its load event (plotly.js
   parsed; charts are drawn one per task from then on) and until every chart is drawn.

Prints a Markdown table. Targets (issue 15): build < 5 s, first paint < 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

SEED_RUN = """
import sys, trackyard
with trackyard.get_tracker("calibration", workspace=sys.argv[1]) as cal:
    cal.evaluate(run_name="seed", config={"population": 200, "sample_rate": 1.0,
                                          "mode_choice_coeff": 0.5, "seed": 1})
"""


def bulk_fill(workspace: Path, n: int) -> None:
    import duckdb
    import pandas as pd

    db = workspace / "provenance.duckdb"
    con = duckdb.connect(str(db))
    template = con.execute("SELECT * FROM run LIMIT 1").fetchdf()
    art = con.execute("SELECT * FROM artifact LIMIT 1").fetchdf()
    rng = random.Random(0)
    runs, artifacts, links = [], [], []
    base = template.iloc[0]
    meta0 = json.loads(base["meta"])
    snapshots = workspace / "runs" / "consist_runs"
    executed: list[str] = []
    for i in range(n):
        run_id = f"bulk-{i:05d}"
        name = f"calibrate-random-s0-t{i:05d}"
        config = {"a": rng.random(), "b": rng.random(), "c": rng.random(), "seed": 1}
        meta = json.loads(json.dumps(meta0))
        meta["trackyard"]["run_name"] = name
        status = "completed"
        roll = rng.random()
        if roll < 0.03:
            status = "failed"
            meta.pop("metrics", None)
            meta["error"] = f"diverged at step {i}"
        elif roll < 0.13 and executed:
            meta["cache_source"] = rng.choice(executed)
        else:
            error = (config["a"] - 0.3) ** 2 + (config["b"] - 0.6) ** 2 + (config["c"] - 0.5) ** 2
            meta["metrics"] = {"mode_share_error": error}
            executed.append(run_id)
        row = base.copy()
        row["id"], row["status"], row["meta"] = run_id, status, json.dumps(meta)
        row["created_at"] = base["created_at"] + timedelta(seconds=i)
        row["started_at"] = row["created_at"]
        row["ended_at"] = row["created_at"] + timedelta(seconds=1.5)
        row["config_hash"] = f"bulk{i}"
        runs.append(row)
        folder = workspace / "runs" / "outputs" / "mode_choice" / run_id
        folder.mkdir(parents=True, exist_ok=True)
        a = art.iloc[0].copy()
        a["id"], a["run_id"] = f"art-{i:05d}", run_id
        a["container_uri"] = f"./outputs/mode_choice/{run_id}/persons.parquet"
        artifacts.append(a)
        links.append(
            {"run_id": run_id, "artifact_id": a["id"], "direction": "output", "is_implicit": False}
        )
        (snapshots / f"{run_id}.json").write_text(json.dumps({"config": config}))
    run_df = pd.DataFrame(runs)  # noqa: F841 (read by DuckDB by name)
    art_df = pd.DataFrame(artifacts)  # noqa: F841
    link_df = pd.DataFrame(links)  # noqa: F841
    con.execute("INSERT INTO run SELECT * FROM run_df")
    con.execute("INSERT INTO artifact SELECT * FROM art_df")
    con.execute("INSERT INTO run_artifact_link SELECT * FROM link_df")
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "ws"
        subprocess.run([sys.executable, "-c", SEED_RUN, str(workspace)], check=True)
        t0 = time.perf_counter()
        bulk_fill(workspace, opts.runs)
        fill = time.perf_counter() - t0

        from trackyard.report import build_report

        t0 = time.perf_counter()
        result = build_report(workspace=workspace, output=Path(tmp) / "report.html")
        build = time.perf_counter() - t0
        size = result.path.stat().st_size

        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=opts.chromium, args=ARGS)
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            t0 = time.perf_counter()
            page.goto(result.path.as_uri())  # returns at the load event: the page is shown
            load = time.perf_counter() - t0
            paint = page.evaluate(
                "(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime"
            )
            page.wait_for_function("document.body.dataset.chartsDrawn === '1'", timeout=60_000)
            drawn = time.perf_counter() - t0
            charts = page.evaluate("document.querySelectorAll('.chart').length")
            browser.close()
    print(f"| measure | {result.runs:,} runs |")
    print("|---|---|")
    print(f"| bulk fill of the store (setup, not measured against a target) | {fill:.2f} s |")
    print(f"| `build_report` (target < 5 s) | {build:.2f} s |")
    print(f"| report file size | {size / 1e6:.1f} MB |")
    print(f"| first contentful paint (the page shows, target < 3 s) | {paint / 1000:.2f} s |")
    print(f"| page load (load event: the whole page, plotly.js included) | {load:.2f} s |")
    print(f"| until all {charts} charts are drawn (one per task after load) | {drawn:.2f} s |")
    print(f"| machine load average (1 min) | {os.getloadavg()[0]:.1f} |")


if __name__ == "__main__":
    main()
