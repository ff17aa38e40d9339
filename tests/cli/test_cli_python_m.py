"""``python -m trackyard`` is the ``trackyard`` command, run by this interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .._console import PLAIN_TERMINAL, run_trackyard, user_env


def test_python_m_trackyard_is_the_trackyard_command(tmp_path: Path) -> None:
    """Same output and exit status as the console script, for a command and for an error."""
    env = user_env(PLAIN_TERMINAL)
    for args in (["domains", "--json"], ["info", "nosuchdomain"], ["--help"]):
        module = subprocess.run(
            [sys.executable, "-m", "trackyard", *args], cwd=tmp_path, env=env,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        script = run_trackyard(*args, cwd=tmp_path, env=env)
        assert (module.returncode, module.stdout, module.stderr) == (
            script.returncode, script.stdout, script.stderr,
        ), args  # fmt: skip
