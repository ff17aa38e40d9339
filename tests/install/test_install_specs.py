"""How install specs and lock files are understood, before pip is ever run."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackyard.errors import InstallError
from trackyard.installer import install, read_lock, resolve_spec


def test_bare_first_party_name_means_its_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`calibration` installs `trackyard-calibration`; other bare names are distributions."""
    monkeypatch.chdir(tmp_path)
    assert resolve_spec("calibration") == "trackyard-calibration"
    assert resolve_spec("simulation") == "trackyard-simulation"
    assert resolve_spec("acme-transit") == "acme-transit"
    assert resolve_spec("acme-transit>=2") == "acme-transit>=2"


def test_existing_folder_wins_over_a_bare_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder called `calibration` in the current directory is installed as a path."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "calibration").mkdir()
    assert resolve_spec("calibration") == str(tmp_path / "calibration")


def test_missing_path_is_an_error_before_pip_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spec that looks like a path but does not exist is refused, naming it."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InstallError, match=r"no such file or folder: './plugins/acme'"):
        install(["./plugins/acme"])


def test_nothing_to_install_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Calling install with no spec and no file says what to give."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InstallError, match=r"nothing to install; give a SPEC or -r FILE"):
        install([])


def test_read_lock_rejects_a_file_that_is_not_a_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TOML file without the lock's fields is refused with the command that writes one."""
    monkeypatch.chdir(tmp_path)
    bogus = tmp_path / "bogus.toml"
    bogus.write_text('format = 1\n[core]\nname = "trackyard"\n')
    with pytest.raises(InstallError, match=r"is not a trackyard lock .*trackyard plugins export"):
        read_lock(bogus)


def test_a_local_path_with_extras_keeps_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`./epidemic[test]` (what new-plugin prints) is the folder, made absolute, with its
    extras; a missing folder with extras is refused naming the folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "epidemic").mkdir()
    assert resolve_spec("./epidemic[test]") == f"{tmp_path / 'epidemic'}[test]"
    assert resolve_spec("epidemic[test,docs]") == f"{tmp_path / 'epidemic'}[test,docs]"
    assert resolve_spec("acme-transit[fast]>=2") == "acme-transit[fast]>=2"
    with pytest.raises(InstallError, match=r"no such file or folder: './nowhere\[test\]'"):
        install(["./nowhere[test]"])
