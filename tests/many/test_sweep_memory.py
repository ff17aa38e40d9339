"""A big processes sweep runs in flat memory: the driver holds little per config, during the
sweep and in the ``ManyResult`` it returns, which still reads like the ``{name: RunOutcome}``
dict it always was."""

from __future__ import annotations

import gc
import sys
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trackyard

MODEL = "many_models_helper:model"
SMALL, LARGE = 8, 40


@dataclass
class Measured:
    result: Any
    peak: int  # bytes the driver allocated at most during the sweep
    kept: int  # bytes still held once it returned (the result, and anything leaked)


def _intern_headroom() -> list[str]:
    """Grow the table of interned strings now (``pathlib`` interns every part of every path):
    its resizes are one-off allocations of megabytes that would swamp a per-config figure.
    Intern fresh strings until the table has just doubled; the next doubling is then tens of
    thousands of strings away, far more than the sweeps below intern. Keep what it returns."""
    kept: list[str] = []
    for _ in range(2_000):
        before = tracemalloc.get_traced_memory()[0]
        kept.extend(sys.intern(f"trackyard-headroom-{len(kept) + i}") for i in range(500))
        if tracemalloc.get_traced_memory()[0] - before > 500_000:
            return kept
    raise AssertionError("the interned-strings table never grew")


def _sweep(cal: Any, model: Any, prefix: str, n: int) -> Measured:
    items = [(f"{prefix}{i}", {"coeff": 0.1 + i / 1000, "label": f"{prefix}{i}"}) for i in range(n)]
    gc.collect()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    result = cal.run_many(model, items, executor="processes", max_workers=2, progress=False)
    peak = tracemalloc.get_traced_memory()[1] - base
    del items
    gc.collect()
    return Measured(result, peak, tracemalloc.get_traced_memory()[0] - base)


def test_a_processes_sweep_holds_little_per_config_in_the_driver(models_on_path: Path) -> None:
    """Between a sweep of 8 and one of 40 configs, the driver's extra Python memory per config
    stays small, at its peak (during the sweep) and in what it keeps (the returned result).
    Before, every task's future and every outcome's full record were held: about 5.5 KB per
    config at the peak and 2.3 KB kept (measured with the old code); now about 2.2 and 0.7."""
    import many_models_helper

    cal = trackyard.get_tracker("calibration", workspace=models_on_path / "ws", model=MODEL)
    tracemalloc.start()
    try:
        with cal.reuse_workers():  # the same workers for all three: no start-up in the figures
            _sweep(cal, many_models_helper.model, "warm", 2)
            headroom = _intern_headroom()
            small = _sweep(cal, many_models_helper.model, "s", SMALL)
            large = _sweep(cal, many_models_helper.model, "l", LARGE)
    finally:
        tracemalloc.stop()
    del headroom
    assert (large.result.ran, large.result.failed) == (LARGE, 0), large.result.summary()
    per_peak = (large.peak - small.peak) / (LARGE - SMALL)
    per_kept = (large.kept - small.kept) / (LARGE - SMALL)
    assert per_peak < 3_600, f"{per_peak:.0f} bytes per config at the peak"
    assert per_kept < 1_400, f"{per_kept:.0f} bytes per config kept"

    # What the user reads is what ran: the record of each run, its files, its metric.
    outcomes = large.result.outcomes
    assert list(outcomes) == [f"l{i}" for i in range(LARGE)]
    assert outcomes == dict(outcomes.items()) and len(outcomes) == LARGE
    last = outcomes[f"l{LARGE - 1}"]
    assert (last.name, last.status, last.cache_hit) == (f"l{LARGE - 1}", "completed", False)
    assert last.config == {"coeff": 0.1 + (LARGE - 1) / 1000, "label": f"l{LARGE - 1}"}
    assert last.output("persons").read_text() == f"persons,coeff\n1,{0.1 + (LARGE - 1) / 1000}\n"
    assert last.metrics == {"mode_share_error": (0.1 + (LARGE - 1) / 1000 - 0.5) ** 2}
    assert cal.consist.get_run(last.run_id).status == "completed"


def test_a_rerun_returns_the_same_outcomes_from_the_cache(models_on_path: Path) -> None:
    """A sweep's outcomes, read back from the compact result, equal a rerun's (cache hits)
    field for field apart from the hit itself; the result still takes new entries."""
    import many_models_helper

    cal = trackyard.get_tracker("calibration", workspace=models_on_path / "ws", model=MODEL)
    items = [(f"r{i}", {"coeff": 0.2 + i / 10, "label": f"r{i}"}) for i in range(3)]
    first = cal.run_many(many_models_helper.model, items, executor="processes", max_workers=2)
    again = cal.run_many(many_models_helper.model, items, executor="processes", max_workers=2)
    assert again.cached == 3
    for name, outcome in first.outcomes.items():
        hit = again.outcomes[name]
        assert (hit.cache_hit, hit.cache_source) == (True, outcome.run_id)
        assert (hit.outputs, hit.metrics, hit.config) == (
            outcome.outputs,
            outcome.metrics,
            outcome.config,
        )
    first.outcomes["copy"] = again.outcomes["r0"]
    assert first.outcomes["copy"] == again.outcomes["r0"] and len(first.outcomes) == 4
