"""The run bundle archive: one tar file (plain, gzip or zstd, chosen by its suffix) whose first
member is ``manifest.json``, holding the sha256 of every other member.

Layout of a bundle (``trackyard export`` writes it, ``trackyard import`` reads it):

```text
manifest.json                  format, origin, plugin set, runs, {member: sha256}
plugins.lock.toml              the plugin set that made the runs (``trackyard install -r``)
runs/<run id>.json             consist's JSON snapshot of each run (its whole record)
files/<path under runs/>       each output file, at its place under the run folder
inputs/<sha256>                each input file, by content hash
sources/...                    the kept source of keyed code (``_sources``) and the code
                               manifests (``sources/keys/<digest>.txt``)
```

Reading verifies while it streams, twice: ``read_bundle`` hashes every member and keeps only
the run records in memory, writing nothing; the first member whose hash differs from the
manifest's, that the manifest does not list, whose name could escape the folder, or that is
cut short, raises ``BundleError`` naming it (one line). Only then does ``extract`` read it
again, writing each file under a temporary name beside its place and renaming it once its
hash matched (a bundle changed between the two reads is refused the same way).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tarfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from trackyard.errors import BundleError

__all__ = [
    "FORMAT",
    "MANIFEST",
    "Bundle",
    "Member",
    "check_suffix",
    "extract",
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


def _stream(path: Path, keep: Callable[[str], bool], writer: _Writer | None = None) -> Bundle:
    """Read the whole bundle once, hashing every member against the manifest; members
    ``keep`` accepts are kept in memory, those ``writer`` places are written there."""
    if not path.is_file():
        raise BundleError(f"bundle {path} does not exist (or is not a file)")
    bundle: Bundle | None = None
    seen: set[str] = set()
    current = MANIFEST
    try:
        with path.open("rb") as raw, _open(path, False, raw) as tar:
            for info in tar:
                current = _safe(path, info)
                if bundle is None:
                    bundle = Bundle(_manifest(path, tar, info))
                    continue
                _member(path, tar, info, bundle, seen, keep, writer)
                current = _next_missing(bundle.members, seen)
    except BundleError:
        raise
    except _READ_ERRORS as exc:
        why = f"is cut short or unreadable ({type(exc).__name__}: {exc})"
        raise _bad(path, current, why) from None
    if bundle is None:
        raise _bad(path, MANIFEST, "is missing: not a trackyard bundle, or an empty one")
    missing = _next_missing(bundle.members, seen)
    if missing:
        raise _bad(path, missing, "is missing: the bundle is truncated")
    return bundle


@dataclass
class Bundle:
    """A verified bundle's manifest, and the members kept in memory (the run records)."""

    manifest: dict[str, Any]
    kept: dict[str, bytes] = field(default_factory=dict)

    @property
    def members(self) -> dict[str, str]:
        members: dict[str, str] = self.manifest["members"]
        return members


def read_bundle(path: Path, keep: Callable[[str], bool]) -> Bundle:
    """Verify every member of ``path`` (writing nothing); the members ``keep`` accepts are
    returned in memory. Raises ``BundleError`` naming the first bad member."""
    return _stream(path, keep)


@dataclass
class _Writer:
    """Writes members to their places: a temporary name beside each, renamed into place once
    its hash matched (removed when it did not); each file placed is appended to ``written``."""

    places: dict[str, Path]
    written: list[Path]

    def _part(self, name: str) -> Path:
        target = self.places[name]
        return target.with_name(f".{target.name}.{os.getpid()}.part")

    def open(self, name: str) -> IO[bytes] | None:
        if name not in self.places:
            return None
        part = self._part(name)
        part.parent.mkdir(parents=True, exist_ok=True)
        return part.open("wb")

    def finish(self, name: str, ok: bool) -> None:
        if ok:
            self._part(name).replace(self.places[name])
            self.written.append(self.places[name])
        else:
            self._part(name).unlink(missing_ok=True)


def extract(path: Path, places: dict[str, Path], written: list[Path]) -> None:
    """Write each member named in ``places`` to its place; every file placed is appended to
    ``written`` (so a caller can undo). The bundle is verified again while it is read (it may
    have changed since ``read_bundle``): a bad member raises ``BundleError``."""
    _stream(path, lambda name: False, _Writer(places, written))


def _next_missing(expected: dict[str, str], seen: set[str]) -> str:
    return next((name for name in expected if name not in seen), "")


def _manifest(path: Path, tar: tarfile.TarFile, info: tarfile.TarInfo) -> dict[str, Any]:
    if info.name != MANIFEST:
        raise _bad(path, info.name, f"comes first where {MANIFEST} should: not a trackyard bundle")
    if info.size > _MAX_MANIFEST:
        raise _bad(path, MANIFEST, "is too large to be a manifest")
    f = tar.extractfile(info)
    assert f is not None
    try:
        manifest: dict[str, Any] = json.loads(f.read())
        members = manifest["members"]
        if manifest.get("format") != FORMAT or not isinstance(members, dict):
            raise ValueError(f"format {manifest.get('format')!r}, expected {FORMAT}")
        manifest["members"] = {str(k): str(v) for k, v in members.items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise _bad(path, MANIFEST, f"is not a trackyard bundle manifest ({exc})") from None
    return manifest


def _member(
    path: Path,
    tar: tarfile.TarFile,
    info: tarfile.TarInfo,
    bundle: Bundle,
    seen: set[str],
    keep: Callable[[str], bool],
    writer: _Writer | None,
) -> None:
    """Hash one member on its way to memory, its place or nowhere; refuse it on a mismatch."""
    name, expected = str(PurePosixPath(info.name)), bundle.members
    if name not in expected or name in seen:
        raise _bad(path, name, "is not listed in the manifest (or appears twice)")
    digest = hashlib.sha256()
    f = tar.extractfile(info)
    assert f is not None
    kept = keep(name)
    out = None if kept or writer is None else writer.open(name)
    chunks: list[bytes] = []
    ok = False
    try:
        with out if out is not None else contextlib.nullcontext():
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
                if kept:
                    chunks.append(chunk)
                elif out is not None:
                    out.write(chunk)
        ok = digest.hexdigest() == expected[name]
    finally:
        if out is not None and writer is not None:
            writer.finish(name, ok)
    if not ok:
        raise _bad(
            path, name, f"has sha256 {digest.hexdigest()}, the manifest says {expected[name]}"
        )
    seen.add(name)
    if kept:
        bundle.kept[name] = b"".join(chunks)
