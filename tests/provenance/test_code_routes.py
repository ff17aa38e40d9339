"""Code reached by any route is keyed or verified: a constant, a parameter dict, an import
inside the model, ``importlib.import_module``, a helper's own constant import, and files the
model reads without declaring them; code edited under a running process is never run under
the new key (``StaleCodeError``). On the serial, process and Dask executors."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import trackyard
from trackyard.errors import StaleCodeError, UndeclaredInputError

EXECUTORS = ["serial", "processes", "dask"]

ROUTES = '''
"""Models that reach their numbers by every route an author uses."""
import importlib
import importlib.metadata
import os
from pathlib import Path

import consist

from trapmodels import chain
from trapmodels.params import FACTOR, PARAMS


def _table(value):
    out = Path(consist.output_path("table", "csv"))
    out.write_text(str(value), encoding="utf-8")
    return {"table": out, "value": float(value)}


def constant(config):
    return _table(config["x"] * FACTOR)


def parameter_dict(config):
    return _table(config["x"] * PARAMS["scale"])


def inside(config):
    from trapmodels.lazyhelp import LAZY

    return _table(config["x"] * LAZY)


def dynamic(config):
    return _table(config["x"] * importlib.import_module("trapmodels.dynhelp").DYN)


def transitive(config):
    return _table(config["x"] * chain.scaled())


def reads(config):
    text = Path(__file__).with_name("side.txt").read_text(encoding="utf-8")
    return _table(config["x"] * float(text))
'''

FILES = {
    "params.py": "FACTOR = 1\nPARAMS = {'scale': 1}\n",
    "lazyhelp.py": "LAZY = 1\n",
    "dynhelp.py": "DYN = 1\n",
    "chain.py": "from trapmodels.deep import DEEP\n\n\ndef scaled():\n    return DEEP\n",
    "deep.py": "DEEP = 1\n",
}

# route -> (the model, the file to edit, its text after the edit: the number becomes 2)
EDITS = {
    "constant": ("params.py", "FACTOR = 2\nPARAMS = {'scale': 1}\n"),
    "parameter_dict": ("params.py", "FACTOR = 1\nPARAMS = {'scale': 2}\n"),
    "inside": ("lazyhelp.py", "LAZY = 2\n"),
    "dynamic": ("dynhelp.py", "DYN = 2\n"),
    "transitive": ("deep.py", "DEEP = 2\n"),
}


@pytest.fixture
def routes(trap_site: Path) -> Iterator[Path]:
    """``trapmodels.routes`` and its helpers, written afresh for each test (and forgotten by
    this process afterwards, so the next test imports its own copy)."""
    package = trap_site / "trapmodels"
    (package / "routes.py").write_text(textwrap.dedent(ROUTES), encoding="utf-8")
    for name, text in FILES.items():
        (package / name).write_text(text, encoding="utf-8")
    _forget()
    yield package
    _forget()


def _forget() -> None:
    package = sys.modules.get("trapmodels")
    for name in [*FILES, "routes.py"]:
        sys.modules.pop(f"trapmodels.{name.removesuffix('.py')}", None)
        if package is not None and hasattr(package, name.removesuffix(".py")):
            delattr(package, name.removesuffix(".py"))  # `from trapmodels import x` reads it
    importlib.invalidate_caches()


def _model(name: str) -> Any:
    return getattr(importlib.import_module("trapmodels.routes"), name)


def _call(tracker: Any, fn: Any, run: str, executor: Any) -> Any:
    """One call of ``fn`` with x = 3: the outcome (serial) or the sweep's only outcome."""
    if executor == "serial":
        return tracker.run(fn, name=run, config={"x": 3})
    result = tracker.run_many(fn, [(run, {"x": 3})], executor=executor, max_workers=2)
    assert not result.failures, result.failures
    return result.outcomes[run]


def _value(outcome: Any) -> float:
    return float(outcome.output("table").read_text(encoding="utf-8"))


