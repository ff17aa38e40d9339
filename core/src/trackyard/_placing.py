"""The worker side of shipped inputs: put each driver file or folder a task needs on this
worker, where the run finds it.

A path is part of a run's cache key, so a shipped input is put at the **driver's own path**
when this worker can hold it there: the run then keys exactly as on the driver, and the next
sweep finds it in cache. A path this worker already has with other content is left alone
(it is this machine's, not ours) unless trackyard put it there itself for an earlier content
(the register under ``<scratch>/inputs/placed.json`` says which), in which case the new
content replaces it (an edited input reaches the workers). When the driver's path cannot be
used, the run reads the worker's copy under ``<scratch>/inputs/<sha256>/<name>``: its result
is right, but keyed on the copy's path.

Placing is serialised on a worker by a lock file beside the register (several Dask worker
processes may share one scratch folder) and, within a process, by a thread lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trackyard._tree import file_digest, tree_digest, unpack_tree

REGISTER = "placed.json"
_LOCK = threading.Lock()


@dataclass(frozen=True)
class InputFile:
    """A driver file (``kind="file"``) or folder (``"dir"``) a task needs, by content: the
    worker finds its copy by ``sha256`` (a folder's ``_tree.tree_digest``)."""

    name: str
    sha256: str
    kind: str = "file"


def digest(path: Path, kind: str) -> str:
    """The content digest of a file or a folder."""
    return tree_digest(path) if kind == "dir" else file_digest(path)


def localise(
    values: Mapping[str, Any], files: Mapping[str, InputFile], data: Mapping[str, bytes],
    root: Path,
) -> dict[str, Any]:  # fmt: skip
    """``values`` with every shipped driver path (at any depth of lists, tuples and dicts)
    replaced by where this worker holds its content (see the module's docstring)."""
    placed = place_all(files, data, root)

    def swap(value: Any) -> Any:
        if isinstance(value, Path):
            return placed.get(str(value), value)
        if isinstance(value, Mapping):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(swap(v) for v in value)
        return value

    return {k: swap(v) for k, v in values.items()}


def place_all(
    files: Mapping[str, InputFile], data: Mapping[str, bytes], root: Path
) -> dict[str, Path]:
    """Each shipped driver path and where its content is on this worker."""
    placed: dict[str, Path] = {}
    with _placing(root) as register:
        for path, file in files.items():
            if file.sha256 in data:
                copy = _copy(root, file, data[file.sha256])
                placed[path] = _here(Path(path), copy, file, register)
    return placed


@contextlib.contextmanager
def _placing(root: Path) -> Iterator[dict[str, str]]:
    """The register of paths trackyard put on this worker, under the worker's locks; written
    back (atomically) when the block ends."""
    folder = root / "inputs"
    folder.mkdir(parents=True, exist_ok=True)
    with _LOCK, (folder / ".lock").open("a") as lock:
        with contextlib.suppress(ImportError):  # not on Windows: the thread lock only
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
        path = folder / REGISTER
        register: dict[str, str] = {}
        with contextlib.suppress(OSError, ValueError):
            register = dict(json.loads(path.read_text(encoding="utf-8")))
        before = dict(register)
        yield register
        if register != before:
            temporary = folder / f".{uuid.uuid4().hex[:8]}-{REGISTER}"
            temporary.write_text(json.dumps(register), encoding="utf-8")
            os.replace(temporary, path)


def _here(path: Path, copy: Path, file: InputFile, register: dict[str, str]) -> Path:
    """The driver's ``path`` when it holds (or can be given) this content, else ``copy``."""
    try:
        if path.exists() or path.is_symlink():
            found = digest(path, file.kind)  # a folder's is a walk and a hash of every file
            if found == file.sha256:
                return path
            if register.get(str(path)) != found:
                return copy  # not ours, or changed since we put it: leave it alone
        _put(copy, path, file.kind)
        register[str(path)] = file.sha256
        return path
    except OSError:
        return copy


def _put(copy: Path, path: Path, kind: str) -> None:
    """Copy ``copy`` to ``path`` (replacing what trackyard put there before), so that a
    reader never sees it half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{uuid.uuid4().hex[:8]}-{path.name}")
    if kind == "dir":
        shutil.copytree(copy, temporary)
        if path.exists():
            old = path.with_name(f".{uuid.uuid4().hex[:8]}-old-{path.name}")
            os.replace(path, old)
            shutil.rmtree(old, ignore_errors=True)
    else:
        shutil.copyfile(copy, temporary)
    os.replace(temporary, path)


def _copy(root: Path, file: InputFile, data: bytes) -> Path:
    """``<scratch>/inputs/<sha>/<name>``: this worker's copy of a driver file or folder,
    written once."""
    path = root / "inputs" / file.sha256 / file.name
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{uuid.uuid4().hex[:8]}-{file.name}")
    if file.kind == "dir":
        unpack_tree(data, temporary)
    else:
        temporary.write_bytes(data)
    os.replace(temporary, path)
    return path
