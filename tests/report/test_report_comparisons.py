"""What the simulation domain's `compare` recorded, as `trackyard report` shows it: a table of
the compared runs, what differed and when, one row per pair, in a real browser too."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import trackyard
from trackyard import RunOutcome

from .conftest import cli

TITLE = "Comparisons recorded by compare, latest first"
COLUMNS = ["run A", "run B", "years", "config that differs", "metrics that differ", "compared"]
WHEN = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def _report(root: Path, out: Path) -> str:
    """`trackyard report simulation -w ROOT -o OUT` from the console script; the HTML."""
    proc = cli("report", "simulation", "-w", str(root), "-o", str(out), cwd=root.parent)
    assert proc.returncode == 0, proc.stderr
    return out.read_text(encoding="utf-8")


class _TableReader(HTMLParser):
    """The header and body cells of the report table titled ``title``, as text."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title = title
        self.depth = 0  # >0 while inside the wanted table's <div class="table">
        self.header: list[str] = []
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None
        self.in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "div" and self.depth:
            self.depth += 1
        elif tag == "div" and ("data-title", self.title) in attrs:
            self.depth = 1
        elif self.depth and tag == "thead":
            self.in_head = True
        elif self.depth and tag == "tr" and not self.in_head:
            self.rows.append([])
        elif self.depth and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self.depth:
            self.depth -= 1
        elif self.depth and tag == "thead":
            self.in_head = False
        elif self.depth and tag in ("td", "th") and self.cell is not None:
            text = "".join(self.cell)
            (self.header if self.in_head else self.rows[-1]).append(text)
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def _table(html_text: str, title: str) -> tuple[list[str], list[list[str]]]:
    reader = _TableReader(title)
    reader.feed(html_text)
    return reader.header, reader.rows


def _metric(a: float | None, b: float | None) -> str:
    return f"rmse: {a:.6g} → {b:.6g}"


@dataclass
class Compared:
    """A workspace with two compared `run_years` scenarios, and its report."""

    root: Path
    report: Path
    html: str
    growth: list[RunOutcome]
    fast: list[RunOutcome]


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> Compared:
    """Two scenarios over two years; their final years compared, the first year of one against
    the final year of the other, then the final years again the other way round; then the
    report, written by the console script."""
    root = tmp_path_factory.mktemp("compare") / "ws"
    with trackyard.get_tracker("simulation", workspace=root) as sim:
        growth = sim.run_years(name="growth", years=[2025, 2030], config={"alpha": 1.1})
        fast = sim.run_years(name="fast", years=[2025, 2030], config={"alpha": 0.9})
        sim.compare(growth[-1], fast[-1])
        sim.compare(growth[0], fast[-1].run_id)
        sim.compare(fast[-1], growth[-1])  # the same pair as the first: this one is shown
    out = root.parent / "report.html"
    return Compared(root, out, _report(root, out), growth, fast)


def test_the_report_lists_each_compared_pair_once_latest_first(compared: Compared) -> None:
    """The simulation section's comparison table has one row per compared pair, the latest
    comparison first, with the years, the config and the metrics that differ, and when."""
    header, rows = _table(compared.html, TITLE)
    growth, fast = compared.growth, compared.fast
    assert header == COLUMNS
    assert [r[:5] for r in rows] == [
        [
            fast[-1].run_id,
            growth[-1].run_id,
            "2030",
            "alpha: 0.9 → 1.1",
            _metric(fast[-1].metrics["rmse"], growth[-1].metrics["rmse"]),
        ],
        [
            growth[0].run_id,
            fast[-1].run_id,
            "2025 → 2030",
            "alpha: 1.1 → 0.9",
            _metric(growth[0].metrics["rmse"], fast[-1].metrics["rmse"]),
        ],
    ]
    assert all(WHEN.fullmatch(r[5]) for r in rows)


def test_the_final_year_table_is_still_shown(compared: Compared) -> None:
    """The side-by-side table of each scenario's final year stays beside the comparisons."""
    header, rows = _table(
        compared.html, "Final year of each scenario (config and metrics side by side)"
    )
    assert header[:3] == ["scenario", "years", "config"]
    assert [r[0] for r in rows] == ["growth", "fast"]


def test_scenarios_made_within_one_second_are_shown_in_the_order_they_were_run(
    tmp_path: Path,
) -> None:
    """The final-year table lists scenarios in the order they were run, to the sub-second,
    not by run id."""
    root = tmp_path / "ws"
    names = ["s5", "s4", "s3", "s2", "s1"]
    with trackyard.get_tracker("simulation", workspace=root) as sim:
        for name in names:
            sim.run_years(name=name, years=[2025], config={"alpha": 1.0})
    html_text = _report(root, tmp_path / "report.html")
    _, rows = _table(html_text, "Final year of each scenario (config and metrics side by side)")
    assert [r[0] for r in rows] == names


