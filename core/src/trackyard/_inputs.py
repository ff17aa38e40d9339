"""Input files and folders for Dask workers without the workspace, shipped once per content.

A task may need files and folders of the driver's machine: config ``Path``s and named inputs
(``inputs=``), at any depth of lists and dicts; the tracker's options that are paths (a
domain's configuration folder, a targets file: the plugin builds its identity inputs from
them); and the driver's wiring's identity inputs and code dependencies. When some worker of
the cluster cannot see the driver's workspace, the driver reads each once per content
(a file's SHA-256, a folder's ``_tree.tree_digest``), scatters its bytes to the cluster once
(a folder as one archive), and gives each task a map from the driver's path to the content's
``InputFile``; the worker puts each content on its side (``_placing``). When every worker
sees the workspace, nothing is shipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from trackyard import _remote, _shards
from trackyard._layout import DRIVER_FILE, TEMPLATE_DB
from trackyard._placing import InputFile, digest
from trackyard._tree import pack_tree

# Options every tracker has whose paths are the worker's own, never shipped.
OWN_OPTIONS = ("workspace", "run_dir")


def all_see(client: Any, sweep: Path) -> bool:
    """Whether every worker of the cluster sees the driver's sweep folder."""
    seen = client.run(_remote.sees, str(sweep / DRIVER_FILE))
    return bool(seen) and all(seen.values())


class Shipper:
    """Scatters each input content once; gives each task its files' content map.

    ``wired``: paths every run reads whatever its config (the driver's identity inputs and
    code dependencies)."""

    def __init__(self, client: Any, sweep: Path, wired: Iterable[Path] = ()) -> None:
        self._client = client
        self._shipping = not all_see(client, sweep)
        self._futures: dict[str, Any] = {}
        self._by_path: dict[str, InputFile] = {}
        self._template: Any = None
        self._wired = tuple(wired)
        if self._shipping:  # the driver's empty store: workers copy it instead of making one
            self._template = client.scatter(_remote.Template.of(sweep.parent / TEMPLATE_DB))

    def task(self, task: _shards.Task) -> tuple[Any, ...]:
        """The arguments of ``_remote.execute`` for ``task``."""
        if not self._shipping:
            return (task,)
        files = {str(p): self._ship(p) for p in {*_paths(task), *self._wired}}
        blobs = {f.sha256: self._futures[f.sha256] for f in files.values()}
        return (task, files, blobs, self._template)

    def _ship(self, path: Path) -> InputFile:
        known = self._by_path.get(str(path))
        if known is not None:
            return known
        kind = "dir" if path.is_dir() else "file"
        file = InputFile(path.name, digest(path, kind), kind)
        if file.sha256 not in self._futures:
            data = pack_tree(path) if kind == "dir" else path.read_bytes()
            self._futures[file.sha256] = self._client.scatter(data, hash=False)
        self._by_path[str(path)] = file
        return file


def _paths(task: _shards.Task) -> Iterator[Path]:
    options = {k: v for k, v in task.options.items() if k not in OWN_OPTIONS}
    yield from _existing([task.config, task.inputs or {}, options])


def _existing(value: Any) -> Iterator[Path]:
    """Every path to an existing file or folder in ``value``, at any depth."""
    if isinstance(value, Path):
        if value.is_file() or value.is_dir():
            yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _existing(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _existing(item)
