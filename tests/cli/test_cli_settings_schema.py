"""`[tool.trackyard]` is checked against one schema before anything runs: a wrong type or an
unknown key is a one-line error naming the file, the key, what was expected and what was found
(with "did you mean" for a misspelt key), never a bare TypeError (issue 24, item 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .._console import run_trackyard, user_env

CASES = {
    "workspace = 5": "[tool.trackyard] workspace: expected a string (a path), found integer 5",
    "cache_epoch = '3'": "[tool.trackyard] cache_epoch: expected an integer, found string '3'",
    "strict_inputs = 'maybe'": (
        "[tool.trackyard] strict_inputs: expected a boolean, found string 'maybe'"
    ),
    "providers = 5": "[tool.trackyard] providers: expected a table, found integer 5",
    "[tool.trackyard.providers]\ncalibration = 5": (
        "[tool.trackyard.providers] calibration: expected a string (a distribution), "
        "found integer 5"
    ),
    "[tool.trackyard.domains]\ncalibration = 5": (
        "[tool.trackyard.domains] calibration: expected a table, found integer 5"
    ),
    "[tool.trackyard.plugins]\nallow = 'calibration'": (
        "[tool.trackyard.plugins] allow: expected a list of strings, found string 'calibration'"
    ),
    "[tool.trackyard.plugins]\nstrict = 'yes'": (
        "[tool.trackyard.plugins] strict: expected a boolean, found string 'yes'"
    ),
    "[tool.trackyard.domains.calibration]\ndb_path = [1]": (
        "[tool.trackyard.domains.calibration] db_path: expected a string (a path), found array [1]"
    ),
    "worksapce = 'ws'": (
        "[tool.trackyard] unknown key 'worksapce'; did you mean 'workspace'? valid keys: "
        "workspace, db_path, run_dir, cache_epoch, strict_inputs, on_environment_change, "
        "providers, domains, plugins"
    ),
    "[tool.trackyard.plugins]\ndney = []": (
        "[tool.trackyard.plugins] unknown key 'dney'; did you mean 'deny'? valid keys: "
        "allow, deny, strict"
    ),
}


@pytest.mark.parametrize("body", sorted(CASES))
@pytest.mark.parametrize("command", [["runs", "calibration"], ["report", "-o", "r.html"]])
def test_a_wrong_settings_file_is_one_line_naming_file_key_expected_found(
    tmp_path: Path, body: str, command: list[str]
) -> None:
    """Each wrong value or key in pyproject.toml fails the command before anything is
    written, with the file, the key, what is expected and what was found."""
    pyproject = tmp_path / "pyproject.toml"
    header = "" if body.startswith("[") else "[tool.trackyard]\n"
    pyproject.write_text(header + body + "\n", encoding="utf-8")
    proc = run_trackyard(*command, cwd=tmp_path, env=user_env())
    assert proc.returncode == 1, proc.stdout
    assert proc.stderr.splitlines()[0] == f"Error: {pyproject} {CASES[body]}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]


def test_a_domain_option_of_the_wrong_type_names_the_option_and_file(tmp_path: Path) -> None:
    """`config_dir = 5` (a path option of the calibration domain) is refused when its tracker
    is built, naming the option, the domain, what was found and the file."""
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.trackyard.domains.calibration]\nconfig_dir = 5\n")
    proc = run_trackyard(
        "run", "calibration", "evaluate", "--set", "config={}", cwd=tmp_path, env=user_env()
    )
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == (
        "Error: option 'config_dir' of domain 'calibration' must be a path (a string), got "
        f"integer 5 (from {pyproject} [tool.trackyard.domains.calibration])"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]
