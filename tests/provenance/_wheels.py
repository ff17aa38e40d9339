"""A third-party plugin as its users get it: real wheels, a real venv, a process per call.

``trackyard-epidemic`` (package ``trackyard_epidemic``: ``plugin.py``, ``tracker.py``,
``model.py``, ``_seir.py``) provides the domain ``epidemic`` through the ``trackyard.domains``
entry point, as docs/writing-a-plugin.md teaches. Its model imports ``epidemic_params`` from a
second distribution, ``epidemic-params``. Both are built with ``pip wheel`` from projects
written here, in several versions, and installed with pip into a throw-away venv (``--without-pip``;
a ``.pth`` file adds this interpreter's site-packages, so trackyard, consist and dask import from
there). The plugin's ``*.dist-info`` sits in that venv's own site-packages, which the plugin
policy trusts (docs/trust.md): nothing is added to ``TRACKYARD_TRUSTED_PATHS``.

Every call runs ``DRIVER`` in that venv's interpreter: the verb ``sweep`` (``run_many``) on an
executor, and the outcome printed as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PLUGIN_DIST = "trackyard-epidemic"
PARAMS_DIST = "epidemic-params"

# The plugin's versions: what its helper's constant is, and the one-line summary. 0.1.1 changes
# only _seir.py; 0.1.2 changes only metadata (version and summary).
PLUGIN_VERSIONS: dict[str, tuple[float, str]] = {
    "0.1.0": (2.0, "An SEIR epidemic domain for trackyard."),
    "0.1.1": (3.0, "An SEIR epidemic domain for trackyard."),
    "0.1.2": (3.0, "An SEIR epidemic domain for trackyard, with a better summary."),
}
# epidemic-params: version -> SCALE.
PARAMS_VERSIONS: dict[str, float] = {"1.0": 1.0, "2.0": 2.0}

PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.24"]
build-backend = "hatchling.build"

[project]
name = "{dist}"
version = "{version}"
description = "{summary}"
requires-python = ">=3.11"
dependencies = [{dependencies}]
{entry_points}
[tool.hatch.build.targets.wheel]
packages = ["src/{package}"]
"""

ENTRY_POINTS = """
[project.entry-points."trackyard.domains"]
epidemic = "trackyard_epidemic.plugin"
"""

PLUGIN = '''
"""The hooks trackyard calls."""

from collections.abc import Callable

from trackyard import DomainTracker, hookimpl

from trackyard_epidemic.tracker import EpidemicTracker


@hookimpl
def register_domains(register: Callable[[str, type[DomainTracker]], None]) -> None:
    register("epidemic", EpidemicTracker)
'''

TRACKER = '''
"""The epidemic domain's tracker and its verb."""

from typing import Any

from trackyard import DomainTracker, ManyResult, Wiring

from trackyard_epidemic.model import model


class EpidemicTracker(DomainTracker):
    """Runs of the epidemic model."""

    wiring = Wiring(model="epidemic_model", outputs=("curve",))

    def sweep(self, items: list[tuple[str, dict[str, Any]]], executor: Any = "serial") -> ManyResult:
        """Run the model once per (name, config) item on ``executor``."""
        return self.run_many(model, items, executor=executor, max_workers=2)
'''

MODEL = '''
"""The model each run executes: the epidemic's peak for a starting size x."""

import json
from pathlib import Path
from typing import Any

import consist
import epidemic_params

from trackyard_epidemic._seir import peak


def model(config: dict[str, Any]) -> dict[str, Any]:
    value = peak(float(config["x"])) * epidemic_params.SCALE
    curve = Path(consist.output_path("curve", "json"))
    curve.write_text(json.dumps([0.0, value, 0.0]))
    return {"curve": curve, "peak": value}
'''

SEIR = '''
"""The SEIR helper the model uses."""

RATE = {rate!r}


def peak(x: float) -> float:
    return x * RATE
'''

PARAMS = '''
"""Parameters shared by epidemic models."""

SCALE = {scale!r}
'''

DRIVER = '''
"""One call of the epidemic domain's verb ``sweep``, in this interpreter; prints the outcome."""

import json
import sys
import warnings
from typing import Any


def _environment_changed(outcome: Any) -> Any:
    try:
        return {k: list(v) for k, v in outcome.environment_changed.items()}
    except AttributeError as error:
        return f"AttributeError: {error}"


def main() -> None:
    args = json.loads(sys.argv[1])
    import trackyard

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tracker = trackyard.get_tracker("epidemic", **args["options"])
        executor: Any = args["executor"]
        cluster = client = None
        if executor == "dask":
            from distributed import Client, LocalCluster

            cluster = LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            )
            client = executor = Client(cluster)
        try:
            result = tracker.sweep([(n, {"x": x}) for n, x in args["items"]], executor=executor)
        finally:
            if client is not None:
                client.close()
                cluster.close()
    outcomes = {}
    for name, outcome in result.outcomes.items():
        meta = tracker.consist.get_run(outcome.run_id).meta or {}
        deps = (meta.get("trackyard") or {}).get("deps") or {}
        outcomes[name] = {
            "cache_hit": outcome.cache_hit,
            "cache_source": outcome.cache_source,
            "metrics": dict(outcome.metrics),
            "run_id": outcome.run_id,
            "environment_changed": _environment_changed(outcome),
            "recorded_environment": deps.get("environment"),
        }
    warning_class = getattr(trackyard, "EnvironmentChangedWarning", None)
    print(json.dumps({
        "outcomes": outcomes,
        "failures": dict(result.failures),
        "warnings": [
            {
                "category": f"{w.category.__module__}.{w.category.__qualname__}",
                "environment": warning_class is not None and issubclass(w.category, warning_class),
                "message": str(w.message),
            }
            for w in caught
        ],
    }))


if __name__ == "__main__":  # Dask and process workers re-import this file: no call there
    main()
'''


