"""Benchmark the calibration domain against the pattern document's direct consist calls.

Run by hand from the repository root: ``python bench/bench_plugins.py [--repeat N]``.
Prints a Markdown table:

- per-call time of ``CalibrationTracker.evaluate`` vs a hand-written ``tracker.run(...)`` as the
  pattern document writes it (same model, same identity inputs and outputs), for cache misses
  (a new seed each call) and cache hits (the same config again), interleaved in one process;
- wall time of the demo (``run_demo()`` in a fresh process), cold and warm.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import consist
from consist import ExecutionOptions, Tracker

import trackyard
from trackyard_calibration.model import run_model
from trackyard_calibration.tracker import DEMO_CONFIG_DIR


def pattern_model(config: dict[str, Any], config_dir: Path) -> dict[str, Path]:
    """What a pattern-document user writes around the same model for raw consist."""
    result = run_model(config, config_dir)
    outputs: dict[str, Path] = {}
    for key in ("persons", "trips"):
        path = Path(consist.output_path(key, "parquet"))
        result[key].to_parquet(path)
        outputs[key] = path
    outputs["metrics"] = result["metrics"]
    consist.log_meta(metrics={"mode_share_error": result["mode_share_error"]})
    return outputs


class PatternCalibrationTracker:
    """The pattern document's ``CalibrationTracker.evaluate``, minus its ``output_dir`` bug."""

    def __init__(self, *, workspace: Path, config_dir: Path) -> None:
        self.config_dir = config_dir
        self._tracker = Tracker(run_dir=workspace / "runs", db_path=workspace / "provenance.duckdb")
        self._identity_inputs = [("model_config", config_dir)]

    def evaluate(self, *, run_name: str, config: dict[str, Any]) -> Any:
        return self._tracker.run(
            fn=pattern_model,
            name=run_name,
            model="my_model_calibration",
            config=config,
            identity_inputs=self._identity_inputs,
            outputs=["persons", "trips", "metrics"],
            execution_options=ExecutionOptions(runtime_kwargs={"config_dir": self.config_dir}),
        )


def _time(fn: Callable[..., Any], **kwargs: Any) -> float:
    start = time.perf_counter()
    fn(**kwargs)
    return time.perf_counter() - start


def bench_evaluate(root: Path, repeat: int) -> dict[str, tuple[float, float]]:
    cal: Any = trackyard.get_tracker("calibration", workspace=root / "trackyard")
    direct = PatternCalibrationTracker(workspace=root / "direct", config_dir=DEMO_CONFIG_DIR)
    base = {"sample_rate": 0.1, "mode_choice_coeff": 0.7}
    # Warm both (imports, first connection), then interleave to share the machine's noise.
    cal.evaluate(run_name="warm", config={**base, "seed": 999})
    direct.evaluate(run_name="warm", config={**base, "seed": 999})
    times: dict[str, list[float]] = {k: [] for k in ("ty_miss", "pd_miss", "ty_hit", "pd_hit")}
    for i in range(repeat):
        cfg = {**base, "seed": i}
        times["ty_miss"].append(_time(cal.evaluate, run_name=f"m{i}", config=cfg))
        times["pd_miss"].append(_time(direct.evaluate, run_name=f"m{i}", config=cfg))
        hit = {**base, "seed": 999}
        times["ty_hit"].append(_time(cal.evaluate, run_name=f"h{i}", config=hit))
        times["pd_hit"].append(_time(direct.evaluate, run_name=f"h{i}", config=hit))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "cache miss": (med["ty_miss"], med["pd_miss"]),
        "cache hit": (med["ty_hit"], med["pd_hit"]),
    }


def bench_demo(root: Path) -> tuple[float, float]:
    folder = root / "demo"
    folder.mkdir()
    code = "from trackyard.demo import run_demo; run_demo()"

    def run() -> None:
        subprocess.run([sys.executable, "-c", code], cwd=folder, check=True, capture_output=True)

    return _time(run), _time(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        evaluate = bench_evaluate(root, args.repeat)
        cold, warm = bench_demo(root)
    print(f"| measurement (median of {args.repeat}) | trackyard | pattern document | ratio |")
    print("|---|---|---|---|")
    for label, (ours, theirs) in evaluate.items():
        print(
            f"| `evaluate` {label} | {ours * 1000:.1f} ms | {theirs * 1000:.1f} ms "
            f"| {ours / theirs:.3f} |"
        )
    print(f"| demo cold (fresh process, new workspace) | {cold:.2f} s | | |")
    print(f"| demo warm (fresh process, all cached) | {warm:.2f} s | | |")


if __name__ == "__main__":
    main()
