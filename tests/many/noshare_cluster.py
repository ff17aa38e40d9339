"""A real Dask cluster whose workers cannot see the driver's workspace.

``dask scheduler`` and ``dask worker`` processes, each worker started in its own mount
namespace with a private, empty tmpfs mounted over the workspace folder
(``unshare -rm sh -c 'mount -t tmpfs none WS && exec dask worker ...'``): the folder exists for
the worker, at the driver's path, but holds none of the driver's files, as on another machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
DASK = str(Path(sys.executable).with_name("dask"))


class Cluster:
    """A scheduler and named workers, each a real process; stopped by :meth:`close`."""

    def __init__(self, folder: Path, hidden: Path, pythonpath: str = str(HERE)) -> None:
        self.folder, self.hidden = folder, hidden
        self.env = {**os.environ, "PYTHONPATH": pythonpath, "PYTHONDONTWRITEBYTECODE": "1"}
        self.file = folder / "scheduler.json"
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.scheduler = subprocess.Popen(
            [DASK, "scheduler", "--no-dashboard", "--host", "127.0.0.1", "--port", "0",
             "--scheduler-file", str(self.file)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=open(folder / "scheduler.log", "wb"),  # noqa: SIM115
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not self.file.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.address = json.loads(self.file.read_text())["address"]

    def start_worker(self, name: str, *, see: bool = False, plugin: str | None = None) -> None:
        """A worker process named ``name``: without the workspace unless ``see``; ``plugin``:
        a ``--preload`` module (a worker plugin the test installs)."""
        worker = [DASK, "worker", self.address, "--name", name, "--nthreads", "1",
                  "--no-nanny", "--no-dashboard", "--local-directory",
                  str(self.folder / f"local-{name}")]  # fmt: skip
        if plugin:
            worker += ["--preload", plugin]
        command = shlex.join(worker)
        if not see:
            mount = f"mount -t tmpfs none {shlex.quote(str(self.hidden))}"
            command = shlex.join(["unshare", "-rm", "sh", "-c", f"{mount} && exec {command}"])
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 (the worker's own stderr)
        self.workers[name] = subprocess.Popen(
            command, shell=True, env=self.env, stdout=subprocess.DEVNULL, stderr=log
        )

    def client(self, workers: int) -> Any:
        from distributed import Client

        client = Client(self.address, timeout="60s")
        client.wait_for_workers(workers, timeout=120)
        return client

    def kill(self, name: str) -> None:
        self.workers[name].kill()
        self.workers[name].wait()

    def close(self) -> None:
        for process in [*self.workers.values(), self.scheduler]:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()


@contextlib.contextmanager
def cluster(folder: Path, hidden: Path, workers: int = 2, **options: Any) -> Iterator[Cluster]:
    """A running cluster of ``workers`` workers that cannot see ``hidden``."""
    hidden.mkdir(parents=True, exist_ok=True)
    running = Cluster(folder, hidden)
    try:
        for n in range(workers):
            running.start_worker(f"w{n + 1}", **options)
        yield running
    finally:
        running.close()
