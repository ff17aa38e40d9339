"""Shards: where the workers of a many-run sweep record, and how it reaches the main store.

Each worker (a process, or a thread of a Dask worker) records each task into its own shard
DuckDB file ``<workspace>/shards/<sweep>/<worker>/<run name>-<id>.duckdb``, a copy of an
initialised template; output files go to the main ``runs/`` folder (per-run subfolders),
because consist records output URIs relative to the run folder. The driver merges each shard
into the main store as its task finishes (``Merger``), and merges whatever a killed sweep
left behind before the next sweep starts (``recover``).

Workers check that their plugin set has the driver's fingerprint and fail the task otherwise.

A worker builds its tracker with the builder the task carries (``Task.build``: the
``worker_builder`` the registry gave the driver's tracker, ``trackyard.get_tracker``, a
module-level function pickled by reference), so this module never reaches up to the registry.
The plugin set is read through the public facade (``trackyard.plugin_set_fingerprint``), named
(``FINGERPRINT``) and resolved when first called.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trackyard._consist.merge import Merger, close_interrupted
from trackyard._consist.session import batch
from trackyard._consist.tracker import consist_version
from trackyard._layout import DONE_SUFFIX, DRIVER_FILE, SHARDS_DIR, TEMPLATE_DB, WAL_SUFFIX
from trackyard._model import in_parallel_worker, resolve_callable
from trackyard._outcome import Runner, RunOutcome
from trackyard._store import pid_alive, schema_marker
from trackyard.errors import PluginSetMismatchError

FINGERPRINT = "trackyard:plugin_set_fingerprint"

# --- tasks and the worker side ------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One run for a worker: how to rebuild the tracker (``build(domain, **options)``), the
    model reference, the item."""

    build: Callable[..., Runner]
    domain: str
    options: Mapping[str, Any]
    fn: str  # "module:qualname"
    name: str
    config: Mapping[str, Any]
    inputs: Mapping[str, Any] | None
    fingerprint: str
    sweep_dir: str
    executor: str = "processes"  # or "dask": where the run happens, beside the sweep's others


@dataclass(frozen=True)
class Done:
    """What a worker sends back: the shard it recorded into, and the outcome or the error."""

    name: str
    shard: str  # "" when the task recorded nothing in a shared shard
    outcome: RunOutcome | None
    error: str | None
    shipment: Any = None  # a ``_remote.Shipment``: the task ran where the workspace is not


def worker_options(runner: Runner) -> dict[str, Any]:
    """The keywords that rebuild this tracker's settings in a worker (shard DB aside)."""
    settings = runner.settings
    options = {
        "workspace": settings.workspace,
        "run_dir": settings.run_dir,
        "cache_epoch": settings.cache_epoch,
        "strict_inputs": settings.strict_inputs,
        "on_environment_change": settings.on_environment_change,
    }
    if dataclasses.is_dataclass(settings.options):
        for f in dataclasses.fields(settings.options):
            options[f.name] = getattr(settings.options, f.name)
    return options


def plugin_set_fingerprint() -> str:
    """The installed plugin set's fingerprint, as ``trackyard.plugin_set_fingerprint`` says."""
    return str(resolve_callable(FINGERPRINT)())


def execute(task: Task) -> Done:
    """Run one config in a worker (module-level, so processes and Dask can pickle it).

    A task whose sweep has ended (its driver died, or its folder is gone) is not run: a Dask
    worker may still hold queued tasks of a client that disappeared. The shard is marked done
    (``<shard>.done``) once the run has ended and the tracker let go of it, so recovery can
    merge it while the worker process (a Dask worker lives on) is still alive.
    """
    ended = sweep_ended(Path(task.sweep_dir))
    if ended is not None:
        return Done(task.name, "", None, f"not run: {ended}")
    check_plugin_set(task.fingerprint)
    tracker, shard = _task_tracker(task)
    fn = resolve_callable(task.fn)
    try:
        with _interruptible(), batch(tracker.consist), in_parallel_worker(task.executor):
            # The task's shard is this worker's alone; other runs of the sweep run beside it.
            outcome = tracker.run(fn, name=task.name, config=task.config, inputs=task.inputs)
    except Exception as exc:
        return Done(task.name, str(shard), None, f"{type(exc).__name__}: {exc}")
    finally:
        done_marker(shard).touch()
    return Done(task.name, str(shard), dataclasses.replace(outcome, result=None), None)


