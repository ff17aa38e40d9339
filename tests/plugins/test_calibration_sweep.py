"""Sweeps of the calibration domain: caching, isolated failures, validation, progress."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

import trackyard
from trackyard.errors import ConfigValidationError

FAST = {"sample_rate": 0.02, "seed": 7}


def test_grid_sweep_runs_every_point_and_a_rerun_executes_nothing(workspace: Path) -> None:
    """A grid sweep evaluates each combination once; the same sweep again is all cache hits."""
    cal = trackyard.get_tracker("calibration", workspace=workspace)
    grid = {"mode_choice_coeff": [0.4, 1.2], "sample_rate": [0.02], "seed": [1, 2]}
    first = cal.sweep(grid=grid)
    again = cal.sweep(grid=grid)

    assert (first.ran, first.cached, first.failed) == (4, 0, 0)
    assert (again.ran, again.cached, again.failed) == (0, 4, 0)
    assert set(first.outcomes) == set(again.outcomes)
    assert "mode_choice_coeff-0.4_sample_rate-0.02_seed-1" in first.outcomes
    assert again.summary().startswith("4 evaluations: 0 ran, 4 from cache, 0 failed")
    ranked = cal.query_top_k(k=10)
    assert [r.run_id for r in ranked] == sorted(
        (o.run_id for o in first.outcomes.values()),
        key=lambda run_id: cal.metrics(run_id)["mode_share_error"],
    )


def test_a_failing_config_is_recorded_failed_and_the_sweep_goes_on(
    user_calibration: trackyard.DomainTracker,
) -> None:
    """One config raising fails only its label, with the message; the others complete."""
    result = user_calibration.sweep(
        {"low": {"coeff": 0.1}, "bad": {"coeff": -1.0}, "high": {"coeff": 0.9}}
    )

    assert (result.ran, result.cached, result.failed) == (2, 0, 1)
    assert set(result.outcomes) == {"low", "high"}
    assert result.failures == {"bad": "ValueError: cannot run coeff=-1.0"}
    assert "failed bad: ValueError: cannot run coeff=-1.0" in result.summary()
    failed = user_calibration.consist.find_runs(status="failed", model="mode_choice")
    assert [r.meta["trackyard"]["run_name"] for r in failed] == ["sweep_bad"]
    assert "cannot run coeff=-1.0" in str(failed[0].meta)


def test_a_failed_evaluation_executes_again_on_retry(
    user_calibration: trackyard.DomainTracker, user_model: dict[str, Any]
) -> None:
    """A failure is never cached: once the cause is gone, the retry executes and succeeds."""
    flag = user_model["path"].with_name("fail.flag")
    flag.write_text("x")
    with pytest.raises(ValueError, match=r"cannot run coeff=0\.3"):
        user_calibration.evaluate(run_name="retry", config={"coeff": 0.3})
    flag.unlink()
    retry = user_calibration.evaluate(run_name="retry", config={"coeff": 0.3})
    assert not retry.cache_hit and retry.status == "completed"
    assert retry.metrics == {"mode_share_error": pytest.approx(0.2)}


def test_sweep_rejects_an_unknown_executor_naming_it(workspace: Path) -> None:
    """An executor other than serial, processes or a Dask Client is refused before any run."""
    cal = trackyard.get_tracker("calibration", workspace=workspace)
    with pytest.raises(ConfigValidationError, match="executor 'threads' is not supported"):
        cal.sweep({"a": FAST}, executor="threads")
    with pytest.raises(ConfigValidationError, match="max_workers must be a positive integer"):
        cal.sweep({"a": FAST}, executor="processes", max_workers=0)
    assert cal.query_top_k() == []


def test_sweep_validates_every_label_before_running_any(workspace: Path) -> None:
    """A bad label anywhere in the sweep stops it before the first evaluation."""
    cal = trackyard.get_tracker("calibration", workspace=workspace)
    with pytest.raises(ConfigValidationError, match="sweep label 'bad label!'"):
        cal.sweep({"fine": FAST, "bad label!": FAST})
    with pytest.raises(ConfigValidationError, match="exactly one of configs_by_label"):
        cal.sweep()
    with pytest.raises(ConfigValidationError, match="grid parameter 'coeff' must map"):
        cal.sweep(grid={"coeff": 0.5})
    assert cal.query_top_k() == []


def test_progress_bar_is_drawn_on_request_and_not_when_stderr_is_a_pipe(
    workspace: Path, tmp_path: Path
) -> None:
    """progress=True draws a rich bar on stderr; the automatic default stays quiet on a pipe."""
    code = (
        "import trackyard, sys\n"
        "cal = trackyard.get_tracker('calibration', workspace='ws')\n"
        "cal.sweep({'one': {'sample_rate': 0.02}}, progress=sys.argv[1] == 'on' or None)\n"
    )
    runs = {
        mode: subprocess.run(
            [__import__("sys").executable, "-c", code, mode],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        for mode in ("on", "auto")
    }
    assert runs["on"].returncode == 0 and runs["auto"].returncode == 0
    assert "sweep" in runs["on"].stderr and "1/1" in runs["on"].stderr
    assert "1/1" not in runs["auto"].stderr
