"""`trackyard serve`: what it costs a sweep, and how fast its domain page paints at scale.

    .venv/bin/python bench/bench_serve.py [--trials 6] [--rounds 2] [--sizes 10000 100000]
                                          [--only writers|paint] [--chromium /usr/bin/chromium]

1. Writer slowdown: a calibration sweep of ``--trials`` evaluations of the bundled model, in
   its own process, timed alone and while ``trackyard serve`` answers an HTTP client polling
   the runs listing and the domain page's live part at 10 Hz (alternated, ``--rounds`` each,
   fresh configs every time so nothing is served from cache). Target: at most 10 % slower.
2. First paint: a store bulk-filled to each of ``--sizes`` runs (as bench_report.py does),
   served; the first GET of the domain page (the server reads every run once), then the page
   in headless Chromium: its first contentful paint and until every chart is drawn.

Prints Markdown tables. Numbers from a shared machine are noisy: rerun before trusting one.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_report import ARGS, SEED_RUN, bulk_fill

TRACKYARD = Path(sys.executable).parent / "trackyard"
SWEEP = """
import sys, trackyard
tag, n = sys.argv[2], int(sys.argv[3])
space = {"mode_choice_coeff": [0.1 + 0.05 * i for i in range(n)], "tag": [tag]}
with trackyard.get_tracker("calibration", workspace=sys.argv[1]) as cal:
    cal.calibrate(space=space, n_trials=n, method="grid", progress=False,
                  base_config={"sample_rate": 0.1, "seed": 42})
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(workspace: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [str(TRACKYARD), "serve", "--workspace", str(workspace), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    raise SystemExit("trackyard serve did not start")


def _sweep(workspace: Path, tag: str, trials: int) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", SWEEP, str(workspace), tag, str(trials)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - t0


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` used so far (Linux; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _poll(base: str, stop: threading.Event, count: list[int]) -> None:
    paths = ["/api/runs?domain=calibration&limit=1000", "/live/calibration?v=0"]
    while not stop.is_set():
        with urllib.request.urlopen(base + paths[count[0] % 2], timeout=60) as resp:
            resp.read()
        count[0] += 1
        time.sleep(0.1)


def writers(trials: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "ws"
        _sweep(workspace, "warm", 1)
        proc, base = _serve(workspace)
        alone, polled, requests = [], [], 0
        server_cpu: list[float] = []
        try:
            for r in range(rounds):
                alone.append(_sweep(workspace, f"alone{r}", trials))
                stop, count = threading.Event(), [0]
                poller = threading.Thread(target=_poll, args=(base, stop, count))
                cpu0 = _cpu(proc.pid)
                poller.start()
                polled.append(_sweep(workspace, f"polled{r}", trials))
                server_cpu.append(_cpu(proc.pid) - cpu0)
                stop.set()
                poller.join()
                requests += count[0]
        finally:
            proc.terminate()
            proc.wait()
    a, p = statistics.median(alone), statistics.median(polled)
    print(f"| sweep of {trials} evaluations ({rounds} rounds, median) | seconds |")
    print("|---|---|")
    print(f"| alone | {a:.2f} ({', '.join(f'{x:.2f}' for x in alone)}) |")
    print(f"| while polled at 10 Hz | {p:.2f} ({', '.join(f'{x:.2f}' for x in polled)}) |")
    print(f"| slowdown (target <= 10 %) | {100 * (p / a - 1):+.1f} % |")
    print(f"| requests answered while polled | {requests} |")
    cpu = statistics.median(server_cpu)
    print(
        f"| CPU the server used during a polled sweep (median) | {cpu:.2f} s ({100 * cpu / p:.0f} % of one core) |"
    )
    print(f"| machine load average (1 min) | {os.getloadavg()[0]:.1f} |")


def paint(size: int, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "ws"
        subprocess.run([sys.executable, "-c", SEED_RUN, str(workspace)], check=True)
        bulk_fill(workspace, size)
        t0 = time.perf_counter()
        proc, base = _serve(workspace)
        try:
            with urllib.request.urlopen(base + "/domains/calibration", timeout=600) as resp:
                resp.read()
            first = time.perf_counter() - t0
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=ARGS)
                page = browser.new_page(viewport={"width": 1300, "height": 900})
                t0 = time.perf_counter()
                page.goto(base + "/domains/calibration")
                fcp = page.evaluate(
                    "(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime"
                )
                page.wait_for_function("document.body.dataset.chartsDrawn === '1'", timeout=120_000)
                drawn = time.perf_counter() - t0
                browser.close()
        finally:
            proc.terminate()
            proc.wait()
    print(f"| domain page at {size:,} runs | seconds |")
    print("|---|---|")
    print(f"| server start to the first page answered (reads every run once) | {first:.2f} |")
    print(f"| first contentful paint in Chromium, server warm (target < 1 s) | {fcp / 1000:.2f} |")
    print(f"| until every chart is drawn | {drawn:.2f} |")
    print(f"| machine load average (1 min) | {os.getloadavg()[0]:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--only", choices=["writers", "paint"])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    opts = parser.parse_args()
    if opts.only in (None, "writers"):
        writers(opts.trials, opts.rounds)
    if opts.only in (None, "paint"):
        for size in opts.sizes:
            paint(size, opts.chromium)


if __name__ == "__main__":
    main()