def check_plugin_set(fingerprint: str) -> None:
    """Refuse to run a task when this worker's plugin set is not the driver's."""
    found = plugin_set_fingerprint()
    if found != fingerprint:
        raise PluginSetMismatchError(
            f"worker {socket.gethostname()} (pid {os.getpid()}) has a different trackyard "
            f"plugin set than the driver (fingerprint {found[:12]} != {fingerprint[:12]}); "
            "install the same plugin distributions and versions on every worker"
        )


def done_marker(shard: Path) -> Path:
    """The file beside a shard that says its task has ended (nobody writes to it again)."""
    return Path(f"{shard}{DONE_SUFFIX}")


def sweep_ended(sweep: Path) -> str | None:
    """Why a task of ``sweep`` must not start, or None: its folder or driver file is gone (the
    sweep ended, or was recovered), or its driver, on this host, is no longer alive."""
    try:
        host, pid = (sweep / DRIVER_FILE).read_text(encoding="utf-8").split()
    except (OSError, ValueError):
        return f"its sweep {sweep.name} has ended (no driver file)"
    if host == socket.gethostname() and not pid_alive(int(pid)):
        return f"the driver of sweep {sweep.name} (pid {pid}) is gone"
    return None


def _task_tracker(task: Task) -> tuple[Runner, Path]:
    """A tracker on a fresh shard for this one task (a copy of the worker's template).

    One shard per task: once the task is done nobody writes to it again, so the driver can
    merge it without lock contention and without ever copying a half-finished run.
    """
    folder = _worker_folder(task)
    template = _worker_template(task, folder)
    shard = folder / f"{task.name}-{uuid.uuid4().hex[:8]}.duckdb"
    shutil.copyfile(template, shard)
    shutil.copyfile(schema_marker(template), schema_marker(shard))
    return task.build(task.domain, db_path=shard, **task.options), shard


def _worker_folder(task: Task) -> Path:
    """This worker's folder in the sweep (one per process and thread)."""
    worker = f"{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}"
    folder = Path(task.sweep_dir) / worker
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _worker_template(task: Task, folder: Path) -> Path:
    """The workspace's shared template, or (when the driver made none) this worker's own."""
    shared = Path(task.sweep_dir).parent / TEMPLATE_DB
    if template_is_current(shared):
        return shared
    template = folder / TEMPLATE_DB
    if not template.is_file():
        with tempfile.TemporaryDirectory(dir=folder) as empty:
            options = {**task.options, "run_dir": Path(empty)}
            task.build(task.domain, db_path=template, **options)
    return template


_POOL_WORKER = False  # set in a process pool's worker by ``start_worker``


def start_worker(driver_pid: int, environ: Mapping[str, str]) -> None:
    """A pool worker's initializer: take the driver's environment as it was when the sweep
    started (the fork server froze the one it had when it started, maybe sweeps ago, while
    ``fork`` and ``spawn`` would pass the current one), then watch the driver.

    Ctrl-C is ignored while the worker waits for a task (a terminal's Ctrl-C reaches the
    whole process group: an idle worker interrupted in the pool's queue prints a traceback
    and may die holding the queue's lock); a task takes Python's default handler for its
    length (``_interruptible``), so the run it interrupts is recorded failed (interrupted).
    The driver handles the Ctrl-C and shuts the pool down."""
    import signal

    global _POOL_WORKER
    _POOL_WORKER = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.clear()
    os.environ.update(environ)
    watch_driver(driver_pid)


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """In a process pool's worker, let Ctrl-C interrupt the task for the block's length;
    elsewhere (a Dask worker's thread, the driver) leave the handler alone."""
    import signal

    if not _POOL_WORKER or threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def watch_driver(driver_pid: int, interval: float = 0.5) -> None:
    """Make this worker process exit when the driver ``driver_pid`` dies, by any signal
    (``kill -9`` included): the kernel kills it when its parent (the fork server, which exits
    with the driver) dies (``PR_SET_PDEATHSIG`` on Linux), and a daemon thread checks the
    driver's pid every ``interval`` seconds everywhere."""
    _parent_death_signal()
    if not pid_alive(driver_pid):
        os._exit(1)

    def watch() -> None:
        while pid_alive(driver_pid):
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="trackyard-driver-watch", daemon=True).start()


def _parent_death_signal() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)


# --- the template store -------------------------------------------------------------------------


