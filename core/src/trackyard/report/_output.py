"""Where a report may be written: never into the workspace's store or run folder, never over a
file trackyard did not write (unless forced), never onto something that is not a file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from trackyard._layout import SHARDS_DIR, SOURCES_DIR
from trackyard.errors import ConfigValidationError
from trackyard.settings import Settings

__all__ = ["GENERATOR", "check_output"]

# In the <head> of every report: how a later `trackyard report` knows it may replace the file.
GENERATOR = '<meta name="generator" content="trackyard report">'
_OLD_HEAD = '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>trackyard report'


def _protected(settings: Settings) -> list[tuple[Path, str]]:
    """The workspace's own files: (path, what it is); a path inside one of them is refused."""
    ws = settings.workspace.resolve()
    return [
        (settings.run_dir.resolve(), "run folder (its snapshots rebuild the store)"),
        (ws / SHARDS_DIR, "sweep shards"),
        (ws / SOURCES_DIR, "recorded sources"),
    ]


def _inside_store(path: Path, settings: Settings) -> str | None:
    """What of the workspace ``path`` (resolved) would overwrite, or None."""
    db = settings.db_path.resolve()
    if path.parent == db.parent and path.name.startswith(db.name):
        return "store" if path == db else "store files"
    for folder, what in _protected(settings):
        if path == folder or folder in path.parents:
            return what
    return None


def _is_trackyard_report(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(512).decode("utf-8", "replace")
    except OSError:
        return False
    return GENERATOR in head or head.startswith(_OLD_HEAD)


def check_output(output: Path, settings: Settings, *, force: bool) -> Path:
    """The absolute path to write the report to, or ConfigValidationError saying why not."""
    path = Path(output).absolute()
    real = path.resolve()
    what = _inside_store(real, settings)
    if what is not None:
        raise ConfigValidationError(
            f"refusing to write the report to {real}: it is inside workspace "
            f"{settings.workspace}'s {what}; choose another --output"
        )
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise ConfigValidationError(
            f"cannot check the report file {path}: {exc.strerror}; choose another --output"
        ) from exc
    if not stat.S_ISREG(mode):
        raise ConfigValidationError(
            f"refusing to write the report to {path}: it is not a regular file; choose "
            "another --output"
        )
    if not force and not _is_trackyard_report(path):
        raise ConfigValidationError(
            f"refusing to overwrite {path}: it is not a report written by trackyard; pass "
            "--force to replace it, or choose another --output"
        )
    return path
