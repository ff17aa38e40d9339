"""Shared helpers for the CLI tests: run the real ``trackyard`` console script in a subprocess."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from .._console import PLAIN_TERMINAL, run_trackyard, user_env


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: builds a fresh virtual environment (~1-2 min)")


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    environ = user_env({**PLAIN_TERMINAL, **(env or {})})
    return run_trackyard(*args, cwd=cwd, env=environ, timeout=timeout)


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``trackyard ARGS`` in a subprocess with cwd = tmp_path (override with cwd=...)."""

    def call(
        *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=cwd or tmp_path, env=env)

    return call
