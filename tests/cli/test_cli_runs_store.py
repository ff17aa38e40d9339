"""``trackyard runs`` reads the store alone: runs of a domain whose plugin is not installed list
and rank, and a workspace without a store lists nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

Cli = Callable[..., subprocess.CompletedProcess[str]]

# Runs recorded by consist used directly, stamped as trackyard would stamp a domain "ghost"
# that has no plugin in this environment.
WRITER = """
import sys
from pathlib import Path
import consist
from consist import Tracker

ws = Path(sys.argv[1])
ws.mkdir(parents=True, exist_ok=True)
tracker = Tracker(run_dir=ws / "runs", db_path=ws / "provenance.duckdb")
for name, score in [("g1", 0.5), ("g2", 0.1), ("g3", float("nan")), ("g4", 0.3)]:
    def model(config):
        consist.log_meta(trackyard={"domain": "ghost", "run_name": config["name"]},
                         metrics={"score": "nan" if config["score"] != config["score"]
                                  else config["score"]})
    tracker.run(fn=model, name=name, model="ghost_model",
                config={"name": name, "score": score})
"""


def _record(writer: str, tmp_path: Path) -> None:
    """Run the consist script ``writer`` on the workspace ``tmp_path/.trackyard``."""
    script = tmp_path / "writer.py"
    script.write_text(writer, encoding="utf-8")
    subprocess.run(
        [sys.executable, str(script), str(tmp_path / ".trackyard")], check=True, timeout=300
    )


def test_runs_of_a_domain_without_plugin_list_and_rank(cli: Cli, tmp_path: Path) -> None:
    """Runs recorded for a domain that no installed plugin provides still list and rank."""
    _record(WRITER, tmp_path)
    listed = cli("runs", "ghost", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["name"] for r in json.loads(listed.stdout)] == ["g1", "g2", "g3", "g4"]
    ranked = cli("runs", "ghost", "--top", "score", "--k", "4", "--json")
    assert ranked.returncode == 0, ranked.stderr
    rows = json.loads(ranked.stdout)
    assert [r["name"] for r in rows] == ["g2", "g4", "g1", "g3"]  # NaN last
    assert [r["value"] for r in rows[:3]] == [0.1, 0.3, 0.5]
    desc = json.loads(cli("runs", "ghost", "--top", "score", "--order", "desc", "--json").stdout)
    assert [r["name"] for r in desc] == ["g1", "g4", "g2", "g3"]


# Runs made quickly, in the reverse order of their names (and so of their run ids).
QUICK_WRITER = """
import sys
from pathlib import Path
import consist
from consist import Tracker

ws = Path(sys.argv[1])
ws.mkdir(parents=True, exist_ok=True)
tracker = Tracker(run_dir=ws / "runs", db_path=ws / "provenance.duckdb")
def model(config):
    consist.log_meta(trackyard={"domain": "ghost", "run_name": config["name"]})
for name in ["q5", "q4", "q3", "q2", "q1"]:
    tracker.run(fn=model, name=name, model="ghost_model", config={"name": name})
"""


def test_runs_made_within_one_second_list_in_the_order_they_were_made(
    cli: Cli, tmp_path: Path
) -> None:
    """`trackyard runs` lists runs oldest first to the sub-second, not by run id within a
    second."""
    _record(QUICK_WRITER, tmp_path)
    listed = cli("runs", "ghost", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["name"] for r in json.loads(listed.stdout)] == ["q5", "q4", "q3", "q2", "q1"]


def test_runs_without_a_store_lists_nothing_and_still_checks_the_metric(cli: Cli) -> None:
    """No store yet: an installed domain lists nothing, a name no plugin provides is refused
    (a typo, issue 22), and a bad metric name is still refused with its message."""
    empty = cli("runs", "calibration", "--json")
    assert empty.returncode == 0, empty.stderr
    assert json.loads(empty.stdout) == []
    unknown = cli("runs", "ghost", "--json")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("Error: no run of domain 'ghost' is recorded in ")
    assert "and no installed plugin provides it; domains with runs: none." in unknown.stderr
    bad = cli("runs", "ghost", "--top", "bad name")
    assert bad.returncode == 1
    assert bad.stderr.strip() == (
        "Error: invalid metric name 'bad name': use a letter or '_' followed by up to 63 "
        "letters, digits or '_' (for example 'rmse' or 'mode_share_error')\n"
        "(run with --debug for the traceback)"
    )


PROBE = (
    "import atexit, sys\n"
    "from trackyard.cli import main\n"
    "heavy = ('consist', 'pandas', 'sqlalchemy')\n"
    "atexit.register(lambda: print('loaded:', sorted(m for m in heavy if m in sys.modules),"
    " file=sys.stderr))\n"
    "sys.argv = ['trackyard', *sys.argv[1:]]\n"
    "main()\n"
)


def test_info_and_runs_load_neither_consist_nor_pandas(tmp_path: Path) -> None:
    """`info` describes a domain and `runs --top` ranks without importing consist, pandas or
    SQLAlchemy, and `info` writes nothing where it runs."""
    script = tmp_path / "probe.py"
    script.write_text(PROBE, encoding="utf-8")
    here = tmp_path / "here"
    here.mkdir()
    for args in (["info", "calibration", "--json"], ["runs", "calibration", "--top", "x"]):
        done = subprocess.run(
            [sys.executable, str(script), *args],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        assert "loaded: []" in done.stderr
    info = subprocess.run(
        [sys.executable, str(script), "info", "calibration", "--json"],
        cwd=here,
        capture_output=True,
        text=True,
        timeout=300,
    )
    verbs = [v["name"] for v in json.loads(info.stdout)["verbs"]]
    assert {"evaluate", "sweep", "calibrate", "query_top_k", "best_config"} <= set(verbs)
    assert list(here.iterdir()) == []


def test_ranking_by_a_metric_no_run_has_exits_1_with_a_suggestion(cli: Cli, tmp_path: Path) -> None:
    """`runs ghost --top scroe` (a typo) fails naming the recorded metrics and the closest."""
    _record(WRITER, tmp_path)
    message = (
        "Error: no run of domain 'ghost' has metric 'scroe'; metrics recorded: score. "
        "Did you mean 'score'?\n"
    )
    for extra in ([], ["--json"]):
        ranked = cli("runs", "ghost", "--top", "scroe", *extra)
        assert ranked.returncode == 1, ranked.stdout
        assert ranked.stdout == ""
        assert ranked.stderr.startswith(message)


def test_runs_of_an_unknown_domain_exits_1_naming_the_domains_with_runs(
    cli: Cli, tmp_path: Path
) -> None:
    """A domain with no runs that no plugin provides (a typo) is an error naming the domains
    that have runs, with the closest; an installed domain with no runs yet lists nothing."""
    _record(WRITER, tmp_path)
    db = tmp_path / ".trackyard" / "provenance.duckdb"
    for args in (["runs", "ghots"], ["runs", "ghots", "--top", "score", "--json"]):
        listed = cli(*args)
        assert listed.returncode == 1, listed.stdout
        assert listed.stderr.startswith(
            f"Error: no run of domain 'ghots' is recorded in {db} and no installed plugin "
            "provides it; domains with runs: ghost. Did you mean 'ghost'?\n"
        )
    installed = cli("runs", "calibration", "--json")
    assert installed.returncode == 0, installed.stderr
    assert json.loads(installed.stdout) == []
