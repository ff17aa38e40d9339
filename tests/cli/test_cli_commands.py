"""The ``trackyard`` console script, run for real in subprocesses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., subprocess.CompletedProcess[str]]

HEAVY = (
    "consist",
    "pandas",
    "duckdb",
    "sqlalchemy",
    "trackyard_calibration",
    "trackyard_simulation",
)

_PROBE = """
import sys
from trackyard.cli import main
sys.argv = ["trackyard", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
heavy = {heavy!r}
print("LOADED:" + ",".join(m for m in heavy if m in sys.modules))
"""


def _probe(args: list[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKYARD_")}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.rsplit("LOADED:", 1)[1].strip()


def test_domains_and_which_import_no_consist_and_no_plugin(tmp_path: Path) -> None:
    """Listing and resolving domains stays light: no consist, pandas, duckdb or plugin module."""
    assert _probe(["domains"], tmp_path) == ""
    assert _probe(["domains", "--json"], tmp_path) == ""
    assert _probe(["which", "calibration"], tmp_path) == ""


def test_domains_json_lists_first_party_plugins(cli: Cli) -> None:
    """`domains --json` lists each installed domain with distribution, version and status."""
    result = cli("domains", "--json")
    assert result.returncode == 0, result.stderr
    rows = {d["name"]: d for d in json.loads(result.stdout)}
    assert rows["calibration"]["distribution"] == "trackyard-calibration"
    assert rows["calibration"]["entry_point"] == "trackyard_calibration.plugin"
    assert rows["simulation"]["status"] == "available"


def test_which_explains_the_winner_and_rejects_unknown_names(cli: Cli) -> None:
    """`which` names the providing distribution; an unknown name is one error line + suggestion."""
    ok = cli("which", "calibration")
    assert ok.returncode == 0
    assert "* trackyard-calibration 0.1.0" in ok.stdout
    assert "the only installed distribution that provides it" in ok.stdout
    bad = cli("which", "calbration")
    assert bad.returncode == 1
    assert bad.stderr.startswith("Error: no domain named 'calbration' is installed")
    assert "Did you mean 'calibration'?" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_info_shows_verbs_wiring_and_settings_without_writing(cli: Cli, tmp_path: Path) -> None:
    """`info` lists verbs with signatures, merged wiring and settings sources; writes nothing."""
    result = cli("info", "calibration", "--json", env={"TRACKYARD_CACHE_EPOCH": "3"})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    verbs = {v["name"]: v for v in data["verbs"]}
    assert {"evaluate", "query_top_k"} <= set(verbs) and "setup" not in verbs
    assert re.fullmatch(
        r"evaluate\(run_name: str, config: (dict|Mapping)\[str, Any\]\)",
        verbs["evaluate"]["signature"],
    )
    assert verbs["evaluate"]["doc"].startswith("Run one evaluation")
    assert data["wiring"]["model"] == "mode_choice"
    assert data["wiring"]["identity_inputs"][0][0] == "model_config"
    assert data["settings"]["workspace"] == str(tmp_path / ".trackyard")
    assert data["settings"]["cache_epoch"] == 3
    assert data["sources"]["cache_epoch"] == "environment TRACKYARD_CACHE_EPOCH"
    assert data["sources"]["workspace"] == "default"
    assert list(tmp_path.iterdir()) == []


def test_run_records_runs_and_runs_ranks_them(cli: Cli, tmp_path: Path) -> None:
    """`run` parses --set/--config by type, repeats hit the cache, `runs --top` ranks the runs."""
    (tmp_path / "params.toml").write_text(
        'run_name = "from-file"\n[config]\npopulation = 3000\nseed = 1\n'
    )
    first = cli("run", "calibration", "evaluate", "--config", "params.toml", "--json")
    assert first.returncode == 0, first.stderr
    one = json.loads(first.stdout)
    assert one["status"] == "completed" and one["cache_hit"] is False
    assert one["config"] == {"population": 3000, "seed": 1}
    assert set(one["outputs"]) == {"persons", "trips", "metrics"}
    assert Path(one["outputs"]["trips"]).is_relative_to(tmp_path / ".trackyard")
    second = cli(
        "run", "calibration", "evaluate", "-s", "run_name=other", "-s", "config.population=3000",
        "-s", "config.seed=2", "--json",
    )  # fmt: skip
    two = json.loads(second.stdout)
    again = json.loads(
        cli("run", "calibration", "evaluate", "--config", "params.toml", "--json").stdout
    )
    assert again["cache_hit"] is True and again["cache_source"] == one["run_id"]
    assert again["metrics"] == one["metrics"]

    ranked = json.loads(cli("runs", "calibration", "--top", "mode_share_error", "--json").stdout)
    values = {r["run_id"]: r["value"] for r in ranked}
    assert values == {
        one["run_id"]: one["metrics"]["mode_share_error"],
        two["run_id"]: two["metrics"]["mode_share_error"],
    }
    assert [r["value"] for r in ranked] == sorted(values.values())
    desc = json.loads(
        cli("runs", "calibration", "--top", "mode_share_error", "--order", "desc", "--k", "1",
            "--json").stdout
    )  # fmt: skip
    assert [r["value"] for r in desc] == [max(values.values())]
    listed = json.loads(cli("runs", "calibration", "--json").stdout)
    assert [(r["run_id"], r["cache_hit"]) for r in listed] == [
        (one["run_id"], False),
        (two["run_id"], False),
        (again["run_id"], True),
    ]
    table = cli("runs", "calibration", "--top", "mode_share_error")
    assert one["run_id"] in table.stdout and "value" in table.stdout


def test_run_rejects_bad_values_naming_the_parameter(cli: Cli, tmp_path: Path) -> None:
    """A value that does not parse as its annotated type is one error line naming the parameter."""
    bad = cli("run", "calibration", "query_top_k", "--set", "k=three")
    assert bad.returncode == 1
    assert bad.stderr.startswith(
        "Error: bad value 'three' for parameter 'k' of verb query_top_k (expected int)"
    )
    assert "Traceback" not in bad.stderr
    missing = cli("run", "calibration", "evaluate", "--set", "run_name=x")
    assert missing.returncode == 1
    assert "verb calibration.evaluate needs 'config'" in missing.stderr
    unknown = cli("run", "calibration", "evaluat")
    assert unknown.returncode == 1
    assert (
        "has no verb 'evaluat'" in unknown.stderr and "Did you mean 'evaluate'?" in unknown.stderr
    )
    extra = cli("run", "calibration", "query_top_k", "--set", "limit=3")
    assert "has no parameter 'limit' (parameters: metric, k)" in extra.stderr
    assert not (tmp_path / ".trackyard" / "runs").exists() or not any(
        (tmp_path / ".trackyard" / "runs").rglob("*.parquet")
    )


def test_debug_shows_the_traceback(cli: Cli) -> None:
    """With --debug the same error shows the full traceback instead of one line."""
    result = cli("which", "nope", "--debug")
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "UnknownDomainError" in result.stderr


def test_model_error_is_one_line_and_a_failed_run(cli: Cli, tmp_path: Path) -> None:
    """A model raising during `run` prints its type and message, exits 1, and records a failure."""
    result = cli(
        "run", "calibration", "evaluate", "-s", "run_name=bad", "-s", 'config={"population": "x"}'
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ValueError: invalid literal for int()")
    listed = json.loads(cli("runs", "calibration", "--json").stdout)
    assert [(r["name"], r["status"]) for r in listed] == [("bad", "failed")]


def test_demo_runs_into_the_given_workspace(cli: Cli, tmp_path: Path) -> None:
    """`trackyard demo --workspace W` completes and records its runs in W."""
    pytest.importorskip("trackyard.demo", reason="trackyard.demo is merged from another branch")
    result = cli("demo", "--workspace", "ws")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ws" / "provenance.duckdb").is_file()
    assert not (tmp_path / ".trackyard").exists()
