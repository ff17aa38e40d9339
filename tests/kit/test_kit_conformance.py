"""DomainConformance passes a conforming plugin and names the problem in a non-conforming one."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from trackyard import DomainTracker, Registry
from trackyard.testing import ConformanceFailure, DomainConformance, PluginSandbox, _checks

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
