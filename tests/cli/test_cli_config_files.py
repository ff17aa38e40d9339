"""`--config FILE` reads only a regular file of at most 1 MB, and checks that before reading:
`/dev/zero` no longer reads until memory runs out, a FIFO no longer blocks for ever
(issue 24, item 11)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .._console import run_trackyard, user_env

EVALUATE = ["run", "calibration", "evaluate", "-w", "ws", "--config"]


@pytest.mark.parametrize("target", ["/dev/zero", "fifo", "folder"])
def test_config_must_be_a_regular_file(tmp_path: Path, target: str) -> None:
    """A device, a FIFO or a folder is refused at once, naming it; nothing is written."""
    if target == "fifo":
        os.mkfifo(tmp_path / "fifo")
    if target == "folder":
        (tmp_path / "folder").mkdir()
    path = Path(target) if target.startswith("/") else tmp_path / target
    proc = run_trackyard(*EVALUATE, str(path), cwd=tmp_path, env=user_env(), timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == (
        f"Error: --config file {path} is not a regular file; pass a TOML file"
    )
    assert not (tmp_path / "ws").exists()


def test_config_over_one_megabyte_is_refused_before_reading(tmp_path: Path) -> None:
    """A 2 MB config file is refused with its size and the limit."""
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * 2_000_000 + "\n")
    proc = run_trackyard(*EVALUATE, str(big), cwd=tmp_path, env=user_env(), timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == (
        f"Error: --config file {big} is 2,000,003 bytes, over the 1,000,000-byte limit of a "
        "config file; make it smaller"
    )
