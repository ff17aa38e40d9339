"""Input files for Dask workers without the workspace, shipped once per content.

A config ``Path`` or a named input (``inputs=``) is a file on the driver. When some worker of
the cluster cannot see the driver's workspace, the driver reads each such file once per
SHA-256, scatters its bytes to the cluster once, and gives each task a map from the driver's
path to the content's ``InputFile``; the worker writes each content
once under its scratch folder and runs the task on that copy (``_remote.localise``). When every
worker sees the workspace, nothing is shipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trackyard import _remote, _shards
from trackyard._layout import DRIVER_FILE, TEMPLATE_DB


def all_see(client: Any, sweep: Path) -> bool:
    """Whether every worker of the cluster sees the driver's sweep folder."""
    seen = client.run(_remote.sees, str(sweep / DRIVER_FILE))
    return bool(seen) and all(seen.values())


class Shipper:
    """Scatters each input content once; gives each task its files' content map."""

    def __init__(self, client: Any, sweep: Path) -> None:
        self._client = client
        self._shipping = not all_see(client, sweep)
        self._futures: dict[str, Any] = {}
        self._by_path: dict[str, _remote.InputFile] = {}
        self._template: Any = None
        if self._shipping:  # the driver's empty store: workers copy it instead of making one
            self._template = client.scatter(_remote.Template.of(sweep.parent / TEMPLATE_DB))

    def task(self, task: _shards.Task) -> tuple[Any, ...]:
        """The arguments of ``_remote.execute`` for ``task``."""
        if not self._shipping:
            return (task,)
        files = {str(p): self._ship(p) for p in _paths(task)}
        blobs = {f.sha256: self._futures[f.sha256] for f in files.values()}
        return (task, files, blobs, self._template)

    def _ship(self, path: Path) -> _remote.InputFile:
        known = self._by_path.get(str(path))
        if known is not None:
            return known
        data = path.read_bytes()
        file = _remote.InputFile(path.name, hashlib.sha256(data).hexdigest())
        if file.sha256 not in self._futures:
            self._futures[file.sha256] = self._client.scatter(data, hash=False)
        self._by_path[str(path)] = file
        return file


def _paths(task: _shards.Task) -> Iterator[Path]:
    values: list[Any] = [*task.config.values(), *(task.inputs or {}).values()]
    for value in values:
        if isinstance(value, Path) and value.is_file():
            yield value
