"""pytest fixtures for trackyard plugin authors (loaded through the ``pytest11`` entry point).

- ``trackyard_workspace``: a fresh workspace folder; the test runs in its parent folder and
  ``TRACKYARD_WORKSPACE`` points at it, so ``trackyard.get_tracker(name)`` writes only there.
- ``trackyard_sandbox``: a ``PluginSandbox``; ``add()`` in-process
  plugin modules or tracker classes without installing a distribution. While the test runs it
  is also the registry behind ``trackyard.get_tracker`` and ``trackyard.available_domains``.
- ``trackyard_isolated``: call it with plugin names (domain or distribution); afterwards only
  those installed plugins are discoverable through ``trackyard.*`` for the rest of the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from trackyard.registry import Registry, set_default_registry


@pytest.fixture
def _trackyard_default() -> Iterator[Callable[[Registry], None]]:
    """``use(registry)`` makes ``registry`` the default for the rest of the test; the previous
    default comes back afterwards."""
    saved: list[Registry | None] = []

    def use(registry: Registry) -> None:
        previous = set_default_registry(registry)
        if not saved:
            saved.append(previous)

    yield use
    if saved:
        set_default_registry(saved[0])


@pytest.fixture
def trackyard_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty workspace folder used by every ``get_tracker`` call in the test."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRACKYARD_WORKSPACE", str(workspace))
    return workspace


@pytest.fixture
def trackyard_sandbox(_trackyard_default: Callable[[Registry], None]) -> Iterator[object]:
    """A registry of in-process plugins, also used by ``trackyard.get_tracker`` in the test."""
    from trackyard.testing import PluginSandbox

    sandbox = PluginSandbox()
    sandbox.on_change = _trackyard_default
    _trackyard_default(sandbox.registry)
    yield sandbox


@pytest.fixture
def trackyard_isolated(_trackyard_default: Callable[[Registry], None]) -> Callable[..., Registry]:
    """``isolate("calibration")``: only the named installed plugins stay discoverable."""
    from trackyard.testing import isolated_registry

    def isolate(*names: str) -> Registry:
        registry = isolated_registry(*names)
        _trackyard_default(registry)
        return registry

    return isolate