def test_comparisons_survive_rebuilding_the_store(tmp_path: Path) -> None:
    """After the store is lost and `trackyard doctor --fix` rebuilds it from the run snapshots,
    the report still lists the comparison."""
    root = tmp_path / "ws"
    sim = trackyard.get_tracker("simulation", workspace=root)
    a = sim.run_model(name="a", config={"alpha": 1.1, "seed": 1})
    b = sim.run_model(name="b", config={"alpha": 0.9, "seed": 1})
    sim.compare(a, b)
    (root / "provenance.duckdb").unlink()
    fixed = cli("doctor", "--store-only", "--workspace", str(root), "--fix", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    _, rows = _table(_report(root, tmp_path / "report.html"), TITLE)
    assert [r[:4] for r in rows] == [[a.run_id, b.run_id, "", "alpha: 1.1 → 0.9"]]


COMPARE_IN_A_PROCESS = """
import json, sys, trackyard
from pathlib import Path

root, pairs = Path(sys.argv[1]), json.loads(sys.argv[2])
sim = trackyard.get_tracker("simulation", workspace=root)
for a, b in pairs:
    sim.compare(a, b)
"""


def test_processes_comparing_at_once_record_every_comparison(tmp_path: Path) -> None:
    """Two processes comparing runs of one workspace at the same time both have every one of
    their comparisons in the report."""
    root = tmp_path / "ws"
    sim = trackyard.get_tracker("simulation", workspace=root)
    ids = [sim.run_model(name=f"r{i}", config={"alpha": 1 + i / 10}).run_id for i in range(4)]
    halves = [[(ids[0], ids[1]), (ids[0], ids[2]), (ids[0], ids[3])]]
    halves.append([(ids[1], ids[2]), (ids[1], ids[3]), (ids[2], ids[3])])
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKYARD_")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", COMPARE_IN_A_PROCESS, str(root), json.dumps(half)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for half in halves
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    _, rows = _table(_report(root, tmp_path / "report.html"), TITLE)
    assert sorted((r[0], r[1]) for r in rows) == sorted(p for half in halves for p in half)
    assert trackyard.audit(root).ok


def test_a_large_comparison_is_shown_shortened_and_returned_whole(tmp_path: Path) -> None:
    """Runs whose configs differ in 60 long values compare whole; the report shows the first 50
    keys with their values cut to 200 characters, and says that it left some out."""
    root = tmp_path / "ws"
    sim = trackyard.get_tracker("simulation", workspace=root)
    a = sim.run_model(name="a", config={f"k{i:02d}": "a" * 5000 for i in range(60)})
    b = sim.run_model(name="b", config={f"k{i:02d}": "b" * 5000 for i in range(60)})
    diff = sim.compare(a, b)
    assert len(diff.config) == 60 and diff.config["k59"] == ("a" * 5000, "b" * 5000)
    html_text = _report(root, tmp_path / "report.html")
    _, rows = _table(html_text, TITLE)
    assert len(rows) == 1
    config = rows[0][3].split("; ")
    assert len(config) == 50
    assert config[0] == f'k00: "{"a" * 198}… → "{"b" * 198}…'
    assert "keeps at most 50 differing config keys and 50 metrics" in html_text


def test_a_workspace_without_comparisons_says_how_to_record_one(tmp_path: Path) -> None:
    """Without any comparison, the report says that compare records them."""
    root = tmp_path / "ws"
    trackyard.get_tracker("simulation", workspace=root).run_model(name="a", config={})
    html_text = _report(root, tmp_path / "report.html")
    assert _table(html_text, TITLE) == ([], [])
    assert "No comparison recorded yet" in html_text


@pytest.fixture
def page(browser: Any, compared: Compared) -> Iterator[Any]:
    """The comparisons report loaded in headless Chromium, every chart drawn."""
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(compared.report.as_uri())
    page.wait_for_function("document.body.dataset.chartsDrawn === '1'", timeout=60_000)
    yield page
    assert errors == []
    page.close()


def test_a_person_sees_the_comparisons_as_a_table(page: Any, compared: Compared) -> None:
    """In the browser, the simulation part shows the comparison table, its column headers and
    one row per compared pair."""
    table = page.locator(
        f'section[data-domain="simulation"] .section[data-section="Comparisons"] '
        f'.table[data-title="{TITLE}"]'
    )
    assert table.count() == 1
    table.scroll_into_view_if_needed()
    assert table.is_visible()
    assert table.locator("thead th").all_inner_texts() == COLUMNS
    rows = table.locator("tbody tr")
    assert rows.count() == 2
    first = rows.nth(0).locator("td").all_inner_texts()
    assert first[:4] == [
        compared.fast[-1].run_id,
        compared.growth[-1].run_id,
        "2030",
        "alpha: 0.9 → 1.1",
    ]
    assert rows.nth(1).is_visible()
