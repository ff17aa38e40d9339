"""``trackyard info --format plain|table|json``: plain lines when piped, tables on request."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_info_piped_prints_plain_lines(cli: Cli) -> None:
    """Piped, info prints no table: each verb's signature, its docstring indented below, and
    no line padded to the terminal width."""
    result = cli("info", "calibration")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("calibration from trackyard-calibration ")
    assert "│" not in result.stdout and "┃" not in result.stdout
    at = lines.index("  evaluate(run_name: str, config: Mapping[str, Any])")
    assert lines[at + 1].startswith("      Run one evaluation of the model with ``config``")
    assert all(line == line.rstrip() for line in lines)
    assert "settings:" in lines and "default wiring (merged):" in lines


def test_info_formats_table_and_json_on_request(cli: Cli) -> None:
    """--format table draws the tables; --format json equals --json; a bad format exits 2."""
    table = cli("info", "calibration", "--format", "table")
    assert table.returncode == 0 and "│" in table.stdout
    as_json = cli("info", "calibration", "--format", "json")
    assert json.loads(as_json.stdout) == json.loads(cli("info", "calibration", "--json").stdout)
    bad = cli("info", "calibration", "--format", "wide")
    assert bad.returncode == 2
    assert "Invalid value for --format: 'wide' is not one of plain, table, json" in bad.stderr
