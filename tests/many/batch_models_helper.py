"""A model that checks, from another process, whether the store is free while it runs."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

# Another process opening the store read-write, trying for up to 10 s: the model's store
# connection is let go once the model has run trackyard's grace period (a fraction of a second).
OPEN = """
import sys, time
import duckdb
deadline = time.monotonic() + 10
while True:
    try:
        duckdb.connect(sys.argv[1]).execute('SELECT 1').fetchall()
        break
    except duckdb.Error:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.05)
"""


def probe(config: dict[str, Any]) -> dict[str, Any]:
    """The many-run model's outputs, plus metric ``store_free``: 1.0 when another process
    could open the store read-write while this model ran."""
    import many_models_helper

    done = subprocess.run(
        [sys.executable, "-c", OPEN, config["db"].removeprefix("untracked:")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    outputs = many_models_helper.model(config)
    return {**outputs, "store_free": 1.0 if done.returncode == 0 else 0.0}
