"""How long the `trackyard` console script takes for metadata-only commands (run by hand).

    python bench/bench_cli_startup.py

Prints a Markdown table of median wall times over several runs, against Python start-up with
`import importlib.metadata` and a bare `import consist` for scale.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 7
SCRIPT = str(Path(sys.executable).parent / "trackyard")

CASES = {
    "python -c 'import importlib.metadata'": [sys.executable, "-c", "import importlib.metadata"],
    "trackyard --help": [SCRIPT, "--help"],
    "trackyard domains": [SCRIPT, "domains"],
    "trackyard domains --json": [SCRIPT, "domains", "--json"],
    "trackyard which calibration": [SCRIPT, "which", "calibration"],
    "python -c 'import consist'": [sys.executable, "-c", "import consist"],
}


def median_ms(cmd: list[str], cwd: str) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, capture_output=True, check=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as cwd:
        print(f"| command | median of {RUNS} (ms) |")
        print("|---|---:|")
        for label, cmd in CASES.items():
            print(f"| `{label}` | {median_ms(cmd, cwd):.0f} |")


if __name__ == "__main__":
    main()
