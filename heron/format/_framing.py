"""Byte-level layout of a ``.heron`` file: magic, block framing, fixed headers.

Everything here mirrors ``format-spec.md`` sections 2-5; keep them in step.
All integers are little-endian.

Block = 16-byte block header + payload + 4-byte trailer::

    0  4  sync        b"\\x89HB\\x00"
    4  1  type        BlockType
    5  1  flags       0 in v1 (readers ignore)
    6  2  reserved    0
    8  4  length      payload length in bytes (<= MAX_BLOCK_PAYLOAD)
    12 4  header_crc  CRC-32C of bytes 0..11
    16 .. payload
    ..  4 block_crc   CRC-32C of the 16 header bytes + payload

The header CRC lets a reader trust ``length`` before reading the payload
(and reject candidate headers quickly while resynchronising); the block CRC
covers header and payload together.

Examples
--------
>>> blk = encode_block(BlockType.CHUNK, b"abc")
>>> len(blk), blk[:4] == SYNC
(23, True)
>>> parse_block_header(blk[:16])
(2, 3)
"""

from __future__ import annotations

import struct
from enum import IntEnum

import google_crc32c

#: File magic (PNG/MCAP style): 0x89 catches 7-bit stripping, CR LF catches
#: newline conversion, 0x1a stops DOS ``type``, the final LF catches LF->CRLF.
MAGIC = b"\x89HRN\r\n\x1a\n"
#: Every block starts with this; never a prefix of MAGIC.
SYNC = b"\x89HB\x00"

VERSION_MAJOR = 1
VERSION_MINOR = 0

#: Incompatible feature flags (readers refuse files with unknown bits set).
INCOMPAT_DATA_REF = 1 << 0  # DATA payloads as copy-ops, columnar chunks; see _dedup
KNOWN_INCOMPAT = INCOMPAT_DATA_REF
#: Compatible feature flags (readers ignore unknown bits).
COMPAT_SYNC_POINTS = 1 << 0  # writer marks independent chunks (CHUNK_FLAG_INDEPENDENT)
KNOWN_COMPAT = COMPAT_SYNC_POINTS

# Limits: lengths read from a file are checked against these before use, so a
# corrupt or hostile length can never make a reader allocate unbounded memory.
MAX_BLOCK_PAYLOAD = 64 << 20  # a chunk's compressed bytes, index, header
MAX_CHUNK_RAW = 128 << 20  # a chunk's decompressed bytes
MAX_WINDOW = 256 << 20  # largest dedup window a reader agrees to keep
MAX_RECORD = 32 << 20  # largest single packed record the writer accepts
#: A literal frame's zstd dictionary is the last DICT_BYTES of its listed
#: payloads (all of them when shorter): bounded dictionary cost per frame, and
#: measured to compress as well as the whole conversation.
DICT_BYTES = 128 << 10
MAX_DICT_SEQS = 4096  # most dictionary payloads one literal frame may list


#: DATA ``fn`` values stored as an index into this table (format-spec.md
#: section 7).  Fixed forever: other names are stored as strings.
FN_TABLE = (
    "SSL_read",
    "SSL_write",
    "SSL_read_ex",
    "SSL_write_ex",
    "gnutls_record_recv",
    "gnutls_record_send",
    "read",
    "write",
    "readv",
    "writev",
    "recv",
    "send",
    "recvfrom",
    "sendto",
    "recvmsg",
    "sendmsg",
)


#: Fields of an INDEX chunk entry, delta-coded (format-spec.md section 9).
INDEX_CHUNK_FIELDS = (
    "offset_gap",
    "size",
    "seq_gap",
    "count",
    "min_t_delta",
    "t_span",
    "flags",
    "data_bytes",
)


class BlockType(IntEnum):
    """Block types.  Unknown types are skipped by length."""

    HEADER = 1
    CHUNK = 2
    INDEX = 3
    FOOTER = 4


class Codec(IntEnum):
    """Chunk body compression."""

    NONE = 0
    ZSTD = 1


#: Chunk flag: no record in this chunk or any later chunk references a DATA
#: payload from before this chunk (a dedup "sync point"; seeking starts here).
CHUNK_FLAG_INDEPENDENT = 1 << 0
#: Chunk flag: the body is a records section with DATA columns after it,
#: followed by per-connection literal frames (format-spec.md sections 5 and 7).
CHUNK_FLAG_COLUMNS = 1 << 1

_BH12 = struct.Struct("<4sBBHI")
BLOCK_HEADER_SIZE = 16
BLOCK_TRAILER_SIZE = 4
BLOCK_OVERHEAD = BLOCK_HEADER_SIZE + BLOCK_TRAILER_SIZE
_U32 = struct.Struct("<I")

#: File header fixed part: major, minor, compat flags, incompat flags, uuid.
FILE_HEADER = struct.Struct("<HHQQ16s")  # 36 bytes, followed by a msgpack map

#: Chunk header: codec, flags, reserved, record count, first seq, min t, max t,
#: uncompressed body length, dedup window in KiB.  Followed by the body.
CHUNK_HEADER = struct.Struct("<BBHIQQQII")  # 40 bytes

#: Footer payload: index block offset, index block total size, record count.
FOOTER = struct.Struct("<QQQ")  # 24 bytes
FOOTER_BLOCK_SIZE = BLOCK_OVERHEAD + FOOTER.size  # 44
#: The file tail of a cleanly closed file: footer block + MAGIC.
TAIL_SIZE = FOOTER_BLOCK_SIZE + len(MAGIC)


def crc32c(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """CRC-32C (Castagnoli) of ``data``, optionally continuing from ``crc``.

    Examples
    --------
    >>> hex(crc32c(b"123456789"))
    '0xe3069283'
    """
    return int(google_crc32c.extend(crc, bytes(data) if isinstance(data, memoryview) else data))


def encode_block(btype: int, payload: bytes) -> bytes:
    """Frame ``payload`` as one block (header, payload, CRC trailer).

    Examples
    --------
    >>> encode_block(BlockType.FOOTER, b"")[4]
    4
    """
    h12 = _BH12.pack(SYNC, btype, 0, 0, len(payload))
    hdr = h12 + _U32.pack(crc32c(h12))
    return b"".join((hdr, payload, _U32.pack(crc32c(payload, crc32c(hdr)))))


def parse_block_header(h: bytes | bytearray | memoryview) -> tuple[int, int] | None:
    """Return ``(type, payload_length)`` if ``h`` (16 bytes) is a valid block header.

    Valid means: sync bytes present, header CRC correct, length within
    :data:`MAX_BLOCK_PAYLOAD`.  Anything else returns ``None``.

    Examples
    --------
    >>> parse_block_header(b"\\x00" * 16) is None
    True
    """
    if len(h) < BLOCK_HEADER_SIZE or bytes(h[:4]) != SYNC:
        return None
    _sync, btype, _flags, _res, length = _BH12.unpack_from(h, 0)
    (hcrc,) = _U32.unpack_from(h, 12)
    if hcrc != crc32c(bytes(h[:12])) or length > MAX_BLOCK_PAYLOAD:
        return None
    return int(btype), int(length)


def block_crc(block_header: bytes, payload: bytes | bytearray | memoryview) -> int:
    """CRC-32C over a 16-byte block header followed by its payload.

    Examples
    --------
    >>> blk = encode_block(3, b"xy")
    >>> block_crc(blk[:16], blk[16:18]) == int.from_bytes(blk[18:], "little")
    True
    """
    return crc32c(payload, crc32c(block_header))
