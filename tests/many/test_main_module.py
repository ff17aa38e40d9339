"""``executor="processes"`` from a ``__main__`` that workers cannot import: a script read on
standard input, ``python -c``, a notebook. A model from a module runs; a model defined in such
a ``__main__`` is refused before anything runs, saying to move it into a module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .._console import user_env

SWEEP = """
import trackyard
cal = trackyard.get_tracker("calibration", workspace={ws!r})
result = cal.sweep(
    configs_by_label={{"a": {{"a": 0.1, "b": 0.2, "c": 0.3}}, "b": {{"a": 0.2, "b": 0.2, "c": 0.3}}}},
    executor="processes", max_workers=2, progress=False,
)
print("failures", dict(result.failures))
print("done", sorted(result.outcomes))
"""

OWN_MODEL = """
import trackyard
def model(config):
    return {{"total": 1.0}}
cal = trackyard.get_tracker("calibration", workspace={ws!r})
try:
    cal.run_many(model, [("one", {{"x": 1}})], executor="processes")
except trackyard.errors.ExecutorError as exc:
    print("refused:", exc)
"""


def _python(*args: str, stdin: str | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        input=stdin,
        cwd=cwd,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_script_on_stdin_runs_a_module_model_in_worker_processes(tmp_path: Path) -> None:
    """`python - < driver.py` sweeps with processes: every item runs, no worker error."""
    result = _python("-", stdin=SWEEP.format(ws=str(tmp_path / "ws")), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "failures {}" in result.stdout
    assert "done ['a', 'b']" in result.stdout
    assert "FileNotFoundError" not in result.stderr
    assert "BrokenProcessPool" not in result.stdout + result.stderr


def test_a_model_defined_on_stdin_or_in_c_is_refused_up_front(tmp_path: Path) -> None:
    """A model defined in a __main__ workers cannot import is an ExecutorError telling to move
    it into a module, raised before any run is recorded."""
    for args, stdin in ((["-"], OWN_MODEL), (["-c", OWN_MODEL], None)):
        ws = tmp_path / f"ws{len(args)}"
        script = OWN_MODEL.format(ws=str(ws))
        result = _python(*args[:1], *([script] if stdin is None else []), stdin=stdin and script,
                         cwd=tmp_path)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert (
            "refused: model 'model' is defined in __main__ (a script read from standard input, "
            "python -c, an interactive session or a notebook), which worker processes cannot "
            "import; move the model into a module (a .py file on sys.path or in your plugin "
            "package) and import it from there, or use executor='serial'"
        ) in result.stdout, result.stdout
        listed = subprocess.run(
            [str(Path(sys.executable).parent / "trackyard"), "runs", "calibration", "-w", str(ws),
             "--json"],
            env=user_env(), capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert (listed.returncode, listed.stdout.strip()) == (0, "[]"), listed.stderr
