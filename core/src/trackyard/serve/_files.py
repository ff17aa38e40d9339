"""Which file a download request may get: only a file recorded as one of the run's outputs,
found under the workspace's run folder once every symlink is resolved. Nothing from the request
is joined into a path: the request only names a run and one of its recorded output keys."""

from __future__ import annotations

from pathlib import Path

from trackyard.report._data import RunRecord


def output_file(record: RunRecord, key: str, run_dir: Path) -> Path | None:
    """The file of output ``key`` of ``record``, or None (not an output, missing, not a regular
    file, or outside ``run_dir`` once resolved)."""
    recorded = record.outputs.get(key)
    if recorded is None:
        return None
    try:
        real = recorded.resolve(strict=True)
        root = run_dir.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not real.is_relative_to(root) or not real.is_file():
        return None
    return real
