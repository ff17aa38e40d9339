"""The overview shows each sweep in flight with its configs done / failed / remaining and its
age, updated without a reload as results land, gone once the sweep ends, "ended (driver
gone)" when its driver was killed; ``GET /api/sweeps`` gives the same numbers. Real
``trackyard run calibration sweep`` processes (serial, and local processes), a real
``trackyard serve``, headless Chromium."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .._console import TRACKYARD, user_env
from .conftest import Served, start_server, stop_server

HERE = Path(__file__).parent
DOCS_IMG = HERE.parents[1] / "docs" / "img"
PYPROJECT = '[tool.trackyard.domains.calibration]\nmodel = "serve_models:gated"\n'
TABLE = '.table[data-title="Sweeps and calibrations in flight"]'
HOSTILE = "<img src=x onerror=alert('sweep')><script>alert('sweep')</script>"
COLUMNS = [
    "domain", "sweep", "progress", "from cache", "running now", "executor", "started",
    "last change", "driver", "state",
]  # fmt: skip


@dataclass
class Flight:
    """A sweep running in its own process, the folder controlling its runs, its server."""

    ws: Path
    ctl: Path
    proc: subprocess.Popen[str]
    base: str = ""
    port: int = 0


def _wait(what: str, ready: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def flight(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Flight]:
    """``trackyard run calibration sweep`` of 6 configs (``request.param``: executor, workers,
    the configs that fail, the configs held), and ``trackyard serve`` on its workspace."""
    executor, workers, failing, holds = request.param
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    ctl, ws = tmp_path / "ctl", tmp_path / "ws"
    ctl.mkdir()
    for i in holds:
        (ctl / f"hold-{i}").write_text("")
    configs = {
        f"c{i}": {"x": i, "ctl": f"untracked:{ctl}", **({"fail": True} if i in failing else {})}
        for i in range(6)
    }
    args = [
        "run", "calibration", "sweep", "-w", str(ws), "--json",
        "--set", f"configs_by_label={json.dumps(configs)}", "--set", f"executor={executor}",
        "--set", f"max_workers={workers}", "--set", "progress=false",
    ]  # fmt: skip
    proc = subprocess.Popen(
        [str(TRACKYARD), *args],
        cwd=tmp_path,
        env=user_env({"PYTHONPATH": str(HERE)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    fl = Flight(ws, ctl, proc)
    server = None
    try:
        _wait("the sweep's first run", lambda: (ctl / "started-0").exists())
        server, fl.port = start_server(ws, "--refresh", "0.2")
        fl.base = f"http://127.0.0.1:{fl.port}"
        yield fl
    finally:
        for hold in ctl.glob("hold-*"):
            hold.unlink()
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
        if server is not None:
            stop_server(server)


def _api(fl: Flight) -> list[dict[str, Any]]:
    import urllib.request

    with urllib.request.urlopen(f"{fl.base}/api/sweeps", timeout=60) as resp:
        sweeps: list[dict[str, Any]] = json.loads(resp.read())["sweeps"]
    return sweeps


def _rows(page: Any) -> list[dict[str, str]]:
    """The in-flight table as the user reads it, one dict per row."""
    cells: list[list[str]] = page.evaluate(
        "(sel) => Array.from(document.querySelectorAll(sel + ' tbody tr'))"
        ".map(tr => Array.from(tr.cells).map(td => td.textContent))",
        TABLE,
    )
    return [dict(zip(COLUMNS, row, strict=True)) for row in cells]


def _shows(page: Any, text: str, column: str = "progress") -> None:
    """Wait (no reload) until a row of the in-flight table shows ``text`` in ``column``."""
    page.wait_for_function(
        "([sel, col, text]) => Array.from(document.querySelectorAll(sel + ' tbody tr'))"
        ".some(tr => tr.cells[col].textContent === text)",
        arg=[TABLE, COLUMNS.index(column), text],
        timeout=90_000,
    )


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    page.close()


def _api_numbers(sweep: dict[str, Any]) -> tuple[Any, ...]:
    keys = ("domain", "label", "total", "done", "failed", "remaining", "running", "state")
    return tuple(sweep[k] for k in keys)


@pytest.mark.parametrize("flight", [("serial", 1, (2,), (3, 4, 5))], indirect=True, ids=["serial"])
def test_overview_follows_a_serial_sweep_until_it_ends(page: Any, flight: Flight) -> None:
    """c0 and c1 done, c2 failed, c3 held: "2 done / 1 failed / 3 remaining"; c3 released:
    "3 done / 1 failed / 2 remaining" on the same page; every hold released: the sweep ends
    and leaves the table."""
    fl = flight
    _wait("c3 to start", lambda: (fl.ctl / "started-3").exists())
    page.goto(fl.base + "/")
    _shows(page, "2 done / 1 failed / 3 remaining")
    [row] = _rows(page)
    assert (row["domain"], row["sweep"], row["running now"], row["executor"]) == (
        "calibration", "sweep", "1", "serial",
    )  # fmt: skip
    assert re.fullmatch(r"\d+ s ago|\d+ min ago", row["started"]), row
    assert row["driver"].endswith(f"pid {fl.proc.pid}")
    assert row["state"] == "in flight"
    [sweep] = _api(fl)
    assert _api_numbers(sweep) == ("calibration", "sweep", 6, 2, 1, 3, 1, "in flight")
    assert sweep["pid"] == fl.proc.pid and sweep["executor"] == "serial"
    assert sweep["age"] >= 0
    DOCS_IMG.mkdir(exist_ok=True)
    # The page, cut to the table (the table's node is replaced at every update).
    box = page.locator(TABLE).bounding_box()
    page.screenshot(path=str(DOCS_IMG / "serve-inflight.png"), clip=box)
    page.evaluate("window.__stillHere = 'yes'")

    (fl.ctl / "hold-3").unlink()
    _shows(page, "3 done / 1 failed / 2 remaining")
    assert _api_numbers(_api(fl)[0])[3:6] == (3, 1, 2)

    for hold in fl.ctl.glob("hold-*"):
        hold.unlink()
    fl.proc.communicate(timeout=120)
    page.wait_for_function(
        "(sel) => !document.querySelector(sel) && document.body.textContent.includes("
        "'No sweep or calibration in flight.')",
        arg=TABLE,
        timeout=60_000,
    )
    assert page.evaluate("window.__stillHere") == "yes"  # never reloaded
    assert _api(fl) == []
    assert page.errors == []


@pytest.mark.parametrize(
    "flight", [("processes", 2, (), (2, 3, 4, 5))], indirect=True, ids=["processes"]
)
def test_overview_shows_a_killed_drivers_sweep_as_ended(page: Any, flight: Flight) -> None:
    """Two worker processes: c0 and c1 done, c2 and c3 held: "2 done / 0 failed / 4
    remaining", 2 running; c2 released: "3 done / 0 failed / 3 remaining"; the driver killed
    (kill -9): the row says "ended (driver gone)", without a reload, and so does the API."""
    fl = flight
    _wait("c2 and c3 to start", lambda: all((fl.ctl / f"started-{i}").exists() for i in (2, 3)))
    page.goto(fl.base + "/")
    _shows(page, "2 done / 0 failed / 4 remaining")
    [row] = _rows(page)
    assert (row["running now"], row["executor"], row["state"]) == ("2", "processes", "in flight")
    assert _api_numbers(_api(fl)[0]) == ("calibration", "sweep", 6, 2, 0, 4, 2, "in flight")
    page.evaluate("window.__stillHere = 'yes'")

    (fl.ctl / "hold-2").unlink()
    _shows(page, "3 done / 0 failed / 3 remaining")

    os.kill(fl.proc.pid, signal.SIGKILL)
    fl.proc.communicate(timeout=60)
    _shows(page, "ended (driver gone)", column="state")
    [row] = _rows(page)
    assert row["progress"] == "3 done / 0 failed / 3 remaining"
    assert page.evaluate("window.__stillHere") == "yes"
    [sweep] = _api(fl)
    assert _api_numbers(sweep)[:6] == ("calibration", "sweep", 6, 3, 0, 3)
    assert sweep["state"] == "ended (driver gone)"
    assert sweep["in_flight"] is False
    assert page.errors == []


def test_a_hostile_record_renders_as_text(browser: Any, served: Served) -> None:
    """A sweep record whose texts are scripts (a record another tool wrote) is shown as text
    on the overview and in the API: no dialog, no injected element; a pid that is not one is
    a driver gone."""
    record = {
        "id": "hostile", "domain": HOSTILE, "label": HOSTILE, "model": HOSTILE,
        "executor": HOSTILE, "total": 3, "done": 1, "failed": 1, "running": 1,
        "started_at": HOSTILE, "updated_at": HOSTILE, "host": socket.gethostname(),
        "pid": HOSTILE,
    }  # fmt: skip
    folder = served.workspace / "inflight"
    folder.mkdir(exist_ok=True)
    path = folder / "hostile.json"
    path.write_text(json.dumps(record))
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(served.base + "/")
        page.wait_for_selector(TABLE)
        [row] = _rows(page)
        assert row["sweep"] == row["domain"] == row["executor"] == HOSTILE
        assert row["driver"] == f"{socket.gethostname()} pid {HOSTILE}"
        assert row["progress"] == "1 done / 1 failed / 1 remaining"
        assert row["state"] == "ended (driver gone)"
        assert row["started"] == ""  # not a time: not shown as one
        assert page.evaluate("document.querySelectorAll('main img, main script').length") == 0
        [sweep] = served.json("/api/sweeps")["sweeps"]
        assert (sweep["label"], sweep["state"], sweep["age"]) == (
            HOSTILE,
            "ended (driver gone)",
            None,
        )
    finally:
        path.unlink()
        page.close()
    assert dialogs == []
