"""Issue 13, bad input that slipped through: each case is refused (or kept) as the user expects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import trackyard
from trackyard.errors import ConfigValidationError, QueryValidationError

NAME_RULE = (
    "may only hold letters, digits, '_', '.' and '-', start with a letter or digit, and "
    "contain no '..' (it names files inside the workspace)"
)


def _deep(levels: int) -> dict[str, Any]:
    config: dict[str, Any] = {"leaf": 1}
    for _ in range(levels):
        config = {"a": config}
    return config


def _written(workspace: Path) -> list[str]:
    return sorted(p.name for p in (workspace / "runs").glob("*")) if workspace.exists() else []


def test_trailing_newline_run_name_is_refused(user_calibration: trackyard.DomainTracker) -> None:
    """Run name 'evil\\n' is refused and no folder with a newline in its name is made."""
    with pytest.raises(ConfigValidationError) as info:
        user_calibration.evaluate(run_name="evil\n", config={"coeff": 0.5})
    assert str(info.value) == f"run name 'evil\\n' {NAME_RULE}"
    assert not [n for n in _written(user_calibration.workspace) if "\n" in n]


def test_trailing_newline_metric_is_refused(user_calibration: trackyard.DomainTracker) -> None:
    """Metric 'x\\n' is refused as an invalid metric name."""
    with pytest.raises(QueryValidationError) as info:
        user_calibration.query_top_k(metric="x\n")
    assert str(info.value) == (
        "invalid metric name 'x\\n': use a letter or '_' followed by up to 63 letters, digits "
        "or '_' (for example 'rmse' or 'mode_share_error')"
    )


def test_trailing_newline_sweep_label_is_refused(
    user_calibration: trackyard.DomainTracker,
) -> None:
    """Sweep label 'lab\\n' is refused before any run."""
    with pytest.raises(ConfigValidationError) as info:
        user_calibration.sweep({"lab\n": {"coeff": 0.5}})
    assert str(info.value) == (
        "sweep label 'lab\\n' may only hold letters, digits, '_', '.' and '-' and must start "
        "with a letter or digit (it names the run)"
    )
    assert _written(user_calibration.workspace) == []


def test_deep_sweep_config_is_a_config_error_not_recursion(
    user_calibration: trackyard.DomainTracker,
) -> None:
    """A 5000-level config in a sweep is refused by the depth check, not with RecursionError."""
    with pytest.raises(ConfigValidationError) as info:
        user_calibration.sweep({"deep": _deep(5000)})
    assert str(info.value) == (
        "config of sweep label 'deep': config is nested deeper than 32 levels at config" + ".a" * 33
    )


def test_deep_base_config_is_a_config_error_not_recursion(
    user_calibration: trackyard.DomainTracker,
) -> None:
    """A 5000-level calibrate(base_config=...) is refused by the depth check."""
    with pytest.raises(ConfigValidationError) as info:
        user_calibration.calibrate(space={"coeff": [0.5]}, n_trials=1, base_config=_deep(5000))
    assert str(info.value) == (
        "base_config: config is nested deeper than 32 levels at config" + ".a" * 33
    )


def test_huge_grid_is_refused_before_expanding(user_calibration: trackyard.DomainTracker) -> None:
    """A 1000 x 1000 x 1000 grid is refused at once, naming the product and the limit."""
    axis = list(range(1000))
    with pytest.raises(ConfigValidationError) as info:
        user_calibration.sweep(grid={"a": axis, "b": axis, "c": axis})
    assert str(info.value) == (
        "grid has 1000000000 points (1000 x 1000 x 1000); the limit is 10000: use fewer "
        "values, split the grid into several sweeps, or calibrate(method='random') to sample it"
    )
    assert _written(user_calibration.workspace) == []


def test_look_alike_grid_values_all_run(user_calibration: trackyard.DomainTracker) -> None:
    """tag = ['a b', 'a_b', 'a/b'] runs three evaluations, each recording its own tag."""
    result = user_calibration.sweep(grid={"coeff": [0.5], "tag": ["a b", "a_b", "a/b"]})
    assert result.summary() == "3 evaluations: 3 ran, 0 from cache, 0 failed"
    tags = sorted(user_calibration.run_config(o.run_id)["tag"] for o in result.outcomes.values())
    assert tags == ["a b", "a/b", "a_b"]
    assert all(label.startswith("coeff-0.5_tag-a_b_") for label in result.outcomes)


def test_grid_value_with_dots_is_not_a_bad_label(
    user_calibration: trackyard.DomainTracker,
) -> None:
    """A grid value '../data/a.csv' runs; its label replaces '..' instead of refusing it."""
    result = user_calibration.sweep(grid={"coeff": [0.5], "inputs": ["../data/a.csv"]})
    assert result.summary() == "1 evaluations: 1 ran, 0 from cache, 0 failed"
    (label,) = result.outcomes
    assert label == "coeff-0.5_inputs-__data_a.csv"
    run_id = result.outcomes[label].run_id
    assert user_calibration.run_config(run_id)["inputs"] == "../data/a.csv"
