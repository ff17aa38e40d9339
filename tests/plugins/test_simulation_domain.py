"""The simulation domain: scenario runs, multi-year chains, ranking and comparison."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pandas as pd
import pytest

import trackyard
from trackyard.errors import ConfigValidationError

from .._console import run_trackyard

YEARS = [2025, 2030, 2035]


def _cli_json(*args: str, cwd: Path) -> list[dict[str, object]]:
    """``trackyard ARGS --json`` from the console script, parsed."""
    proc = run_trackyard(*args, "--json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    listed: list[dict[str, object]] = json.loads(proc.stdout)
    return listed


def test_find_best_ranks_smallest_rmse_first(workspace: Path) -> None:
    """find_best defaults to ascending (best first); order='desc' gives the worst first."""
    sim = trackyard.get_tracker("simulation", workspace=workspace)
    good = sim.run_model(name="true-params", config={"alpha": 1.1, "seed": 2024})
    poor = sim.run_model(name="off-params", config={"alpha": 0.6, "seed": 3})

    assert good.metrics["rmse"] < poor.metrics["rmse"]
    assert [r.run_id for r in sim.find_best()] == [good.run_id, poor.run_id]
    assert [r.run_id for r in sim.find_best(order="desc", k=1)] == [poor.run_id]
    assert pd.read_parquet(good.output("results")).shape == (2000, 3)


def test_run_years_chains_each_year_on_the_previous_output(workspace: Path) -> None:
    """Each year consumes the previous year's results and continues its trajectory."""
    sim = trackyard.get_tracker("simulation", workspace=workspace)
    runs = sim.run_years(name="base", years=YEARS, config={"alpha": 1.1})

    assert [r.name for r in runs] == ["base-2025", "base-2030", "base-2035"]
    assert not any(r.cache_hit for r in runs)
    for before, after in itertools.pairwise(runs):
        inputs = sim.consist.get_run_inputs(after.run_id)
        assert [a.id for a in inputs.values()] == [before.result.outputs["results"].id]
        last = pd.read_parquet(before.output("results")).iloc[-1]
        first = pd.read_parquet(after.output("results")).iloc[0]
        assert (first["prey"], first["predator"]) == (last["prey"], last["predator"])
    parents = {sim.consist.get_run(r.run_id).parent_run_id for r in runs}
    assert len(parents) == 1
    header = sim.consist.get_run(parents.pop())
    assert "scenario_header" in header.tags and header.status == "completed"


def test_run_years_caches_each_year_on_its_own(workspace: Path) -> None:
    """Re-running hits every year; extending the horizon runs only the new year."""
    sim = trackyard.get_tracker("simulation", workspace=workspace)
    first = sim.run_years(name="base", years=YEARS, config={"alpha": 1.1})
    again = sim.run_years(name="renamed", years=YEARS, config={"alpha": 1.1})
    longer = sim.run_years(name="base", years=[*YEARS, 2040], config={"alpha": 1.1})

    assert all(r.cache_hit for r in again)
    assert [r.output("results") for r in again] == [r.output("results") for r in first]
    assert [r.cache_hit for r in longer] == [True, True, True, False]
    ranked = sim.find_best(k=20)
    assert all(r.name and r.name.startswith("base-") for r in ranked)
    assert len(ranked) == 4


def test_run_years_rejects_unordered_years_before_running(workspace: Path) -> None:
    """Years must be increasing integers; the error names what was given."""
    sim = trackyard.get_tracker("simulation", workspace=workspace)
    with pytest.raises(ConfigValidationError, match=r"strictly increasing .* got \[2030, 2025\]"):
        sim.run_years(name="bad", years=[2030, 2025], config={})
    assert sim.find_best() == []


def test_compare_lists_config_and_metric_differences(workspace: Path) -> None:
    """compare() shows only what differs between two runs: config values and metrics."""
    sim = trackyard.get_tracker("simulation", workspace=workspace)
    a = sim.run_model(name="a", config={"alpha": 1.1, "seed": 1})
    b = sim.run_model(name="b", config={"alpha": 0.9, "seed": 1})
    diff = sim.compare(a, b.run_id)

    assert diff.config == {"alpha": (1.1, 0.9)}
    assert diff.metrics == {"rmse": (a.metrics["rmse"], b.metrics["rmse"])}
    assert sim.compare(a, a).identical
    with pytest.raises(ConfigValidationError, match="no run 'nope'"):
        sim.compare(a, "nope")


def test_a_comparison_is_not_a_model_run(workspace: Path) -> None:
    """A recorded comparison is not listed by `trackyard runs`, not ranked by find_best or
    `--top`, and never served as a model run's cache hit."""
    sim = trackyard.get_tracker("simulation", workspace=workspace)
    years = sim.run_years(name="base", years=[2025, 2030], config={"alpha": 1.1})
    other = sim.run_model(name="other", config={"alpha": 0.9})
    diff = sim.compare(years[-1], other)
    sim.compare(other, years[-1])
    model_runs = {r.run_id for r in [*years, other]}

    assert diff.config == {"alpha": (1.1, 0.9)}
    assert {r.run_id for r in sim.find_best(k=20)} == model_runs
    assert {r.run_id for r in sim.find_best(k=20, order="desc")} == model_runs
    cwd = workspace.parent
    listed = _cli_json("runs", "simulation", "-w", str(workspace), cwd=cwd)
    assert {r["run_id"] for r in listed} == model_runs
    top = _cli_json(
        "runs", "simulation", "-w", str(workspace), "--top", "rmse", "--k", "20", cwd=cwd
    )
    assert {r["run_id"] for r in top} == model_runs
    again = sim.run_model(name="other", config={"alpha": 0.9})
    assert again.cache_hit and again.cache_source == other.run_id


def test_simulation_options_set_outputs_tags_and_config_dir(
    workspace: Path, tmp_path: Path
) -> None:
    """Options wire every run: output keys, tags, and config_dir as an identity input."""
    config_dir = tmp_path / "sim_cfg"
    config_dir.mkdir()
    (config_dir / "params.txt").write_text("v1")
    sim = trackyard.get_tracker(
        "simulation", workspace=workspace, config_dir=config_dir, tags=["nightly"]
    )
    first = sim.run_model(name="s", config={"seed": 1})
    assert "nightly" in sim.consist.get_run(first.run_id).tags
    (config_dir / "params.txt").write_text("v2")
    assert not sim.run_model(name="s", config={"seed": 1}).cache_hit
