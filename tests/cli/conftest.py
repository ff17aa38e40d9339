"""Shared helpers for the CLI tests: run the real ``trackyard`` console script in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

TRACKYARD = Path(sys.executable).parent / "trackyard"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: builds a fresh virtual environment (~1-2 min)")


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TRACKYARD_")}
    environ.update({"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})
    environ.update(env or {})
    return subprocess.run(
        [str(TRACKYARD), *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``trackyard ARGS`` in a subprocess with cwd = tmp_path (override with cwd=...)."""

    def call(
        *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=cwd or tmp_path, env=env)

    return call
