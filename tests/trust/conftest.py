"""Fixtures for the trust tests: fake distributions written as real ``*.dist-info`` folders."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

import pytest

PLUGIN_BODY = """
from pathlib import Path
Path({marker!r}).write_text("imported")
import trackyard

class _T(trackyard.DomainTracker):
    pass

@trackyard.hookimpl
def register_domains(register):
    register({domain!r}, _T)
"""

FakeDist = Callable[..., Path]


def write_dist(
    site: Path,
    dist: str,
    domain: str,
    *,
    module: str | None = None,
    target: str | None = None,
    version: str = "1.0",
    requires: tuple[str, ...] = ("trackyard>=0.1,<1",),
    marker: Path | None = None,
    record: bool = True,
) -> Path:
    """Write ``<dist>-<version>.dist-info`` and its plugin module into ``site``; the module
    writes ``marker`` when imported. Returns the marker path."""
    module = module or dist.replace("-", "_")
    marker = marker or site / f"{module}.imported"
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {dist}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    (info / "entry_points.txt").write_text(f"[trackyard.domains]\n{domain} = {target or module}\n")
    (site / f"{module}.py").write_text(PLUGIN_BODY.format(marker=str(marker), domain=domain))
    if record:
        (info / "RECORD").write_text(f"{module}.py,,\n{info.name}/METADATA,,\n")
    importlib.invalidate_caches()
    return marker


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary folder on ``sys.path`` (not trusted unless a test trusts it)."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.chdir(tmp_path)
    for var in (
        "TRACKYARD_PLUGINS",
        "TRACKYARD_DISABLE_PLUGIN_AUTOLOAD",
        "TRACKYARD_STRICT",
        "TRACKYARD_TRUSTED_PATHS",
        "TRACKYARD_CONFIG",
    ):
        monkeypatch.delenv(var, raising=False)
    # The user's own config file (where trust may be granted) is an empty home of its own.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return site
