"""The live view in a real headless Chromium against a real ``trackyard serve`` subprocess:
the domain page grows as another process's sweep lands (no reload), the run page shows the
config and downloads an output, hostile values render as text, nothing foreign is requested."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import HOSTILE_KEY, HOSTILE_NAME, HOSTILE_VALUE, N_FIRST, Served, finish, write_runs

DOCS_IMG = Path(__file__).parents[2] / "docs" / "img"
HISTORY = "error per evaluation, in the order they ran"


@pytest.fixture()
def opened(browser: Any, served: Served) -> Iterator[Any]:
    """A fresh page recording console errors, dialogs and every request it makes."""
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.errors, page.requests, page.dialogs = [], [], []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    yield page
    page.close()


def _points(page: Any) -> int:
    held: int = page.evaluate(
        '(t) => { const gd = document.querySelector(`.chart[data-title="${t}"]`);'
        " return gd && gd.data ? gd.data[0].x.length : -1; }",
        HISTORY,
    )
    return held


def _clean(page: Any, served: Served) -> None:
    assert page.errors == []
    assert page.dialogs == []
    foreign = [u for u in page.requests if not u.startswith(served.base + "/")]
    assert foreign == []


def test_domain_page_grows_as_another_process_sweeps(opened: Any, served: Served) -> None:
    """The page shows the first sweep's runs; a sweep started in another process adds its
    points to the history chart while the page stays loaded (no reload)."""
    page = opened
    page.goto(f"{served.base}/domains/calibration")
    page.wait_for_function("document.body.dataset.chartsDrawn === '1'", timeout=60_000)
    assert _points(page) == N_FIRST + 1  # the first sweep and the hostile run executed
    page.evaluate("window.__stillHere = 'yes'")
    writer = write_runs(served.workspace, "second", [0.55, 0.65, 0.75])
    finish(writer)
    page.wait_for_function(
        f"() => document.querySelector('[data-runs]').dataset.runs === '{N_FIRST + 5}'",
        timeout=60_000,
    )
    page.wait_for_function(
        '(t) => document.querySelector(`.chart[data-title="${t}"]`).data[0].x.length === '
        f"{N_FIRST + 4}",
        arg=HISTORY,
        timeout=30_000,
    )
    assert page.evaluate("window.__stillHere") == "yes"  # the same document: never reloaded
    assert int(page.evaluate("document.body.dataset.updates || '0'")) >= 1
    DOCS_IMG.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS_IMG / "serve-domain.png"), full_page=False)
    _clean(page, served)


def test_run_page_shows_config_and_downloads_an_output(opened: Any, served: Served) -> None:
    """The run page lists the config and the outputs; the download link serves the file
    recorded for the run, byte for byte."""
    runs = served.json("/api/runs?domain=calibration&limit=1")["runs"]
    run_id = runs[0]["run_id"]
    page = opened
    page.goto(f"{served.base}/runs/{run_id}")
    config = page.locator('.table[data-title="Config"] tbody tr').all_inner_texts()
    assert "a\t0.1" in config and "tag\tfirst" in config
    DOCS_IMG.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS_IMG / "serve-run.png"), full_page=False)
    link = page.locator('.table[data-title="Outputs"] a', has_text="download").first
    with page.expect_download() as info:
        link.click()
    download = info.value
    detail = served.json(f"/api/runs/{run_id}")
    first = detail["outputs"][0]
    recorded = served.workspace / "runs" / first["file"]
    assert Path(download.path()).read_bytes() == recorded.read_bytes()
    assert download.suggested_filename == recorded.name
    _clean(page, served)


def test_hostile_names_values_and_errors_render_as_text(opened: Any, served: Served) -> None:
    """A run whose name, config key and value and error message hold markup shows them as
    text: no dialog opens and no element is injected, on the domain and the run pages."""
    page = opened
    page.goto(f"{served.base}/domains/calibration")
    page.wait_for_function("document.body.dataset.chartsDrawn === '1'", timeout=60_000)
    assert HOSTILE_NAME in page.locator("body").inner_text()
    assert "<script>alert('error')</script>" in page.locator("body").inner_text()
    for path in (f"/runs/{served.renamed_run}", f"/runs/{served.failed_run}"):
        page.goto(served.base + path)
        page.wait_for_function("document.body.dataset.chartsDrawn === '1'", timeout=60_000)
    page.goto(f"{served.base}/runs/{served.renamed_run}")
    text = page.locator("body").inner_text()
    assert HOSTILE_NAME in text and HOSTILE_VALUE in text and HOSTILE_KEY in text
    scripts = page.evaluate(
        "() => Array.from(document.scripts).filter(s => s.type !== 'application/json')"
        ".map(s => s.getAttribute('src'))"
    )
    assert scripts == ["/static/plotly.min.js", "/static/serve.js"]
    assert page.locator("img").count() == 0
    _clean(page, served)


def test_compare_page_marks_differing_config(opened: Any, served: Served) -> None:
    """Two runs compared side by side: the differing config row is marked, equal ones not."""
    a, b = (r["run_id"] for r in served.json("/api/runs?domain=calibration&limit=2")["runs"])
    page = opened
    page.goto(f"{served.base}/compare?run={a}&run={b}")
    rows = page.locator('.table[data-title="Config"] tbody tr')
    marks = {r.locator("th").inner_text(): r.get_attribute("data-differs") for r in rows.all()}
    assert marks["a"] == "1" and marks["b"] == "0" and marks["tag"] == "0"
    _clean(page, served)


def test_overview_lists_domains_and_in_flight_work(opened: Any, served: Served) -> None:
    """The overview shows the summary counts and each domain with its runs."""
    page = opened
    page.goto(served.base + "/")
    assert page.locator('[data-summary="counts"]').count() == 1
    rows = page.locator('.table[data-title="Domains"] tbody tr').all_inner_texts()
    assert rows and rows[0].startswith("calibration\t")
    DOCS_IMG.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS_IMG / "serve-overview.png"), full_page=False)
    _clean(page, served)
