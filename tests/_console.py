"""Run the real ``trackyard`` console script as a user's shell would: a subprocess of this
virtual environment's script, without the test process's ``TRACKYARD_`` variables."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

TRACKYARD = Path(sys.executable).parent / "trackyard"
# A wide terminal without colours: tables are not cut and output compares as plain text.
PLAIN_TERMINAL = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}


def user_env(extra: Mapping[str, str] | None = None, *, keep: Iterable[str] = ()) -> dict[str, str]:
    """This process's environment without ``TRACKYARD_`` variables (except those in ``keep``),
    then ``extra``."""
    kept = set(keep)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKYARD_") or k in kept}
    env.update(extra or {})
    return env


def run_trackyard(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``trackyard ARGS`` in ``cwd`` to the end, its output captured as text; ``env`` is the
    whole environment (default: :func:`user_env`)."""
    return subprocess.run(
        [str(TRACKYARD), *args],
        cwd=cwd,
        env=dict(env) if env is not None else user_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
