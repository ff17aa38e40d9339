"""A model that checks, from another process, whether the store is free while it runs."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

OPEN = "import duckdb, sys; duckdb.connect(sys.argv[1]).execute('SELECT 1').fetchall()"


def probe(config: dict[str, Any]) -> dict[str, Any]:
    """The many-run model's outputs, plus metric ``store_free``: 1.0 when another process
    could open the store read-write while this model ran."""
    import many_models_helper

    done = subprocess.run(
        [sys.executable, "-c", OPEN, config["db"].removeprefix("file:")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    outputs = many_models_helper.model(config)
    return {**outputs, "store_free": 1.0 if done.returncode == 0 else 0.0}
