"""Files trackyard writes for the user (the report, a plugin lock, a new plugin's files, the
CLI reference): written whole or not at all, and every failure names the file.

The text goes to a temporary file beside the target, is flushed to disk, then renamed over
it: a full disk or a file size limit leaves the previous file as it was.
"""

from __future__ import annotations

import errno
import os
import secrets
from contextlib import suppress
from pathlib import Path

from trackyard.errors import DiskFullError, FileWriteError

__all__ = ["write_text_atomically"]

_FULL = {errno.ENOSPC, errno.EDQUOT}


def _write_error(what: str, path: Path, exc: OSError) -> OSError:
    """``exc`` as a typed error naming ``what`` and ``path`` and what to do."""
    if exc.errno in _FULL:
        return DiskFullError(
            f"cannot write {what} {path}: the disk is full; the previous file is unchanged; "
            "free some space and run again",
            path,
        )
    return FileWriteError(
        exc.errno or errno.EIO,
        f"cannot write {what} {path}: {exc.strerror or exc}; the previous file is unchanged; "
        "check the folder's permissions, free space and file size limit, or write elsewhere",
        path,
    )


def write_text_atomically(path: str | os.PathLike[str], text: str, what: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` whole or not at all; returns the path written.

    ``what`` names the file in errors (``"the report"``): ``DiskFullError`` on a full disk,
    ``FileWriteError`` on any other ``OSError``, both naming the file."""
    target = Path(path).absolute()
    if target.is_symlink():
        target = target.resolve()  # replace what the link points to, keep the link
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            with suppress(OSError):
                tmp.unlink()
            raise
    except OSError as exc:
        raise _write_error(what, target, exc) from exc
    return target
