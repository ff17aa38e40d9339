"""Deep nesting on the command line is refused while parsing, with a ConfigValidationError
naming where, never a RecursionError (issue 24, item 10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .._console import run_trackyard, user_env

EVALUATE = ["run", "calibration", "evaluate", "-w", "ws", "--set", "run_name=deep"]
DEEP = 50_000
DEEP_OBJECTS = 20_000  # one argument may be at most 128 KiB


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (["--set", "config=" + "[" * DEEP + "]" * DEEP], "--set config"),
        (["--set", "config=" + '{"a":' * DEEP_OBJECTS + "1" + "}" * DEEP_OBJECTS], "--set config"),
        (["--set", "config=" + "{a=" * DEEP_OBJECTS + "1" + "}" * DEEP_OBJECTS], "--set config"),
        (["--set", "config." + ".".join(["a"] * 5_000) + "=1"], "--set config.a.a.a.a"),
    ],
    ids=["json-lists", "json-objects", "toml-tables", "dotted-key"],
)
def test_deep_set_values_are_refused_while_parsing(
    tmp_path: Path, args: list[str], where: str
) -> None:
    """A 50,000-deep value or a 5,000-level dotted key fails in one line naming the --set."""
    proc = run_trackyard(*EVALUATE, *args, cwd=tmp_path, env=user_env(), timeout=120)
    assert proc.returncode == 1
    first = proc.stderr.splitlines()[0]
    assert first.startswith(f"Error: {where}"), first
    assert "is nested deeper than 64 levels (a config may be 32 deep); flatten it" in first
    assert "RecursionError" not in proc.stderr
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize(
    "body",
    ["config = " + "[" * DEEP + "]" * DEEP, "[" + ".".join(["a"] * 5_000) + "]\nx = 1"],
    ids=["arrays", "table-header"],
)
def test_a_deep_config_file_is_refused_while_parsing(tmp_path: Path, body: str) -> None:
    """A deep TOML `--config` is refused naming the file."""
    deep = tmp_path / "deep.toml"
    deep.write_text(body + "\n")
    proc = run_trackyard(*EVALUATE, "--config", str(deep), cwd=tmp_path, env=user_env())
    assert proc.returncode == 1
    first = proc.stderr.splitlines()[0]
    assert first == (
        f"Error: --config file {deep} is nested deeper than 64 levels (a config may be 32 "
        "deep); flatten it"
    )
    assert not (tmp_path / "ws").exists()
