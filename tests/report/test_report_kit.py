"""The conformance kit checks that a plugin's report sections render."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any, ClassVar

import pytest

import trackyard
from trackyard.registry import Registry
from trackyard.report import Section, Table
from trackyard.testing import ConformanceFailure, DomainConformance, PluginSandbox

from . import report_models


def _plugin(rows: list[list[Any]]) -> types.ModuleType:
    """A cross-cutting plugin whose one section holds a two-column table of ``rows``."""
    module = types.ModuleType("site_report")

    @trackyard.hookimpl
    def report_sections(domain: str, tracker: Any) -> list[Section]:
        return [Section("Site", [Table("Site table", ["a", "b"], rows)])]

    module.report_sections = report_sections  # type: ignore[attr-defined]
    return module


class _Calibration(DomainConformance):
    domain = "calibration"
    verbs: ClassVar[dict[str, dict[str, Any]]] = {
        "evaluate": {"run_name": "one", "config": {"a": 0.1, "b": 0.2, "c": 0.3}}
    }
    plugin: ClassVar[types.ModuleType]

    def make_registry(self) -> Registry:
        sandbox = PluginSandbox(include_installed=True)
        sandbox.add("site", self.plugin, group="trackyard.plugins", distribution="site-co")
        return sandbox.registry


def _checker(rows: list[list[Any]], tmp_path: Path) -> _Calibration:
    config_dir = tmp_path / "cfg"
    config_dir.mkdir()
    checker = _Calibration()
    type(checker).plugin = _plugin(rows)
    type(checker).options = {"model": report_models.calibration_model, "config_dir": config_dir}
    return checker


def test_kit_passes_sections_that_render(tmp_path: Path) -> None:
    """A plugin whose sections render passes the kit's report check."""
    _checker([[1, 2]], tmp_path).test_report_sections_render(tmp_path / "ws")


def test_kit_fails_a_section_that_does_not_render(tmp_path: Path) -> None:
    """A section with a malformed table fails the kit's report check, naming the plugin."""
    with pytest.raises(ConformanceFailure, match="site-co.*a row has 1 cells for 2 columns"):
        _checker([[1]], tmp_path).test_report_sections_render(tmp_path / "ws")
