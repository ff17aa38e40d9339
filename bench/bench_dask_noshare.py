"""A Dask sweep whose workers cannot see the workspace, against the same sweep with a shared
folder, and what shipping outputs back costs per MB.

    python bench/bench_dask_noshare.py [--configs 16] [--seconds 1] [--megabytes 8 64]

Starts a real ``dask scheduler`` and two ``dask worker`` processes (one thread each) twice:
once seeing the workspace (shared folder), once each inside its own mount namespace with an
empty tmpfs over the workspace (``unshare -rm``, as on another machine). Each cluster runs the
same sweep of ``--configs`` configs of ``bench_models:burn`` (``--seconds`` of CPU) into a
fresh workspace; the two clusters alternate, twice each, and the medians are printed. Then,
on the no-shared-folder cluster, one run writing an output of each ``--megabytes`` size, and
the same run writing a tiny output: the difference, per MB, is what shipping costs.
Linux only (``unshare``); prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "many"))

from noshare_cluster import Cluster  # noqa: E402

import trackyard  # noqa: E402


def start(folder: Path, hidden: Path, *, see: bool) -> Cluster:
    pythonpath = f"{HERE}:{HERE.parent / 'tests' / 'many'}"
    cluster = Cluster(folder, hidden, pythonpath=pythonpath)
    for name in ("w1", "w2"):
        cluster.start_worker(name, see=see)
    return cluster


def sweep_seconds(cluster: Cluster, workspace: Path, configs: int, seconds: float) -> float:
    cal = trackyard.get_tracker("calibration", workspace=workspace, model="bench_models:burn")
    grid = {f"b{i}": {"x": i, "seconds": seconds} for i in range(configs)}
    with cluster.client(2) as client:
        start = time.perf_counter()
        result = cal.sweep(grid, executor=client, progress=False)
        took = time.perf_counter() - start
    assert (result.ran, result.failed) == (configs, 0), result.summary()
    return took


def shipping_seconds(cluster: Cluster, workspace: Path, megabytes: float) -> float:
    cal = trackyard.get_tracker(
        "calibration", workspace=workspace, model="noshare_models_helper:big_output"
    )
    with cluster.client(2) as client:
        start = time.perf_counter()
        result = cal.sweep({"big": {"coeff": 0.5, "megabytes": megabytes}}, executor=client)
        took = time.perf_counter() - start
    assert result.ran == 1, result.summary()
    return took


def _peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--megabytes", type=float, nargs="*", default=[8.0, 64.0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--shipping-only", action="store_true", help="skip the sweeps")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-noshare-"))
    hidden = root / "workspaces"
    hidden.mkdir()
    clusters: dict[str, Any] = {}
    try:
        for mode in ("shared", "noshare"):
            (root / mode).mkdir()
            clusters[mode] = start(root / mode, hidden, see=mode == "shared")
        times: dict[str, list[float]] = {"shared": [], "noshare": []}
        for n in range(0 if args.shipping_only else args.rounds):
            for mode in ("shared", "noshare"):
                workspace = hidden / f"{mode}-{n}"
                took = sweep_seconds(clusters[mode], workspace, args.configs, args.seconds)
                times[mode].append(took)
        rows = [] if args.shipping_only else _sweep_rows(times, args)
        rows += _shipping_rows(clusters["noshare"], hidden, args.megabytes)
    finally:
        for cluster in clusters.values():
            cluster.close()
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


def _sweep_rows(times: dict[str, list[float]], args: Any) -> list[tuple[str, str]]:
    shared, noshare = (statistics.median(times[m]) for m in ("shared", "noshare"))
    what = f"{args.configs} x {args.seconds:g} s sweep, 2 workers"
    return [
        (f"{what}, shared folder (median of {args.rounds})", f"{shared:.1f} s"),
        (f"{what}, no shared folder (median of {args.rounds})", f"{noshare:.1f} s"),
        ("no shared folder / shared folder", f"{noshare / shared:.2f}x"),
    ]


def _shipping_rows(cluster: Cluster, hidden: Path, sizes: list[float]) -> list[tuple[str, str]]:
    base = statistics.median(
        shipping_seconds(cluster, hidden / f"tiny-{n}", 0.001) for n in range(3)
    )
    rows = [("one run, tiny output, no shared folder", f"{base * 1000:.0f} ms")]
    took: dict[float, float] = {}
    for size in sizes:
        before = _peak_rss_mb()
        took[size] = shipping_seconds(cluster, hidden / f"big-{size:g}", size)
        grew = _peak_rss_mb() - before
        per_mb = (took[size] - base) / size
        rows.append(
            (
                f"one run, {size:g} MB output",
                f"{took[size]:.2f} s ({per_mb * 1000:.0f} ms/MB over the tiny run); "
                f"driver peak RSS +{grew:.0f} MB",
            )
        )
    if len(sizes) >= 2:  # the slope between the extremes: less sensitive to per-run noise
        low, high = min(sizes), max(sizes)
        slope = (took[high] - took[low]) / (high - low)
        rows.append((f"shipping cost, {low:g} -> {high:g} MB", f"{slope * 1000:.0f} ms/MB"))
    return rows


if __name__ == "__main__":
    main()
