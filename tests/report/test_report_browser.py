"""The report opened in a real headless Chromium: drawn, offline, with the expected content."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from .conftest import ARTIFACTS, N_TRIALS, OpenedReport, Workspace


def _charts(opened: OpenedReport) -> dict[str, dict[str, int]]:
    """Per chart title: points plotly holds in its first trace, the SVG points it drew and
    the parallel-coordinates axes it drew (their lines are WebGL, counted by ``held``)."""
    charts: dict[str, dict[str, int]] = opened.page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('.chart')).map(gd => {
            const first = gd.data[0];
            const held = first.type === 'parcoords' ? first.dimensions[0].values.length
                                                    : first.x.length;
            const trace = gd.querySelector('.scatterlayer .trace');
            const points = trace ? trace.querySelectorAll('.point').length : 0;
            const axes = gd.querySelectorAll('.parcoords .axis-title').length;
            return [gd.dataset.title, {held: held, points: points, axes: axes}];
        }))"""
    )
    return charts


def _rows(opened: OpenedReport, title: str) -> list[list[str]]:
    rows: list[list[str]] = opened.page.evaluate(
        """(title) => Array.from(document.querySelectorAll(`.table[data-title="${title}"] tbody tr`))
             .map(tr => Array.from(tr.cells).map(td => td.textContent))""",
        title,
    )
    return rows


def test_report_loads_offline_without_console_errors(
    opened: OpenedReport, report_workspace: Workspace
) -> None:
    """The page logs no error and requests nothing but the report file itself."""
    assert opened.console_errors == []
    assert opened.requests == [report_workspace.report.as_uri()]


def test_calibration_history_and_slices_have_a_mark_per_evaluation(opened: OpenedReport) -> None:
    """The history and each parameter's slice plot draw one point per executed evaluation."""
    charts = _charts(opened)
    history = charts["mode_share_error per evaluation, in the order they ran"]
    assert history == {"held": N_TRIALS, "points": N_TRIALS, "axes": 0}
    for param in ("a", "b", "c"):
        assert charts[f"mode_share_error against {param}"]["points"] == N_TRIALS


def test_three_parameters_get_parallel_coordinates(opened: OpenedReport) -> None:
    """With three parameters the calibration shows a parallel-coordinates chart of every trial."""
    charts = _charts(opened)
    parallel = charts["3 parameters and mode_share_error"]
    assert parallel["held"] == N_TRIALS
    assert parallel["axes"] == 4  # a, b, c and the metric


def test_simulation_scenarios_chart_every_year(opened: OpenedReport) -> None:
    """Each multi-year scenario charts its metric once per year and lists its lineage."""
    charts = _charts(opened)
    assert charts["Metrics of growth over the years"]["points"] == 3
    assert charts["Metrics of fast over the years"]["points"] == 2
    lineage = opened.page.locator('.section[data-section^="Scenario growth"] tbody tr')
    assert lineage.count() == 3
    texts = lineage.all_inner_texts()
    assert "(first year)" in texts[0]
    assert "results from growth-2025" in texts[1]
    assert "results from growth-2030" in texts[2]


def test_top_runs_table_puts_the_best_config_first(
    opened: OpenedReport, report_workspace: Workspace
) -> None:
    """The top-runs table starts with the calibration's best trial and its value."""
    rows = _rows(opened, f"Top {N_TRIALS} runs by mode_share_error (smallest first)")
    assert len(rows) == N_TRIALS
    best = report_workspace.calibrated
    assert rows[0][0] == "1"
    assert best.best_run_id.startswith(rows[0][1])
    assert (
        float(rows[0][2]) == round(best.best_value, 6)
        or abs(float(rows[0][2]) - best.best_value) < 1e-5
    )
    values = [float(r[2]) for r in rows]
    assert values == sorted(values)


def test_failed_evaluation_is_listed_with_its_error(opened: OpenedReport) -> None:
    """The failed evaluation appears with the model's error message."""
    rows = _rows(opened, "1 failed evaluations")
    assert len(rows) == 1
    assert rows[0][0] == "negative-c"
    assert "c must not be negative" in rows[0][3]


def test_every_output_link_points_at_an_existing_folder(opened: OpenedReport) -> None:
    """Every link in the report opens a folder that exists on disk."""
    hrefs: list[str] = opened.page.evaluate(
        "() => Array.from(document.querySelectorAll('a[href^=\"file:\"]')).map(a => a.href)"
    )
    assert len(hrefs) >= 2 * N_TRIALS + 5
    for href in hrefs:
        assert Path(unquote(urlparse(href).path)).is_dir(), href


def test_cache_hits_say_which_run_they_reused(opened: OpenedReport) -> None:
    """A config evaluated again is marked as a hit of the trial that executed it."""
    rows = opened.page.locator(
        'section[data-domain="calibration"] .section[data-section="All runs"] tbody tr'
    )
    hits = [t for t in rows.all_inner_texts() if "hit of " in t]
    assert len(hits) == 1
    assert hits[0].startswith("again\t")
    assert "hit of calibrate-grid-s0-t000_" in hits[0]


def test_summary_counts_executed_cached_and_failed_runs(opened: OpenedReport) -> None:
    """The workspace summary counts executed, cached and failed runs over both domains."""
    text = opened.page.locator('[data-summary="counts"]').inner_text()
    assert text.startswith(f"{N_TRIALS + 5} executed, 1 served from cache, 1 failed")


def test_third_party_section_appears_and_a_broken_one_is_an_error_box(opened: OpenedReport) -> None:
    """A third-party plugin's section is in each domain; a raising plugin shows an error box
    and stops nothing."""
    for domain in ("calibration", "simulation"):
        section = opened.page.locator(f'section[data-domain="{domain}"]')
        assert section.locator(f'.section[data-section="Acme audit of {domain}"]').count() == 1
        box = section.locator(".error-box")
        assert box.count() == 1
        assert "broken-co" in box.inner_text()
        assert "the broken plugin's database is down" in box.inner_text()
    assert opened.page.locator('.section[data-section="Optimisation history"]').count() == 1


def test_screenshot_of_each_domain_section(opened: OpenedReport) -> None:
    """Each domain's part of the page is saved as a PNG under tests/report/artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    for domain in ("calibration", "simulation"):
        path = ARTIFACTS / f"report-{domain}.png"
        opened.page.locator(f'section[data-domain="{domain}"]').screenshot(path=str(path))
        print(f"screenshot: {path}")
        assert path.stat().st_size > 10_000
