"""A DuckDB file's structure, checked without opening DuckDB (about 1 ms).

A DuckDB database file is three 4 KiB headers (the main one, with the magic bytes ``DUCK``,
then two database headers, of which the one with the higher iteration is active) followed by
blocks of ``block_alloc_size`` bytes (256 KiB by default). Each header and block starts with
an 8-byte checksum of the rest of it (DuckDB's ``Checksum``: 5381 XOR, over every 64-bit
little-endian word, the word times ``0xbf58476d1ce4e5b9``).

Opening a DuckDB connection costs 20 to 40 ms on a busy 2-core machine whatever the store's
size; reading the headers and the active header's first metadata block (the catalogue's root)
and checking their checksums costs about 1 ms, and finds a truncated file, a damaged header
and a damaged catalogue. It proves nothing more: damage in another block is found by DuckDB
when it reads that block (its checksum error is then the same ``StoreCorruptError``).

``intact`` is True only when every check passes. False means "open it with DuckDB to
know" (a layout this module does not know, a file being written, or damage), never "damaged"
by itself: the caller then asks DuckDB.

The bottom of the import graph: it imports nothing from trackyard.
"""

from __future__ import annotations

import struct
from pathlib import Path

HEADER_BYTES = 4096
_HEADERS = 3
_MAGIC = b"DUCK"
_MULTIPLIER = 0xBF58476D1CE4E5B9
_SEED = 5381
_BLOCK_ID_BITS = (1 << 56) - 1  # a metadata pointer: block id, and its index in the top byte
_INVALID = (1 << 64) - 1
_MAX_BLOCK = 1 << 30


def checksum(data: bytes) -> int:
    """DuckDB's checksum of ``data`` (a whole number of 64-bit words)."""
    import numpy as np  # loaded with consist already; only to checksum a block in ~0.5 ms

    words = np.frombuffer(data, dtype="<u8")
    with np.errstate(over="ignore"):
        mixed = np.bitwise_xor.reduce(words * np.uint64(_MULTIPLIER)) if len(words) else 0
    return int(mixed) ^ _SEED


def _sound(block: bytes) -> bool:
    """Whether ``block`` (a header or a data block) matches the checksum it starts with."""
    if len(block) < 8 or len(block) % 8:
        return False
    return int.from_bytes(block[:8], "little") == checksum(block[8:])


def intact(db_path: Path) -> bool:
    """Whether ``db_path``'s headers and catalogue root are whole and match their checksums
    (False also when the layout is not one this module knows: then ask DuckDB)."""
    try:
        with db_path.open("rb") as handle:
            head = handle.read(_HEADERS * HEADER_BYTES)
            if len(head) < _HEADERS * HEADER_BYTES or head[8:12] != _MAGIC:
                return False
            blocks = [head[i * HEADER_BYTES : (i + 1) * HEADER_BYTES] for i in range(_HEADERS)]
            if not all(_sound(b) for b in blocks):
                return False
            # checksum, iteration, meta block, free list, block count, block size
            fields = [struct.unpack_from("<QQQQQQ", b) for b in blocks[1:]]
            _, _, meta, _, count, size = max(fields, key=lambda f: f[1])
            if size < HEADER_BYTES or size > _MAX_BLOCK or size % HEADER_BYTES:
                return False
            # DuckDB cuts free blocks off the end: the file may hold fewer than ``count``.
            start = _HEADERS * HEADER_BYTES
            if meta == _INVALID:
                return True  # an empty database: no catalogue yet
            block = meta & _BLOCK_ID_BITS
            if block >= count:
                return False
            handle.seek(start + block * size)
            return _sound(handle.read(size))
    except (OSError, struct.error, ValueError):
        return False
