"""The one list of conformance checks that ``DomainConformance`` and ``trackyard doctor`` run.

Each entry names the kit's test method and the row doctor prints, so the two cannot drift: a
check added here without a kit test or a doctor step fails ``tests/kit/test_check_catalog.py``
(and doctor refuses to start).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConformanceCheck:
    """One conformance check: its key, the ``DomainConformance`` test that runs it, the row
    ``trackyard doctor`` prints for it (``{verb}`` is the verb's name) and whether it runs once
    per verb that records runs."""

    key: str
    kit_test: str
    doctor_row: str
    per_verb: bool = False


CHECKS: tuple[ConformanceCheck, ...] = (
    ConformanceCheck("builds", "test_builds_through_the_registry", "loads and builds"),
    ConformanceCheck("wiring", "test_wiring_is_declared", "wiring declared"),
    ConformanceCheck(
        "light_import", "test_plugin_module_imports_light", "plugin module imports light"
    ),
    ConformanceCheck(
        "outputs",
        "test_each_verb_records_a_run_with_its_declared_outputs",
        "verb {verb}",
        per_verb=True,
    ),
    ConformanceCheck(
        "cache_hit",
        "test_repeating_a_verb_is_a_cache_hit",
        "verb {verb}: repeat is a cache hit",
        per_verb=True,
    ),
    ConformanceCheck(
        "input_change",
        "test_changing_an_input_file_runs_again",
        "verb {verb}: an edited input file runs again",
        per_verb=True,
    ),
    ConformanceCheck(
        "metrics",
        "test_metrics_are_recorded_and_rankable",
        "verb {verb}: metrics rankable",
        per_verb=True,
    ),
    ConformanceCheck("report_sections", "test_report_sections_render", "report sections render"),
    ConformanceCheck(
        "model_error",
        "test_model_error_surfaces_and_fails_the_run",
        "verb {verb}: model error fails the run",
    ),
    ConformanceCheck(
        "many_model_error",
        "test_model_error_in_a_many_run_verb_is_recorded_failed",
        "verb {verb}: model error is a failed item, the others go on",
    ),
)
