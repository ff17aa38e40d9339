"""Dask workers that cannot see the workspace: each task runs in a worker-local scratch
workspace and ships its results back as data.

A Dask task first looks for its sweep's driver file (``<workspace>/shards/<sweep>/driver.pid``).
A worker that sees it runs the task on a shard in the shared sweep folder, as before
(``trackyard._shards.execute``). A worker that does not (another machine, a container, a
pod) runs it here:

* whether the sweep is still wanted is asked of Dask, not of a file: the driver holds a
  ``distributed.Event`` set for as long as it collects the sweep (``still_wanted``);
* the task records into a fresh shard under the worker's scratch folder
  (``TRACKYARD_WORKER_SCRATCH``, else ``<worker local directory>/trackyard``), with its own
  ``runs/`` folder, never touching the driver's paths;
* it returns a ``Shipment``: the shard (compressed) and every file the run wrote, each
  named by its SHA-256. Files up to ``INLINE_BYTES`` travel in the result; larger ones stay
  on the worker and the driver reads them in ``CHUNK_BYTES`` pieces (``read_chunk``), so
  the driver never holds a large output whole. The driver (``_transfer``) checks every byte
  before anything reaches its store.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import os
import shutil
import socket
import tempfile
import uuid
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trackyard import _shards
from trackyard._consist.session import batch
from trackyard._consist.tracker import consist_version
from trackyard._layout import DRIVER_FILE, RUNS_DIR, TEMPLATE_DB, WAL_SUFFIX
from trackyard._model import in_parallel_worker, resolve_callable
from trackyard._placing import InputFile, localise
from trackyard._store import schema_marker
from trackyard._tree import file_digest

SCRATCH_ENV = "TRACKYARD_WORKER_SCRATCH"
INLINE_BYTES = 4 * 1024 * 1024  # a file up to this size travels inside the task's result,
INLINE_TOTAL = 16 * 1024 * 1024  # as long as the result's inline files stay under this
CHUNK_BYTES = 8 * 1024 * 1024  # larger files are read back in pieces of this size
SHARD_FILE = "shard.duckdb"
WORKSPACE = "ws"


@dataclass(frozen=True)
class Blob:
    """One file a run wrote: its path in the worker's workspace (``/``-separated), SHA-256,
    size, and its bytes when it travels inline (``None``: read it with ``read_chunk``)."""

    path: str
    sha256: str
    size: int
    data: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Shipment:
    """What a task run on a worker without the workspace sends back."""

    shard: bytes = field(repr=False)  # the shard DuckDB file, zlib-compressed
    files: tuple[Blob, ...]
    worker: str  # the Dask worker's address (where large files wait)
    folder: str  # the task's scratch folder on that worker
    run_dir: str  # the worker's run folder: outcome paths under it map to the driver's


def event_name(sweep: Path) -> str:
    """The name of the Dask event that says a sweep is still wanted."""
    return f"trackyard-sweep-{sweep.name}"


def sees_sweep(task: _shards.Task) -> bool:
    """Whether this worker sees the task's sweep folder (the driver's workspace)."""
    return (Path(task.sweep_dir) / DRIVER_FILE).is_file()


@dataclass(frozen=True)
class Template:
    """The driver's initialised empty store (compressed) and its schema marker's text."""

    marker: str
    data: bytes = field(repr=False)

    @classmethod
    def of(cls, path: Path) -> Template | None:
        if not _shards.template_is_current(path):
            return None
        marker = schema_marker(path).read_text(encoding="utf-8")
        return cls(marker, zlib.compress(path.read_bytes(), 1))


def execute(
    task: _shards.Task,
    files: Mapping[str, InputFile] | None = None,
    inputs: Mapping[str, bytes] | None = None,
    template: Template | None = None,
) -> _shards.Done:
    """A Dask task: on the shared sweep folder when this worker sees it, else here
    (``files``: each driver input path's content, files and folders; ``inputs``: those
    contents' bytes (a folder's as a ``_tree`` archive);
    ``template``: the driver's empty store, copied instead of making one)."""
    if sees_sweep(task):
        return _shards.execute(task)
    if not still_wanted(event_name(Path(task.sweep_dir))):
        return _shards.Done(task.name, "", None, "not run: its sweep has ended (driver gone)")
    return execute_here(task, files or {}, inputs or {}, template)


def still_wanted(name: str) -> bool:
    """Whether the driver still holds the sweep's event (it clears it when it lets go)."""
    from distributed import Event

    try:
        return bool(Event(name).is_set())  # type: ignore[no-untyped-call]
    except Exception:  # no scheduler to ask: nobody wants it
        return False


def scratch_root() -> Path:
    """Where this worker keeps task workspaces: ``TRACKYARD_WORKER_SCRATCH``, else the Dask
    worker's local directory, else the temporary folder."""
    configured = os.environ.get(SCRATCH_ENV)
    if configured:
        return Path(configured)
    try:
        from distributed import get_worker

        return Path(get_worker().local_directory) / "trackyard"
    except ValueError:  # not in a Dask worker
        return Path(tempfile.gettempdir()) / "trackyard-worker"


def missing_model(reference: str) -> str | None:
    """Why this worker cannot import the model ``module:function``, and how to provide it."""
    module = reference.partition(":")[0]
    try:
        importlib.import_module(module)
    except ImportError as exc:
        return (
            f"ModuleNotFoundError: Dask worker {socket.gethostname()} cannot import the model's "
            f"module {module!r} ({exc}); give every worker the driver's environment (the same "
            f"image or virtualenv), or ship it: client.upload_file('{module.replace('.', '/')}"
            ".py') for one module, or the distributed.diagnostics.plugin.PipInstall worker "
            "plugin for a package"
        )
    return None


