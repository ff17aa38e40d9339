"""The trap suite's plugin: a third-party domain written as the docs teach, installed in a
folder on ``sys.path`` and ``PYTHONPATH`` so that worker processes and Dask workers import it."""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

PLUGIN = '''
from pathlib import Path
from trackyard import DomainTracker, Wiring, hookimpl
from trapmodels import model


DATA = Path(__file__).with_name("data.txt")


class Tracker(DomainTracker):
    wiring = Wiring(model="trap_model", outputs=("table",), untracked_config=("log", "folder"))
    examples = {
        "into": {"name": "d-into", "config": {"x": 1}, "output_dir": "doctor-out"},
        "score": {"name": "d-score", "config": {"x": 1}, "inputs": {"data": DATA}},
        "sweep": {"items": [("d-sweep", {"x": 2})]},
        "naive": {"name": "d-naive", "config": {"x": 1, "data": str(DATA)}},
    }

    def naive(self, *, name, config):
        """A verb written the naive way: the file it reads is a string in the config."""
        return self.run(model.score, name=name, config=config)

    def into(self, *, name, config, output_dir):
        """A verb that lets the caller choose where the model writes."""
        return self.run(model.write_into, name=name, config=config,
                        runtime_kwargs={"output_dir": output_dir})

    def score(self, *, name, config, inputs=None, strict=False):
        return self.run(model.score, name=name, config=config, inputs=inputs, strict=strict)

    def sweep(self, items, executor="serial"):
        return self.run_many(model.score, items, executor=executor, max_workers=2)


@hookimpl
def register_domains(register):
    register("trap", Tracker)
'''

MODEL = '''
"""Trap models: they write where they are told and read what they are given."""
from pathlib import Path

import consist

from trapmodels.helper import factor


def _log(config):
    if config.get("log"):
        with open(config["log"], "a", encoding="utf-8") as handle:
            handle.write(str(config.get("x")) + "\\n")


def write_into(config, output_dir):
    """Writes its table into the folder the caller chose (a folder runs may share)."""
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "table.csv"
    out.write_text(f"x\\n{config['x']}\\n", encoding="utf-8")
    _log(config)
    return {"table": out, "x": float(config["x"])}


def score(config, data=None):
    """Writes x times the helper's factor, plus the content of its input file if any."""
    text = ""
    source = data if data is not None else config.get("data")
    if source is not None:
        text = Path(source).read_text(encoding="utf-8")
    folder = config.get("folder")
    if folder:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / "table.csv"
    else:
        out = Path(consist.output_path("table", "csv"))
    out.write_text(f"{config['x'] * factor()}|{text}", encoding="utf-8")
    _log(config)
    return {"table": out, "x": float(config["x"])}
'''

MODEL += """

def frame(config):
    \"\"\"Returns a bare DataFrame for its single declared output.\"\"\"
    import pandas as pd

    return pd.DataFrame({"x": [config["x"]]})


def count_files(config, data):
    \"\"\"Lists the files in the folder it is given (a named input consist cannot load).\"\"\"
    out = Path(consist.output_path("table", "txt"))
    out.write_text(str(sorted(p.name for p in Path(data).iterdir())), encoding="utf-8")
    return {"table": out}
"""

HELPER = """
def factor():
    return 1
"""


@pytest.fixture(scope="module")
def trap_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A site folder holding the ``trapmodels`` distribution (a domain ``trap``), on sys.path
    and PYTHONPATH, trusted, for one test module at a time (Dask workers start with this env);
    the default registry is made afresh on both sides, so no other test sees ``trap``."""
    from trackyard.registry import set_default_registry

    site = tmp_path_factory.mktemp("trapsite")
    package = site / "trapmodels"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "plugin.py").write_text(textwrap.dedent(PLUGIN), encoding="utf-8")
    (package / "model.py").write_text(textwrap.dedent(MODEL), encoding="utf-8")
    (package / "helper.py").write_text(textwrap.dedent(HELPER), encoding="utf-8")
    (package / "data.txt").write_text("shipped", encoding="utf-8")
    info = site / "trapmodels-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: trapmodels\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[trackyard.domains]\ntrap = trapmodels.plugin\n")
    (info / "RECORD").write_text(
        "\n".join(
            f"trapmodels/{f},," for f in ("__init__.py", "plugin.py", "model.py", "helper.py")
        )
        + "\n"
    )
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "TRACKYARD_TRUSTED_PATHS")}
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), saved["PYTHONPATH"]]))
    os.environ["TRACKYARD_TRUSTED_PATHS"] = str(site)
    sys.path.insert(0, str(site))
    previous = set_default_registry(None)
    yield site
    set_default_registry(previous)
    sys.path.remove(str(site))
    for name in [m for m in sys.modules if m == "trapmodels" or m.startswith("trapmodels.")]:
        del sys.modules[name]  # the next module's site ships its own copy
    importlib.invalidate_caches()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def dask_client(trap_site: Path) -> Iterator[object]:
    """One Dask LocalCluster (two single-threaded worker processes) for the session."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trap_site: Path) -> Iterator[Path]:
    """A fresh workspace folder and current folder, with no store setting from outside, and a
    fresh default registry (one made by an earlier test read entry points before ``trap``'s
    site was on sys.path)."""
    from trackyard.registry import set_default_registry

    monkeypatch.chdir(tmp_path)
    for var in ("TRACKYARD_WORKSPACE", "TRACKYARD_DB_PATH", "TRACKYARD_RUN_DIR"):
        monkeypatch.delenv(var, raising=False)
    previous = set_default_registry(None)
    yield tmp_path / "ws"
    set_default_registry(previous)
