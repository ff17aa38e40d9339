"""``cache_source`` of a cache hit is always the run that executed, hit after hit, across
processes: in ``RunOutcome``, ``trackyard runs``, the report's ``RunRecord`` and ``metrics``; a
store that already holds a chain of hits (written the old way) reads the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import trackyard
from trackyard.report import RunRecord
from trackyard.report._data import records_in

from .._console import PLAIN_TERMINAL, run_trackyard, user_env

# One process, one call of the trap domain's score verb with config x=1.
CALL = """
import json, sys
import trackyard

with trackyard.get_tracker("trap", workspace=sys.argv[1]) as trap:
    outcome = trap.score(name=sys.argv[2], config={"x": 1})
print(json.dumps({"run_id": outcome.run_id, "cache_hit": outcome.cache_hit,
                  "cache_source": outcome.cache_source, "metrics": outcome.metrics}))
"""

# One run recorded by consist used directly, stamped as trackyard stamps a domain "legacy"; run
# in three processes, the second and third are hits that consist matches against the previous
# hit, so the store holds the chain third -> second -> first, as trackyard wrote it before.
CHAIN_WRITER = """
import json, sys
from pathlib import Path
import consist
from consist import Tracker

ws = Path(sys.argv[1])
ws.mkdir(parents=True, exist_ok=True)
tracker = Tracker(run_dir=ws / "runs", db_path=ws / "provenance.duckdb")

def stamp(run):
    meta = run.meta if run.meta is not None else {}
    meta["trackyard"] = {"domain": "legacy", "run_name": run.id.split("_")[0]}
    run.meta = meta

tracker.on_run_start(stamp)

def model(config):
    consist.log_meta(metrics={"score": 0.25})

result = tracker.run(fn=model, name=sys.argv[2], model="legacy_model", config={"x": 1})
print(json.dumps({"run_id": result.run.id}))
"""


def _call(script: Path, ws: Path, name: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(script), str(ws), name],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _listed(ws: Path, domain: str) -> dict[str, str | None]:
    """``trackyard runs DOMAIN --json``: run id -> cache_source."""
    env = user_env(PLAIN_TERMINAL, keep=["TRACKYARD_TRUSTED_PATHS"])
    listed = run_trackyard("runs", domain, "--workspace", str(ws), "--json", cwd=ws.parent, env=env)
    assert listed.returncode == 0, listed.stderr
    return {row["run_id"]: row["cache_source"] for row in json.loads(listed.stdout)}


def _records(ws: Path, domain: str) -> dict[str, RunRecord]:
    settings = trackyard.get_tracker("trap", workspace=ws).settings
    return {r.run_id: r for r in records_in(settings, domain)}


def test_three_processes_hit_the_run_that_executed(ws: Path, tmp_path: Path) -> None:
    """Three processes call one config in turn: the first executes, the second and third are
    hits whose cache_source is the first run, seen from the API, the CLI and the report."""
    script = tmp_path / "call.py"
    script.write_text(CALL, encoding="utf-8")
    first, second, third = (_call(script, ws, name) for name in ("p1", "p2", "p3"))
    assert (first["cache_hit"], first["cache_source"]) == (False, None)
    assert [second["cache_source"], third["cache_source"]] == [first["run_id"]] * 2
    assert second["cache_hit"] and third["cache_hit"]
    assert third["metrics"] == first["metrics"] == {"x": 1.0}
    assert _listed(ws, "trap") == {
        first["run_id"]: None,
        second["run_id"]: first["run_id"],
        third["run_id"]: first["run_id"],
    }
    records = _records(ws, "trap")
    assert [records[o["run_id"]].cache_source for o in (first, second, third)] == [
        None,
        first["run_id"],
        first["run_id"],
    ]
    assert records[third["run_id"]].output_dir == records[first["run_id"]].output_dir


def test_a_stored_chain_of_hits_reads_as_the_run_that_executed(ws: Path, tmp_path: Path) -> None:
    """A store whose third run names the second (a hit) as its source: every reader names the
    first, the run that executed."""
    script = tmp_path / "writer.py"
    script.write_text(CHAIN_WRITER, encoding="utf-8")
    first, second, third = (_call(script, ws, name)["run_id"] for name in ("a", "b", "c"))
    trap = trackyard.get_tracker("trap", workspace=ws)
    assert trap.consist.get_run(third).meta.get("cache_source") == second, trap.consist.get_run(
        third
    ).meta
    assert _listed(ws, "legacy") == {first: None, second: first, third: first}
    records = _records(ws, "legacy")
    assert [records[r].cache_source for r in (first, second, third)] == [None, first, first]
    assert trap.metrics(third) == {"score": 0.25}


def test_a_hit_on_a_stored_chain_names_the_run_that_executed(ws: Path, tmp_path: Path) -> None:
    """The latest row of a config is a hit written the old way (naming the previous hit): the
    next call, in a new process, is a hit whose cache_source is the run that executed."""
    import duckdb

    script = tmp_path / "call.py"
    script.write_text(CALL, encoding="utf-8")
    first, second, third = (_call(script, ws, name)["run_id"] for name in ("p1", "p2", "p3"))
    with duckdb.connect(str(ws / "provenance.duckdb")) as con:
        (text,) = con.execute("SELECT meta FROM run WHERE id = ?", [third]).fetchone() or ("",)
        meta = json.loads(text)
        meta["cache_source"] = second
        meta["trackyard"].pop("source_executed")
        con.execute("UPDATE run SET meta = ? WHERE id = ?", [json.dumps(meta), third])
    fourth = _call(script, ws, "p4")
    assert fourth["cache_hit"] and fourth["cache_source"] == first
    assert _listed(ws, "trap")[fourth["run_id"]] == first
