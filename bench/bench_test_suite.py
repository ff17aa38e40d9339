"""What the test suite's two common costs changed by issue 23 cost (run by hand).

    python bench/bench_test_suite.py [--rounds 3] [--skip-venv]

1. `trackyard doctor NAME --fix --workspace WS` (the domain checks, then the store's repair;
   what ~20 store-repair calls of the suite ran) against `trackyard doctor --store-only --fix
   --workspace WS` (the same workspace report), interleaved over ``--rounds``, on a workspace
   of 3 simulation runs.
2. A fresh venv with the core: `python -m venv` + `pip install -e core` from scratch, against
   the same into a venv that sees the suite's shared dependencies venv (tests/_venvs.py; built
   once here, its build time printed apart). ``--skip-venv`` leaves this part out.

Prints Markdown tables of median wall seconds. Both are noisy on a shared machine: say the load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRACKYARD = str(Path(sys.executable).parent / "trackyard")


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _quiet_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TRACKYARD_")}


def _doctor(rounds: int, root: Path) -> dict[str, list[float]]:
    ws = root / "ws"
    script = (
        "import trackyard, sys\n"
        "t = trackyard.get_tracker('simulation', workspace=sys.argv[1])\n"
        "for i in range(3):\n"
        "    t.run_model(name=f'r{i}', config={'alpha': 1.0 + i, 'seed': 1})\n"
    )
    subprocess.run([sys.executable, "-c", script, str(ws)], check=True, env=_quiet_env())
    cases = {
        "doctor simulation --fix --workspace WS": ["doctor", "simulation"],
        "doctor --store-only --fix --workspace WS": ["doctor", "--store-only"],
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, head in cases.items():
            cmd = [TRACKYARD, *head, "--fix", "--workspace", str(ws)]
            run = lambda cmd=cmd: subprocess.run(  # noqa: E731
                cmd, cwd=root, env=_quiet_env(), capture_output=True, check=True
            )
            times[name].append(_timed(run))
    return times


def _venv(rounds: int, root: Path) -> tuple[float, dict[str, list[float]]]:
    sys.path.insert(0, str(REPO))
    from tests._venvs import _requirements, _site_packages

    deps = root / "deps"
    pip = [str(deps / "bin" / "python"), "-m", "pip", "install", "-q"]
    build = _timed(
        lambda: (
            subprocess.run([sys.executable, "-m", "venv", str(deps)], check=True),
            subprocess.run([*pip, *_requirements()], check=True, capture_output=True),
        )
    )
    times: dict[str, list[float]] = {
        "fresh venv + pip install -e core": [],
        "same, shared deps": [],
    }
    for n in range(rounds):
        for name in times:
            venv = root / f"v{n}-{len(times[name])}-{name[:5].strip()}"

            def make(venv: Path = venv, shared: bool = name.startswith("same")) -> None:
                subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
                if shared:
                    pth = _site_packages(venv) / "_deps.pth"
                    pth.write_text(f"{_site_packages(deps)}\n")
                install = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-e"]
                subprocess.run([*install, str(REPO / "core")], check=True, capture_output=True)

            times[name].append(_timed(make))
    return build, times


def _table(times: dict[str, list[float]]) -> None:
    print("| case | median s | runs (s) |\n|---|---|---|")
    for name, values in times.items():
        runs = ", ".join(f"{v:.1f}" for v in values)
        print(f"| {name} | {statistics.median(values):.1f} | {runs} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-venv", action="store_true")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f}\n")
    with tempfile.TemporaryDirectory() as tmp:
        _table(_doctor(args.rounds, Path(tmp)))
        if not args.skip_venv:
            build, times = _venv(args.rounds, Path(tmp))
            print(f"\nshared dependencies venv built once in {build:.1f} s\n")
            _table(times)
    print(f"\nload average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
