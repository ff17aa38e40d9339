"""Every file error names the file and what to do (issue 24, item 14)."""

from __future__ import annotations

from pathlib import Path

from .._console import run_trackyard, user_env

EVALUATE = ["run", "calibration", "evaluate", "--set", "run_name=x", "--set", "config={}"]


def test_a_config_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'run_name = "caf\xe9"\n')
    proc = run_trackyard(*EVALUATE, "-w", "ws", "--config", str(bad), cwd=tmp_path, env=user_env())
    assert proc.returncode == 1
    first = proc.stderr.splitlines()[0]
    assert first.startswith(f"Error: cannot read --config file {bad}: ")
    assert first.endswith("; save it as UTF-8")


def test_a_pyproject_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_bytes(b'[tool.trackyard]\nworkspace = "caf\xe9"\n')
    for command in (EVALUATE, ["runs", "calibration"], ["report"]):
        proc = run_trackyard(*command, cwd=tmp_path, env=user_env())
        assert proc.returncode == 1
        first = proc.stderr.splitlines()[0]
        assert first.startswith(f"Error: cannot read {pyproject}: "), first
        assert first.endswith("; save it as UTF-8, fix it or run from another folder"), first


def test_a_report_onto_proc_self_mem_names_the_file(tmp_path: Path) -> None:
    """Refused without --force; with it, the write error names the file."""
    proc = run_trackyard("report", "-o", "/proc/self/mem", cwd=tmp_path, env=user_env())
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: refusing to overwrite /proc/self/mem")
    forced = run_trackyard(
        "report", "-o", "/proc/self/mem", "--force", cwd=tmp_path, env=user_env()
    )
    assert forced.returncode == 1
    assert forced.stderr.startswith("Error: cannot write the report /proc/self/mem: ")


def test_a_workspace_where_no_file_can_be_made_is_named(tmp_path: Path) -> None:
    """`TRACKYARD_WORKSPACE=/proc`: the error names the workspace and what to do."""
    proc = run_trackyard(*EVALUATE, cwd=tmp_path, env=user_env({"TRACKYARD_WORKSPACE": "/proc"}))
    assert proc.returncode == 1
    first = proc.stderr.splitlines()[0]
    assert first.startswith("Error: cannot create the store in workspace /proc: "), first
    assert first.endswith("; choose a workspace you can write to (TRACKYARD_WORKSPACE or -w)")


def test_a_lock_export_that_cannot_be_written_keeps_the_old_lock(tmp_path: Path) -> None:
    """`plugins export -o` past the file size limit (RLIMIT_FSIZE) names the file and leaves
    the previous lock whole (it is written beside and renamed)."""
    import resource
    import subprocess

    from .._console import TRACKYARD

    lock = tmp_path / "plugins.lock.toml"
    lock.write_text("# the previous lock\n")

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))

    proc = subprocess.run(
        [str(TRACKYARD), "plugins", "export", "-o", str(lock)], cwd=tmp_path, env=user_env(),
        capture_output=True, text=True, timeout=120, check=False, preexec_fn=limit,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"Error: cannot write the plugin lock {lock}: File too large")
    assert lock.read_text() == "# the previous lock\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [lock.name]