RESET = '''
"""Forget the route modules in this process, as a fresh interpreter would not have them."""
import importlib
import sys

NAMES = NAMES_HERE


def forget():
    package = sys.modules.get("trapmodels")
    for name in NAMES:
        sys.modules.pop(f"trapmodels.{name}", None)
        if package is not None and hasattr(package, name):
            delattr(package, name)
    importlib.invalidate_caches()
'''


def _like_a_new_process(package: Path, executor: Any) -> None:
    """What a fresh interpreter sees: the edited modules imported anew, here and, on Dask,
    in the long-lived workers (as after a deploy that restarts them)."""
    _forget()
    if executor not in ("serial", "processes"):
        names = [n.removesuffix(".py") for n in [*FILES, "routes.py"]]
        (package / "_reset.py").write_text(RESET.replace("NAMES_HERE", repr(names)))
        executor.run(importlib.import_module("trapmodels._reset").forget)


def _executor(name: str, request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("dask_client") if name == "dask" else name


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("route", sorted(EDITS))
def test_an_edited_helper_reached_by_any_route_runs_again(
    ws: Path, routes: Path, route: str, executor: str, request: pytest.FixtureRequest
) -> None:
    run = _executor(executor, request)
    trap = trackyard.get_tracker("trap", workspace=ws)
    _like_a_new_process(routes, run)  # Dask workers outlive tests: start from the files now
    first = _call(trap, _model(route), "before", run)
    filename, edited = EDITS[route]
    (routes / filename).write_text(edited, encoding="utf-8")
    _like_a_new_process(routes, run)
    after = _call(trap, _model(route), "after", run)
    again = _call(trap, _model(route), "again", run)
    assert (first.cache_hit, _value(first)) == (False, 3.0)
    assert (after.cache_hit, _value(after)) == (False, 6.0)
    assert (again.cache_hit, _value(again), again.cache_source) == (True, 6.0, after.run_id)


@pytest.mark.parametrize("edited", ["helper", "model"])
def test_code_edited_under_a_running_process_is_refused_before_anything_runs(
    ws: Path, routes: Path, edited: str
) -> None:
    """A notebook user runs, edits a module in the editor, and runs again in the same kernel:
    the call raises instead of running the old code under the new code's key."""
    trap = trackyard.get_tracker("trap", workspace=ws)
    first = trap.run(_model("constant"), name="first", config={"x": 3})
    target = routes / ("params.py" if edited == "helper" else "routes.py")
    target.write_text(target.read_text(encoding="utf-8") + "\n# tuned\n", encoding="utf-8")
    module = "trapmodels.params" if edited == "helper" else "trapmodels.routes"
    snapshots = sorted((ws / "runs" / "consist_runs").glob("*.json"))
    with pytest.raises(StaleCodeError) as caught:
        trap.run(_model("constant"), name="second", config={"x": 3})
    assert str(caught.value) == (
        f"module {module!r} used by model module 'trapmodels.routes' was changed on disk "
        f"({target}) after this process loaded it: running now would execute the old code "
        "and store its result under the new code's cache key; restart the interpreter (or "
        "notebook kernel), or importlib.reload() the changed module and the modules that "
        "import from it, then call again"
    )
    assert sorted((ws / "runs" / "consist_runs").glob("*.json")) == snapshots
    importlib.reload(importlib.import_module(module))
    reloaded = importlib.reload(importlib.import_module("trapmodels.routes"))
    after = trap.run(reloaded.constant, name="third", config={"x": 3})
    assert not first.cache_hit and not after.cache_hit


def _stamp(trap: Any, outcome: Any) -> dict[str, Any]:
    run = trap.consist.get_run(outcome.cache_source or outcome.run_id)
    return dict((run.meta or {})["trackyard"])


@pytest.mark.parametrize("executor", EXECUTORS)
def test_an_undeclared_read_is_recorded_and_verified_before_a_hit(
    ws: Path,
    routes: Path,
    executor: str,
    request: pytest.FixtureRequest,
) -> None:
    """The model reads a file beside its module that nothing declares."""
    run = _executor(executor, request)
    side = routes / "side.txt"
    side.write_text("1", encoding="utf-8")
    trap = trackyard.get_tracker("trap", workspace=ws)
    _like_a_new_process(routes, run)  # Dask workers outlive tests: start from the files now
    first = _call(trap, _model("reads"), "first", run)
    hit = _call(trap, _model("reads"), "hit", run)
    side.write_text("2", encoding="utf-8")
    after = _call(trap, _model("reads"), "after", run)
    undeclared = _stamp(trap, first)["deps"]["undeclared_inputs"]
    assert list(undeclared) == [str(side.resolve())]
    assert (first.cache_hit, hit.cache_hit, after.cache_hit) == (False, True, False)
    assert _value(after) == 6.0
    if executor == "serial":
        assert after.rerun_reason == (
            f"file {side.resolve()} that the run read (undeclared input) was changed"
        )


def test_strict_inputs_fails_a_run_that_reads_an_undeclared_file(
    ws: Path, routes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    side = routes / "side.txt"
    side.write_text("1", encoding="utf-8")
    monkeypatch.setenv("TRACKYARD_STRICT_INPUTS", "1")
    trap = trackyard.get_tracker("trap", workspace=ws)
    assert trap.settings.strict_inputs is True
    with pytest.raises(UndeclaredInputError) as caught:
        trap.run(_model("reads"), name="strict", config={"x": 3})
    assert str(caught.value) == (
        f"run 'strict' (model module 'trapmodels.routes') read {side.resolve()}, which is "
        "neither an input, a pathlib.Path in its config, code nor in its run folder, and "
        "strict_inputs is on: its content would not be in the cache key. Pass it as "
        "inputs={'<label>': path} or as a pathlib.Path in the config (both key its content), "
        "list it in Wiring.code_dependencies if it is code, or turn strict_inputs off"
    )
    declared = trap.run(_model("constant"), name="declared", config={"x": 3})
    assert declared.status == "completed"


def test_every_run_records_the_modules_it_used_and_its_environment(ws: Path, routes: Path) -> None:
    trap = trackyard.get_tracker("trap", workspace=ws)
    outcome = trap.run(_model("inside"), name="one", config={"x": 3})
    deps = _stamp(trap, outcome)["deps"]
    assert {"trapmodels.routes", "trapmodels.lazyhelp", "trapmodels.params"} <= set(deps["modules"])
    assert deps["modules"]["trapmodels.lazyhelp"]["path"] == str(routes / "lazyhelp.py")
    assert "consist" in deps["environment"]
    assert deps["environment"]["consist"] == importlib.metadata.version("consist")
    assert json.dumps(deps)  # plain JSON, as stored


SCRIPT = '''
"""A modeller's script: the model is defined here and reads a constant from a sibling."""
import json
import sys
from pathlib import Path

from factors import FACTOR
from trackyard import DomainTracker, Wiring
from trackyard.testing import PluginSandbox


def model(config):
    return {"value": config["x"] * FACTOR}


class ScriptTracker(DomainTracker):
    wiring = Wiring(model="script")


sandbox = PluginSandbox()
sandbox.add("script", ScriptTracker)
tracker = sandbox.get_tracker("script", workspace=Path("ws"))
outcome = tracker.run(model, name=sys.argv[1], config={"x": 3})
print(json.dumps([outcome.cache_hit, outcome.metrics["value"]]))
'''


def test_a_model_defined_in_a_script_keys_the_modules_the_script_imports(
    tmp_path: Path,
) -> None:
    """`python run.py`: the model lives in ``__main__``; editing the helper it imports runs
    it again in the next process."""
    (tmp_path / "run.py").write_text(textwrap.dedent(SCRIPT), encoding="utf-8")
    (tmp_path / "factors.py").write_text("FACTOR = 1\n", encoding="utf-8")
    assert _run_script(tmp_path, "a") == [False, 3.0]
    assert _run_script(tmp_path, "b") == [True, 3.0]
    (tmp_path / "factors.py").write_text("FACTOR = 2\n", encoding="utf-8")
    assert _run_script(tmp_path, "c") == [False, 6.0]


def _run_script(folder: Path, name: str, env: dict[str, str] | None = None) -> Any:
    """``python run.py NAME`` in ``folder``: [cache_hit, value], or the error's last line."""
    done = subprocess.run(
        [sys.executable, "run.py", name],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        return done.stderr.strip().splitlines()[-1]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_model_without_a_file_keys_the_project_modules_its_globals_hold(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notebook cell: the model has no file (its source is keyed), and the project module
    it calls through its globals is keyed by content."""
    import linecache

    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "cellhelp.py").write_text("def factor():\n    return 1\n", encoding="utf-8")
    helper = importlib.import_module("cellhelp")
    source = "def cell_model(config):\n    return {'value': config['x'] * cellhelp.factor()}\n"
    linecache.cache["<cell-7>"] = (len(source), None, source.splitlines(True), "<cell-7>")
    namespace: dict[str, Any] = {"__name__": "notebook_cell", "cellhelp": helper}
    exec(compile(source, "<cell-7>", "exec"), namespace)
    trap = trackyard.get_tracker("trap", workspace=ws)
    trap.wiring = trackyard.Wiring(model="cell", outputs=())
    first = trap.run(namespace["cell_model"], name="a", config={"x": 3})
    assert trap.run(namespace["cell_model"], name="hit", config={"x": 3}).cache_hit
    (tmp_path / "cellhelp.py").write_text("def factor():\n    return 2\n", encoding="utf-8")
    importlib.reload(helper)  # the notebook user reloads the edited module
    after = trap.run(namespace["cell_model"], name="b", config={"x": 3})
    assert (first.cache_hit, first.metrics) == (False, {"value": 3.0})
    assert (after.cache_hit, after.metrics) == (False, {"value": 6.0})
    sys.modules.pop("cellhelp", None)


def test_bytecode_older_than_its_source_is_never_run(tmp_path: Path) -> None:
    """Python checks a cached ``.pyc`` by its source's size and mtime in whole seconds: an
    edit of the same size within the same second is run as the old code by plain Python.
    Under trackyard the next process runs the edited code (and its key is the new one)."""
    second = 1_700_000_000 * 10**9
    (tmp_path / "run.py").write_text(textwrap.dedent(SCRIPT), encoding="utf-8")
    helper = tmp_path / "factors.py"
    helper.write_text("FACTOR = 1\n", encoding="utf-8")
    os.utime(helper, ns=(second + 100_000_000,) * 2)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    assert _run_script(tmp_path, "a", env) == [False, 3.0]
    (cached,) = (tmp_path / "__pycache__").glob("factors.*.pyc")
    os.utime(cached, ns=(second + 200_000_000,) * 2)  # written in the same second
    helper.write_text("FACTOR = 2\n", encoding="utf-8")  # same size, same second, later
    os.utime(helper, ns=(second + 500_000_000,) * 2)
    plain = subprocess.run(
        [sys.executable, "-c", "import factors; print(factors.FACTOR)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert plain.stdout.strip() == "1"  # what Python alone would run
    # The script imported the helper before trackyard: that process refuses to run it...
    assert _run_script(tmp_path, "b", env).startswith(
        "trackyard.errors.StaleCodeError: module 'factors' used by model module '__main__'"
    )
    # ...and the stale bytecode is gone, so the next process runs the edited code.
    assert _run_script(tmp_path, "c", env) == [False, 6.0]


def test_a_module_saved_again_with_the_same_content_is_not_stale(ws: Path, routes: Path) -> None:
    """An editor's save without a change, or a checkout to another branch and back, rewrites
    a module with the code this process already runs: the call is served, not refused."""

    trap = trackyard.get_tracker("trap", workspace=ws)
    first = trap.run(_model("constant"), name="a", config={"x": 3})
    params = routes / "params.py"
    params.write_text(params.read_text(encoding="utf-8"), encoding="utf-8")
    os.utime(params, ns=(params.stat().st_mtime_ns + 5 * 10**9,) * 2)
    again = trap.run(_model("constant"), name="b", config={"x": 3})
    assert (first.cache_hit, again.cache_hit, again.cache_source) == (False, True, first.run_id)
