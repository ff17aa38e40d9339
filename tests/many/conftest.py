"""The many-run tests: their model must be importable by reference in worker processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent


@pytest.fixture
def models_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Put this folder on sys.path and PYTHONPATH (inherited by workers); chdir into tmp_path."""
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", str(HERE))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def configs(models_on_path: Path) -> dict[str, Any]:
    """Five calibration configs of ``many_models_helper.model`` (``bad`` fails; ``top`` has
    the smallest error), shared by the ranking tests."""
    from many_models_helper import CONFIGS

    return {name: dict(config) for name, config in CONFIGS.items()}
