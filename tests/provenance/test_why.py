"""``trackyard why`` / ``trackyard diff`` and ``DomainTracker.why`` / ``would_hit`` / ``diff``:
a run that executed names what differs from the nearest earlier run (config key, input,
module with its unified diff), a hit names the run that executed, a call not yet made is
answered without writing anything. Real consist, real DuckDB store, the real console script."""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

import trackyard
from trackyard.errors import ConfigValidationError, UnknownRunError

from .._console import PLAIN_TERMINAL, run_trackyard, user_env

HELPER = "def factor():\n    return 1\n"
MODEL = '''
"""A model whose number comes from a helper module of its own project."""
from pathlib import Path

import consist

from trapmodels.whyhelp import factor


def scaled(config):
    out = Path(consist.output_path("table", "csv"))
    out.write_text(str(config["x"] * factor()), encoding="utf-8")
    return {"table": out, "value": float(config["x"] * factor())}
'''


def _cli(*args: str, cwd: Path) -> Any:
    env = user_env({**PLAIN_TERMINAL, "COLUMNS": "250"}, keep=["TRACKYARD_TRUSTED_PATHS"])
    return run_trackyard(*args, cwd=cwd, env=env, timeout=300)


def _forget() -> None:
    """Drop the why-test modules from this process, as a fresh process would not have them."""
    package = sys.modules.get("trapmodels")
    for name in ("whyhelp", "whymodel"):
        sys.modules.pop(f"trapmodels.{name}", None)
        if package is not None and hasattr(package, name):
            delattr(package, name)
    importlib.invalidate_caches()


@pytest.fixture
def project(trap_site: Path) -> Iterator[Path]:
    """``trapmodels.whymodel`` and the helper it imports, written afresh for each test."""
    package = trap_site / "trapmodels"
    (package / "whyhelp.py").write_text(HELPER, encoding="utf-8")
    (package / "whymodel.py").write_text(MODEL, encoding="utf-8")
    _forget()
    yield package
    _forget()


@pytest.fixture
def tracker(ws: Path) -> Iterator[Any]:
    with trackyard.get_tracker("trap", workspace=ws) as built:
        yield built


def _score(tracker: Any, name: str, x: int, **kwargs: Any) -> Any:
    return tracker.score(name=name, config={"x": x}, **kwargs)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(ws: Path) -> int:
    with duckdb.connect(str(ws / "provenance.duckdb"), read_only=True) as con:
        found = con.execute("SELECT count(*) FROM run").fetchone()
    return int(found[0]) if found else 0


def test_a_changed_config_key_is_named_with_old_and_new_values(tracker: Any, ws: Path) -> None:
    """The second run of a name with another x names config key x, 1 -> 2, in the API and
    in the CLI's table."""
    first = _score(tracker, "base", 1)
    second = _score(tracker, "base", 2)
    report = tracker.why(second.run_id)
    assert isinstance(report, trackyard.WhyReport)
    assert (report.verdict, report.hit, report.compared_to) == ("executed", False, first.run_id)
    config = [d for d in report.differences if d.component == "config"]
    assert config == [trackyard.Difference("config", "x", "changed", 1, 2)]
    done = _cli("why", second.run_id, "--workspace", str(ws), cwd=ws.parent)
    assert done.returncode == 0, done.stderr
    assert f"nearest earlier run of model 'trap_model' is run {first.run_id}" in done.stdout
    assert any(line.split() == ["config", "x", "changed", "1", "2"] for line in _cells(done.stdout))


def _cells(text: str) -> list[str]:
    """The table's rows with the box-drawing separators removed."""
    return [line.replace("│", " ").replace("┃", " ") for line in text.splitlines()]


def test_an_edited_input_is_named_by_label_with_old_and_new_hash(tracker: Any, ws: Path) -> None:
    """An input edited between two runs is named input:data, with its path and both hashes."""
    data = ws.parent / "data.txt"
    data.write_text("one", encoding="utf-8")
    old = _sha(data)
    _score(tracker, "in", 1, inputs={"data": data})
    data.write_text("two", encoding="utf-8")
    second = _score(tracker, "in", 1, inputs={"data": data})
    report = tracker.why(second.run_id)
    inputs = [d for d in report.differences if d.component == "input"]
    assert [(d.key, d.change, d.old, d.new) for d in inputs] == [
        ("input:data", "changed", old, _sha(data))
    ]
    assert inputs[0].path is not None and Path(inputs[0].path).name == "data.txt"
    assert not [d for d in report.differences if d.component == "config"]


def test_an_edited_module_is_named_with_a_unified_diff(
    tracker: Any, project: Path, ws: Path
) -> None:
    """A helper module edited between two runs (a fresh import, as a new process would do) is
    named, and the unified diff shows the changed line, from the API and the CLI."""
    model = importlib.import_module("trapmodels.whymodel")
    first = tracker.run(model.scaled, name="code", config={"x": 3})
    (project / "whyhelp.py").write_text(HELPER.replace("return 1", "return 2"), encoding="utf-8")
    _forget()
    model = importlib.import_module("trapmodels.whymodel")
    second = tracker.run(model.scaled, name="code", config={"x": 3})
    assert not second.cache_hit and second.metrics == {"value": 6.0}
    report = tracker.why(second.run_id)
    assert report.compared_to == first.run_id
    code = [d for d in report.differences if d.component == "code"]
    assert [(d.key, d.change) for d in code] == [("trapmodels.whyhelp", "changed")]
    assert code[0].diff is not None
    assert "-    return 1\n" in code[0].diff and "+    return 2\n" in code[0].diff
    done = _cli("why", second.run_id, "-w", str(ws), cwd=ws.parent)
    assert done.returncode == 0, done.stderr
    assert "trapmodels.whyhelp" in done.stdout and "+    return 2" in done.stdout


