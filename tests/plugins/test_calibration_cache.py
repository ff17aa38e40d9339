"""Cache correctness of the calibration domain: outputs per run, identity of config and code."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trackyard
from trackyard_calibration.tracker import DEMO_CONFIG_DIR

FAST = {"sample_rate": 0.02, "seed": 7}


def test_each_config_writes_its_own_files_and_a_hit_returns_its_own_data(workspace: Path) -> None:
    """A, then B, then A again: the hit returns A's files, never B's (the output_dir trap)."""
    cal = trackyard.get_tracker("calibration", workspace=workspace)
    a = cal.evaluate(run_name="a", config={**FAST, "mode_choice_coeff": 0.3})
    b = cal.evaluate(run_name="b", config={**FAST, "mode_choice_coeff": 1.9})
    again = cal.evaluate(run_name="a-again", config={**FAST, "mode_choice_coeff": 0.3})

    assert not a.cache_hit and not b.cache_hit and again.cache_hit
    for outcome in (a, b):
        assert set(outcome.outputs) == {"persons", "trips", "metrics"}
        assert all(path.parent.name == outcome.run_id for path in outcome.outputs.values())
    assert not set(a.outputs.values()) & set(b.outputs.values())
    a_metrics = a.output("metrics").read_bytes()
    assert a_metrics != b.output("metrics").read_bytes()
    assert again.output("metrics").read_bytes() == a_metrics
    assert again.output("trips").read_bytes() == a.output("trips").read_bytes()
    assert again.metrics == a.metrics and again.cache_source == a.run_id


def test_editing_a_file_in_config_dir_invalidates_the_cache(
    workspace: Path, tmp_path: Path
) -> None:
    """Changing the target shares under config_dir makes the same config run again."""
    config_dir = tmp_path / "my_config"
    shutil.copytree(DEMO_CONFIG_DIR, config_dir)
    cal = trackyard.get_tracker("calibration", workspace=workspace, config_dir=config_dir)
    config = {**FAST, "mode_choice_coeff": 1.0}
    first = cal.evaluate(run_name="base", config=config)
    assert cal.evaluate(run_name="base", config=config).cache_hit

    targets = config_dir / "targets.json"
    targets.write_text(json.dumps({"mode_shares": {"car": 0.8, "transit": 0.1, "walk": 0.1}}))
    changed = cal.evaluate(run_name="base", config=config)

    assert not changed.cache_hit
    assert changed.metrics["mode_share_error"] != first.metrics["mode_share_error"]


def test_renaming_a_run_keeps_the_cache(workspace: Path) -> None:
    """A run's label is not part of its identity: the same config under a new name is a hit."""
    cal = trackyard.get_tracker("calibration", workspace=workspace)
    config = {**FAST, "mode_choice_coeff": 0.7}
    first = cal.evaluate(run_name="old-label", config=config)
    renamed = cal.evaluate(run_name="new-label", config=config)
    assert renamed.cache_hit and renamed.cache_source == first.run_id


def test_editing_the_users_model_file_invalidates_the_cache(
    user_calibration: trackyard.DomainTracker,
    user_model: dict[str, Any],
    python_in: Callable[[str], str],
) -> None:
    """A fresh process hits the cache until the user's model module is edited, then misses."""
    first = user_calibration.evaluate(run_name="u", config={"coeff": 0.2})
    assert not first.cache_hit
    code = f"""
        import trackyard
        cal = trackyard.get_tracker("calibration", workspace="ws", model={user_model["model"]!r},
                                    config_dir="cfg")
        o = cal.evaluate(run_name="u", config={{"coeff": 0.2}})
        print(o.cache_hit, o.output("trips"))
    """
    hit, path = python_in(code).split()
    assert hit == "True" and Path(path) == first.output("trips")

    source = user_model["path"].read_text().replace("VERSION = 1", "VERSION = 2")
    user_model["path"].write_text(source)
    hit, path = python_in(code).split()
    assert hit == "False" and Path(path) != first.output("trips")


def test_code_identity_is_the_users_module_not_trackyards(
    user_calibration: trackyard.DomainTracker, user_model: dict[str, Any]
) -> None:
    """The recorded code hash is consist's hash of the user's module file, not of trackyard's."""
    import importlib

    outcome = user_calibration.evaluate(run_name="u", config={"coeff": 0.1})
    run = user_calibration.consist.get_run(outcome.run_id)
    identity = user_calibration.consist.identity
    user_fn = importlib.import_module(user_model["module"]).model
    assert run.git_hash == identity.compute_callable_hash(user_fn, strategy="module")
    assert run.git_hash != identity.compute_callable_hash(
        trackyard.DomainTracker.run, strategy="module"
    )
