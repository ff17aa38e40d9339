"""A real workspace for the live-view tests, a real ``trackyard serve`` subprocess on a free
port, and headless Chromium (the report tests' fixture)."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

from .._console import TRACKYARD, user_env

WRITER = Path(__file__).with_name("writer.py")
HOSTILE_NAME = "<script>alert('name')</script>"
HOSTILE_VALUE = "<script>alert('config')</script>"
HOSTILE_KEY = "<img src=x onerror=alert('key')>"
N_FIRST = 4  # the first sweep's trials


def write_runs(workspace: Path, tag: str, values: list[float]) -> subprocess.Popen[str]:
    """Start a sweep over ``values`` of ``a`` in another process (``writer.py``)."""
    config_dir = workspace.parent / "cfg"
    config_dir.mkdir(exist_ok=True)
    args = [sys.executable, str(WRITER), str(workspace), str(config_dir), tag]
    return subprocess.Popen(
        [*args, ",".join(str(v) for v in values)],
        env=user_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 300) -> str:
    """Wait for a writer; its stdout, after asserting it succeeded."""
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out + err


@dataclass
class Served:
    """A workspace, the ``trackyard serve`` process showing it and its base URL."""

    workspace: Path
    proc: subprocess.Popen[str]
    base: str
    port: int
    outside: Path
    failed_run: str = ""
    renamed_run: str = ""
    log: list[str] = field(default_factory=list)

    def get(
        self, path: str, method: str = "GET", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """One raw HTTP request (the path is sent exactly as given, never normalised)."""
        con = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            con.putrequest(method, path, skip_host=headers is not None and "Host" in headers)
            for k, v in (headers or {}).items():
                con.putheader(k, v)
            con.endheaders()
            resp = con.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            con.close()

    def json(self, path: str) -> Any:
        status, _, body = self.get(path)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(workspace: Path, *extra: str) -> tuple[subprocess.Popen[str], int]:
    """``trackyard serve`` on a free port, once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [str(TRACKYARD), "serve", "--workspace", str(workspace), "--port", str(port), *extra],
        env=user_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"trackyard serve exited: {proc.communicate()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("trackyard serve did not listen within 60 s")


def stop_server(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return out + err


def _hostile_workspace(root: Path) -> tuple[str, str]:
    """A failing run whose error holds a script, a run whose recorded name is a script (as a
    store written by another tool may hold), a config with a script key and value."""
    import trackyard

    from . import serve_models

    with trackyard.get_tracker(
        "calibration",
        workspace=root,
        model=serve_models.calibration_model,
        config_dir=root.parent / "cfg",
    ) as cal:
        with pytest.raises(ValueError, match="b must not be negative"):
            cal.evaluate(run_name="negative-b", config={"a": 0.1, "b": -1.0})
        hostile = cal.evaluate(
            run_name="hostile", config={"a": 0.9, "b": 0.5, HOSTILE_KEY: HOSTILE_VALUE}
        )
    with duckdb.connect(str(root / "provenance.duckdb")) as con:
        failed = con.execute(
            "SELECT id FROM run WHERE status = 'failed' ORDER BY created_at LIMIT 1"
        ).fetchone()
        con.execute(
            "UPDATE run SET meta = json_merge_patch(meta, json_object('trackyard', "
            "json_object('run_name', ?))) WHERE id = ?",
            [HOSTILE_NAME, hostile.run_id],
        )
    assert failed is not None
    return str(failed[0]), hostile.run_id


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A workspace with a first sweep of N_FIRST trials and the hostile runs, served."""
    root = tmp_path_factory.mktemp("serve") / "ws"
    finish(write_runs(root, "first", [0.1 * (i + 1) for i in range(N_FIRST)]))
    failed, renamed = _hostile_workspace(root)
    outside = root.parent / "secret.txt"
    outside.write_text("top secret, outside the workspace\n", encoding="utf-8")
    proc, port = start_server(root, "--refresh", "0.2")
    s = Served(root, proc, f"http://127.0.0.1:{port}", port, outside, failed, renamed)
    try:
        yield s
    finally:
        s.log.append(stop_server(proc))
