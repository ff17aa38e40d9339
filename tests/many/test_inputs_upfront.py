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