def template_is_current(template: Path) -> bool:
    """A template store (and its schema marker) made by this consist version exists."""
    try:
        return (
            template.is_file()
            and schema_marker(template).read_text(encoding="utf-8").strip() == consist_version()
        )  # consist is loaded in every process that runs models
    except OSError:
        return False


def make_template(runner: Runner, build: Callable[..., Runner]) -> None:
    """Make ``<workspace>/shards/template.duckdb``, an empty initialised store workers copy.

    Built once per workspace (and consist version) by the driver, so no worker pays consist's
    schema set-up (~0.5 s); written under a temporary name and renamed, so a worker never
    copies a half-made one (a worker that finds none makes its own).
    """
    template = runner.workspace / SHARDS_DIR / TEMPLATE_DB
    if template_is_current(template):
        return
    template.parent.mkdir(parents=True, exist_ok=True)
    temporary = template.with_name(f".{uuid.uuid4().hex[:8]}-{TEMPLATE_DB}")
    with tempfile.TemporaryDirectory(dir=template.parent) as empty:
        # An empty run folder of its own: a new store beside recorded snapshots is refused.
        options = {**worker_options(runner), "run_dir": Path(empty)}
        build(runner.domain_name, db_path=temporary, **options)  # initialises it
    Path(f"{temporary}{WAL_SUFFIX}").unlink(missing_ok=True)
    os.replace(temporary, template)
    os.replace(schema_marker(temporary), schema_marker(template))


# --- sweeps -------------------------------------------------------------------------------------


def open_sweep(runner: Runner) -> Path:
    """A new sweep folder, marked with this driver's host and pid."""
    sweep = (
        runner.workspace / SHARDS_DIR / f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    )
    sweep.mkdir(parents=True, exist_ok=True)
    (sweep / DRIVER_FILE).write_text(f"{socket.gethostname()} {os.getpid()}\n")
    return sweep


def has_sweeps(workspace: Path) -> bool:
    """Whether ``workspace`` has a shards folder (a sweep ran, or runs, there)."""
    return (workspace / SHARDS_DIR).is_dir()


def remove_shard(shard: Path) -> None:
    for path in (shard, schema_marker(shard), Path(f"{shard}{WAL_SUFFIX}"), done_marker(shard)):
        path.unlink(missing_ok=True)


def _stale_sweeps(shards_root: Path) -> Iterator[Path]:
    """Sweep folders whose driver process is gone (a killed or crashed sweep)."""
    if not shards_root.is_dir():
        return
    host = socket.gethostname()
    for sweep in sorted(p for p in shards_root.iterdir() if p.is_dir()):
        try:
            owner_host, pid = (sweep / DRIVER_FILE).read_text(encoding="utf-8").split()
        except (OSError, ValueError):
            yield sweep
            continue
        if owner_host == host and not pid_alive(int(pid)):
            yield sweep


def _worker_alive(worker: Path) -> bool:
    """Whether the worker of folder ``<host>-<pid>-<thread>`` still runs (this host only;
    another host's worker, or a name not in that form, counts as alive: never touched)."""
    host, _, rest = worker.name.rpartition("-")[0].rpartition("-")
    pid = rest
    if not host or not pid.isdigit():
        return True
    if host != socket.gethostname():
        return True
    return pid_alive(int(pid))


def recover(workspace: Path, merger: Merger) -> list[tuple[Path, str]]:
    """Merge the shards of killed sweeps into the main store; remove a sweep once all its
    shards are merged. A worker still alive (a Dask worker outlives its client) keeps the
    shards it may still be writing: only those marked done are merged. Returns the shards that
    could not be merged (kept where they are), and why."""
    kept: list[tuple[Path, str]] = []
    for sweep in _stale_sweeps(workspace / SHARDS_DIR):
        done = True
        for worker in sorted(p for p in sweep.iterdir() if p.is_dir()):
            alive = _worker_alive(worker)
            for shard in sorted(worker.glob("*.duckdb")):
                if shard.name == TEMPLATE_DB:
                    continue
                if alive and not done_marker(shard).exists():
                    done = False  # its task may still be running: left alone
                    continue
                close_interrupted(shard)
                if merger.merge(shard):
                    remove_shard(shard)
                else:
                    kept.append((shard, str(merger.last_error)))
                    done = False
        if done:
            shutil.rmtree(sweep, ignore_errors=True)
    return kept
