"""Export runs from one workspace, import them into a fresh one elsewhere: the same call is a
cache hit there with identical outputs; a damaged bundle is refused before anything changes;
importing twice changes nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import duckdb

import trackyard
from trackyard.recovery import audit_outputs

from .conftest import cli, run_json, tree


def test_imported_runs_serve_cache_hits_with_identical_outputs(
    origin: Path, bundle: Path, tmp_path: Path
) -> None:
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    ws = laptop / "ws"
    done = cli("import", str(bundle), "-w", str(ws), cwd=laptop)
    assert done.returncode == 0, done.stderr
    assert f"imported 3 run(s) and 3 file(s) from {bundle} into {ws}" in done.stdout

    again = run_json(laptop, ws, "a-on-laptop", 1.0)
    assert again["cache_hit"] is True
    here = Path(again["outputs"]["results"])
    assert here.is_relative_to(ws / "runs")
    source = again["cache_source"]
    there = next((origin / "runs").rglob(f"{source}/results.parquet"))
    assert here.read_bytes() == there.read_bytes()

    other = run_json(laptop, ws, "b-on-laptop", 1.2)
    assert other["cache_hit"] is True
    new = run_json(laptop, ws, "c-on-laptop", 1.4)
    assert new["cache_hit"] is False  # a config the bundle never held executes


def test_importing_twice_changes_nothing(bundle: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    first = cli("import", str(bundle), "-w", str(ws), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert trackyard.audit(ws).ok  # what `trackyard doctor` checks: records and rows agree
    outputs = audit_outputs(ws)
    assert outputs.ok and outputs.checked == 2, str(outputs)  # files match their hashes
    before = tree(ws)
    second = cli("import", str(bundle), "-w", str(ws), cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert f"import: nothing to do; the 3 run(s) of {bundle} are already in {ws}" in second.stdout
    assert tree(ws) == before


def _plain_copy(bundle: Path, out: Path) -> None:
    """The same members in an uncompressed .tar, so a test can change bytes inside one."""
    with tarfile.open(bundle, "r:gz") as src, tarfile.open(out, "w") as dst:
        for info in src:
            dst.addfile(info, src.extractfile(info))


def test_tampered_bundle_is_refused_naming_the_member(bundle: Path, tmp_path: Path) -> None:
    plain = tmp_path / "sim.tar"
    _plain_copy(bundle, plain)
    data = bytearray(plain.read_bytes())
    with tarfile.open(plain) as tar:
        member = next(m for m in tar if m.name.endswith("results.parquet"))
    data[member.offset_data + 100] ^= 0xFF  # one byte of the output flipped
    plain.write_bytes(bytes(data))
    ws = tmp_path / "ws"
    before = tree(tmp_path)
    done = cli("import", str(plain), "-w", str(ws), cwd=tmp_path)
    assert done.returncode == 1
    first = done.stderr.splitlines()[0]
    assert first.startswith(f"Error: bundle {plain}: member '{member.name}' has sha256 ")
    assert first.endswith("nothing was imported")
    assert tree(tmp_path) == before
    assert not ws.exists()


def test_truncated_bundle_is_refused_and_the_workspace_unchanged(
    bundle: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    seeded = cli("import", str(bundle), "-w", str(ws), cwd=tmp_path)  # a workspace in use
    assert seeded.returncode == 0, seeded.stderr
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(bundle.read_bytes()[: bundle.stat().st_size * 2 // 3])
    before = tree(ws)
    done = cli("import", str(cut), "-w", str(ws), cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[0].startswith(f"Error: bundle {cut}: member '")
    assert "cut short" in lines[0] or "is missing: the bundle is truncated" in lines[0]
    assert lines[0].endswith("nothing was imported")
    assert tree(ws) == before


HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(120)
"""


def test_a_busy_store_is_waited_for_then_refused_with_nothing_written(
    bundle: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    seeded = cli("import", str(bundle), "-w", str(ws), cwd=tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(ws / "provenance.duckdb")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        before = tree(ws)
        env = {**os.environ, "TRACKYARD_LOCK_TIMEOUT": "2"}
        done = subprocess.run(
            [str(Path(sys.executable).parent / "trackyard"), "import", str(bundle), "-w", str(ws)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 1
    assert re.match(
        rf"Error: checking which runs are new: the store {re.escape(str(ws / 'provenance.duckdb'))}"
        rf" stayed locked by process {holder.pid} \(python[\d.]*\) for 2 s .*it is locked, not "
        "damaged",
        done.stderr,
        re.S,
    ), done.stderr
    assert tree(ws) == before


def _content_rows(db: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT * FROM artifact_content ORDER BY content_hash, driver"
        ).fetchall()


def test_a_rebuild_after_an_import_keeps_the_importing_stores_content_rows(
    bundle: Path, tmp_path: Path
) -> None:
    """A workspace that made the same output bytes itself keeps its own content row when it
    imports a bundle; after `trackyard doctor --fix` rebuilds its damaged store, every content
    row is the one it held, id and created_at included."""
    ws = tmp_path / "ws"
    # The bundle's run b made the same results file (named to sort after it: a rebuild must
    # not depend on which snapshot it reads first).
    run_json(tmp_path, ws, "z-here", 1.2)
    done = cli("import", str(bundle), "-w", str(ws), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    db = ws / "provenance.duckdb"
    before = _content_rows(db)
    hashes = [row[1] for row in before]
    assert len(hashes) == len(set(hashes))  # one row per content, its own for the shared one
    with duckdb.connect(str(db), read_only=True) as con:
        shared = con.execute(
            "SELECT count(DISTINCT content_id) FROM artifact WHERE key = 'results' "
            "GROUP BY hash ORDER BY 1 DESC LIMIT 1"
        ).fetchone()
    assert shared == (2,)  # the imported artifact names the origin's row, which lost
    db.write_bytes(db.read_bytes()[:-1000])
    fixed = cli("doctor", "--store-only", "--fix", "--workspace", str(ws), cwd=tmp_path)
    assert "moved aside" in fixed.stdout, fixed.stdout + fixed.stderr
    assert _content_rows(db) == before
