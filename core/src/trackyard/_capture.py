"""What a model really used while it ran, seen with Python's own audit hooks.

:func:`watching` records, for the thread that runs a model, every module imported
(``import`` audit events) and every file opened for reading (``open`` events) while the block
runs. One audit hook is installed per process, the first time this module is imported (audit
hooks cannot be removed); it does nothing outside a watched block but note when a module's
source was loaded (:func:`loaded_stat`), so that code changed on disk after it was imported
is recognised (:mod:`trackyard._provenance` raises ``StaleCodeError``).

What Python cannot see: reads by C extensions that bypass Python's ``open`` (DuckDB,
pyarrow's own readers, netCDF/HDF5 libraries), by subprocesses, and by threads the model
starts; those must be declared (``inputs=``, ``Wiring.code_dependencies``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Capture", "loaded_stat", "watching"]

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


@dataclass
class Capture:
    """What one model run imported, read and wrote (absolute paths, as opened)."""

    thread: int
    modules: set[str] = field(default_factory=set)
    reads: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)


_ACTIVE: dict[int, Capture] = {}
_LOADED: dict[str, tuple[int, int]] = {}  # source file -> (mtime_ns, size) when it was loaded


def _reading(mode: Any, flags: Any) -> bool:
    if isinstance(mode, str):
        return not any(c in mode for c in "wax+")
    return isinstance(flags, int) and not flags & _WRITE_FLAGS


def _note_loaded(path: str) -> None:
    """A module's code is being read: remember its source file's state now."""
    source = path
    if path.endswith(".pyc"):
        folder, name = os.path.split(path)
        if os.path.basename(folder) != "__pycache__":
            return
        source = os.path.join(os.path.dirname(folder), name.split(".", 1)[0] + ".py")
    try:
        st = os.stat(source)
    except OSError:
        return
    _LOADED[os.path.realpath(source)] = (st.st_mtime_ns, st.st_size)


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event == "open":
        path = args[0]
        if not isinstance(path, str):
            return
        if path.endswith((".py", ".pyc")) and sys._getframe(1).f_code.co_name == "get_data":
            _note_loaded(path)  # the import system reading a module's code (not a data read)
            return
        capture = _ACTIVE.get(threading.get_ident())
        if capture is not None:
            reading = _reading(args[1], args[2] if len(args) > 2 else None)
            (capture.reads if reading else capture.writes).add(os.path.abspath(path))
    elif event == "import":
        capture = _ACTIVE.get(threading.get_ident())
        if capture is not None and isinstance(args[0], str):
            capture.modules.add(args[0])


sys.addaudithook(_hook)


def loaded_stat(path: str) -> tuple[int, int] | None:
    """``(mtime_ns, size)`` of source file ``path`` when a module was last loaded from it in
    this process (``None`` when it was loaded before trackyard was imported)."""
    return _LOADED.get(path)


@contextlib.contextmanager
def watching() -> Iterator[Capture]:
    """Record the imports and reads of this thread while the block runs (nested blocks
    share the outer capture)."""
    ident = threading.get_ident()
    outer = _ACTIVE.get(ident)
    if outer is not None:
        yield outer
        return
    capture = _ACTIVE[ident] = Capture(ident)
    try:
        yield capture
    finally:
        del _ACTIVE[ident]
