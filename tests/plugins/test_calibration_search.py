"""calibrate(): grid, seeded random and optuna TPE searches, each trial a cached evaluation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import trackyard
from trackyard.errors import ConfigValidationError

SPACE = {"coeff": (0.0, 1.0)}

KILLER = '''
import os
from pathlib import Path

COUNTER = Path(__file__).with_name("executions.txt")


def model(config, config_dir):
    """Counts executions; the 4th one kills the process like a crash or Ctrl-C would."""
    count = int(COUNTER.read_text()) if COUNTER.exists() else 0
    COUNTER.write_text(str(count + 1))
    if count == 3:
        os._exit(3)
    import pandas as pd
    frame = pd.DataFrame({"coeff": [config["coeff"]]})
    return {"persons": frame, "trips": frame, "metrics": frame,
            "mode_share_error": abs(config["coeff"] - 0.5)}
'''


def _params(result: Any) -> list[dict[str, Any]]:
    return [dict(t.config) for t in result.trials]


def test_grid_calibration_finds_the_smallest_metric_among_its_points(
    user_calibration: trackyard.DomainTracker,
) -> None:
    """A grid over a range evaluates evenly spaced points and reports the best of them."""
    result = user_calibration.calibrate(space=SPACE, n_trials=5, method="grid")

    assert [c["coeff"] for c in _params(result)] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert result.best_config == {"coeff": 0.5} and result.best_value == 0.0
    assert (result.ran, result.cached, result.failed) == (5, 0, 0)
    assert user_calibration.best_config() == {"coeff": 0.5}
    best = next(t for t in result.trials if t.config == {"coeff": 0.5})
    assert result.best_run_id == best.run_id


def test_random_calibration_is_reproducible_by_seed(
    user_calibration: trackyard.DomainTracker,
) -> None:
    """The same seed proposes the same configs (all served from cache); another seed does not."""
    first = user_calibration.calibrate(space=SPACE, n_trials=3, method="random", seed=11)
    again = user_calibration.calibrate(space=SPACE, n_trials=3, method="random", seed=11)
    other = user_calibration.calibrate(space=SPACE, n_trials=3, method="random", seed=12)

    assert _params(first) == _params(again)
    assert (again.ran, again.cached) == (0, 3)
    assert again.best_config == first.best_config and again.best_value == first.best_value
    third = user_calibration.calibrate(space=SPACE, n_trials=3, method="random", seed=11)
    assert third.best_run_id == again.best_run_id == first.best_run_id
    assert not user_calibration.consist.get_run(third.best_run_id).meta.get("cache_source")
    assert _params(other) != _params(first) and other.ran == 3


def test_tpe_calibration_runs_through_optuna_and_replays_from_cache(
    user_calibration: trackyard.DomainTracker,
) -> None:
    """TPE proposes configs through optuna; the same seed again executes nothing."""
    first = user_calibration.calibrate(space=SPACE, n_trials=4, method="tpe", seed=3)
    again = user_calibration.calibrate(space=SPACE, n_trials=4, method="tpe", seed=3)

    assert first.ran == 4 and len({c["coeff"] for c in _params(first)}) == 4
    assert _params(again) == _params(first) and (again.ran, again.cached) == (0, 4)
    assert first.best_value == min(t.metrics["mode_share_error"] for t in first.trials)


def test_an_interrupted_tpe_calibration_resumes_from_cache(tmp_path: Path) -> None:
    """A process killed during trial 4 leaves 3 cached trials; the re-run replays them, runs 2."""
    (tmp_path / "killer_model.py").write_text(KILLER)
    (tmp_path / "cfg").mkdir()
    code = (
        "import trackyard\n"
        "cal = trackyard.get_tracker('calibration', workspace='ws',"
        " model='killer_model:model', config_dir='cfg')\n"
        "r = cal.calibrate(space={'coeff': (0.0, 1.0)}, n_trials=5, method='tpe', seed=5)\n"
        "print(r.ran, r.cached, r.failed)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    killed = run()
    assert killed.returncode == 3, killed.stderr[-2000:]
    resumed = run()
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed.stdout.split() == ["2", "3", "0"]


def test_tpe_without_optuna_says_how_to_install_it(
    user_calibration: trackyard.DomainTracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With optuna not importable, method='tpe' names the extra to install, before any run."""
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(
        ConfigValidationError, match=r"pip install 'trackyard-calibration\[optuna\]'"
    ):
        user_calibration.calibrate(space=SPACE, n_trials=2, method="tpe")
    assert user_calibration.query_top_k() == []


def test_calibrate_rejects_bad_methods_spaces_and_executors(
    user_calibration: trackyard.DomainTracker,
) -> None:
    """Invalid search requests fail with a message naming the bad value, before any run."""
    with pytest.raises(ConfigValidationError, match="method 'annealing' is not known"):
        user_calibration.calibrate(space=SPACE, method="annealing")
    with pytest.raises(ConfigValidationError, match="space parameter 'coeff' must be"):
        user_calibration.calibrate(space={"coeff": (1.0, 0.0)})
    with pytest.raises(ConfigValidationError, match="executor 'dask' is not supported"):
        user_calibration.calibrate(space=SPACE, executor="dask")
    assert user_calibration.query_top_k() == []
