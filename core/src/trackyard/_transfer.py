"""The driver's side of Dask workers without the workspace: land a task's ``Shipment``.

A shipment (``_remote``) holds a task's shard and the files its run wrote. The driver:

1. writes the shard and every file into a staging folder of its sweep
   (``<workspace>/shards/<sweep>/<task>.incoming``), hashing each file as it is written, one
   piece at a time (a large file is read from the worker in ``CHUNK_BYTES`` pieces, so the
   driver never holds it whole);
2. checks every file against the SHA-256 the worker named it by, and every output the run
   recorded against the artifact hash in the shard;
3. only when all match, moves the files into its own ``runs/`` (and ``sources/``) layout; the
   caller then merges the shard. When one does not match, no file is moved, the shard's runs
   are recorded ``failed`` with the ``TransferError`` message, and the
   shard is merged so the store says what happened.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import uuid
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from trackyard._consist.merge import mark_failed, shard_outputs
from trackyard._layout import RUNS_DIR
from trackyard._outcome import RunOutcome
from trackyard._remote import CHUNK_BYTES, Blob, Shipment
from trackyard.errors import TransferError

# Reads ``size`` bytes at ``offset`` of a file left on the worker (by its shipment path).
ReadChunk = Callable[[Blob, int, int], bytes]


@dataclasses.dataclass(frozen=True)
class Landed:
    """A landed shipment: the shard to merge, the outcome with the driver's paths, and the
    ``TransferError`` message when the run was refused."""

    shard: Path
    outcome: RunOutcome | None
    error: str | None


def land(
    name: str,
    shipment: Shipment,
    outcome: RunOutcome | None,
    sweep: Path,
    targets: tuple[Path, Path],
    read: ReadChunk,
) -> Landed:
    """Stage, check and place a shipment; ``targets``: the driver's workspace and run folder."""
    staging = sweep / f"{name}-{uuid.uuid4().hex[:8]}.incoming"
    staging.mkdir(parents=True)
    shard = staging / "shard.duckdb"
    shard.write_bytes(zlib.decompress(shipment.shard))
    run = outcome.run_id if outcome is not None else name
    try:
        found = _stage_all(shipment, staging / "files", read)
        for blob in shipment.files:
            if found[blob.path] != blob.sha256:
                raise TransferError(run, blob.path, blob.sha256, found[blob.path])
        _check_outputs(shard, found)
    except TransferError as exc:
        mark_failed(shard, f"TransferError: {exc}")
        shutil.rmtree(staging / "files", ignore_errors=True)
        return Landed(shard, None, f"TransferError: {exc}")
    for blob in shipment.files:
        _place(staging / "files" / blob.path, _target(blob.path, targets))
    return Landed(shard, _driver_outcome(outcome, shipment.run_dir, targets[1]), None)


def _stage_all(shipment: Shipment, folder: Path, read: ReadChunk) -> dict[str, str]:
    """Stage every file; the SHA-256 of each as written. A read that fails removes the
    staging folder (nothing of the run is kept) and is raised."""
    try:
        return {b.path: _stage(b, folder, read) for b in shipment.files}
    except BaseException:
        shutil.rmtree(folder.parent, ignore_errors=True)
        raise


def _stage(blob: Blob, folder: Path, read: ReadChunk) -> str:
    """Write ``blob`` under ``folder`` piece by piece; the SHA-256 of what was written."""
    path = folder / blob.path
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        for piece in _pieces(blob, read):
            digest.update(piece)
            handle.write(piece)
    return digest.hexdigest()


def _pieces(blob: Blob, read: ReadChunk) -> Iterator[bytes]:
    if blob.data is not None:
        yield blob.data
        return
    for offset in range(0, blob.size, CHUNK_BYTES):
        piece = read(blob, offset, min(CHUNK_BYTES, blob.size - offset))
        if not piece:
            return  # the file shrank on the worker: the hash check says so
        yield piece


def _check_outputs(shard: Path, found: dict[str, str]) -> None:
    """Every output the shard recorded arrived with its recorded hash."""
    for run_id, _key, uri, recorded in shard_outputs(shard):
        if recorded is None or "://" in uri or Path(uri).is_absolute():
            continue  # no hash recorded, or a mount: nothing travelled
        path = (PurePosixPath(RUNS_DIR) / PurePosixPath(uri)).as_posix()
        path = os.path.normpath(path).replace(os.sep, "/")
        if found.get(path) != recorded:
            raise TransferError(run_id, path, recorded, found.get(path))


def _target(path: str, targets: tuple[Path, Path]) -> Path:
    """Where a shipped file goes: ``runs/...`` into the driver's run folder, anything else
    (kept sources) into its workspace."""
    workspace, run_dir = targets
    parts = PurePosixPath(path).parts
    if parts and parts[0] == RUNS_DIR:
        return run_dir.joinpath(*parts[1:])
    return workspace.joinpath(*parts)


def _place(staged: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, target)


def _driver_outcome(
    outcome: RunOutcome | None, worker_run_dir: str, run_dir: Path
) -> RunOutcome | None:
    """The outcome with its output paths under the driver's run folder."""
    if outcome is None:
        return None
    outputs = {}
    for key, path in outcome.outputs.items():
        try:
            outputs[key] = run_dir / Path(path).relative_to(worker_run_dir)
        except ValueError:
            outputs[key] = Path(path)
    return dataclasses.replace(outcome, outputs=outputs)
