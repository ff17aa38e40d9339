"""Fixtures for core tests: fake distributions on a temporary sys.path entry."""

from __future__ import annotations

import importlib
import itertools
import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_counter = itertools.count()

FakeDist = Callable[..., Path]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh current folder, so no pyproject.toml or .trackyard of the repo is seen."""
    monkeypatch.chdir(tmp_path)
    for var in (
        "TRACKYARD_WORKSPACE",
        "TRACKYARD_DB_PATH",
        "TRACKYARD_RUN_DIR",
        "TRACKYARD_CACHE_EPOCH",
        "TRACKYARD_PROVIDERS",
    ):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDist]:
    """Write ``<name>-<version>.dist-info`` plus plugin modules into a fresh sys.path folder.

    ``modules`` maps a module stem to its source; ``{mod}`` in sources and entry points is
    replaced by a unique prefix so that repeated tests never share ``sys.modules`` entries.
    Returns the folder; ``prepend=False`` appends it to sys.path instead.
    """
    created: list[str] = []
    trusted: list[str] = []
    for var in ("TRACKYARD_PLUGINS", "TRACKYARD_DISABLE_PLUGIN_AUTOLOAD", "TRACKYARD_STRICT"):
        monkeypatch.delenv(var, raising=False)

    def make(
        name: str,
        entry_points: dict[str, dict[str, str]],
        modules: dict[str, str] | None = None,
        version: str = "1.0",
        requires: tuple[str, ...] = (),
        prepend: bool = True,
    ) -> Path:
        prefix = f"fake{next(_counter)}_"
        site = tmp_path / f"site_{prefix}{name}"
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
        meta += [f"Requires-Dist: {r}" for r in requires]
        (info / "METADATA").write_text("\n".join(meta) + "\n")
        lines = []
        for group, eps in entry_points.items():
            lines.append(f"[{group}]")
            lines += [f"{k} = {v.replace('{mod}', prefix)}" for k, v in eps.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        record = [f"{info.name}/METADATA,,", f"{info.name}/entry_points.txt,,"]
        for stem, source in (modules or {}).items():
            mod = stem.replace("{mod}", prefix)
            created.append(mod)
            record.append(f"{mod}.py,,")
            (site / f"{mod}.py").write_text(
                textwrap.dedent(source).replace("{mod}", prefix), encoding="utf-8"
            )
        # A RECORD that lists the modules, and a trusted folder: these fakes stand for
        # properly installed distributions (tests/trust covers the refusals).
        (info / "RECORD").write_text("\n".join(record) + "\n")
        importlib.invalidate_caches()
        trusted.append(str(site))
        monkeypatch.setenv("TRACKYARD_TRUSTED_PATHS", os.pathsep.join(trusted))
        # syspath_prepend saves sys.path once and restores it afterwards; moving the entry to
        # the end keeps that clean-up for appended folders too.
        monkeypatch.syspath_prepend(str(site))
        if not prepend:
            sys.path.remove(str(site))
            sys.path.append(str(site))
        return site

    yield make
    for mod in created:
        sys.modules.pop(mod, None)


TRACKER_MODULE = """
from dataclasses import dataclass
import trackyard
from trackyard import DomainTracker, Wiring, hookimpl

def model(config):
    from pathlib import Path
    import consist
    out = Path(consist.output_path("table", "csv"))
    out.write_text("x\\n" + str(config.get("x", 0)) + "\\n")
    return {"table": out, "score": float(config.get("score", config.get("x", 0)))}

@dataclass(frozen=True)
class Options:
    greeting: str = "hello"
    size: int = 3

class Tracker(DomainTracker):
    Options = Options
    wiring = Wiring(model="acme_model", outputs=("table",), tags=("acme",))

    def go(self, *, name: str, config: dict) -> object:
        return self.run(model, name=name, config=config)

@hookimpl
def register_domains(register):
    register("{domain}", Tracker)
"""


def _tracker_module(domain: str, extra: str = "") -> str:
    return TRACKER_MODULE.replace("{domain}", domain) + textwrap.dedent(extra)


@pytest.fixture
def tracker_module() -> Callable[..., str]:
    """Source of a working domain plugin module: ``tracker_module(domain, extra_source)``."""
    return _tracker_module
