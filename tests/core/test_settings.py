"""Settings resolution: keywords > environment > pyproject.toml > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackyard import Registry
from trackyard.errors import ConfigValidationError


def test_defaults_put_the_workspace_in_the_current_folder(workdir: Path) -> None:
    """With nothing configured the workspace is ./.trackyard with runs/ and provenance.duckdb."""
    settings = Registry().get_tracker("calibration").settings
    assert settings.workspace == workdir / ".trackyard"
    assert settings.db_path == workdir / ".trackyard" / "provenance.duckdb"
    assert settings.run_dir == workdir / ".trackyard" / "runs"
    assert settings.sources["workspace"] == "default"
    assert (workdir / ".trackyard" / "provenance.duckdb").is_file()


def test_precedence_keyword_environment_domain_table_project_table(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each layer overrides the ones below it, and sources say where each value came from."""
    (workdir / "pyproject.toml").write_text(
        "[tool.trackyard]\n"
        'workspace = "from-project"\n'
        "cache_epoch = 3\n"
        "[tool.trackyard.domains.calibration]\n"
        'db_path = "domain.duckdb"\n'
        'config_dir = "cfg"\n'
    )
    (workdir / "cfg").mkdir()
    (workdir / "cfg" / "targets.json").write_text(
        '{"mode_shares": {"car": 1, "transit": 0, "walk": 0}}'
    )
    registry = Registry()
    settings = registry.get_tracker("calibration").settings
    project = f"{workdir / 'pyproject.toml'}"
    assert settings.workspace == workdir / "from-project"
    assert settings.sources["workspace"] == f"{project} [tool.trackyard]"
    assert settings.db_path == workdir / "domain.duckdb"
    assert settings.sources["db_path"] == f"{project} [tool.trackyard.domains.calibration]"
    assert settings.cache_epoch == 3
    assert settings.options.config_dir == workdir / "cfg"

    monkeypatch.setenv("TRACKYARD_WORKSPACE", str(workdir / "from-env"))
    monkeypatch.setenv("TRACKYARD_CACHE_EPOCH", "4")
    settings = Registry().get_tracker("calibration").settings
    assert settings.workspace == workdir / "from-env"
    assert settings.sources["workspace"] == "environment TRACKYARD_WORKSPACE"
    assert settings.cache_epoch == 4

    settings = (
        Registry().get_tracker("calibration", workspace=workdir / "kw", cache_epoch=5).settings
    )
    assert settings.workspace == workdir / "kw"
    assert settings.sources["workspace"] == "keyword"
    assert settings.cache_epoch == 5
    assert settings.db_path == workdir / "domain.duckdb"


def test_unknown_option_names_it_and_the_valid_ones(workdir: Path) -> None:
    """A misspelt option is a ConfigValidationError listing every valid option."""
    with pytest.raises(ConfigValidationError) as info:
        Registry().get_tracker("calibration", config_dri="x")
    assert str(info.value) == (
        "unknown option 'config_dri' for domain 'calibration' (from keyword); valid options: "
        "cache_epoch, config_dir, db_path, model, on_environment_change, run_dir, "
        "strict_inputs, targets, workspace"
    )
    assert isinstance(info.value, ValueError)


def test_unknown_option_in_pyproject_names_the_file(workdir: Path) -> None:
    """An unknown key in [tool.trackyard.domains.<name>] names the file and table."""
    (workdir / "pyproject.toml").write_text("[tool.trackyard.domains.calibration]\ncolour = 1\n")
    with pytest.raises(
        ConfigValidationError,
        match=r"unknown option 'colour' for domain 'calibration' \(from .*pyproject.toml \[tool.trackyard.domains.calibration\]\)",
    ):
        Registry().get_tracker("calibration")


def test_unknown_top_level_key_in_pyproject(workdir: Path) -> None:
    """An unknown key directly under [tool.trackyard] is refused with the closest key and the
    valid keys."""
    (workdir / "pyproject.toml").write_text("[tool.trackyard]\nworkspcae = 'x'\n")
    with pytest.raises(
        ConfigValidationError,
        match=r"\[tool.trackyard\] unknown key 'workspcae'; did you mean 'workspace'\? valid "
        r"keys: workspace,",
    ):
        Registry().get_tracker("calibration")


def test_wrongly_typed_option(workdir: Path) -> None:
    """An option of the wrong type names the option, the expected type and the source."""
    with pytest.raises(
        ConfigValidationError,
        match=r"cache_epoch must be a positive integer, got 'soon' \(from keyword\)",
    ):
        Registry().get_tracker("calibration", cache_epoch="soon")


def test_workspace_that_is_a_file_is_refused(workdir: Path) -> None:
    """A workspace path naming a file is refused before anything is created."""
    (workdir / "file").write_text("not a folder")
    with pytest.raises(ConfigValidationError, match=r"workspace .*file is a file, not a folder"):
        Registry().get_tracker("calibration", workspace=workdir / "file")


def test_db_path_that_is_a_folder_is_refused(workdir: Path) -> None:
    """A db_path naming a folder is refused with the fix."""
    (workdir / "db").mkdir()
    with pytest.raises(ConfigValidationError, match="is a folder; point db_path at a .duckdb file"):
        Registry().get_tracker("calibration", db_path=workdir / "db")


def test_run_policies_are_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """strict_inputs and on_environment_change come from keywords or the environment, and a
    bad value names the setting, the valid values and where it came from."""
    monkeypatch.setenv("TRACKYARD_STRICT_INPUTS", "yes")
    monkeypatch.setenv("TRACKYARD_ON_ENVIRONMENT_CHANGE", "RERUN")
    settings = Registry().get_tracker("calibration").settings
    assert (settings.strict_inputs, settings.on_environment_change) == (True, "rerun")
    assert settings.sources["strict_inputs"] == "environment TRACKYARD_STRICT_INPUTS"
    monkeypatch.setenv("TRACKYARD_ON_ENVIRONMENT_CHANGE", "ignore")
    with pytest.raises(ConfigValidationError) as info:
        Registry().get_tracker("calibration")
    assert str(info.value) == (
        "on_environment_change must be one of serve, warn, rerun, got 'ignore' "
        "(from environment TRACKYARD_ON_ENVIRONMENT_CHANGE)"
    )
    with pytest.raises(ConfigValidationError) as info:
        Registry().get_tracker("calibration", on_environment_change="warn", strict_inputs="maybe")
    assert str(info.value) == "strict_inputs must be true or false, got 'maybe' (from keyword)"
