"""A new workspace's store is born from a per-user cached template, not consist's set-up.

consist's schema set-up of a new store costs ~0.5-0.6 s; every first ``get_tracker`` in a new
workspace paid it. The first new store of a user (per consist / DuckDB / SQLAlchemy version)
is kept in the user's cache (``TRACKYARD_CACHE_DIR``, else ``$XDG_CACHE_HOME/trackyard``), and
later new stores are copies of it, checked against its manifest before use. A cache that is
damaged, of other versions, or cannot be written is ignored: the store is then set up the
normal way.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from trackyard import Registry

STRUCTURE_SQL = {
    "columns": "SELECT table_name, column_name, data_type, is_nullable, column_default, "
    "column_index FROM duckdb_columns() WHERE schema_name = 'main' ORDER BY 1, 6",
    "tables": "SELECT table_name, sql FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY 1",
    "views": "SELECT view_name, sql FROM duckdb_views() WHERE schema_name = 'main' "
    "AND NOT internal ORDER BY 1",
    "indexes": "SELECT index_name, table_name, sql FROM duckdb_indexes() ORDER BY 1",
    "constraints": "SELECT table_name, constraint_type, constraint_text FROM duckdb_constraints() "
    "WHERE schema_name = 'main' ORDER BY 1, 2, 3",
}


def structure(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Tables, columns (name, type, nullability, default, order), views, indexes, constraints."""
    with duckdb.connect(str(db), read_only=True) as con:
        return {what: con.execute(sql).fetchall() for what, sql in STRUCTURE_SQL.items()}


