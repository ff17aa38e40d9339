"""A compressed copy of each keyed source file, once per content hash, in the workspace.

``trackyard why`` and ``trackyard diff`` show a unified diff of a module between two runs;
the old text is gone from disk once the module is edited, so every project module a run
used is kept as ``<workspace>/sources/<sha256[:2]>/<sha256>.gz`` (deduplicated by content:
an unchanged module costs one ``stat`` per run).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from trackyard._layout import SOURCES_DIR

__all__ = ["keep", "load"]

_MAX_BYTES = 2 * 1024 * 1024  # larger files are not source a person diffs
_KEPT: set[tuple[Path, str]] = set()  # copies this process knows exist (a copy is never removed)


def _place(workspace: Path, digest: str) -> Path:
    return workspace / SOURCES_DIR / digest[:2] / f"{digest}.gz"


def keep(workspace: Path, path: Path, digest: str) -> None:
    """Keep a compressed copy of ``path`` (whose sha256 is ``digest``) unless one exists."""
    if (workspace, digest) in _KEPT:
        return
    target = _place(workspace, digest)
    if target.exists():
        _KEPT.add((workspace, digest))
        return
    try:
        data = path.read_bytes()
    except OSError:
        return
    if len(data) > _MAX_BYTES:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(gzip.compress(data, compresslevel=6, mtime=0))
    tmp.replace(target)
    _KEPT.add((workspace, digest))


def load(workspace: Path, digest: str) -> str | None:
    """The text kept for ``digest``, or ``None`` when no copy was kept."""
    try:
        return gzip.decompress(_place(workspace, digest).read_bytes()).decode("utf-8", "replace")
    except (OSError, EOFError):
        return None
