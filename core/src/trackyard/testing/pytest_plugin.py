"""pytest fixtures for trackyard plugin authors (loaded through the ``pytest11`` entry point).

- ``trackyard_workspace``: a fresh workspace folder; the test runs in its parent folder and
  ``TRACKYARD_WORKSPACE`` points at it, so ``trackyard.get_tracker(name)`` writes only there.
- ``trackyard_sandbox``: a :class:`~trackyard.testing.PluginSandbox`; ``add()`` in-process
  plugin modules or tracker classes without installing a distribution. While the test runs it
  is also the registry behind ``trackyard.get_tracker`` and ``trackyard.available_domains``.
- ``trackyard_isolated``: call it with plugin names (domain or distribution); afterwards only
  those installed plugins are discoverable through ``trackyard.*`` for the rest of the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from trackyard.registry import Registry


def _use_as_default(monkeypatch: pytest.MonkeyPatch, registry: Registry) -> None:
    import trackyard.registry

    monkeypatch.setattr(trackyard.registry, "_default", registry)


@pytest.fixture
def trackyard_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty workspace folder used by every ``get_tracker`` call in the test."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRACKYARD_WORKSPACE", str(workspace))
    return workspace


@pytest.fixture
def trackyard_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A registry of in-process plugins, also used by ``trackyard.get_tracker`` in the test."""
    from trackyard.testing import PluginSandbox

    sandbox = PluginSandbox()
    sandbox.on_change = lambda registry: _use_as_default(monkeypatch, registry)
    _use_as_default(monkeypatch, sandbox.registry)
    yield sandbox


@pytest.fixture
def trackyard_isolated(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Registry]:
    """``isolate("calibration")``: only the named installed plugins stay discoverable."""
    from trackyard.testing import isolated_registry

    def isolate(*names: str) -> Registry:
        registry = isolated_registry(*names)
        _use_as_default(monkeypatch, registry)
        return registry

    return isolate
