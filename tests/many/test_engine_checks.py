"""DomainTracker.run_many refuses what it cannot run, before anything runs, and fails tasks of
workers whose plugin set differs from the driver's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

import trackyard
from trackyard.errors import ConfigValidationError

MODEL = "many_models_helper:model"


def _model() -> Any:
    """The model function (importable once the ``models_on_path`` fixture has run)."""
    import many_models_helper

    return many_models_helper.model


def _tracker(workspace: Path) -> Any:
    return trackyard.get_tracker("calibration", workspace=workspace, model=MODEL)


def test_local_function_is_rejected_for_processes(models_on_path: Path) -> None:
    """A model defined inside a function cannot be sent to workers: a clear error, no run."""
    tracker = _tracker(models_on_path)

    def local(config: dict[str, Any]) -> dict[str, Any]:
        return {"mode_share_error": 1.0}

    with pytest.raises(ConfigValidationError, match="cannot be sent to worker processes"):
        tracker.run_many(local, [("a", {"coeff": 0.1})], executor="processes")
    assert tracker.top_k("mode_share_error") == []


@pytest.mark.parametrize(
    ("executor", "max_workers", "match"),
    [
        ("threads", None, "executor 'threads' is not supported: executor must be 'serial'"),
        ("processes", 0, "max_workers must be a positive integer, got 0"),
        ("serial", True, "max_workers must be a positive integer, got True"),
    ],
)
def test_bad_executor_or_worker_count_is_rejected_before_any_run(
    models_on_path: Path, executor: Any, max_workers: Any, match: str
) -> None:
    """An unknown executor or a non-positive max_workers is refused; nothing is recorded."""
    tracker = _tracker(models_on_path)
    with pytest.raises(ConfigValidationError, match=match):
        tracker.run_many(
            _model(), [("a", {"coeff": 0.1})], executor=executor, max_workers=max_workers
        )
    with pytest.raises(ConfigValidationError, match=match):
        tracker.worker_count(executor, max_workers)
    assert tracker.top_k("mode_share_error") == []


def test_worker_count_is_what_an_executor_runs_at_once(models_on_path: Path) -> None:
    """max_workers when given, else 1 for serial and the core count for processes."""
    import os

    tracker = _tracker(models_on_path)
    assert tracker.worker_count() == 1
    assert tracker.worker_count("serial", 3) == 3
    assert tracker.worker_count("processes") == (os.cpu_count() or 1)


def test_repeated_config_runs_once_and_the_repeat_is_a_cache_hit(models_on_path: Path) -> None:
    """Two names with one config in one batch: the config executes once, on any executor."""
    log = models_on_path / "executed.log"
    config = {"coeff": 0.3, "label": "same", "log": f"untracked:{log}"}
    tracker = _tracker(models_on_path)
    result = tracker.run_many(
        _model(), [("one", config), ("two", config)], executor="processes", max_workers=2
    )
    assert log.read_text().split() == ["same"]
    assert (result.ran, result.cached, result.failed) == (1, 1, 0)
    assert list(result.outcomes) == ["one", "two"]
    assert result.outcomes["two"].cache_source == result.outcomes["one"].run_id


LATE_DRIVER = """
import json, sys, sysconfig
from pathlib import Path
import trackyard
sys.path.insert(0, sys.argv[2])
import many_models_helper
# The driver reads its plugin set here, once.
tracker = trackyard.get_tracker("calibration", workspace=sys.argv[1], model=sys.argv[3])
site = Path(sysconfig.get_paths()["purelib"])
info = site / "late_plugin_for_test-1.0.dist-info"
info.mkdir()
(info / "METADATA").write_text("Metadata-Version: 2.1\\nName: late-plugin-for-test\\nVersion: 1.0\\n")
(info / "entry_points.txt").write_text("[trackyard.domains]\\nlate = late_plugin_for_test\\n")
(info / "RECORD").write_text(f"late_plugin_for_test.py,,\\n{info.name}/METADATA,,\\n")
(site / "late_plugin_for_test.py").write_text("")
result = tracker.run_many(many_models_helper.model, [("a", {"coeff": 0.1})],
                          executor="processes", max_workers=1)
print(json.dumps({"failed": result.failed, "failures": result.failures}))
"""


def _throwaway_venv(root: Path) -> Path:
    """A venv of its own (this one's packages through a ``.pth``): a plugin installed into it
    reaches no other test's processes."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    site = root / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    ours = sysconfig.get_paths()["purelib"]
    (site / "_trackyard_dev.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return root / "bin" / "python"


def test_worker_with_other_plugin_set_fails_its_tasks(models_on_path: Path) -> None:
    """A plugin installed after the driver started makes every worker task fail clearly: the
    driver (in a venv of its own) reads its plugin set, then a plugin appears in its
    site-packages (a trusted, pip-like install); workers start fresh and see it."""
    python = _throwaway_venv(models_on_path / "venv")
    helpers = str(Path(__file__).parent)
    done = subprocess.run(
        [str(python), "-c", LATE_DRIVER, str(models_on_path / "w"), helpers, MODEL],
        capture_output=True, text=True, timeout=300, check=False,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("TRACKYARD_")},
            # This project's packages, reached through the .pth: trusted as the user would.
            "TRACKYARD_TRUSTED_PATHS": sysconfig.get_paths()["purelib"],
        },
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["failed"] == 1
    assert "PluginSetMismatchError" in result["failures"]["a"]
    assert "different trackyard plugin set than the driver" in result["failures"]["a"]
