"""Config strings that name a file in any form a reader accepts (``~``, ``$VAR``, ``file:`` URIs,
a suffix-less name in the current folder) are refused before anything is written, with the
string as given, the file it resolves to and the fix; from the command line too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import trackyard
from trackyard.errors import ConfigValidationError

from .._console import PLAIN_TERMINAL, run_trackyard, user_env

FIX = (
    "as a plain string, so its content would not be in the cache key and an edited file would "
    "be served the old result; pass it as inputs={'data': path} or as a pathlib.Path in the "
    "config (both hash its content), or list 'data' in Wiring.untracked_config if the model "
    "does not read it"
)


def _trap(ws: Path) -> Any:
    return trackyard.get_tracker("trap", workspace=ws)


def _refused(ws: Path, given: str, resolved: Path) -> None:
    """``given`` as the naive verb's ``data`` is refused naming both forms, before anything
    is written: no run row, no run folder, no snapshot."""
    trap = _trap(ws)
    with pytest.raises(ConfigValidationError) as caught:
        trap.naive(name="n", config={"x": 1, "data": given})
    assert str(caught.value) == (
        f"config value 'data' of run 'n' names the existing file {given!r} (which resolves to "
        f"{str(resolved)!r}) {FIX}"
    )
    assert trap.consist.find_runs() == []
    runs = ws / "runs"
    assert not runs.exists() or [p for p in runs.rglob("*") if p.is_file()] == []


@pytest.fixture
def contacts(ws: Path) -> Path:
    """A data file outside the current folder (the test's tmp folder is the cwd)."""
    folder = ws.parent / "data"
    folder.mkdir()
    path = folder / "contacts.csv"
    path.write_text("a,b\n", encoding="utf-8")
    return path


def test_home_relative_string_is_refused(
    ws: Path, contacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(contacts.parent))
    _refused(ws, "~/contacts.csv", contacts)


@pytest.mark.parametrize("form", ["file://{abs}", "file:{abs}", "file:data/contacts.csv"])
def test_file_uri_string_is_refused(ws: Path, contacts: Path, form: str) -> None:
    _refused(ws, form.format(abs=contacts), contacts)


@pytest.mark.parametrize("form", ["$DATA/contacts.csv", "${DATA}/contacts.csv"])
def test_environment_variable_string_is_refused(
    ws: Path, contacts: Path, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    monkeypatch.setenv("DATA", str(contacts.parent))
    _refused(ws, form, contacts)


def test_suffixless_file_in_the_current_folder_is_refused(ws: Path) -> None:
    (ws.parent / "contacts").write_text("a,b\n", encoding="utf-8")
    _refused(ws, "contacts", ws.parent / "contacts")


def test_plain_absolute_path_message_is_unchanged(ws: Path, contacts: Path) -> None:
    """A string that already is the absolute path is named once."""
    with pytest.raises(ConfigValidationError) as caught:
        _trap(ws).naive(name="n", config={"x": 1, "data": str(contacts)})
    assert str(caught.value) == (
        f"config value 'data' of run 'n' names the existing file {str(contacts)!r} {FIX}"
    )


def test_nested_key_is_named(ws: Path, contacts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA", str(contacts.parent))
    with pytest.raises(ConfigValidationError) as caught:
        _trap(ws).naive(name="n", config={"x": 1, "data": {"sources": ["$DATA/contacts.csv"]}})
    assert str(caught.value).startswith(
        "config value 'data.sources[0]' of run 'n' names the existing file "
        f"'$DATA/contacts.csv' (which resolves to {str(contacts)!r}) as a plain string"
    )


def test_words_that_are_not_files_and_untracked_keys_are_accepted(
    ws: Path, contacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ordinary word, an unset variable, a missing file under ``~``, a folder's bare name
    and a suffix-less file named in an untracked key (``log``) run as before."""
    monkeypatch.setenv("HOME", str(contacts.parent))
    monkeypatch.delenv("NO_SUCH_VARIABLE_18", raising=False)
    (contacts.parent / "sub").mkdir()
    (contacts.parent / "journal").write_text("", encoding="utf-8")
    monkeypatch.chdir(contacts.parent)
    config = {
        "x": 1,
        "mode": "contacts",
        "other": "$NO_SUCH_VARIABLE_18/contacts.csv",
        "missing": "~/missing.csv",
        "where": "sub",
        "log": "journal",
    }
    outcome = _trap(ws).score(name="ok", config=config)
    assert outcome.status == "completed" and not outcome.cache_hit
    assert (contacts.parent / "journal").read_text(encoding="utf-8") == "1\n"


def test_command_line_message_says_how_to_pass_a_file(ws: Path, contacts: Path) -> None:
    """``trackyard run`` names the --set value to type; ``@PATH`` passes the file, keyed."""
    env = user_env(
        {**PLAIN_TERMINAL, "DATA": str(contacts.parent)}, keep=["TRACKYARD_TRUSTED_PATHS"]
    )
    base = (
        "run",
        "trap",
        "naive",
        "--workspace",
        str(ws),
        "--set",
        "name=n",
        "--set",
        "config.x=1",
    )
    refused = run_trackyard(
        *base, "--set", "config.data=file:data/contacts.csv", cwd=ws.parent, env=env
    )
    assert refused.returncode == 1
    assert refused.stderr == (
        "Error: config value 'data' of run 'n' names the existing file 'file:data/contacts.csv' "
        f"(which resolves to {str(contacts)!r}) as a plain string, so its content would not be "
        "in the cache key and an edited file would be served the old result; pass it as a "
        "file with --set config.data=@data/contacts.csv (a value starting with @ is a path, "
        "hashed by content)\n(run with --debug for the traceback)\n"
    )
    assert [p for p in (ws / "runs").rglob("*") if p.is_file()] == []
    passed = run_trackyard(
        *base, "--set", "config.data=@data/contacts.csv", "--json", cwd=ws.parent, env=env
    )
    assert passed.returncode == 0, passed.stderr
    first = json.loads(passed.stdout)
    assert first["cache_hit"] is False
    contacts.write_text("edited\n", encoding="utf-8")
    again = run_trackyard(
        *base, "--set", "config.data=@data/contacts.csv", "--json", cwd=ws.parent, env=env
    )
    assert json.loads(again.stdout)["cache_hit"] is False, "the edited file must run again"
