"""DomainConformance passes a conforming plugin and names the problem in a non-conforming one."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from trackyard import DomainTracker, Registry
from trackyard.testing import (
    ConformanceFailure,
    DomainConformance,
    PluginSandbox,
    _checks,
    _many_error,
)

_spec = importlib.util.spec_from_file_location(
    "trackyard_kit_models", Path(__file__).with_name("_kit_models.py")
)
assert _spec is not None and _spec.loader is not None
models = importlib.util.module_from_spec(_spec)
sys.modules["trackyard_kit_models"] = models
_spec.loader.exec_module(models)

ARGS = {"name": "kit", "config": {"x": 2}}


def _sandbox(cls: type[DomainTracker]) -> Registry:
    sandbox = PluginSandbox()
    sandbox.add("kitdomain", cls)
    return sandbox.registry


class TestSandboxedGoodTracker(DomainConformance):
    """The whole suite passes for a conforming in-process plugin."""

    domain = "kitdomain"
    verbs: ClassVar[dict[str, dict[str, Any]]] = {"go": ARGS}

    def make_registry(self) -> Registry:
        return _sandbox(models.GoodTracker)


def _tracker(cls: type[DomainTracker], tmp_path: Path) -> DomainTracker:
    return _checks.build(_sandbox(cls), "kitdomain", tmp_path, {})


def test_missing_wiring_is_reported(tmp_path: Path) -> None:
    """A tracker without a model name in its wiring fails the wiring check with the fix."""
    tracker = _tracker(models.UnwiredTracker, tmp_path)
    with pytest.raises(ConformanceFailure, match="declares no model name in its wiring"):
        _checks.check_wiring_declared(tracker)


def test_a_verb_that_never_hits_the_cache_is_reported(tmp_path: Path) -> None:
    """A verb putting the time into its config fails the cache-hit check."""
    tracker = _tracker(models.ClockTracker, tmp_path)
    first = _checks.call_verb(tracker, "go", ARGS)
    with pytest.raises(ConformanceFailure, match=r"kitdomain\.go repeated .* was not a cache hit"):
        _checks.check_cache_hit(tracker, "go", ARGS, first)


def test_a_swallowed_model_error_is_reported(tmp_path: Path) -> None:
    """A verb that hides the model's exception fails the model-error check."""
    tracker = _tracker(models.SwallowingTracker, tmp_path)
    with pytest.raises(ConformanceFailure, match=r"kitdomain\.go swallowed the model's error"):
        _checks.check_model_error(tracker, "go", ARGS)


SWEEP = {"configs": {"a": {"x": 1}, "b": {"x": 2}}}


class TestSandboxedSweepingTracker(DomainConformance):
    """The whole suite passes for a plugin with a many-run verb (its model-error check runs)."""

    domain = "kitdomain"
    verbs: ClassVar[dict[str, dict[str, Any]]] = {"go": ARGS, "sweep": SWEEP}

    def make_registry(self) -> Registry:
        return _sandbox(models.SweepingTracker)


def test_a_model_error_in_a_sweep_is_each_items_failure(tmp_path: Path) -> None:
    """The many-run check runs the sweep's own items with a failing model (none served from
    the cache of the earlier good runs): each is a failure carrying the model's error."""
    tracker = _tracker(models.SweepingTracker, tmp_path)
    first = tracker.sweep(**SWEEP)  # type: ignore[attr-defined]
    assert (first.ran, first.failed) == (2, 0)
    tried: list[str] = []
    assert _many_error.check_many_model_error(tracker, {"go": ARGS, "sweep": SWEEP}, tried) == (
        "sweep"
    )
    assert tried == ["go", "sweep"]  # go runs one model: not a many-run verb
    assert tracker.sweep(**SWEEP).cached == 2  # type: ignore[attr-defined]  # the check is gone


def test_a_sweep_hiding_its_items_errors_is_reported(tmp_path: Path) -> None:
    """A many-run verb that raises its own error without the items' errors fails the check,
    naming the verb and what to do."""
    tracker = _tracker(models.HidingSweepTracker, tmp_path)
    with pytest.raises(
        ConformanceFailure,
        match=r"kitdomain\.sweep: after its runs failed with the model's error, the verb raised "
        r"ValueError: the sweep did not work; a many-run verb records",
    ):
        _many_error.check_many_model_error(tracker, {"sweep": SWEEP})


def test_a_domain_without_a_many_run_verb_skips_the_check(tmp_path: Path) -> None:
    """No verb calls run_many: the check says so (None), and the verbs ran normally."""
    tracker = _tracker(models.GoodTracker, tmp_path)
    assert _many_error.check_many_model_error(tracker, {"go": ARGS}) is None


def test_a_run_without_metrics_is_reported(tmp_path: Path) -> None:
    """A verb whose runs record no metric fails the metrics check."""
    tracker = _tracker(models.SilentTracker, tmp_path)
    outcomes = _checks.call_verb(tracker, "go", ARGS)
    with pytest.raises(ConformanceFailure, match=r"kitdomain\.go recorded no metrics"):
        _checks.check_metrics(tracker, "go", outcomes)


def test_conformance_without_a_domain_says_what_to_set(tmp_path: Path) -> None:
    """A DomainConformance subclass that forgot ``domain`` fails with the attribute to set."""

    class Forgot(DomainConformance):
        verbs: ClassVar[dict[str, dict[str, Any]]] = {"go": ARGS}

    with pytest.raises(ConformanceFailure, match="must set domain = '<name>'"):
        Forgot().build(tmp_path)