def row_counts(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [r[0] for r in con.execute(STRUCTURE_SQL["tables"]).fetchall()]
        return {t: con.execute(f'SELECT count(*) FROM main."{t}"').fetchone()[0] for t in tables}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh current folder and a fresh, empty per-user cache (``TRACKYARD_CACHE_DIR``)."""
    monkeypatch.chdir(tmp_path)
    for var in ("TRACKYARD_WORKSPACE", "TRACKYARD_DB_PATH", "TRACKYARD_RUN_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TRACKYARD_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def setups(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The stores consist's schema set-up ran on in this process (a spy: it still runs)."""
    from consist.core.persistence import DatabaseManager

    seen: list[str] = []
    real = DatabaseManager._init_schema

    def spy(self: Any) -> None:
        if not self._skip_schema_init:
            seen.append(str(self.db_path))
        real(self)

    monkeypatch.setattr(DatabaseManager, "_init_schema", spy)
    yield seen


def templates(cache: Path) -> list[Path]:
    return sorted((cache / "stores").glob("*.duckdb"))


def consist_made_store(folder: Path) -> Path:
    """A store made the old way: consist's own Tracker and schema set-up on a new file."""
    from consist import Tracker

    (folder / "runs").mkdir(parents=True)
    Tracker(run_dir=folder / "runs", db_path=folder / "old.duckdb")
    return folder / "old.duckdb"


def test_a_second_new_workspace_is_born_from_the_cache_and_runs(
    home: Path, setups: list[str]
) -> None:
    """The first new workspace is set up by consist and kept in the cache; the second one's
    store is a copy of it (no set-up), with the structure consist makes, and records runs."""
    Registry().get_tracker("calibration", workspace=home / "ws1")
    assert setups == [str(home / "ws1" / "provenance.duckdb")]
    [template] = templates(home / "cache")
    second = Registry().get_tracker("calibration", workspace=home / "ws2")
    store = home / "ws2" / "provenance.duckdb"
    assert setups == [str(home / "ws1" / "provenance.duckdb")]  # none for ws2
    assert sha256(store) == sha256(template)
    assert structure(store) == structure(consist_made_store(home / "old"))
    assert set(row_counts(store).values()) == {0}
    first = second.evaluate(run_name="base", config={"population": 2000})
    again = Registry().get_tracker("calibration", workspace=home / "ws2")
    hit = again.evaluate(run_name="base2", config={"population": 2000})
    assert hit.cache_hit and hit.cache_source == first.run_id
    assert row_counts(template) == row_counts(consist_made_store(home / "old2"))  # still empty


def test_the_cached_template_never_carries_a_run(home: Path, setups: list[str]) -> None:
    """Runs recorded in the first workspace never reach the next new workspace."""
    tracker = Registry().get_tracker("calibration", workspace=home / "ws1")
    tracker.evaluate(run_name="base", config={"population": 2000})
    Registry().get_tracker("calibration", workspace=home / "ws2")
    assert set(row_counts(home / "ws2" / "provenance.duckdb").values()) == {0}
    assert len(setups) == 1


@pytest.mark.parametrize("damage", ["flipped-bytes", "truncated", "foreign-version", "no-manifest"])
def test_a_damaged_or_foreign_template_is_ignored_and_replaced(
    home: Path, setups: list[str], damage: str
) -> None:
    """A template whose bytes do not match its manifest, or whose manifest names other
    versions, is not used: the store is set up by consist, and the cache is made again."""
    Registry().get_tracker("calibration", workspace=home / "ws1")
    [template] = templates(home / "cache")
    manifest = template.with_suffix(".json")
    if damage == "flipped-bytes":
        data = bytearray(template.read_bytes())
        data[len(data) // 2] ^= 0xFF
        template.write_bytes(bytes(data))
    elif damage == "truncated":
        template.write_bytes(template.read_bytes()[:5000])
    elif damage == "foreign-version":
        fields = json.loads(manifest.read_text())
        fields["versions"]["consist"] = "0.0.1"
        manifest.write_text(json.dumps(fields))
    else:
        manifest.unlink()
    tracker = Registry().get_tracker("calibration", workspace=home / "ws2")
    assert setups == [str(home / f"ws{i}" / "provenance.duckdb") for i in (1, 2)]
    assert tracker.evaluate(run_name="base", config={"population": 2000}).run_id
    [remade] = templates(home / "cache")
    assert json.loads(remade.with_suffix(".json").read_text())["sha256"] == sha256(remade)
    Registry().get_tracker("calibration", workspace=home / "ws3")
    assert len(setups) == 2  # the remade template serves the third
    assert sha256(home / "ws3" / "provenance.duckdb") == sha256(remade)


def test_a_cache_that_cannot_be_written_still_gives_working_stores(
    home: Path, setups: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """TRACKYARD_CACHE_DIR under a file (not creatable): every new store is set up normally."""
    (home / "a-file").write_text("not a folder\n")
    monkeypatch.setenv("TRACKYARD_CACHE_DIR", str(home / "a-file" / "cache"))
    for name in ("ws1", "ws2"):
        tracker = Registry().get_tracker("calibration", workspace=home / name)
        assert tracker.evaluate(run_name="base", config={"population": 2000}).run_id
    assert len(setups) == 2
    assert (home / "a-file").read_text() == "not a folder\n"


def test_the_cache_lives_in_xdg_cache_home_without_the_variable(
    home: Path, setups: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without TRACKYARD_CACHE_DIR the templates go to $XDG_CACHE_HOME/trackyard/stores."""
    monkeypatch.delenv("TRACKYARD_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "xdg"))
    Registry().get_tracker("calibration", workspace=home / "ws1")
    Registry().get_tracker("calibration", workspace=home / "ws2")
    assert len(templates(home / "xdg" / "trackyard")) == 1
    assert len(setups) == 1


def test_a_stale_wal_beside_a_new_store_is_not_laid_on_the_template(
    home: Path, setups: list[str]
) -> None:
    """A leftover ``.wal`` where the new store goes: the template is not used (DuckDB would
    replay that log onto it); consist sets the store up as it always did."""
    Registry().get_tracker("calibration", workspace=home / "ws1")
    (home / "ws2").mkdir()
    (home / "ws2" / "provenance.duckdb.wal").write_bytes(b"")
    Registry().get_tracker("calibration", workspace=home / "ws2")
    assert len(setups) == 2


FIRST_TRACKER = """
import sys, trackyard
tracker = trackyard.get_tracker("calibration", workspace=sys.argv[1])
print(tracker.evaluate(run_name="base", config={"population": 2000}).run_id)
"""


def test_concurrent_first_new_workspaces_race_safely(home: Path) -> None:
    """Three processes make three new workspaces at once with an empty cache: every one works,
    and the cache ends up holding one whole template that matches its manifest."""
    env = {**os.environ, "TRACKYARD_CACHE_DIR": str(home / "cache")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", FIRST_TRACKER, str(home / f"ws{i}")],
            cwd=home,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert out.strip()
    [template] = templates(home / "cache")
    assert json.loads(template.with_suffix(".json").read_text())["sha256"] == sha256(template)
    assert sorted(p.name for p in (home / "cache" / "stores").iterdir()) == [
        template.name,
        template.with_suffix(".json").name,
    ]  # no temporary file left behind


def test_a_rebuilt_store_starts_from_the_template_and_gets_its_runs_back(
    home: Path, setups: list[str]
) -> None:
    """`trackyard.recovery.rebuild` (what `doctor --fix` runs on a damaged store) makes the
    new store from the template, then restores every run from the snapshots."""
    from trackyard.recovery import rebuild

    tracker = Registry().get_tracker("calibration", workspace=home / "ws")
    first = tracker.evaluate(run_name="base", config={"population": 2000})
    db = home / "ws" / "provenance.duckdb"
    db.write_bytes(db.read_bytes()[:-1000])  # truncated: damaged
    report = rebuild(home / "ws")
    assert first.run_id in report.rows_restored and not report.lost
    again = Registry().get_tracker("calibration", workspace=home / "ws")
    hit = again.evaluate(run_name="base2", config={"population": 2000})
    assert hit.cache_hit and hit.cache_source == first.run_id
    assert len(setups) == 1  # the first birth only: not the rebuild, not the reopening