def _write_project(
    root: Path, dist: str, version: str, summary: str, files: Mapping[str, str], *, plugin: bool
) -> Path:
    """A project folder of ``dist`` at ``version`` with the package files ``files``."""
    package = dist.replace("-", "_")
    project = root / f"{package}-{version}"
    source = project / "src" / package
    source.mkdir(parents=True)
    dependencies = f'"trackyard>=0.1,<0.2", "{PARAMS_DIST}"' if plugin else ""
    (project / "pyproject.toml").write_text(
        PYPROJECT.format(
            dist=dist,
            version=version,
            summary=summary,
            dependencies=dependencies,
            entry_points=ENTRY_POINTS if plugin else "",
            package=package,
        ),
        encoding="utf-8",
    )
    for name, text in {"__init__.py": "", **files}.items():
        (source / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return project


def build_wheels(root: Path) -> dict[tuple[str, str], Path]:
    """Every version of both distributions as a wheel, built with ``pip wheel``: (dist,
    version) -> wheel. hatchling is installed once into a folder on the build's PYTHONPATH
    (``--no-build-isolation``), which saves an isolated build environment per wheel."""
    backend = root / "backend"
    pip = [sys.executable, "-m", "pip"]
    _run([*pip, "install", "-q", "--target", str(backend), "hatchling>=1.24"])
    projects: dict[tuple[str, str], Path] = {}
    for version, (rate, summary) in PLUGIN_VERSIONS.items():
        files = {
            "plugin.py": PLUGIN,
            "tracker.py": TRACKER,
            "model.py": MODEL,
            "_seir.py": SEIR.format(rate=rate),
        }
        projects[PLUGIN_DIST, version] = _write_project(
            root / "src", PLUGIN_DIST, version, summary, files, plugin=True
        )
    for version, scale in PARAMS_VERSIONS.items():
        files = {"__init__.py": PARAMS.format(scale=scale)}
        projects[PARAMS_DIST, version] = _write_project(
            root / "src", PARAMS_DIST, version, "Epidemic parameters.", files, plugin=False
        )
    wheels: dict[tuple[str, str], Path] = {}
    env = {**os.environ, "PYTHONPATH": str(backend)}
    for (dist, version), project in projects.items():
        out = root / "wheels" / f"{dist}-{version}"
        build = [*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out)]
        _run([*build, str(project)], env=env)
        (wheel,) = out.glob("*.whl")
        wheels[dist, version] = wheel
    return wheels


def _run(command: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    proc = subprocess.run(
        list(command),
        capture_output=True,
        text=True,
        check=False,
        env=None if env is None else dict(env),
    )
    assert proc.returncode == 0, f"{command} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@dataclass(frozen=True)
class Throwaway:
    """A venv into which the wheels are installed; ``call`` runs the verb in its interpreter."""

    root: Path
    wheels: Mapping[tuple[str, str], Path]
    installed: dict[str, str] = field(default_factory=dict)  # distribution -> version

    @property
    def python(self) -> Path:
        return self.root / "venv" / "bin" / "python"

    @classmethod
    def create(cls, root: Path, wheels: Mapping[tuple[str, str], Path]) -> Throwaway:
        venv = root / "venv"
        _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
        site = venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
        assert site.is_dir(), site
        # addsitedir (not a bare path line) so that the editable installs' own .pth files of this
        # project's venv are processed too.
        ours = sysconfig.get_paths()["purelib"]
        (site / "_trackyard_dev.pth").write_text(
            f"import site; site.addsitedir({ours!r})\n", encoding="utf-8"
        )
        (root / "driver").mkdir()
        (root / "driver" / "call.py").write_text(textwrap.dedent(DRIVER).lstrip(), encoding="utf-8")
        (root / "config").mkdir()  # an empty XDG_CONFIG_HOME: no user config from outside
        return cls(root, wheels)

    def install(self, plugin: str, params: str) -> None:
        """Have ``trackyard-epidemic==plugin`` and ``epidemic-params==params`` installed, as a
        user upgrades: pip, from the wheels, replacing the version there (a distribution already
        at that version is left as it is)."""
        wanted = {PLUGIN_DIST: plugin, PARAMS_DIST: params}
        todo = {d: v for d, v in wanted.items() if self.installed.get(d) != v}
        if not todo:
            return
        wheels = [str(self.wheels[d, v]) for d, v in todo.items()]
        self.installed.clear()  # unknown until pip has succeeded
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "--python",
                str(self.python),
                "install",
                "-q",
                "--no-deps",
                "--no-index",
                "--force-reinstall",
                *wheels,
            ]
        )
        self.installed.update(wanted)

    def call(
        self,
        cwd: Path,
        items: Sequence[tuple[str, float]],
        executor: str = "serial",
        options: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """``get_tracker("epidemic", **options).sweep(items, executor)`` in a fresh process of
        the venv, with workspace ``cwd/ws`` and ``env`` added to a clean environment; returns
        the driver's JSON (outcomes by run name, failures, warnings)."""
        clean = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
            and not k.startswith("TRACKYARD_")
        }
        clean.update(
            XDG_CONFIG_HOME=str(self.root / "config"),
            TRACKYARD_WORKSPACE=str(cwd / "ws"),
            **(env or {}),
        )
        args = {"items": list(items), "executor": executor, "options": dict(options or {})}
        proc = subprocess.run(
            [str(self.python), str(self.root / "driver" / "call.py"), json.dumps(args)],
            cwd=cwd,
            env=clean,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert proc.returncode == 0, f"the call failed:\n{proc.stdout}\n{proc.stderr}"
        out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        assert out["failures"] == {}, out["failures"]
        return out
