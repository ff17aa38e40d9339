"""consist's identity manager: the batch cache key, and one content hash per file per call.

**The batch cache key** (``config_hash``, ``code_digest``, ``no_inputs_hash``): the
many-run pre-check finds configs already in the store with one query, so it computes each
item's ``config_hash`` exactly as ``consist.Tracker.run`` does, through the tracker's
``IdentityManager`` (``compute_hash_inputs_digests``, ``normalize_json``,
``compute_run_config_hash``, ``resolve_code_identity``, ``compute_input_hash``) and the config
key ``__consist_hash_inputs__`` under which ``Tracker.run`` folds the identity inputs' digests
into the config. ``tests/consist_contract`` checks that the key equals the one consist records.

**One hash per file.**
consist 0.3.5 hashes an input file three times in one run (its input artifact, the run's
input hash, the logged artifact), each time in 64 KiB reads, and trackyard's own hit check
hashes outputs again. While a trackyard call runs, ``one_hash_per_file`` gives the
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

This replaces an instance attribute of consist's ``IdentityManager`` (listed in
``trackyard._consist``'s docstring); the class and other trackers are untouched.
"""

from __future__ import annotations

import contextlib
import stat
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

_ATTR = "compute_file_checksum"
# The config key under which consist's Tracker.run folds identity inputs into the config hash.
HASH_INPUTS_KEY = "__consist_hash_inputs__"


def config_hash(
    consist_tracker: Any,
    config: Mapping[str, Any],
    identity_inputs: Sequence[tuple[str, Path]],
    *,
    model: str,
    cache_epoch: int,
    year: int | None = None,
    iteration: int | None = None,
) -> str:
    """The ``config_hash`` consist records for a run of ``model`` with ``config`` and
    ``identity_inputs`` (and ``year`` / ``iteration``; no cache version), computed as
    ``Tracker.run`` does."""
    identity = consist_tracker.identity
    keyed = dict(config)
    if identity_inputs:
        keyed[HASH_INPUTS_KEY] = identity.compute_hash_inputs_digests(list(identity_inputs))
    digest: str = identity.compute_run_config_hash(
        config=identity.normalize_json(keyed),
        model=model,
        year=year,
        iteration=iteration,
        cache_epoch=cache_epoch,
        cache_version=None,
    )
    return digest


def code_digest(consist_tracker: Any, mode: str, fn: Callable[..., Any]) -> str:
    """The code hash (``git_hash`` column) consist records for ``fn`` under code identity
    ``mode``."""
    resolved = consist_tracker.identity.resolve_code_identity(mode=mode, func=fn)
    return str(resolved.digest)


def no_inputs_hash(consist_tracker: Any) -> str:
    """The ``input_hash`` consist records for a run without input artifacts."""
    return str(consist_tracker.identity.compute_input_hash([]))


def file_digests(consist_tracker: Any, identity: Sequence[tuple[str, Path]]) -> dict[str, Any]:
    """consist's digest of each identity input, by label (from this call's hash memo)."""
    digests: dict[str, Any] = consist_tracker.identity.compute_hash_inputs_digests(list(identity))
    return digests


def checksum_of(consist_tracker: Any) -> Callable[[Path], str]:
    """The tracker's file content digest (``IdentityManager.compute_file_checksum``: the
    call's memo inside ``one_hash_per_file``)."""
    checksum: Callable[[Path], str] = consist_tracker.identity.compute_file_checksum
    return checksum


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
