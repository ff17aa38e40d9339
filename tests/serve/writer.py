"""A sweep in its own process: ``python writer.py WORKSPACE CONFIG_DIR TAG A1,A2,...``
calibrates a grid over ``a`` (one trial per value) into WORKSPACE, as a user's script would."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from serve_models import calibration_model

import trackyard


def main() -> None:
    workspace, config_dir, tag, values = sys.argv[1:5]
    space = {"a": [float(v) for v in values.split(",")], "b": [0.0], "tag": [tag]}
    with trackyard.get_tracker(
        "calibration", workspace=workspace, model=calibration_model, config_dir=config_dir
    ) as cal:
        result = cal.calibrate(
            space=space, metric="error", n_trials=len(space["a"]), method="grid", progress=False
        )
    print(f"ran={result.ran} failed={result.failed}")


if __name__ == "__main__":
    main()
