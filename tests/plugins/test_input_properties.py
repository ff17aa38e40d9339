"""Issue 13, property-based: every generated input is accepted and round-trips exactly, or is
refused with the documented error class and a one-line message, with nothing written."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trackyard
from trackyard._validate import check_config, check_metric_name, check_run_name
from trackyard.errors import ConfigValidationError, QueryValidationError
from trackyard_calibration._sweep import GRID_MAX_POINTS, expand_grid, resolve_configs

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Names near the rules: run-name characters, plus the ones that must be refused.
NAMEISH = st.text(alphabet=st.sampled_from("aZ09_.-/ \n\t\x00é$^"), max_size=130) | st.text()
JSON_LEAF = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=40,
)


def _deep(levels: int) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for _ in range(levels):
        config = {"a": config}
    return config


def _one_line(exc: BaseException) -> None:
    assert "\n" not in str(exc).replace("\\n", ""), str(exc)


@FAST
@given(NAMEISH)
def test_run_names_round_trip_or_are_refused(name: str) -> None:
    """A run name comes back unchanged, or ConfigValidationError with one line."""
    try:
        assert check_run_name(name) == name
    except ConfigValidationError as exc:
        _one_line(exc)
        return
    assert name.strip() == name and "/" not in name and ".." not in name and len(name) <= 120


@FAST
@given(NAMEISH)
def test_metric_names_round_trip_or_are_refused(metric: str) -> None:
    """A metric name comes back unchanged, or QueryValidationError with one line."""
    try:
        assert check_metric_name(metric) == metric
    except QueryValidationError as exc:
        _one_line(exc)
        return
    assert metric.isidentifier() and metric.isascii()


@FAST
@given(NAMEISH)
def test_sweep_labels_round_trip_or_are_refused(label: str) -> None:
    """A sweep label keys its config unchanged, or ConfigValidationError with one line."""
    try:
        configs = resolve_configs({label: {"x": 1}}, None)
    except ConfigValidationError as exc:
        _one_line(exc)
        return
    assert configs == {label: {"x": 1}}
    assert check_run_name(f"sweep_{label}") == f"sweep_{label}"


@FAST
@given(st.dictionaries(st.text(max_size=8), JSON_VALUE, max_size=5), st.integers(0, 60))
def test_configs_round_trip_or_are_refused(config: dict[str, Any], depth: int) -> None:
    """A config (any nesting, types, size) is kept exactly, or refused with one line."""
    if depth:
        config = {**config, "deep": _deep(depth)}
    try:
        checked = check_config(config)
    except ConfigValidationError as exc:
        _one_line(exc)
        text = repr(config)
        assert depth >= 32 or "nan" in text or "inf" in text
        return
    assert json.loads(json.dumps(checked)) == config
    assert all(not (isinstance(v, float) and not math.isfinite(v)) for v in _leaves(checked))


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


@FAST
@given(
    st.dictionaries(
        st.text(alphabet="abc_", min_size=1, max_size=4),
        st.lists(st.integers(-3, 3) | st.text(max_size=6) | st.floats(allow_nan=False), max_size=5),
        min_size=1,
        max_size=4,
    )
)
def test_grids_keep_every_point_or_are_refused(grid: dict[str, list[Any]]) -> None:
    """A grid yields one valid run name per distinct point (none dropped), or is refused."""
    try:
        points = expand_grid(grid)
    except ConfigValidationError as exc:
        _one_line(exc)
        assert (
            any(not v for v in grid.values())
            or math.prod(map(len, grid.values())) > GRID_MAX_POINTS
        )
        return
    distinct = {json.dumps(p, sort_keys=True) for p in points.values()}
    expected = {
        json.dumps(dict(zip(grid, combo, strict=True)), sort_keys=True)
        for combo in _product(list(grid.values()))
    }
    assert distinct == expected
    for label in points:
        check_run_name(f"sweep_{label}")


def _product(axes: list[list[Any]]) -> list[tuple[Any, ...]]:
    import itertools

    return list(itertools.product(*axes))


@SLOW
@given(NAMEISH)
def test_run_names_through_a_real_run(user_calibration: trackyard.DomainTracker, name: str) -> None:
    """Through evaluate: the recorded run name is the one given, or nothing is written."""
    before = sorted(p.name for p in (user_calibration.workspace / "runs").glob("*"))
    try:
        outcome = user_calibration.evaluate(run_name=name, config={"coeff": 0.5})
    except ConfigValidationError as exc:
        _one_line(exc)
        after = sorted(p.name for p in (user_calibration.workspace / "runs").glob("*"))
        assert after == before
        return
    assert outcome.name == name


@SLOW
@given(st.sampled_from(["base", "evil\n", "a..b", "ok.1-x", "x" * 121]), st.integers(0, 5))
def test_set_values_through_the_cli(tmp_path: Path, run_name: str, seed: int) -> None:
    """`trackyard run calibration evaluate --set ...` records exactly the values given, or
    refuses with one 'Error:' line and no traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKYARD_")}
    env.update({"COLUMNS": "200", "NO_COLOR": "1"})
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "trackyard"),
            "run",
            "calibration",
            "evaluate",
            "--set",
            f"run_name={run_name}",
            "--set",
            "config.sample_rate=0.02",
            "--set",
            f"config.seed={seed}",
            "--json",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if run_name in ("base", "ok.1-x"):
        assert result.returncode == 0, result.stderr
    if result.returncode == 0:
        assert json.loads(result.stdout)["name"] == run_name
        return
    assert result.stderr.startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / ".trackyard" / "runs").glob("*\n*"))
