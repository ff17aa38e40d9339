"""`trackyard report` from the console script, and how sections are drawn (no browser needed)."""

from __future__ import annotations

import re
from pathlib import Path

from trackyard.report import MAX_POINTS, Chart, Section, Series, Table, render_section

from .conftest import Workspace, cli


def test_cli_writes_one_self_contained_file_and_prints_its_path(
    report_workspace: Workspace, tmp_path: Path
) -> None:
    """`trackyard report -w WS -o FILE` prints the file's path; the file loads nothing from
    elsewhere (no script, style or image URL) and shows both domains."""
    out = tmp_path / "shared" / "report.html"
    proc = cli("report", "-w", str(report_workspace.root), "-o", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert str(out) in proc.stdout.replace("\n", "")
    text = out.read_text(encoding="utf-8")
    assert not re.search(r"<(script|img|link|iframe)[^>]+(src|href)=", text)
    assert 'data-domain="calibration"' in text and 'data-domain="simulation"' in text
    assert "Optimisation history" in text


def test_cli_report_of_one_domain(report_workspace: Workspace, tmp_path: Path) -> None:
    """Naming a domain reports only that domain."""
    out = tmp_path / "sim.html"
    proc = cli(
        "report", "simulation", "-w", str(report_workspace.root), "-o", str(out), cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    text = out.read_text(encoding="utf-8")
    assert 'data-domain="simulation"' in text and 'data-domain="calibration"' not in text


def test_cli_refuses_an_unknown_domain(report_workspace: Workspace, tmp_path: Path) -> None:
    """An unknown domain fails with the usual message and writes no file."""
    out = tmp_path / "none.html"
    proc = cli("report", "nosuch", "-w", str(report_workspace.root), "-o", str(out), cwd=tmp_path)
    assert proc.returncode != 0
    assert "no domain named 'nosuch'" in proc.stderr
    assert not out.exists()


def test_a_section_that_is_not_a_section_becomes_an_error_box() -> None:
    """A plugin returning something else than a Section gets an error box naming it."""
    html = render_section({"title": "oops"}, "acme-site:acme")
    assert 'class="error-box"' in html
    assert "acme-site:acme" in html and "expected a trackyard.report.Section, got dict" in html


def test_a_malformed_table_becomes_an_error_box() -> None:
    """A table row with the wrong number of cells is reported, not drawn half."""
    section = Section("Bad", [Table("T", ["a", "b"], [[1]])])
    html = render_section(section, "acme-site:acme")
    assert 'class="error-box"' in html and "a row has 1 cells for 2 columns" in html


def test_long_series_are_downsampled_and_the_page_says_so() -> None:
    """A 10,000-point series is drawn with at most MAX_POINTS points and a note saying so."""
    n = 10_000
    chart = Chart.xy("big", Series("m", list(range(n)), [float(i) for i in range(n)]))
    html = render_section(Section("Big", [chart]), "trackyard")
    marks = int(re.search(r'data-marks="(\d+)"', html).group(1))  # type: ignore[union-attr]
    assert marks <= MAX_POINTS
    assert f"Downsampled: {marks:,} of {n:,} points" in html


def test_long_tables_are_cut_and_the_page_says_so() -> None:
    """A table longer than its max_rows shows that many rows and says how many exist."""
    section = Section("Long", [Table("T", ["i"], [[i] for i in range(500)], max_rows=50)])
    html = render_section(section, "trackyard")
    assert html.count("<tr>") == 51  # header + 50 rows
    assert "Showing the first 50 of 500 rows." in html
