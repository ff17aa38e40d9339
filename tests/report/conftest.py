"""A real workspace for the report tests (real consist, real DuckDB, first-party domains plus
in-process third-party plugins), and a headless Chromium driven by Playwright."""

from __future__ import annotations

import subprocess
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import trackyard
from trackyard.report import Section, Table, build_report
from trackyard.testing import PluginSandbox

from .._console import run_trackyard, user_env
from . import report_models


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``trackyard ARGS`` in ``cwd`` as a user's shell would (no TRACKYARD_ variables)."""
    return run_trackyard(*args, cwd=cwd, env=user_env({"COLUMNS": "200"}))


ARTIFACTS = Path(__file__).with_name("artifacts")

SPACE = {"a": [0.1, 0.5], "b": [0.2, 0.8], "c": [0.3, 0.9]}
N_TRIALS = 8  # the whole grid


def _acme_plugin() -> types.ModuleType:
    """A third-party cross-cutting plugin contributing one section to every domain."""
    module = types.ModuleType("acme_report")

    @trackyard.hookimpl
    def report_sections(domain: str, tracker: Any) -> list[Section]:
        return [
            Section(
                f"Acme audit of {domain}",
                ["Checked by the Acme site plugin.", Table("Acme", ["domain"], [[domain]])],
            )
        ]

    module.report_sections = report_sections  # type: ignore[attr-defined]
    return module


def _broken_plugin() -> types.ModuleType:
    """A third-party plugin whose section raises."""
    module = types.ModuleType("broken_report")

    @trackyard.hookimpl
    def report_sections(domain: str, tracker: Any) -> list[Section]:
        raise RuntimeError("the broken plugin's database is down")

    module.report_sections = report_sections  # type: ignore[attr-defined]
    return module


@dataclass
class Workspace:
    """The workspace the report tests share, its report file and what was run in it."""

    root: Path
    sandbox: PluginSandbox
    report: Path
    calibrated: Any
    years: list[Any]


@pytest.fixture(scope="session")
def report_workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Calibrate (a grid over three parameters, one trial evaluated again from cache, one
    failing evaluation) and run a two-scenario multi-year simulation whose final years are
    compared, in one workspace, then write its report."""
    root = tmp_path_factory.mktemp("report") / "ws"
    config_dir = root.parent / "cfg"
    config_dir.mkdir()
    sandbox = PluginSandbox(include_installed=True)
    sandbox.add("acme", _acme_plugin(), group="trackyard.plugins", distribution="acme-site")
    sandbox.add("broken", _broken_plugin(), group="trackyard.plugins", distribution="broken-co")
    cal = sandbox.get_tracker(
        "calibration",
        workspace=root,
        model=report_models.calibration_model,
        config_dir=config_dir,
    )
    with cal:
        calibrated = cal.calibrate(space=SPACE, n_trials=N_TRIALS, method="grid", progress=False)
        cal.evaluate(run_name="again", config=calibrated.trials[0].config)  # a cache hit
        with pytest.raises(ValueError, match="c must not be negative"):
            cal.evaluate(run_name="negative-c", config={"a": 0.1, "b": 0.1, "c": -1.0})
    sim = sandbox.get_tracker("simulation", workspace=root, model=report_models.simulation_model)
    with sim:
        years = sim.run_years(name="growth", years=[2025, 2030, 2035], config={"rate": 0.1})
        fast = sim.run_years(name="fast", years=[2025, 2030], config={"rate": 0.3})
        sim.compare(years[-1], fast[-1])  # recorded, and not counted as a run
    result = build_report(
        workspace=root, output=root.parent / "report.html", registry=sandbox.registry
    )
    return Workspace(root, sandbox, result.path, calibrated, years)


@dataclass
class OpenedReport:
    """A report loaded in the browser, with what the page logged and requested."""

    page: Any
    console_errors: list[str]
    requests: list[str]


@pytest.fixture(scope="session")
def opened(browser: Any, report_workspace: Workspace) -> Iterator[OpenedReport]:
    """The shared workspace's report, loaded with every chart drawn."""
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report_workspace.report.as_uri())
    page.wait_for_function("document.body.dataset.chartsDrawn === '1'", timeout=60_000)
    yield OpenedReport(page, errors, requests)
    page.close()
