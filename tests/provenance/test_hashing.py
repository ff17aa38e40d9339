"""Input files are hashed once per call, with consist's own digest."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

import trackyard


def _bytes_read() -> int:
    """Bytes this process has read through read() calls so far (Linux /proc/self/io)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/io")
def test_a_cache_hit_reads_its_input_file_once(ws: Path) -> None:
    """A hit on a call with a 96 MiB input reads it at most once (not at all once its digest
    is remembered across calls), and its 96 MiB output once (the hit check); consist alone
    hashes the input three times. After an in-place edit of one byte (same size) the call
    runs again."""
    trap = trackyard.get_tracker("trap", workspace=ws)
    data = ws.parent / "big.bin"
    data.write_text(os.urandom(48 * 1024 * 1024).hex(), encoding="ascii")  # 96 MiB
    assert not trap.score(name="a", config={"x": 1}, inputs={"data": data}).cache_hit
    before = _bytes_read()
    assert trap.score(name="b", config={"x": 1}, inputs={"data": data}).cache_hit
    read = _bytes_read() - before
    assert data.stat().st_size <= read < 2.5 * data.stat().st_size
    with open(data, "r+b") as handle:
        handle.write(b"!")
    assert not trap.score(name="c", config={"x": 1}, inputs={"data": data}).cache_hit


def test_the_digest_is_consists_own(tmp_path: Path, ws: Path) -> None:
    """The digest trackyard computes for a file during a call is the one consist computes,
    so stores recorded before keep their cache hits."""
    from consist.core.identity import IdentityManager

    trap: Any = trackyard.get_tracker("trap", workspace=ws)
    seen: dict[str, str] = {}
    for size in (0, 1, 65536, 3 * 1024 * 1024 + 7):
        path = tmp_path / f"f{size}.bin"
        path.write_text(os.urandom(size).hex()[:size], encoding="ascii")
        seen[path.name] = trap.score(name=f"s{size}", config={"x": size}, inputs={"data": path})
    identity = trap.consist.identity
    for name, outcome in seen.items():
        run = trap.consist.get_run(outcome.run_id)
        (artifact,) = [a for a in trap.consist.get_artifacts_for_run(run.id).inputs.values()]
        assert artifact.hash == IdentityManager.compute_file_checksum(identity, tmp_path / name)


def test_an_edit_that_keeps_size_and_mtime_is_still_seen(ws: Path) -> None:
    """A digest remembered across calls (the file was last changed long before it was
    hashed) is dropped by any write: an edit that keeps the size and resets the mtime (as
    `cp -p`, rsync -t or an unzip would) still runs again with the new content."""
    import time

    trap = trackyard.get_tracker("trap", workspace=ws)
    data = ws.parent / "old.txt"
    data.write_text("aaaa", encoding="utf-8")
    old = time.time() - 3600
    os.utime(data, (old, old))
    assert not trap.score(name="a", config={"x": 1}, inputs={"data": data}).cache_hit
    assert trap.score(name="b", config={"x": 1}, inputs={"data": data}).cache_hit
    data.write_text("bbbb", encoding="utf-8")
    os.utime(data, (old, old))
    after = trap.score(name="c", config={"x": 1}, inputs={"data": data})
    assert not after.cache_hit
    assert after.output("table").read_text(encoding="utf-8") == "1|bbbb"
