"""Issue 18, item 3: the plugin's own distribution is code; other distributions are its
environment.

A domain plugin installed as users install it (a wheel, with pip, into a venv) and upgraded:

* a release that changes any module of the plugin (here only ``_seir.py``, a helper the model
  imports) runs again and returns the new number, on every executor;
* a release that changes only metadata (version, summary) is still a hit of the earlier run;
* upgrading another distribution the model imports (``epidemic-params``) does not change the
  key: by default the call is a hit whose outcome says what changed
  (``RunOutcome.environment_changed``) with a one-line ``trackyard.EnvironmentChangedWarning``;
  the setting ``on_environment_change`` (``serve`` | ``warn`` | ``rerun``) chooses;
* every run records the versions of the distributions its model used.

Every call is a fresh process of the throw-away venv (see ``_wheels``), with a fresh workspace.
Distribution names are compared as ``importlib.metadata`` gives them (the ``Name`` of their
metadata): ``epidemic-params`` is spelled so that it is also its normalised form.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ._wheels import PARAMS_DIST, Throwaway, build_wheels

EXECUTORS = ["serial", "processes", "dask"]
ITEMS = [3.0, 4.0]  # the x of each run of a sweep: two runs, so both workers of a pool work


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Throwaway]:
    """The wheels, built once, and the throw-away venv they are installed into."""
    root = tmp_path_factory.mktemp("upgrades")
    yield Throwaway.create(root, build_wheels(root))


def _sweep(
    venv: Throwaway,
    cwd: Path,
    prefix: str,
    executor: str = "serial",
    options: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One call of the verb: runs ``<prefix>3`` and ``<prefix>4``; returns the driver's JSON."""
    items = [(f"{prefix}{int(x)}", x) for x in ITEMS]
    return venv.call(cwd, items, executor=executor, options=options, env=env)


