"""Streaming block scanner with resynchronisation (the recovery core).

Walks a byte stream block by block.  A block is accepted only when its
header CRC and its block CRC both match.  On anything else the scanner
reports a :class:`Damage` and looks for the next sync marker whose header
CRC validates; it never follows a length that failed its header CRC, and
never reads more than :data:`~heron.format._framing.MAX_BLOCK_PAYLOAD` for
one block, so corrupt input cannot make it hang or allocate without bound.

Examples
--------
>>> import io
>>> from heron.format._framing import encode_block
>>> data = encode_block(2, b"a") + b"junk" + encode_block(2, b"b")
>>> [type(e).__name__ for e in BlockScanner(io.BytesIO(data), 0)]
['Block', 'Damage', 'Block']
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from heron.format import _framing as fr

_READ = 1 << 20


@dataclass(slots=True)
class Block:
    """A block whose header and block CRCs both matched."""

    offset: int
    type: int
    payload: bytes


@dataclass(slots=True)
class Damage:
    """Bytes ``[offset, end)`` that did not form a valid block.

    ``kind`` is ``"crc"`` (valid header, payload CRC mismatch: the length was
    trusted and skipped), ``"garbage"`` (no valid block header there) or
    ``"truncated"`` (a valid header whose block runs past end of input).
    """

    offset: int
    end: int
    kind: str
    block_type: int | None = None
    expected_crc: int | None = None
    actual_crc: int | None = None
    payload_head: bytes = b""


@dataclass(slots=True)
class EndMarker:
    """The trailing magic of a cleanly closed file, at ``offset``."""

    offset: int


class BlockScanner:
    """Iterate the blocks of ``f`` starting at file offset ``start``.

    Yields :class:`Block`, :class:`Damage` and :class:`EndMarker` in file order.

    Examples
    --------
    >>> import io
    >>> list(BlockScanner(io.BytesIO(b""), 0))
    []
    """

    def __init__(self, f: IO[bytes], start: int) -> None:
        self._f = f
        self._read1 = getattr(f, "read1", None)
        self._buf = bytearray()
        self._base = start  # file offset of _buf[0]
        self._pos = 0
        self._eof = False

    def _avail(self) -> int:
        return len(self._buf) - self._pos

    def _fill(self, need: int) -> bool:
        while len(self._buf) - self._pos < need and not self._eof:
            if self._pos > _READ:
                del self._buf[: self._pos]
                self._base += self._pos
                self._pos = 0
            want = max(_READ, need - (len(self._buf) - self._pos))
            try:
                # read1: return what a pipe has now instead of waiting for a
                # full megabyte, so a live `capture -o - | heron ...` streams
                piece = self._read1(want) if self._read1 is not None else self._f.read(want)
            except OSError:
                piece = b""
            if not piece:
                self._eof = True
                break
            self._buf += piece
        return len(self._buf) - self._pos >= need

    def _find_sync(self, start: int) -> int | None:
        """Buffer index of the next sync marker at or after ``start``; None at EOF.

        Moves ``_pos`` forward over bytes already known to hold no marker,
        keeping the last 7 (a marker or the end magic may straddle reads).
        """
        i = start
        while True:
            j = self._buf.find(fr.SYNC, i)
            if j >= 0:
                return j
            if self._eof:
                return None
            self._pos = max(self._pos, len(self._buf) - (len(fr.MAGIC) - 1))
            self._fill(self._avail() + 1)
            i = self._pos

    def _skip_to_end(self) -> None:
        """No more sync markers: stop at the end magic if the input ends with it."""
        tail = len(self._buf) - len(fr.MAGIC)
        if tail >= self._pos and self._buf[tail:] == fr.MAGIC:
            self._pos = tail
        else:
            self._pos = len(self._buf)

    def __iter__(self) -> Iterator[Block | Damage | EndMarker]:
        bad_start: int | None = None  # file offset where unparseable bytes began
        bad_info: Damage | None = None  # truncated-header details for that region
        bad_head = b""  # first bytes of that region
        while True:
            self._fill(fr.BLOCK_HEADER_SIZE)
            avail = self._avail()
            off = self._base + self._pos
            if avail == 0:
                if bad_start is not None:
                    if bad_info is None and fr.SYNC.startswith(bad_head):
                        # the input ends inside a block's first 16 bytes
                        bad_info = Damage(bad_start, bad_start, "truncated")
                    yield _region(bad_start, off, bad_info)
                return
            buf = self._buf
            pos = self._pos
            if avail == len(fr.MAGIC) and self._eof and buf[pos:] == fr.MAGIC:
                if bad_start is not None:
                    yield _region(bad_start, off, bad_info)
                    bad_start, bad_info = None, None
                yield EndMarker(off)
                self._pos += len(fr.MAGIC)
                continue
            h = parse_header_at(buf, pos) if avail >= fr.BLOCK_HEADER_SIZE else None
            if h is None:
                if bad_start is None:
                    bad_start = off
                    bad_head = bytes(buf[pos : pos + 4])
                nxt = self._find_sync(self._pos + 1)
                if nxt is None:
                    self._skip_to_end()
                else:
                    self._pos = nxt
                continue
            btype, length = h
            total = fr.BLOCK_OVERHEAD + length
            if not self._fill(total):
                # A valid header whose block runs past the end: truncated.  Its
                # bytes are reported as one region; keep scanning inside it in
                # case the "length" lied and real blocks follow.
                if bad_start is None:
                    bad_start = off
                    head = bytes(self._buf[self._pos + 16 : self._pos + 16 + 64])
                    bad_info = Damage(off, off, "truncated", btype, payload_head=head)
                nxt = self._find_sync(self._pos + 1)
                if nxt is None:
                    self._skip_to_end()
                else:
                    self._pos = nxt
                continue
            buf = self._buf
            pos = self._pos
            hdr = bytes(buf[pos : pos + 16])
            payload = bytes(buf[pos + 16 : pos + 16 + length])
            stored = int.from_bytes(buf[pos + 16 + length : pos + total], "little")
            actual = fr.block_crc(hdr, payload)
            if bad_start is not None:
                yield _region(bad_start, off, bad_info)
                bad_start, bad_info = None, None
            self._pos = pos + total
            if actual != stored:
                yield Damage(off, off + total, "crc", btype, stored, actual, payload[:64])
            else:
                yield Block(off, btype, payload)


def parse_header_at(buf: bytearray, pos: int) -> tuple[int, int] | None:
    """Validate the block header at ``buf[pos:pos+16]``.

    Examples
    --------
    >>> parse_header_at(bytearray(fr.encode_block(2, b"xyz")), 0)
    (2, 3)
    """
    if buf[pos : pos + 4] != fr.SYNC:
        return None
    return fr.parse_block_header(bytes(buf[pos : pos + 16]))


def _region(start: int, end: int, info: Damage | None) -> Damage:
    if info is not None and info.offset == start:
        return Damage(start, end, "truncated", info.block_type, payload_head=info.payload_head)
    return Damage(start, end, "garbage")
