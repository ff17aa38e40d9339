"""A report whose config keys, values, errors and plugin sections hold strings that end or hide
an inline ``<script>``, opened in headless Chromium: every chart is drawn, every section is
there, and the strings are shown as text (issue 24, item 3)."""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trackyard
from trackyard.report import Chart, Link, Section, Series, Table, build_report, render_section
from trackyard.testing import PluginSandbox

from . import report_models
from .conftest import OpenedReport
from .hostile import HOSTILE

REFUSED = [
    "javascript:document.title='pwned'",
    " JaVaScRiPt:document.title='pwned'",
    "java\tscript:document.title='pwned'",
    "\x01javascript:document.title='pwned'",
    "data:text/html,<script>document.title='pwned'</script>",
    "vbscript:msgbox",
    "blob:file:///x",
]
ALLOWED = ["runs/outputs/run-1", "#domain-calibration", "file:///tmp", "https://example.org/a"]


def _hostile_plugin() -> types.ModuleType:
    module = types.ModuleType("hostile_report")

    @trackyard.hookimpl
    def report_sections(domain: str, tracker: Any) -> list[Section]:
        rows = [[text, i] for i, text in enumerate(HOSTILE)]
        series = Series(HOSTILE[0], [1, 2], [1.0, 2.0], labels=HOSTILE[:2])
        links = [[Link(f"link {i}", href)] for i, href in enumerate(REFUSED + ALLOWED)]
        return [
            Section("Links", [Table("Links", ["link"], links)]),
            Section(
                f"Hostile {HOSTILE[0]}",
                [*HOSTILE, Table(HOSTILE[1], ["text", "i"], rows), Chart.xy(HOSTILE[0], series)],
            ),
            Section("Hostile end", ["the last section"]),
        ]

    module.report_sections = report_sections  # type: ignore[attr-defined]
    return module


@pytest.fixture(scope="module")
def hostile_report(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("hostile") / "ws"
    sandbox = PluginSandbox(include_installed=True)
    sandbox.add("hostile", _hostile_plugin(), group="trackyard.plugins", distribution="evil-co")
    cal = sandbox.get_tracker("calibration", workspace=root, model=report_models.hostile_model)
    with cal:
        for i in range(3):  # three varying parameters named by hostile keys
            config: dict[str, Any] = {key: 0.1 * (i + j) for j, key in enumerate(HOSTILE[:3])}
            config["note"] = HOSTILE[i]
            cal.evaluate(run_name=f"trial-{i}", config=config)
        with pytest.raises(ValueError):
            cal.evaluate(run_name="bad", config={"fail": HOSTILE[0] + " " + HOSTILE[1]})
    out = build_report(workspace=root, output=root.parent / "r.html", registry=sandbox.registry)
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: errors.append(f"dialog {d.message}"))
    page.goto(out.path.as_uri())
    page.wait_for_function("document.body.dataset.chartsDrawn === '1'", timeout=60_000)
    yield OpenedReport(page, errors, [])
    page.close()


def test_hostile_strings_hide_nothing_and_run_nothing(hostile_report: OpenedReport) -> None:
    """Every chart is drawn, every section (the calibration ones, the plugin's and All runs)
    is on the page, no script ran from the data and the page title is untouched."""
    page = hostile_report.page
    assert hostile_report.console_errors == []
    assert page.title() == "trackyard report"
    undrawn = page.evaluate(
        "Array.from(document.querySelectorAll('.chart')).filter(c => c.dataset.drawn !== '1')"
        ".length"
    )
    assert undrawn == 0
    sections = page.evaluate(
        "Array.from(document.querySelectorAll('.section')).map(s => s.dataset.section)"
    )
    for title in ("Top runs", "Best config", "Failed evaluations", "All runs", "Hostile end"):
        assert title in sections, sections
    assert f"Hostile {HOSTILE[0]}" in sections


def test_hostile_strings_are_shown_as_text(hostile_report: OpenedReport) -> None:
    """Each string of the corpus appears on the page exactly as given (in the plugin's
    paragraphs), and the config keys label the drawn charts."""
    page = hostile_report.page
    text = page.evaluate(
        "(t) => Array.from(document.querySelectorAll('.section'))"
        ".find(s => s.dataset.section === t).innerText",
        f"Hostile {HOSTILE[0]}",
    )
    for s in HOSTILE:
        assert s.replace("\u2028", "\n").replace("\u2029", "\n").split("\n")[0] in text
    titles = page.evaluate(
        "Array.from(document.querySelectorAll('.chart')).map(c => c.data[0].name || '')"
    )
    assert HOSTILE[0] in titles
    failed = page.evaluate(
        "document.querySelector('[data-section=\"Failed evaluations\"]').innerText"
    )
    assert HOSTILE[1] in failed


TEXT = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30))


@settings(max_examples=150, deadline=None)
@given(
    title=TEXT, name=TEXT, label=TEXT, cell=TEXT, dimension=TEXT, paragraph=TEXT
)  # fmt: skip
def test_no_embedded_json_can_end_or_hide_its_script(
    title: str, name: str, label: str, cell: str, dimension: str, paragraph: str
) -> None:
    """Whatever the strings, every chart spec holds no ``<`` (escaped as \\u003c), so nothing
    in it can close or hide its ``<script>``, and it parses back to the strings given."""
    import json
    import re

    section = Section(
        title,
        [
            paragraph,
            Table(title, [name], [[cell]]),
            Chart.xy(title, Series(name, [1], [2.0], labels=[label])),
            Chart.parallel(title, {dimension: [1.0, 2.0], name + "x": [3.0, 4.0]}),
        ],
    )
    html = render_section(section, "prop")
    specs = re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S)
    assert len(specs) == 2
    assert html.count("<script") == 2
    for spec in specs:
        assert "<" not in spec and ">" not in spec
    scatter, parallel = (json.loads(s) for s in specs)
    assert scatter["data"][0]["name"] == name and scatter["data"][0]["text"] == [label]
    assert scatter["layout"]["title"]["text"] == title
    assert parallel["data"][0]["dimensions"][0]["label"] == dimension


def test_links_to_javascript_or_data_are_text(hostile_report: OpenedReport) -> None:
    """Only relative, `#`, `file:` and `http(s):` links are links; the others are shown as their
    text, and clicking them runs nothing."""
    page = hostile_report.page
    cells = page.evaluate(
        """() => Array.from(document.querySelectorAll('.table[data-title="Links"] tbody td'))
             .map(td => { const a = td.querySelector('a');
                          return [td.textContent, a ? a.getAttribute('href') : null]; })"""
    )
    refused = [[f"link {i}", None] for i in range(len(REFUSED))]
    allowed = [[f"link {len(REFUSED) + i}", href] for i, href in enumerate(ALLOWED)]
    assert [c[1] for c in cells] == [c[1] for c in refused + allowed]
    assert all(c[0].startswith(e[0]) for c, e in zip(cells, refused + allowed, strict=True))
    for i in range(len(REFUSED)):
        page.get_by_text(f"link {i}", exact=True).click()
    assert page.title() == "trackyard report"
    assert hostile_report.console_errors == []


@pytest.mark.parametrize("href", REFUSED)
def test_a_refused_link_is_rendered_as_text_with_a_note(href: str) -> None:
    """The cell holds the link's text and says the target was not linked."""
    html = render_section(Section("S", [Table("T", ["l"], [[Link("see", href)]])]), "p")
    assert "<a " not in html and "see" in html
    assert 'title="not linked: only relative, #, file: and http(s): targets are"' in html
