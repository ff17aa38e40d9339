"""``run_many`` checks every item's input files before anything runs, with the error ``run``
gives; consist's own warning about the file never reaches the console."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .._console import user_env

DRIVER = """
from pathlib import Path
from trackyard import DomainTracker, Wiring
from trackyard.errors import ConfigValidationError
from trackyard.testing import PluginSandbox

def model(config, data=None):
    return {"total": float(config["x"])}

class T(DomainTracker):
    wiring = Wiring(model="t")

sandbox = PluginSandbox()
sandbox.add("t", T)
tracker = sandbox.get_tracker("t", workspace=Path("ws").absolute())
Path("here.csv").write_text("1\\n")
items = [("a", {"x": 1}, {"data": Path("here.csv")}), ("b", {"x": 2}, {"data": Path("gone.csv")})]
for call in (
    lambda: tracker.run(model, name="b", config={"x": 2}, inputs={"data": Path("gone.csv")}),
    lambda: tracker.run_many(model, items),
):
    try:
        call()
    except ConfigValidationError as exc:
        print("refused:", exc)
print("ranked:", tracker.top_k("total"))
"""


def test_run_many_refuses_a_missing_input_before_any_item_runs(tmp_path: Path) -> None:
    """A missing file in the second item: the same ConfigValidationError as run, no item ran,
    and no consist log line on stderr."""
    result = subprocess.run(
        [sys.executable, "-c", DRIVER], cwd=tmp_path, env=user_env(),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    refusal = "refused: input 'data' of run 'b' does not exist: gone.csv; check the path"
    assert result.stdout.count(refusal) == 2, result.stdout
    assert "ranked: []" in result.stdout
    assert "[Consist]" not in result.stderr and "WARNING" not in result.stderr, result.stderr


CONSIST_LINES = """
import logging
from pathlib import Path
import consist.core.identity as consist_module
from trackyard import DomainTracker, Wiring
from trackyard.testing import PluginSandbox

def model(config):
    return {"total": 1.0}

class T(DomainTracker):
    wiring = Wiring(model="t")

sandbox = PluginSandbox()
sandbox.add("t", T)
tracker = sandbox.get_tracker("t", workspace=Path("ws").absolute())
tracker.run(model, name="a", config={"x": 1})
print("root handlers:", logging.getLogger().handlers)
consist_module.logging.warning("[Consist] a warning trackyard handles itself")
consist_module.logging.error("[Consist] the store could not be written")
logging.basicConfig(format="app %(name)s %(filename)s: %(message)s")
consist_module.logging.warning("[Consist] seen by the application's own logging")
"""


def test_consist_log_lines_go_through_trackyard_logger(tmp_path: Path) -> None:
    """consist's module-level logging calls neither configure the root logger nor print raw
    lines: a warning stays quiet, an error is one line in trackyard's voice, and an application
    with its own logging sees consist's records (naming the calling file) through it."""
    (tmp_path / "driver.py").write_text(CONSIST_LINES, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "driver.py"], cwd=tmp_path, env=user_env(),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "root handlers: []" in result.stdout
    assert result.stderr.splitlines() == [
        "trackyard: consist: the store could not be written",
        "app trackyard.consist driver.py: [Consist] seen by the application's own logging",
    ], result.stderr
