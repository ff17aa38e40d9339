"""Listing domains and the CLI's help stay free of the report code."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys, trackyard
trackyard.available_domains()
from trackyard.cli import app
loaded = sorted(m for m in sys.modules if m.startswith(("trackyard.report", "plotly")))
print(loaded)
"""


def test_listing_and_the_cli_app_do_not_import_the_report() -> None:
    """`available_domains()` and loading the CLI import neither trackyard.report nor plotly."""
    out = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert out.strip() == "[]"