def execute_here(
    task: _shards.Task,
    files: Mapping[str, InputFile],
    inputs: Mapping[str, bytes],
    shipped: Template | None = None,
) -> _shards.Done:
    """Run the task in a scratch workspace of its own and pack what it wrote."""
    missing = missing_model(task.fn)
    if missing is not None:
        return _shards.Done(task.name, "", None, missing)
    _shards.check_plugin_set(task.fingerprint)
    root = scratch_root()
    here = localise(
        {"config": task.config, "inputs": task.inputs, "options": task.options}, files, inputs, root
    )
    task = dataclasses.replace(task, options=here["options"])
    folder = root / Path(task.sweep_dir).name / f"{task.name}-{uuid.uuid4().hex[:8]}"
    workspace = folder / WORKSPACE
    (workspace / RUNS_DIR).mkdir(parents=True)
    shard = folder / SHARD_FILE
    template = _template(task, root, shipped)
    shutil.copyfile(template, shard)
    shutil.copyfile(schema_marker(template), schema_marker(shard))
    options = {**task.options, "workspace": workspace, "run_dir": workspace / RUNS_DIR}
    tracker = task.build(task.domain, db_path=shard, **options)
    outcome, error = None, None
    try:
        with batch(tracker.consist), in_parallel_worker(task.executor):
            fn = resolve_callable(task.fn)
            ran = tracker.run(fn, name=task.name, config=here["config"], inputs=here["inputs"])
        outcome = dataclasses.replace(ran, result=None)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    del tracker
    shipment = pack(folder, workspace, shard)
    return _shards.Done(task.name, "", outcome, error, shipment)


def _template(task: _shards.Task, root: Path, shipped: Template | None) -> Path:
    """This worker's initialised empty store, to copy: the driver's when it was made by this
    worker's consist version, else one made here (once per consist version)."""
    template = root / f"{consist_version()}-{TEMPLATE_DB}"
    if _shards.template_is_current(template):
        return template
    root.mkdir(parents=True, exist_ok=True)
    temporary = root / f".{uuid.uuid4().hex[:8]}-{TEMPLATE_DB}"
    if shipped is not None and shipped.marker.strip() == consist_version():
        temporary.write_bytes(zlib.decompress(shipped.data))
        schema_marker(temporary).write_text(shipped.marker, encoding="utf-8")
        os.replace(schema_marker(temporary), schema_marker(template))
        os.replace(temporary, template)
        return template
    with tempfile.TemporaryDirectory(dir=root) as empty:
        options = {**task.options, "workspace": Path(empty), "run_dir": Path(empty)}
        task.build(task.domain, db_path=temporary, **options)
    Path(f"{temporary}{WAL_SUFFIX}").unlink(missing_ok=True)
    os.replace(schema_marker(temporary), schema_marker(template))
    os.replace(temporary, template)
    return template


def pack(folder: Path, workspace: Path, shard: Path) -> Shipment:
    """The shard and every file under ``workspace``; small files inline (up to
    ``INLINE_TOTAL`` in all), the others left for ``read_chunk``. The scratch folder
    is removed when everything went inline."""
    budget = INLINE_TOTAL
    blobs: list[Blob] = []
    for path in _files(workspace):
        blobs.append(_blob(path, workspace, inline=path.stat().st_size <= budget))
        budget -= len(blobs[-1].data or b"")
    Path(f"{shard}{WAL_SUFFIX}").unlink(missing_ok=True)
    shipment = Shipment(
        shard=zlib.compress(shard.read_bytes(), 1),
        files=tuple(blobs),
        worker=_worker_address(),
        folder=str(folder),
        run_dir=str(workspace / RUNS_DIR),
    )
    if all(b.data is not None for b in blobs):
        shutil.rmtree(folder, ignore_errors=True)
    return shipment


def _files(workspace: Path) -> Iterator[Path]:
    for path in sorted(workspace.rglob("*")):
        if path.is_file():
            yield path


def _blob(path: Path, workspace: Path, *, inline: bool) -> Blob:
    size = path.stat().st_size
    relative = path.relative_to(workspace).as_posix()
    if inline and size <= INLINE_BYTES:
        data = path.read_bytes()
        return Blob(relative, hashlib.sha256(data).hexdigest(), size, data)
    return Blob(relative, file_digest(path), size)


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except ValueError:
        return ""


def read_chunk(folder: str, path: str, offset: int, size: int) -> bytes:
    """``size`` bytes at ``offset`` of a file a task left on this worker (run on that worker)."""
    with (Path(folder) / WORKSPACE / path).open("rb") as handle:
        handle.seek(offset)
        return handle.read(size)


def drop_scratch(folder: str) -> None:
    """Remove a task's scratch folder once the driver has taken its files."""
    shutil.rmtree(folder, ignore_errors=True)


def hold_sweep(client: Any, sweep: Path) -> Any:
    """The driver's ``distributed.Event`` for ``sweep``, set: workers without the workspace
    run its tasks only while it is set (the driver clears it when it lets go of the sweep)."""
    from distributed import Event

    event = Event(event_name(sweep), client=client)  # type: ignore[no-untyped-call]
    event.set()  # type: ignore[no-untyped-call]
    return event


def sees(path: str) -> bool:
    """Run on every worker by the driver: whether this worker sees ``path``."""
    return Path(path).is_file()