def test_a_hit_names_the_run_that_executed(tracker: Any, ws: Path) -> None:
    """A cache hit is explained as served from cache, naming the executing run."""
    first = _score(tracker, "h", 4)
    hit = _score(tracker, "h2", 4)
    assert hit.cache_hit
    report = tracker.why(hit.run_id)
    assert (report.verdict, report.hit, report.compared_to) == ("cache_hit", True, first.run_id)
    done = _cli("why", hit.run_id, "-w", str(ws), cwd=ws.parent)
    assert f"was served from cache: run {first.run_id} executed it" in done.stdout


def test_the_first_run_of_a_model_has_nothing_to_compare(tracker: Any) -> None:
    """The first run of a model says there is no earlier run."""
    report = tracker.why(_score(tracker, "only", 1).run_id)
    assert (report.verdict, report.compared_to, report.differences) == ("first_run", None, ())
    assert "there is no earlier run to compare it with" in report.summary


def test_a_refused_hit_says_a_matching_run_existed_and_why(tracker: Any) -> None:
    """A run whose matching recorded run lost its outputs executed again: why says so."""
    first = _score(tracker, "gone", 5)
    shutil.rmtree(first.output("table").parent)
    again = _score(tracker, "gone", 5)
    report = tracker.why(again.run_id)
    assert (report.verdict, report.compared_to) == ("rerun", first.run_id)
    assert report.reason is not None and "missing" in report.reason
    assert "although a recorded run with its cache key existed" in report.summary


def test_why_before_running_answers_and_writes_nothing(tracker: Any, ws: Path) -> None:
    """`why trap score --set ...`: a recorded config would hit (naming the run), another
    would run (naming the differing key); no snapshot file and no row are written."""
    recorded = _score(tracker, "pre", 1)
    snapshots = sorted((ws / "runs" / "consist_runs").iterdir())
    rows = _rows(ws)
    hit = _cli(
        "why",
        "trap",
        "score",
        "--set",
        "name=q",
        "--set",
        "config.x=1",
        "-w",
        str(ws),
        cwd=ws.parent,
    )
    assert hit.returncode == 0, hit.stderr
    assert f"would be served from cache: run {recorded.run_id} has its cache key" in hit.stdout
    miss = _cli(
        "why",
        "trap",
        "score",
        "--set",
        "name=q",
        "--set",
        'config={"x": 7}',
        "-w",
        str(ws),
        "--json",
        cwd=ws.parent,
    )
    assert miss.returncode == 0, miss.stderr
    data = json.loads(miss.stdout)
    assert (data["verdict"], data["hit"], data["compared_to"]) == (
        "would_run",
        False,
        recorded.run_id,
    )
    assert [d for d in data["differences"] if d["component"] == "config"] == [
        {
            "component": "config",
            "key": "x",
            "change": "changed",
            "old": 1,
            "new": 7,
            "path": None,
            "diff": None,
        }
    ]
    assert sorted((ws / "runs" / "consist_runs").iterdir()) == snapshots
    assert _rows(ws) == rows


def test_would_hit_from_python(tracker: Any) -> None:
    """`DomainTracker.would_hit` answers the same question; a batch verb is refused."""
    recorded = _score(tracker, "py", 2)
    assert tracker.would_hit("score", name="other", config={"x": 2}).verdict == "would_hit"
    report = tracker.would_hit(tracker.score, name="py", config={"x": 3})
    assert (report.verdict, report.compared_to) == ("would_run", recorded.run_id)
    with pytest.raises(ConfigValidationError, match="explains a verb that makes one run"):
        tracker.would_hit("sweep", items=[("s", {"x": 1})])


def test_diff_compares_any_two_runs_with_json(tracker: Any, ws: Path) -> None:
    """`trackyard diff A B --json` prints the report: the same shape as `why --json`."""
    a = _score(tracker, "a", 1)
    b = _score(tracker, "b", 3)
    done = _cli("diff", a.run_id, b.run_id, "-w", str(ws), "--json", cwd=ws.parent)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == {
        "subject",
        "verdict",
        "hit",
        "summary",
        "compared_to",
        "reason",
        "differences",
    }
    assert (data["subject"], data["verdict"], data["compared_to"]) == (b.run_id, "diff", a.run_id)
    assert [(d["key"], d["old"], d["new"]) for d in data["differences"]] == [("x", 1, 3)]
    assert tracker.diff(a.run_id, b.run_id).differences == tracker.why(b.run_id).differences


def test_an_unknown_run_is_a_typed_error_naming_it_and_the_workspace(
    tracker: Any, ws: Path
) -> None:
    """An unknown id raises UnknownRunError (a LookupError) naming the id and the workspace;
    the CLI prints it as one line and exits 1."""
    _score(tracker, "known", 1)
    with pytest.raises(UnknownRunError, match=r"no run 'nope_123' is recorded in workspace") as e:
        tracker.why("nope_123")
    assert isinstance(e.value, LookupError) and str(ws) in str(e.value)
    done = _cli("why", "nope_123", "-w", str(ws), cwd=ws.parent)
    assert done.returncode == 1 and done.stdout == ""
    first, *rest = done.stderr.splitlines()
    assert first.startswith("Error: no run 'nope_123' is recorded in workspace ")
    assert str(ws) in first and rest == ["(run with --debug for the traceback)"]
