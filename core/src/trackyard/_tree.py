"""Folders as content, for Dask workers without the workspace: a folder's digest, and its files
packed into one archive that travels once per digest and unpacks the same on any machine.

A folder's digest is the SHA-256 of its sorted ``(relative path, file SHA-256)`` pairs: two
folders holding the same files under the same names have the same digest, whatever their
modification times (copies made by ``shutil.copytree`` keep those anyway). Only regular files
and the folders that hold them count; a symlink counts as what it points to, as a model
reading through it sees.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

from trackyard._bundle import sha256_file as file_digest

__all__ = ["file_digest", "pack_tree", "tree_digest", "unpack_tree"]


def _files(folder: Path) -> Iterator[tuple[str, Path]]:
    """Every regular file under ``folder`` (symlinks followed), by ``/``-separated relative
    path, in sorted order."""
    for root, dirs, names in os.walk(folder, followlinks=True):
        dirs.sort()
        for name in sorted(names):
            path = Path(root, name)
            if path.is_file():
                yield path.relative_to(folder).as_posix(), path


def tree_digest(folder: Path) -> str:
    """The digest of a folder's content (see the module's docstring)."""
    digest = hashlib.sha256()
    for relative, path in _files(folder):
        digest.update(f"{relative}\0{file_digest(path)}\n".encode())
    return digest.hexdigest()


def pack_tree(folder: Path) -> bytes:
    """The folder's files (and empty subfolders) as one uncompressed tar archive."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for root, dirs, _ in os.walk(folder, followlinks=True):
            dirs.sort()
            for name in dirs:
                archive.add(Path(root, name), Path(root, name).relative_to(folder).as_posix(),
                            recursive=False)  # fmt: skip
        for relative, path in _files(folder):
            archive.add(path.resolve(), relative, recursive=False)
    return buffer.getvalue()


def unpack_tree(data: bytes, folder: Path) -> None:
    """Write an archive made by ``pack_tree`` into ``folder`` (which must not exist); members
    that would land outside it, or are not plain files and folders, are refused."""
    folder.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as archive:
        for member in archive:
            parts = Path(member.name).parts
            if Path(member.name).is_absolute() or ".." in parts or not parts:
                raise ValueError(f"archive member {member.name!r} would land outside {folder}")
            target = folder.joinpath(*parts)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                assert source is not None  # a regular file always has content
                target.write_bytes(source.read())
                os.utime(target, (member.mtime, member.mtime))
            else:
                raise ValueError(f"archive member {member.name!r} is not a file or a folder")
