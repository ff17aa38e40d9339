"""`trackyard report` against hostile or careless output paths: it never overwrites the
workspace's store, its snapshots or a file it did not write, and a failed write leaves the
previous report whole and names the file (issue 24, items 1, 2 and 14)."""

from __future__ import annotations

import resource
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from .._console import PLAIN_TERMINAL, TRACKYARD, run_trackyard, user_env
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


def _limited(megabytes: int) -> Callable[[], None]:
    def limit() -> None:  # in the child: writes past the limit fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (megabytes << 20, megabytes << 20))

    return limit


def _with_file_size_limit(
    *args: str, cwd: Path, megabytes: int
) -> subprocess.CompletedProcess[str]:
    """``trackyard ARGS`` whose files may not grow past ``megabytes`` (RLIMIT_FSIZE)."""
    return subprocess.run(
        [str(TRACKYARD), *args], cwd=cwd, env=user_env(PLAIN_TERMINAL), capture_output=True,
        text=True, timeout=300, check=False, preexec_fn=_limited(megabytes),
    )  # fmt: skip


def test_a_failed_report_write_keeps_the_old_report_and_names_the_file(ws: Path) -> None:
    """When the new report cannot be written whole (a file size limit), the previous report is
    left as it was, no temporary file is left beside it, and the error names the file."""
    out = ws.parent / "out" / "report.html"
    assert cli("report", "-w", str(ws), "-o", str(out), cwd=ws.parent).returncode == 0
    before = out.read_bytes()
    proc = _with_file_size_limit(
        "report", "-w", str(ws), "-o", str(out), cwd=ws.parent, megabytes=1
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"Error: cannot write the report {out}: File too large")
    assert "the previous file is unchanged" in proc.stderr
    assert out.read_bytes() == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.html"]


def test_a_full_disk_keeps_the_old_report_and_names_the_file(ws: Path) -> None:
    """On a full disk (a small tmpfs, filled after the first report) the second report fails
    with a DiskFullError naming the file, and the first is left whole."""
    if (
        shutil.which("unshare") is None
        or subprocess.run(["unshare", "-rm", "true"], capture_output=True, check=False).returncode
    ):
        pytest.skip("needs `unshare -rm` (a private mount namespace) to mount a small tmpfs")
    disk = ws.parent / "disk"
    disk.mkdir()
    out = disk / "report.html"
    report = shlex.join([str(TRACKYARD), "report", "-w", str(ws), "-o", str(out)])
    script = f"""
mount -t tmpfs -o size=8m tmpfs {disk} || exit 9
{report} >/dev/null || exit 8
sha256sum {out} > {ws.parent}/before
head -c 2500000 /dev/zero > {disk}/filler 2>/dev/null
{report} 2>{ws.parent}/stderr; echo $? > {ws.parent}/code
sha256sum {out} > {ws.parent}/after
ls -A {disk} > {ws.parent}/listing
"""
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=ws.parent,
                          env=user_env(PLAIN_TERMINAL), capture_output=True, text=True,
                          timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    stderr = (ws.parent / "stderr").read_text()
    assert (ws.parent / "code").read_text().strip() == "1", stderr
    assert stderr.startswith(f"Error: cannot write the report {out}: the disk is full"), stderr
    assert (ws.parent / "before").read_text() == (ws.parent / "after").read_text()
    assert (ws.parent / "listing").read_text().split() == ["filler", "report.html"]


@pytest.mark.parametrize("how", ["TRACKYARD_PLUGINS", "deny"])
def test_a_refused_plugin_shows_its_domains_runs_and_says_why(ws: Path, how: str) -> None:
    """A domain with runs whose plugin the policy refuses (allow list, deny list) shows its
    runs only, as docs/reports.md says, and the page says why its sections are missing."""
    extra = {"TRACKYARD_PLUGINS": "simulation"} if how == "TRACKYARD_PLUGINS" else {}
    if how == "deny":
        (ws.parent / "pyproject.toml").write_text(
            '[tool.trackyard.plugins]\ndeny = ["calibration"]\n', encoding="utf-8"
        )
    out = ws.parent / "refused.html"
    proc = run_trackyard(
        "report", "-w", str(ws), "-o", str(out), cwd=ws.parent, env=user_env(extra)
    )
    assert proc.returncode == 0, proc.stderr
    text = out.read_text(encoding="utf-8")
    assert 'data-domain="calibration"' in text and 'data-domain="simulation"' in text
    assert "Domain calibration has runs but its plugin was refused" in text
    assert "cannot be used" in text and "only its runs are shown" in text
    assert 'data-refused="calibration"' in text  # and in the domain's own part
    assert "Optimisation history" not in text  # the refused plugin was not asked
