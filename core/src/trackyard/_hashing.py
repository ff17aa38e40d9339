"""One content hash per file per run call, read in large blocks.

consist 0.3.5 hashes an input file three times in one run (its input artifact, the run's
input hash, the logged artifact), each time in 64 KiB reads, and trackyard's own hit check
hashes outputs again. While a trackyard call runs, :func:`one_hash_per_file` gives the
tracker's identity manager a ``compute_file_checksum`` that remembers each regular file's
digest for that call (keyed by its device, inode, size, mtime and
ctime, so a file written during the call is hashed afresh) and hashes it with
``hashlib.file_digest`` (sha256, the digest consist computes, in 256 KiB reads without
Python-level copies). Directories, Zarr stores and the ``fast`` strategy go to consist's own
method unchanged. A file whose last change is more than ``STABLE_AFTER`` seconds older than
its hash is remembered across calls too (git's "racily clean" rule): the device, inode, size,
mtime and ctime it was hashed at must all still match, and any write changes the ctime, so an
edit between calls is always seen; a file written within that window is hashed again by the
next call.

This replaces an instance attribute of consist's ``IdentityManager`` (listed in the docs'
"consist internals we rely on"); the class and other trackers are untouched.
"""

from __future__ import annotations

import contextlib
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_ATTR = "compute_file_checksum"


# Digests of files last modified well before they were hashed, kept across calls (git's
# "racily clean" rule: a file changed within STABLE_AFTER seconds of its hash, or on a file
# system with coarse times, is hashed again by every call). Bounded: cleared when full.
STABLE_AFTER = 2.0
_STABLE: dict[tuple[int, int, int, int, int], str] = {}
_STABLE_MAX = 50_000


def _remember_if_stable(key: tuple[int, int, int, int, int], mtime: float, digest: str) -> None:
    if time.time() - mtime < STABLE_AFTER:
        return
    if len(_STABLE) >= _STABLE_MAX:
        _STABLE.clear()
    _STABLE[key] = digest


def sha256_of_file(path: Path) -> str:
    """The sha256 hex digest of the file at ``path`` (consist's ``full`` strategy digest)."""
    import hashlib  # loads OpenSSL (~15 ms): only once a file is hashed, not on import

    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@contextlib.contextmanager
def one_hash_per_file(consist_tracker: Any) -> Iterator[None]:
    """Within the block, each unchanged file is hashed at most once by ``consist_tracker``."""
    identity = getattr(consist_tracker, "identity", None)
    if identity is None or _ATTR in vars(identity):  # no identity manager, or already inside
        yield
        return
    original: Callable[[Any], str] = getattr(identity, _ATTR)
    memo: dict[tuple[int, int, int, int, int], str] = {}

    def checksum(file_path: Any) -> str:
        path = Path(file_path)
        if getattr(identity, "hashing_strategy", "full") != "full":
            return original(file_path)
        try:
            st = path.stat()
        except OSError:
            return original(file_path)  # consist raises its own FileNotFoundError
        if not stat.S_ISREG(st.st_mode):
            return original(file_path)
        # Device and inode name the file, size and times its version: no path needed.
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        digest = memo.get(key) or _STABLE.get(key)
        if digest is None:
            digest = memo[key] = sha256_of_file(path)
            _remember_if_stable(key, st.st_mtime, digest)
        return digest

    setattr(identity, _ATTR, checksum)
    try:
        yield
    finally:
        delattr(identity, _ATTR)
