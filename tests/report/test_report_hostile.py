"""`trackyard report` against hostile or careless output paths: it never overwrites the
workspace's store, its snapshots or a file it did not write, and a failed write leaves the
previous report whole and names the file (issue 24, items 1, 2 and 14)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import Workspace, cli


@pytest.fixture
def ws(report_workspace: Workspace, tmp_path: Path) -> Path:
    """A private copy of the shared workspace (a refused write must not hurt the others)."""
    root = tmp_path / "ws"
    shutil.copytree(report_workspace.root, root)
    return root


def _snapshot(ws: Path) -> Path:
    return sorted((ws / "runs" / "consist_runs").glob("*.json"))[0]


@pytest.mark.parametrize(
    "target",
    ["provenance.duckdb", "provenance.duckdb.trackyard-schema", "snapshot", "runs/new.html"],
)
def test_report_refuses_to_write_into_the_store_or_runs(ws: Path, target: str) -> None:
    """`-o` onto the store, its schema marker, a run snapshot (what `doctor --fix` rebuilds
    from) or anywhere under `runs/` is refused, and the file is left as it was."""
    out = _snapshot(ws) if target == "snapshot" else ws / target
    before = out.read_bytes() if out.exists() else None
    proc = cli("report", "-w", str(ws), "-o", str(out), cwd=ws.parent)
    assert proc.returncode == 1, proc.stdout
    assert f"refusing to write the report to {out.resolve()}" in proc.stderr
    assert f"inside workspace {ws}'s" in proc.stderr and "choose another --output" in proc.stderr
    assert (out.read_bytes() if out.exists() else None) == before


def test_report_refuses_a_symlink_into_the_store(ws: Path) -> None:
    """A link pointing at the store is resolved first: the store is still refused."""
    link = ws.parent / "innocent.html"
    link.symlink_to(ws / "provenance.duckdb")
    before = (ws / "provenance.duckdb").read_bytes()
    proc = cli("report", "-w", str(ws), "-o", str(link), cwd=ws.parent)
    assert proc.returncode == 1
    assert f"refusing to write the report to {(ws / 'provenance.duckdb').resolve()}" in proc.stderr
    assert (ws / "provenance.duckdb").read_bytes() == before


def test_report_refuses_to_overwrite_another_file_unless_forced(ws: Path) -> None:
    """An existing file that is not a trackyard report is kept unless `--force` is given."""
    notes = ws.parent / "notes.html"
    notes.write_text("my own notes", encoding="utf-8")
    proc = cli("report", "-w", str(ws), "-o", str(notes), cwd=ws.parent)
    assert proc.returncode == 1
    assert f"refusing to overwrite {notes}: it is not a report written by trackyard" in (
        proc.stderr
    )
    assert "pass --force to replace it" in proc.stderr
    assert notes.read_text(encoding="utf-8") == "my own notes"
    forced = cli("report", "-w", str(ws), "-o", str(notes), "--force", cwd=ws.parent)
    assert forced.returncode == 0, forced.stderr
    assert "trackyard report" in notes.read_text(encoding="utf-8")


def test_report_replaces_its_own_report_without_force(ws: Path) -> None:
    """Writing the report again over the previous one needs no `--force`."""
    out = ws.parent / "report.html"
    assert cli("report", "-w", str(ws), "-o", str(out), cwd=ws.parent).returncode == 0
    again = cli("report", "-w", str(ws), "-o", str(out), cwd=ws.parent)
    assert again.returncode == 0, again.stderr


def test_report_refuses_what_is_not_a_regular_file(ws: Path) -> None:
    """A device or folder is never written to, even with `--force`; the error names it."""
    for target in (Path("/dev/null"), ws.parent):
        proc = cli("report", "-w", str(ws), "-o", str(target), "--force", cwd=ws.parent)
        assert proc.returncode == 1
        assert f"refusing to write the report to {target}: it is not a regular file" in (
            proc.stderr
        )
