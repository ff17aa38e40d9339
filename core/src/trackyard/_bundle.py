"""The run bundle archive: one tar file (plain, gzip or zstd, chosen by its suffix) whose first
member is ``manifest.json``, holding the sha256 of every other member.

Layout of a bundle (``trackyard export`` writes it, ``trackyard import`` reads it)::

    manifest.json                  format, origin, plugin set, runs, {member: sha256}
    plugins.lock.toml              the plugin set that made the runs (``trackyard install -r``)
    runs/<run id>.json             consist's JSON snapshot of each run (its whole record)
    files/<path under runs/>       each output file, at its place under the run folder
    inputs/<sha256>                each input file, by content hash
    sources/...                    the kept source of keyed code (``_sources``) and the code
                                   manifests (``sources/keys/<digest>.txt``)

Reading verifies while it streams: each member is written to a scratch folder and hashed on
the way; the first member whose hash differs from the manifest's, that the manifest does not
list, whose name could escape the folder, or that is cut short, raises ``BundleError`` naming
it (one line). Nothing outside the scratch folder is touched before every member passed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from trackyard.errors import BundleError

__all__ = [
    "FORMAT",
    "MANIFEST",
    "Member",
    "check_suffix",
    "read_bundle",
    "sha256_file",
    "write_bundle",
]

MANIFEST = "manifest.json"
FORMAT = 1
_CHUNK = 1024 * 1024
_MAX_MANIFEST = 256 * 1024 * 1024
# Errors a cut or damaged archive raises while it is read (tar, gzip, zstd, the OS).
_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError, ValueError)


@dataclass(frozen=True)
class Member:
    """One member to write: its name in the bundle, and its bytes or the file holding them."""

    name: str
    sha256: str
    size: int
    source: Path | None = None
    data: bytes | None = None

    @classmethod
    def of_bytes(cls, name: str, data: bytes) -> Member:
        return cls(name, hashlib.sha256(data).hexdigest(), len(data), data=data)


def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes (consist's ``raw_file_bytes`` digest of an output)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _compression(path: Path) -> str:
    """``""``, ``"gz"`` or ``"zst"`` from the file name; anything else is refused."""
    name = path.name.lower()
    if name.endswith((".tar.gz", ".tgz")):
        return "gz"
    if name.endswith((".tar.zst", ".tzst")):
        return "zst"
    if name.endswith(".tar"):
        return ""
    raise BundleError(
        f"bundle {path}: unknown archive type; name it .tar, .tar.gz (.tgz) or .tar.zst"
    )


def check_suffix(path: Path) -> None:
    """Refuse a bundle name whose archive type is unknown (or needs a missing package)."""
    if _compression(path) == "zst":
        _zstandard(path)


def _zstandard(path: Path) -> Any:
    try:
        import zstandard  # type: ignore[import-not-found]  # optional
    except ImportError:
        raise BundleError(
            f"bundle {path}: .tar.zst needs the zstandard package "
            "(`python -m pip install zstandard`), or use .tar.gz"
        ) from None
    return zstandard


@contextmanager
def _open(path: Path, write: bool, raw: IO[bytes]) -> Iterator[tarfile.TarFile]:
    kind = _compression(path)
    if kind == "zst":
        zstd = _zstandard(path)
        stream: Any = (
            zstd.ZstdCompressor().stream_writer(raw, closefd=False)
            if write
            else zstd.ZstdDecompressor().stream_reader(raw, closefd=False)
        )
        with stream, tarfile.open(fileobj=stream, mode="w|" if write else "r|") as tar:
            yield tar
        return
    mode = ("w|" if write else "r|") + kind
    with tarfile.open(fileobj=raw, mode=mode) as tar:  # type: ignore[call-overload]
        yield tar


def write_bundle(path: Path, manifest: dict[str, Any], members: list[Member]) -> int:
    """Write the bundle atomically (a temporary file beside it, then renamed); its size."""
    manifest = {**manifest, "members": {m.name: m.sha256 for m in members}}
    head = json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as raw, _open(path, True, raw) as tar:
            _add(tar, MANIFEST, len(head), io.BytesIO(head))
            for m in members:
                if m.data is not None:
                    _add(tar, m.name, m.size, io.BytesIO(m.data))
                else:
                    assert m.source is not None
                    with m.source.open("rb") as f:
                        _add(tar, m.name, m.size, f)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path.stat().st_size


def _add(tar: tarfile.TarFile, name: str, size: int, data: IO[bytes]) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, 0
    tar.addfile(info, data)


# --- reading --------------------------------------------------------------------------------


def _bad(path: Path, member: str, why: str) -> BundleError:
    return BundleError(f"bundle {path}: member {member!r} {why}; nothing was imported")


def _safe(path: Path, info: tarfile.TarInfo) -> str:
    name = info.name
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts or "\\" in name:
        raise _bad(path, name, "has a name that leaves the bundle's folder")
    if not info.isfile():
        raise _bad(path, name, "is not a regular file")
    return str(pure)


def read_bundle(path: Path, into: Path) -> dict[str, Any]:
    """Unpack and verify ``path`` into the empty folder ``into``; the manifest. Raises
    ``BundleError`` naming the first bad member (nothing outside ``into`` written)."""
    if not path.is_file():
        raise BundleError(f"bundle {path} does not exist (or is not a file)")
    manifest: dict[str, Any] | None = None
    expected: dict[str, str] = {}
    seen: set[str] = set()
    current = MANIFEST
    try:
        with path.open("rb") as raw, _open(path, False, raw) as tar:
            for info in tar:
                current = _safe(path, info)
                if manifest is None:
                    manifest, expected = _manifest(path, tar, info)
                    continue
                _member(path, tar, info, current, expected, seen, into)
                current = _next_missing(expected, seen)
    except BundleError:
        raise
    except _READ_ERRORS as exc:
        why = f"is cut short or unreadable ({type(exc).__name__}: {exc})"
        raise _bad(path, current, why) from None
    if manifest is None:
        raise _bad(path, MANIFEST, "is missing: not a trackyard bundle, or an empty one")
    missing = _next_missing(expected, seen)
    if missing:
        raise _bad(path, missing, "is missing: the bundle is truncated")
    return manifest


def _next_missing(expected: dict[str, str], seen: set[str]) -> str:
    return next((name for name in expected if name not in seen), "")


def _manifest(
    path: Path, tar: tarfile.TarFile, info: tarfile.TarInfo
) -> tuple[dict[str, Any], dict[str, str]]:
    if info.name != MANIFEST:
        raise _bad(path, info.name, f"comes first where {MANIFEST} should: not a trackyard bundle")
    if info.size > _MAX_MANIFEST:
        raise _bad(path, MANIFEST, "is too large to be a manifest")
    f = tar.extractfile(info)
    assert f is not None
    try:
        manifest = json.loads(f.read())
        members = manifest["members"]
        if manifest.get("format") != FORMAT or not isinstance(members, dict):
            raise ValueError(f"format {manifest.get('format')!r}, expected {FORMAT}")
    except (ValueError, KeyError, TypeError) as exc:
        raise _bad(path, MANIFEST, f"is not a trackyard bundle manifest ({exc})") from None
    return manifest, {str(k): str(v) for k, v in members.items()}


def _member(
    path: Path,
    tar: tarfile.TarFile,
    info: tarfile.TarInfo,
    name: str,
    expected: dict[str, str],
    seen: set[str],
    into: Path,
) -> None:
    """Stream one member to ``into/name`` while hashing it; refuse it when it does not match."""
    if name not in expected or name in seen:
        raise _bad(path, name, "is not listed in the manifest (or appears twice)")
    target = into / name
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    f = tar.extractfile(info)
    assert f is not None
    with target.open("wb") as out:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != expected[name]:
        raise _bad(
            path, name, f"has sha256 {digest.hexdigest()}, the manifest says {expected[name]}"
        )
    seen.add(name)
