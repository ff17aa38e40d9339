"""What a model really used while it ran, seen with Python's own audit hooks.

``watching`` records, for the thread that runs a model, every module imported
(``import`` audit events) and every file opened for reading (``open`` events) while the block
runs. One audit hook is installed per process, the first time this module is imported (audit
hooks cannot be removed); it does nothing outside a watched block but note when a module's
source was loaded (``loaded_stat``), so that code changed on disk after it was imported
is recognised (``trackyard._deps`` raises ``StaleCodeError``), and a bytecode cache older
than its source, which Python would still load after a same-size edit within one second, is
deleted before it is read.

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

__all__ = ["Capture", "changed_since_loaded", "watching"]

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


@dataclass
class Capture:
    """What one model run imported, read and wrote (absolute paths, as opened)."""

    thread: int
    modules: set[str] = field(default_factory=set)
    reads: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)


_ACTIVE: dict[int, Capture] = {}
# Source file -> (mtime_ns, size, sha256 or "") when a module was loaded from it; the content
# hash is taken for the project's own files (not the interpreter's or installed packages').
_LOADED: dict[str, tuple[int, int, str]] = {}
_INSTALLED = (sys.prefix, sys.base_prefix, sys.exec_prefix)


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
        _drop_stale_bytecode(path, source)
    try:
        st = os.stat(source)
    except OSError:
        return
    real = os.path.realpath(source)
    _LOADED[real] = (st.st_mtime_ns, st.st_size, "" if _installed(real) else _sha256(real))


def _installed(path: str) -> bool:
    return path.startswith(_INSTALLED) or "-packages" in path


def _sha256(path: str) -> str:
    import hashlib

    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return ""


def _drop_stale_bytecode(pyc: str, source: str) -> None:
    """Delete ``pyc`` when Python would load it although its source changed after it was
    written: Python checks a bytecode cache by its source's size and mtime in whole seconds,
    so an edit of the same size within the same second is run as the OLD code. With the file
    gone, the import compiles the source (a hash-based ``.pyc`` is checked by Python)."""
    try:
        src, cached = os.stat(source), os.stat(pyc)
        if cached.st_mtime_ns >= src.st_mtime_ns:
            return
        with open(pyc, "rb") as handle:
            head = handle.read(16)
        flags, mtime, size = (int.from_bytes(head[i : i + 4], "little") for i in (4, 8, 12))
        if flags == 0 and (mtime, size) == (int(src.st_mtime) & 0xFFFFFFFF, src.st_size):
            os.unlink(pyc)
    except OSError:
        return


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


def _check_loaded_bytecode() -> None:
    """Modules loaded before this hook existed, from bytecode older than their source (see
    ``_drop_stale_bytecode``), run old code: mark them so that a run refuses them
    (``StaleCodeError``), and delete that bytecode so the next process compiles the source."""
    for module in list(sys.modules.values()):
        source, cached = getattr(module, "__file__", None), getattr(module, "__cached__", None)
        if not (isinstance(source, str) and isinstance(cached, str)) or _installed(source):
            continue
        if not os.path.exists(cached):
            continue
        _drop_stale_bytecode(cached, source)
        if not os.path.exists(cached):
            _LOADED[os.path.realpath(source)] = STALE


STALE = (-1, -1, "")  # loaded from bytecode older than its source
sys.addaudithook(_hook)
_check_loaded_bytecode()


def changed_since_loaded(path: str) -> bool | None:
    """Whether source file ``path`` differs from what a module was last loaded from in this
    process (``None``: loaded before trackyard was imported, so unknown). A file rewritten with
    the same content (a checkout back and forth, an editor's save) has not changed."""
    loaded = _LOADED.get(path)
    if loaded is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return True
    if (st.st_mtime_ns, st.st_size) == loaded[:2]:
        return False
    if not loaded[2] or _sha256(path) != loaded[2]:
        return True
    _LOADED[path] = (st.st_mtime_ns, st.st_size, loaded[2])  # same content: not stale
    return False


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
