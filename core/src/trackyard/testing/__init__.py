"""The plugin author's testing kit.

- [`DomainConformance`][trackyard.testing.DomainConformance]: subclass it in your plugin's
  tests, set ``domain`` and a small argument set per verb, and pytest runs the trackyard
  contract checks against a temporary workspace.
- pytest fixtures (registered through the ``pytest11`` entry point, so they are available as
  soon as trackyard is installed): ``trackyard_workspace``, ``trackyard_sandbox`` and
  ``trackyard_isolated``; see ``trackyard.testing.pytest_plugin``.
- [`PluginSandbox`][trackyard.testing.PluginSandbox] and
  [`isolated_registry`][trackyard.testing.isolated_registry], the registries behind those
  fixtures.

Importing this module imports neither pytest nor consist.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from trackyard.registry import Registry
from trackyard.testing import _checks
from trackyard.testing._checks import ConformanceFailure, ConformanceModelError
from trackyard.testing._light import check_light_import
from trackyard.testing._sandbox import PluginSandbox, class_plugin, isolated_registry
from trackyard.tracker import DomainTracker, RunOutcome

__all__ = [
    "ConformanceFailure",
    "ConformanceModelError",
    "DomainConformance",
    "PluginSandbox",
    "class_plugin",
    "isolated_registry",
]


class DomainConformance:
    """Base class of a domain's conformance tests; pytest collects your ``Test*`` subclass.

    Set ``domain`` (the entry-point name) and ``verbs``: for each verb that records runs, the
    keyword arguments of one small, fast call. Each such verb must return the runs it recorded:
    a [`RunOutcome`][trackyard.RunOutcome], or a result holding them (a
    [`ManyResult`][trackyard.ManyResult], a list or tuple, a dict's values, a dataclass field;
    nested as deep as you like). ``options`` are passed to
    [`get_tracker`][trackyard.get_tracker]; override
    [`make_registry`][trackyard.testing.DomainConformance.make_registry] (it returns a
    [`Registry`][trackyard.Registry], e.g. ``PluginSandbox().registry``) to test against a
    [`PluginSandbox`][trackyard.testing.PluginSandbox] registry:

    ```python
    class TestTraffic(DomainConformance):
        domain = "traffic"
        verbs = {"run_once": {"name": "small", "config": {"steps": 3}}}
    ```

    Every test builds the tracker in pytest's ``tmp_path``; nothing touches your workspace.
    """

    domain: ClassVar[str] = ""
    verbs: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    options: ClassVar[Mapping[str, Any]] = {}

    def make_registry(self) -> Registry:
        """The registry the checks build through (default: real installed entry points)."""
        return Registry()

    def build(self, workspace: Path) -> DomainTracker:
        if not self.domain:
            raise ConformanceFailure(f"{type(self).__name__} must set domain = '<name>'")
        if not self.verbs:
            raise ConformanceFailure(
                f"{type(self).__name__} must set verbs = {{'<verb>': {{...keyword arguments}}}}"
            )
        return _checks.build(self.make_registry(), self.domain, workspace, self.options)

    def _each_verb(self, workspace: Path) -> list[tuple[DomainTracker, str, list[RunOutcome]]]:
        tracker = self.build(workspace)
        return [
            (tracker, verb, _checks.call_verb(tracker, verb, kwargs))
            for verb, kwargs in self.verbs.items()
        ]

    def test_builds_through_the_registry(self, tmp_path: Path) -> None:
        """The domain is discovered through its entry point and its tracker builds."""
        self.build(tmp_path)

    def test_wiring_is_declared(self, tmp_path: Path) -> None:
        """The merged wiring names a model and the output keys every run records."""
        _checks.check_wiring_declared(self.build(tmp_path))

    def test_each_verb_records_a_run_with_its_declared_outputs(self, tmp_path: Path) -> None:
        """Every verb records completed runs carrying the wiring and every declared output."""
        for tracker, verb, outcomes in self._each_verb(tmp_path):
            _checks.check_outputs_and_wiring(tracker, verb, outcomes)

    def test_repeating_a_verb_is_a_cache_hit(self, tmp_path: Path) -> None:
        """Calling a verb again with the same arguments is a cache hit with the same outputs."""
        for tracker, verb, outcomes in self._each_verb(tmp_path):
            _checks.check_cache_hit(tracker, verb, self.verbs[verb], outcomes)

    def test_changing_an_input_file_runs_again(self, tmp_path: Path) -> None:
        """For every file a verb's arguments name, a copy with one byte changed runs again."""
        tracker = self.build(tmp_path / "ws")
        for verb, kwargs in self.verbs.items():
            _checks.check_input_change_runs_again(tracker, verb, kwargs, tmp_path / "inputs")

    def test_metrics_are_recorded_and_rankable(self, tmp_path: Path) -> None:
        """Each verb's runs record metrics that read back and rank with top_k."""
        for tracker, verb, outcomes in self._each_verb(tmp_path):
            _checks.check_metrics(tracker, verb, outcomes)

    def test_plugin_module_imports_light(self) -> None:
        """Importing the domain's entry-point module (in a fresh interpreter) imports none of
        consist, pandas, duckdb or sqlalchemy; a failure names the chain of imports."""
        if not self.domain:
            raise ConformanceFailure(f"{type(self).__name__} must set domain = '<name>'")
        check_light_import(self.make_registry(), self.domain)

    def test_report_sections_render(self, tmp_path: Path) -> None:
        """After every verb ran, each plugin's
        [`report_sections`][trackyard.hookspecs.report_sections] for the domain render in
        ``trackyard report`` without an error box."""
        registry = self.make_registry()
        if not self.domain:
            raise ConformanceFailure(f"{type(self).__name__} must set domain = '<name>'")
        tracker = _checks.build(registry, self.domain, tmp_path, self.options)
        for verb, kwargs in self.verbs.items():
            _checks.call_verb(tracker, verb, kwargs)
        _checks.check_report_sections(registry, tracker)

    def test_model_error_surfaces_and_fails_the_run(self, tmp_path: Path) -> None:
        """In the first verb that returns one run, a model that raises reaches the caller as
        that exception and leaves a failed run; skipped when no verb returns one run."""
        tracker = self.build(tmp_path)
        target = _checks.model_error_target(tracker, self.verbs)
        if target is None:
            import pytest  # only when pytest runs the kit: importing this module stays light

            pytest.skip(f"no verb of {self.domain!r} returns one run (self.run)")
        _checks.check_model_error(tracker, *target)

    def test_model_error_in_a_many_run_verb_is_recorded_failed(self, tmp_path: Path) -> None:
        """In the first verb built on ``run_many`` (a sweep, a search), a model that raises
        makes every item a failure carrying the model's error, never a run or a cache hit, and
        leaves the run failed; skipped when no verb runs many."""
        import pytest  # only when pytest runs the kit: importing this module stays light

        from trackyard.testing import _many_error

        if _many_error.check_many_model_error(self.build(tmp_path), self.verbs) is None:
            pytest.skip(f"no verb of {self.domain!r} calls self.run_many")
