"""The pytest fixtures the kit registers through the pytest11 entry point."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import trackyard
from trackyard import DomainTracker, Registry, Wiring, hookimpl
from trackyard.testing import PluginSandbox, class_plugin, isolated_registry


class EmptyTracker(DomainTracker):
    """A tracker with one verb-less wiring; building it is all these tests need."""

    wiring = Wiring(model="empty", outputs=("out",))


def test_workspace_fixture_receives_get_tracker_defaults(trackyard_workspace: Path) -> None:
    """get_tracker without a workspace writes into the fixture's folder and nowhere else."""
    tracker = trackyard.get_tracker("simulation")
    assert tracker.workspace == trackyard_workspace
    assert tracker.settings.db_path.parent == trackyard_workspace
    assert tracker.settings.sources["workspace"] == "environment TRACKYARD_WORKSPACE"


def test_sandbox_registers_classes_and_modules_without_installing(
    trackyard_sandbox: PluginSandbox, tmp_path: Path
) -> None:
    """In-process classes and plugin modules become domains for trackyard.get_tracker."""
    trackyard_sandbox.add("empty", EmptyTracker)
    module = class_plugin("other", EmptyTracker)
    calls: list[str] = []

    @hookimpl
    def default_wiring(domain: str, settings: Any) -> Wiring:
        calls.append(domain)
        return Wiring(tags=("from-module",))

    module.default_wiring = default_wiring  # type: ignore[attr-defined]
    trackyard_sandbox.add("other", module, distribution="team-other", version="2.0")
    names = {(d.name, d.distribution, d.version) for d in trackyard.available_domains()}
    assert names == {("empty", "inprocess-empty", "0.0.0"), ("other", "team-other", "2.0")}
    assert isinstance(trackyard.get_tracker("empty", workspace=tmp_path / "a"), EmptyTracker)
    other = trackyard.get_tracker("other", workspace=tmp_path / "b")
    assert other.wiring.tags == ("from-module",) and calls == ["other"]
    with pytest.raises(trackyard.errors.UnknownDomainError, match="no domain named 'calibration'"):
        trackyard.get_tracker("calibration", workspace=tmp_path / "c")


def test_sandbox_rejects_a_non_tracker_class_like_the_real_registry(tmp_path: Path) -> None:
    """A sandboxed plugin is validated by the real registry: a bad registration is refused."""
    sandbox = PluginSandbox()
    sandbox.add("bad", class_plugin("bad", object))  # type: ignore[arg-type]
    with pytest.raises(
        trackyard.errors.PluginContractError, match=r"must be a trackyard\.DomainTracker subclass"
    ):
        sandbox.get_tracker("bad", workspace=tmp_path)


def test_isolated_environment_sees_only_named_plugins(
    trackyard_isolated: Callable[..., Registry],
) -> None:
    """After isolate('calibration') only that installed plugin is discoverable."""
    trackyard_isolated("calibration")
    assert [d.name for d in trackyard.available_domains()] == ["calibration"]
    with pytest.raises(trackyard.errors.UnknownDomainError, match="no domain named 'simulation'"):
        trackyard.get_tracker("simulation")


def test_isolating_an_unknown_plugin_fails_loudly() -> None:
    """A typo in the isolated names is an error listing what is installed."""
    with pytest.raises(LookupError, match=r"no installed plugin named \['calibraton'\]"):
        isolated_registry("calibraton")