def _outcomes(out: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [out["outcomes"][f"{prefix}{int(x)}"] for x in ITEMS]


def _peaks(out: dict[str, Any], prefix: str) -> list[float]:
    return [o["metrics"]["peak"] for o in _outcomes(out, prefix)]


def _hits(out: dict[str, Any], prefix: str) -> list[bool]:
    return [o["cache_hit"] for o in _outcomes(out, prefix)]


def _sources(out: dict[str, Any], prefix: str) -> list[str | None]:
    return [o["cache_source"] for o in _outcomes(out, prefix)]


def _run_ids(out: dict[str, Any], prefix: str) -> list[str]:
    return [o["run_id"] for o in _outcomes(out, prefix)]


def _environment_warnings(out: dict[str, Any]) -> list[str]:
    """The messages of the call's ``trackyard.EnvironmentChangedWarning``s."""
    return [w["message"] for w in out["warnings"] if w["environment"]]


def _executed(out: dict[str, Any], prefix: str, peaks: list[float]) -> None:
    assert (_hits(out, prefix), _peaks(out, prefix)) == ([False, False], peaks)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_upgrade_changing_only_a_helper_module_runs_again(
    venv: Throwaway, tmp_path: Path, executor: str
) -> None:
    """0.1.0 -> 0.1.1 changes only ``_seir.py`` (the constant the model's helper uses): the
    same call executes again and returns 0.1.1's numbers, never 0.1.0's from cache."""
    venv.install("0.1.0", "1.0")
    _executed(_sweep(venv, tmp_path, "a", executor), "a", [6.0, 8.0])
    venv.install("0.1.1", "1.0")
    after = _sweep(venv, tmp_path, "b", executor)
    assert (_hits(after, "b"), _peaks(after, "b")) == ([False, False], [9.0, 12.0])


@pytest.mark.parametrize("executor", EXECUTORS)
def test_upgrade_changing_only_metadata_is_still_a_hit(
    venv: Throwaway, tmp_path: Path, executor: str
) -> None:
    """0.1.1 -> 0.1.2 changes only the version and the summary: the same call is a hit of the
    run 0.1.1 executed, with its numbers."""
    venv.install("0.1.1", "1.0")
    first = _sweep(venv, tmp_path, "a", executor)
    _executed(first, "a", [9.0, 12.0])
    venv.install("0.1.2", "1.0")
    after = _sweep(venv, tmp_path, "b", executor)
    assert _hits(after, "b") == [True, True]
    assert _sources(after, "b") == _run_ids(first, "a")
    assert _peaks(after, "b") == [9.0, 12.0]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_other_distribution_upgrade_is_a_hit_that_says_so(
    venv: Throwaway, tmp_path: Path, executor: str
) -> None:
    """Every run records the versions of the distributions its model used (on the worker that
    ran it). Upgrading ``epidemic-params`` 1.0 -> 2.0 keeps the key: by default the call is a
    hit with the recorded numbers, its outcome names the change, and one line of
    ``trackyard.EnvironmentChangedWarning`` says it."""
    venv.install("0.1.0", "1.0")
    first = _sweep(venv, tmp_path, "a", executor)
    _executed(first, "a", [6.0, 8.0])
    venv.install("0.1.0", "2.0")
    after = _sweep(venv, tmp_path, "b", executor)
    assert (_hits(after, "b"), _peaks(after, "b")) == ([True, True], [6.0, 8.0])
    assert _sources(after, "b") == _run_ids(first, "a")
    for outcome in _outcomes(after, "b"):
        assert outcome["environment_changed"] == {PARAMS_DIST: ["1.0", "2.0"]}
    messages = _environment_warnings(after)
    assert messages, f"no trackyard.EnvironmentChangedWarning; warnings: {after['warnings']}"
    for message in messages:
        assert "\n" not in message.strip(), message
        for part in (PARAMS_DIST, "1.0", "2.0", "environment"):
            assert part in message, (part, message)
    for outcome in _outcomes(first, "a"):
        recorded = outcome["recorded_environment"]
        assert isinstance(recorded, dict), (
            f"run {outcome['run_id']} records no meta.trackyard.deps.environment: {recorded!r}"
        )
        assert recorded.get(PARAMS_DIST) == "1.0", recorded
        assert "trackyard-epidemic" not in recorded  # the model's own distribution is code


def test_environment_changed_warning_is_a_public_user_warning() -> None:
    """The warning class is public API: ``trackyard.EnvironmentChangedWarning``, a UserWarning
    (so the default filters show it, and users can filter it by class)."""
    import trackyard

    assert issubclass(trackyard.EnvironmentChangedWarning, UserWarning)
    assert "EnvironmentChangedWarning" in trackyard.__all__


def test_unchanged_environment_is_a_plain_hit(venv: Throwaway, tmp_path: Path) -> None:
    """Nothing upgraded: the hit's ``environment_changed`` is empty and nothing is warned."""
    venv.install("0.1.0", "1.0")
    first = _sweep(venv, tmp_path, "a")
    _executed(first, "a", [6.0, 8.0])
    again = _sweep(venv, tmp_path, "b")
    assert _hits(again, "b") == [True, True]
    assert _sources(again, "b") == _run_ids(first, "a")
    assert [o["environment_changed"] for o in _outcomes(again, "b")] == [{}, {}]
    assert _environment_warnings(again) == []


# (how the setting is given, its value) -> options, environment, pyproject.toml text
SETTINGS: dict[str, tuple[dict[str, Any], dict[str, str], str | None]] = {
    "environment-rerun": ({}, {"TRACKYARD_ON_ENVIRONMENT_CHANGE": "rerun"}, None),
    "keyword-rerun": ({"on_environment_change": "rerun"}, {}, None),
    # The keyword wins over the environment, as for every setting.
    "keyword-serve": (
        {"on_environment_change": "serve"},
        {"TRACKYARD_ON_ENVIRONMENT_CHANGE": "rerun"},
        None,
    ),
    "pyproject-serve": ({}, {}, '[tool.trackyard]\non_environment_change = "serve"\n'),
}


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_on_environment_change_setting(venv: Throwaway, tmp_path: Path, setting: str) -> None:
    """``rerun``: after ``epidemic-params`` 1.0 -> 2.0 the call executes with 2.0 (and records
    it); ``serve``: a hit with the recorded numbers, no warning, the change still on the
    outcome. Given as a keyword, an environment variable or in ``[tool.trackyard]``."""
    options, env, pyproject = SETTINGS[setting]
    venv.install("0.1.0", "1.0")
    first = _sweep(venv, tmp_path, "a")
    _executed(first, "a", [6.0, 8.0])
    venv.install("0.1.0", "2.0")
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    after = _sweep(venv, tmp_path, "b", options=options, env=env)
    if setting.endswith("rerun"):
        _executed(after, "b", [12.0, 16.0])
        for outcome in _outcomes(after, "b"):
            assert (outcome["recorded_environment"] or {}).get(PARAMS_DIST) == "2.0", outcome
    else:
        assert (_hits(after, "b"), _peaks(after, "b")) == ([True, True], [6.0, 8.0])
        assert _sources(after, "b") == _run_ids(first, "a")
        for outcome in _outcomes(after, "b"):
            assert outcome["environment_changed"] == {PARAMS_DIST: ["1.0", "2.0"]}
        assert _environment_warnings(after) == []
