"""Readers for ``.heron`` files: streaming (recovering) and seeking.

:class:`Reader` walks the file front to back and never needs the footer: it
works on pipes, on files still being written, and on truncated or partly
corrupt files.  It yields every record of every intact chunk and records in
:attr:`Reader.report` exactly what was lost: byte ranges, chunk numbers, CRCs,
and the sequence numbers of the missing records.

:class:`IndexedReader` uses the footer's index (when present and intact) to
jump to a time range; without one it builds the index by scanning.

Both share :class:`_Decoder`, which turns chunk payloads into records and
keeps the dedup window (see :mod:`heron.format._dedup`).

Examples
--------
>>> import io
>>> from heron.format import Writer, RecordKind
>>> buf = io.BytesIO()
>>> with Writer(buf) as w:
...     _ = w.append(RecordKind.ANNOTATION, 1, text="a")
...     _ = w.data(2, conn=1, pid=1, dir=0, offset=0, length=5, data=b"hello")
>>> r = Reader(io.BytesIO(buf.getvalue()))
>>> [rec["k"] for rec in r], r.report.intact
([12, 8], True)
"""

from __future__ import annotations

import io
import os
import sys
import uuid
from array import array
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate, repeat
from typing import IO, Any, Self

import msgpack
import zstandard

from heron.format import _framing as fr
from heron.format._blocks import Block, BlockScanner, Damage, EndMarker
from heron.format.errors import (
    CorruptBlock,
    CorruptHeader,
    FormatError,
    IncompatibleFeature,
    NotAHeronFile,
    TruncatedFile,
    UnsupportedVersion,
)
from heron.format.records import RecordKind

__all__ = ["ChunkInfo", "IndexedReader", "Loss", "ReadReport", "Reader", "open_source"]

Record = dict[str, Any]
_DATA = int(RecordKind.DATA)
_STATS = int(RecordKind.STATS)
_KNOWN_KINDS = frozenset(int(k) for k in RecordKind)
_U64 = (1 << 64) - 1
_FN_TABLE = fr.FN_TABLE
_NCOLS = 10
_XCOL = 6  # index of the payload column among the DATA columns  # DATA columns after the literal group list (format-spec.md section 7)


class SourceError(FormatError):
    """The input could not be opened or read."""


def open_source(src: str | os.PathLike[str] | IO[bytes]) -> tuple[IO[bytes], bool, str]:
    """Return ``(binary file, we_own_it, display name)`` for any accepted input.

    Examples
    --------
    >>> f, owned, name = open_source(io.BytesIO(b""))
    >>> owned, name
    (False, '<stream>')
    """
    if isinstance(src, (str, os.PathLike)):
        path = os.fspath(src)
        if path == "-":
            return sys.stdin.buffer, False, "<stdin>"
        try:
            return open(path, "rb"), True, path
        except OSError as e:
            raise SourceError(f"{path}: cannot open: {e.strerror or e}") from None
    if not hasattr(src, "read"):
        raise SourceError(f"expected a path or a binary file object, got {type(src).__name__}")
    return src, False, str(getattr(src, "name", "<stream>"))


@dataclass
class Loss:
    """One thing a reader could not recover, and where.

    ``kind`` is one of ``corrupt-block`` (CRC mismatch), ``damaged-bytes``
    (no valid block there), ``truncated`` (file ends inside a block),
    ``bad-chunk`` (CRC fine but undecodable), ``missing-ref`` (a DATA record
    whose dedup base was lost), ``missing-records`` (records the index says
    exist but were never seen), ``bad-index`` and ``bad-header``.
    ``first_seq``/``last_seq`` give the missing records (inclusive;
    ``last_seq`` None means "up to the unknown end").

    Examples
    --------
    >>> Loss("corrupt-block", offset=100, end=300, chunk_index=2, first_seq=7, last_seq=9).describe()
    'corrupt-block: bytes 100..300 (200 bytes) chunk #2; records seq 7..9 lost (3)'
    """

    kind: str
    offset: int | None = None
    end: int | None = None
    chunk_index: int | None = None
    first_seq: int | None = None
    last_seq: int | None = None
    expected_crc: int | None = None
    actual_crc: int | None = None
    block_type: int | None = None
    base_seq: int | None = None
    bytes_unavailable: int | None = None
    claimed: tuple[int, int] | None = None  # (first_seq, count) from an unverified header
    detail: str = ""

    def describe(self) -> str:
        """One line for humans.

        Examples
        --------
        >>> Loss("truncated", offset=10, end=20, first_seq=3).describe()
        'truncated: bytes 10..20 (10 bytes); records seq 3.. lost'
        """
        parts = [self.kind + ":"]
        if self.offset is not None:
            if self.end is not None and self.end != self.offset:
                parts.append(f"bytes {self.offset}..{self.end} ({self.end - self.offset} bytes)")
            else:
                parts.append(f"at byte {self.offset}")
        if self.chunk_index is not None:
            parts.append(f"chunk #{self.chunk_index}")
        if self.expected_crc is not None and self.actual_crc is not None:
            parts.append(f"crc stored 0x{self.expected_crc:08x} computed 0x{self.actual_crc:08x}")
        s = " ".join(parts)
        if self.kind == "missing-ref":
            s += (
                f" record seq {self.first_seq} references seq {self.base_seq}, which was lost;"
                f" {self.bytes_unavailable} bytes of its data unavailable"
            )
        elif self.first_seq is not None:
            if self.last_seq is None:
                s += f"; records seq {self.first_seq}.. lost"
            elif self.last_seq == self.first_seq:
                s += f"; record seq {self.first_seq} lost"
            else:
                n = self.last_seq - self.first_seq + 1
                s += f"; records seq {self.first_seq}..{self.last_seq} lost ({n})"
        elif self.kind not in ("bad-index", "bad-header"):
            s += "; no records lost"
        if self.claimed is not None and self.first_seq is None:
            s += f"; header claims seq {self.claimed[0]}..{self.claimed[0] + self.claimed[1] - 1}"
        if self.detail:
            s += f" ({self.detail})"
        return s


@dataclass
class ReadReport:
    """What a reader saw: counts, clean close, and every :class:`Loss`.

    Examples
    --------
    >>> ReadReport().intact
    False
    """

    chunks: int = 0
    records: int = 0
    losses: list[Loss] = field(default_factory=list)
    closed: bool = False  # footer seen
    end_magic: bool = False
    next_seq: int = 0  # one past the last sequence number seen
    total_records: int | None = None  # from the footer/index, when present
    unknown_kinds: dict[int, int] = field(default_factory=dict)
    unknown_blocks: dict[int, int] = field(default_factory=dict)
    kinds: dict[int, int] = field(default_factory=dict)
    first_t: int | None = None
    last_t: int | None = None
    last_stats: Record | None = None
    data_bytes: int = 0  # DATA payload bytes returned (rebuilt), all records

    @property
    def intact(self) -> bool:
        """True when the file was closed cleanly and nothing was lost."""
        return self.closed and self.end_magic and not self.losses

    @property
    def missing_seqs(self) -> list[tuple[int, int | None]]:
        """Inclusive ranges of lost record sequence numbers (``None`` = open end).

        Examples
        --------
        >>> ReadReport(losses=[Loss("truncated", first_seq=5)]).missing_seqs
        [(5, None)]
        """
        return [
            (x.first_seq, x.last_seq)
            for x in self.losses
            if x.first_seq is not None and x.kind != "missing-ref"
        ]


@dataclass(frozen=True, slots=True)
class ChunkInfo:
    """One chunk as listed in the index (or found by a scan).

    ``data_bytes`` is -1 when the chunk was found by a scan.

    Examples
    --------
    >>> ChunkInfo(8, 100, 0, 3, 10, 20, 1, 0).independent
    True
    """

    offset: int
    size: int
    first_seq: int
    count: int
    min_t: int
    max_t: int
    flags: int
    data_bytes: int

    @property
    def independent(self) -> bool:
        """No record here or later references a DATA payload from before this chunk."""
        return bool(self.flags & fr.CHUNK_FLAG_INDEPENDENT)


def parse_header(payload: bytes) -> Record:
    """Decode a HEADER block payload into the :attr:`Reader.header` dict.

    Raises :class:`UnsupportedVersion` for another major version and
    :class:`IncompatibleFeature` for unknown incompatible flags.

    Examples
    --------
    >>> p = fr.FILE_HEADER.pack(1, 0, 0, 0, bytes(16)) + msgpack.packb({"host": "h"})
    >>> parse_header(p)["host"], parse_header(p)["version"]
    ('h', '1.0')
    """
    if len(payload) < fr.FILE_HEADER.size:
        raise CorruptHeader(
            f"file header block is {len(payload)} bytes; expected at least {fr.FILE_HEADER.size}"
        )
    major, minor, compat, incompat, uid = fr.FILE_HEADER.unpack_from(payload)
    if major != fr.VERSION_MAJOR:
        raise UnsupportedVersion(
            f"file format version {major}.{minor}; this reader implements {fr.VERSION_MAJOR}.x"
        )
    unknown = incompat & ~fr.KNOWN_INCOMPAT
    if unknown:
        raise IncompatibleFeature(unknown)
    try:
        meta = msgpack.unpackb(payload[fr.FILE_HEADER.size :], raw=False)
    except Exception as e:  # any undecodable bytes: the header is unusable
        raise CorruptHeader(f"file header metadata is not valid msgpack: {e}") from None
    if not isinstance(meta, dict):
        raise CorruptHeader(f"file header metadata is a {type(meta).__name__}, expected a map")
    out: Record = dict(meta)
    out.update(
        version=f"{major}.{minor}",
        version_major=major,
        version_minor=minor,
        compat_flags=compat,
        incompat_flags=incompat,
        uuid=str(uuid.UUID(bytes=uid)),
    )
    return out


class _Decoder:
    """Chunk payload -> records, with the dedup window and loss accounting."""

    def __init__(self, report: ReadReport, *, skip_unknown: bool = True) -> None:
        self.report = report
        self.skip_unknown = skip_unknown
        self.window = 0
        self._win: dict[int, bytes] = {}
        self._order: deque[int] = deque()
        self._total = 0
        self._dctx = zstandard.ZstdDecompressor()
        self._pending: list[Loss] = []  # losses whose missing seqs are not known yet
        # current chunk's literal frames by connection: [bytes, cursor, lost dict seq]
        self._lits: dict[Any, list[Any]] = {}
        self.chunk_index = 0

    # -- damage ------------------------------------------------------------

    def damage(self, d: Damage) -> Loss:
        rep = self.report
        claimed = None
        if d.block_type == fr.BlockType.CHUNK and len(d.payload_head) >= fr.CHUNK_HEADER.size:
            h = fr.CHUNK_HEADER.unpack_from(d.payload_head)
            claimed = (int(h[4]), int(h[3]))
        if d.kind == "crc":
            kind = "corrupt-block"
            if d.block_type == fr.BlockType.INDEX or d.block_type == fr.BlockType.FOOTER:
                kind = "bad-index"
            elif d.block_type == fr.BlockType.HEADER:
                kind = "bad-header"
        else:
            kind = "truncated" if d.kind == "truncated" else "damaged-bytes"
        idx = self.chunk_index if d.block_type in (fr.BlockType.CHUNK, None) else None
        loss = Loss(
            kind,
            offset=d.offset,
            end=d.end,
            chunk_index=idx,
            expected_crc=d.expected_crc,
            actual_crc=d.actual_crc,
            block_type=d.block_type,
            claimed=claimed,
        )
        if d.block_type == fr.BlockType.CHUNK:
            self.chunk_index += 1
        rep.losses.append(loss)
        if kind not in ("bad-index", "bad-header"):
            self._pending.append(loss)
        return loss

    def _settle_gap(self, first_seq: int | None) -> None:
        """Attribute the records missing before ``first_seq`` to pending losses."""
        rep = self.report
        start = rep.next_seq
        if first_seq is not None and first_seq <= start:
            self._pending.clear()
            return
        last = None if first_seq is None else first_seq - 1
        if not self._pending:
            if first_seq is not None:
                rep.losses.append(
                    Loss("missing-records", first_seq=start, last_seq=last, detail="sequence gap")
                )
            return
        # Use claims from damaged chunk headers where they fit inside the gap.
        unexplained = self._pending[0]
        for loss in self._pending:
            c = loss.claimed
            if c and c[0] >= start and (last is None or c[0] + c[1] - 1 <= last) and c[1] > 0:
                loss.first_seq, loss.last_seq = c[0], c[0] + c[1] - 1
        claimed = [x for x in self._pending if x.first_seq is not None]
        covered = 0
        for x in claimed:
            if x.last_seq is not None and x.first_seq is not None:
                covered += x.last_seq - x.first_seq + 1
        want = None if last is None else last - start + 1
        if not claimed or want is None or covered != want:
            # claims do not explain the gap exactly: report it as one range
            for x in self._pending:
                x.first_seq = x.last_seq = None
            unexplained.first_seq, unexplained.last_seq = start, last
            if len(self._pending) > 1:
                unexplained.detail = f"gap spans {len(self._pending)} damaged regions"
        self._pending.clear()

    def finish(self, total: int | None) -> None:
        """End of input: settle losses at the tail using the footer's count if known."""
        rep = self.report
        if total is not None and total > rep.next_seq:
            if self._pending:
                self._settle_gap(total)
            else:
                rep.losses.append(
                    Loss(
                        "missing-records",
                        first_seq=rep.next_seq,
                        last_seq=total - 1,
                        detail="index lists records never seen",
                    )
                )
        elif self._pending:
            self._settle_gap(None)

    # -- chunks ------------------------------------------------------------

    def chunk(self, offset: int, payload: bytes) -> list[Record]:
        """Decode one CRC-verified chunk payload (records it could not decode are reported)."""
        rep = self.report
        idx = self.chunk_index
        self.chunk_index += 1
        bad = self._bad_chunk
        if len(payload) < fr.CHUNK_HEADER.size:
            return bad(offset, idx, None, f"payload {len(payload)} bytes < chunk header")
        codec, flags, _r, count, first_seq, min_t, _maxt, raw_len, win_kib = (
            fr.CHUNK_HEADER.unpack_from(payload)
        )
        claimed = (first_seq, count)
        if raw_len > fr.MAX_CHUNK_RAW or count > raw_len:
            return bad(
                offset, idx, claimed, f"implausible sizes: {count} records in {raw_len} bytes"
            )
        body = payload[fr.CHUNK_HEADER.size :]
        frames = b""
        columnar = flags & fr.CHUNK_FLAG_COLUMNS
        if columnar:
            a_len = int.from_bytes(body[:4], "little") if len(body) >= 4 else -1
            if not 0 <= a_len <= len(body) - 4:
                return bad(offset, idx, claimed, "records section length runs past the chunk")
            frames = body[4 + a_len :]
            body = body[4 : 4 + a_len]
        if codec == fr.Codec.ZSTD:
            try:
                if zstandard.frame_content_size(body) != raw_len:
                    return bad(offset, idx, claimed, "zstd frame size disagrees with chunk header")
                raw = self._dctx.decompress(body, max_output_size=raw_len)
            except zstandard.ZstdError as e:
                return bad(offset, idx, claimed, f"zstd: {e}")
        elif codec == fr.Codec.NONE:
            raw = body
        else:
            return bad(offset, idx, claimed, f"unknown codec {codec}")
        if len(raw) != raw_len:
            return bad(offset, idx, claimed, f"body is {len(raw)} bytes, header says {raw_len}")
        cols: Any = None
        try:
            recs = msgpack.unpackb(raw, raw=False)
        except msgpack.ExtraData as e:
            if not columnar:
                return bad(offset, idx, claimed, "msgpack: extra data after the records")
            recs = e.unpacked  # type: ignore[attr-defined]
            try:
                cols = msgpack.unpackb(e.extra, raw=False)  # type: ignore[attr-defined]
            except Exception as e2:  # any undecodable columns
                return bad(offset, idx, claimed, f"msgpack columns: {e2}")
        except Exception as e:  # any undecodable body (msgpack raises several types)
            return bad(offset, idx, claimed, f"msgpack: {e}")
        if recs.__class__ is not list or len(recs) != count:
            return bad(offset, idx, claimed, f"body is not an array of {count} records")
        groups: list[tuple[Any, list[int], bytes]] = []
        if columnar:
            try:
                cols, groups = _columns(cols, recs.count(None), first_seq, min_t, frames)
            except (ValueError, TypeError, OverflowError) as e:
                return bad(offset, idx, claimed, f"DATA columns: {e}")
        elif None in recs:
            return bad(offset, idx, claimed, "columnar record in a chunk without columns")
        self._settle_gap(first_seq)
        if first_seq + count > rep.next_seq:
            rep.next_seq = first_seq + count
        rep.chunks += 1
        if flags & fr.CHUNK_FLAG_INDEPENDENT:
            self._win.clear()
            self._order.clear()
            self._total = 0
        w = min(win_kib * 1024, fr.MAX_WINDOW)
        if w > self.window:
            self.window = w
        self._lits = {key: self._open_literals(seqs, frame) for key, seqs, frame in groups}
        return self._records(recs, first_seq, offset, idx, cols)

    def _open_literals(self, seqs: list[int], frame: bytes) -> list[Any]:
        """Decompress one literal frame against its dictionary payloads.

        Returns ``[literal bytes, cursor, lost]``: ``lost`` is the sequence
        number of a dictionary payload that is not in the window (-1 when the
        frame itself is undecodable), else None.
        """
        win = self._win
        parts = []
        for b in seqs:
            p = win.get(b)
            if p is None:
                return [b"", 0, b]
            parts.append(p)
        need = 0  # only the last DICT_BYTES of the payloads form the dictionary
        for j in range(len(parts) - 1, -1, -1):
            need += len(parts[j])
            if need >= fr.DICT_BYTES:
                parts = parts[j:]
                break
        try:
            size = zstandard.frame_content_size(frame)
            if not 0 <= size <= fr.MAX_CHUNK_RAW:
                raise ValueError(f"literal frame declares {size} bytes")
            if parts:
                d = zstandard.ZstdCompressionDict(
                    b"".join(parts)[-fr.DICT_BYTES :], dict_type=zstandard.DICT_TYPE_RAWCONTENT
                )
                dctx = zstandard.ZstdDecompressor(dict_data=d)
            else:
                dctx = self._dctx
            lit = dctx.decompress(frame, max_output_size=size)
            if len(lit) != size:
                raise ValueError("literal frame size mismatch")
        except (zstandard.ZstdError, ValueError):
            # CRC-valid but undecodable: only a buggy writer does this; every
            # record using these literals is then reported as lost.
            return [b"", 0, -1]
        return [lit, 0, None]

    def _bad_chunk(
        self, offset: int, idx: int, claimed: tuple[int, int] | None, detail: str
    ) -> list[Record]:
        loss = Loss("bad-chunk", offset=offset, chunk_index=idx, claimed=claimed, detail=detail)
        self.report.losses.append(loss)
        self._pending.append(loss)
        return []

    def _records(
        self, recs: list[Any], first_seq: int, offset: int, idx: int, cols: Any
    ) -> list[Record]:
        rep = self.report
        kinds = rep.kinds
        win = self._win
        order = self._order
        window = self.window
        lits = self._lits
        drop: list[int] | None = None
        it = iter(zip(*cols, strict=False)) if cols is not None else None
        next_off: dict[Any, int] = {}
        prev_lit = 0
        ndata = 0
        nbytes = 0
        total = self._total
        i = -1
        for r in recs:
            i += 1
            try:
                if r is None:
                    # columnar DATA record (format-spec.md section 7)
                    assert it is not None
                    t, conn, pid, tid, dr, od, x, xl, fn, ex = next(it)
                    s = first_seq + i
                    while total > window and order:
                        total -= len(win.pop(order.popleft()))
                    lost = 0
                    if x.__class__ is int:
                        x += prev_lit
                        prev_lit = size = x
                        if x == 0:
                            d = b""
                        else:
                            g = lits[conn]
                            pos = g[1]
                            if g[2] is not None:
                                d = b""
                                lost = self._lost(s, g[2], x, offset, idx)
                            elif pos + x > len(g[0]) or x < 0:
                                raise ValueError("literal reference past the literal frame")
                            else:
                                d = g[0][pos : pos + x]
                                g[1] = pos + x
                    elif x.__class__ is bytes:
                        d = x
                        size = len(x)
                    else:
                        d, size, lost = self._rebuild(s, x, conn, offset, idx)
                    # after the payload, so that its literal bytes are used up
                    # even when the record is then refused
                    if conn.__class__ is not int or dr.__class__ is not int:
                        raise TypeError("DATA conn or dir is not an integer")
                    if pid is not None and pid.__class__ is not int:
                        pid = None  # unknown, as when absent; the bytes are good
                    if tid is not None and tid.__class__ is not int:
                        tid = None
                    key = (conn, dr)
                    o = (next_off.get(key, 0) + od) & _U64
                    ln = size + xl
                    if not 0 <= ln <= _U64:
                        raise ValueError("negative length")
                    next_off[key] = (o + ln) & _U64
                    rec = {"k": _DATA, "s": s, "t": t, "conn": conn, "pid": pid, "dir": dr,
                           "offset": o, "len": ln}  # fmt: skip
                    if tid is not None:
                        rec["tid"] = tid
                    rec["data"] = d
                    if fn is not None:
                        if fn.__class__ is int:
                            if not 0 <= fn < len(_FN_TABLE):
                                raise ValueError("hooked-function index out of range")
                            rec["fn"] = _FN_TABLE[fn]
                        elif fn.__class__ is str:
                            rec["fn"] = fn
                        else:
                            raise TypeError("DATA fn is not a string or an index")
                    if lost:
                        rec["lost"] = lost
                    else:
                        win[s] = d
                        order.append(s)
                        total += len(d)
                    if ex is not None:
                        for k2, v2 in ex.items():
                            if k2 not in rec:
                                rec[k2] = v2
                        _check_optional(rec)
                    recs[i] = rec
                    ndata += 1
                    nbytes += len(d)
                    continue
                k = r["k"]
                if k == _DATA:
                    s = first_seq + i
                    while total > window and order:
                        total -= len(win.pop(order.popleft()))
                    x = r.pop("x", None)
                    if x is not None:
                        d, size, lost = self._rebuild(s, x, r.get("conn"), offset, idx)
                        r["data"] = d
                        if lost:
                            r["lost"] = lost
                    else:
                        d = r["data"]
                        lost = 0
                    if d.__class__ is not bytes:
                        raise TypeError("data is not bytes")
                    _check_data(r)  # after the payload: its literal bytes are used up
                    if not lost:
                        win[s] = d
                        order.append(s)
                        total += len(d)
                    nbytes += len(d)
                elif k not in _KNOWN_KINDS:
                    rep.unknown_kinds[k] = rep.unknown_kinds.get(k, 0) + 1
                    if self.skip_unknown:
                        if drop is None:
                            drop = []
                        drop.append(i)
                        continue
                elif k == _STATS:
                    rep.last_stats = r
                kinds[k] = kinds.get(k, 0) + 1
            except (TypeError, KeyError, ValueError, AttributeError):
                # CRC-valid but malformed (only a buggy or hostile writer does this)
                rep.losses.append(
                    Loss(
                        "bad-chunk",
                        offset=offset,
                        chunk_index=idx,
                        first_seq=first_seq + i,
                        last_seq=first_seq + i,
                        detail="malformed record",
                    )
                )
                if drop is None:
                    drop = []
                drop.append(i)
        self._total = total
        rep.data_bytes += nbytes
        if ndata:
            kinds[_DATA] = kinds.get(_DATA, 0) + ndata
        if drop:
            dropped = set(drop)
            recs = [r for j, r in enumerate(recs) if j not in dropped]
        if recs:
            t0 = recs[0].get("t") if recs[0].__class__ is dict else None
            t1 = recs[-1].get("t") if recs[-1].__class__ is dict else None
            if rep.first_t is None and t0.__class__ is int:
                rep.first_t = t0
            if t1.__class__ is int:
                rep.last_t = t1
        rep.records += len(recs)
        return recs

    def _lost(self, s: int, missing: int, nbytes: int, offset: int, idx: int) -> int:
        """Report DATA record ``s`` as unbuildable; return the byte count (>= 1)."""
        self.report.losses.append(
            Loss(
                "missing-ref",
                offset=offset,
                chunk_index=idx,
                first_seq=s,
                last_seq=s,
                base_seq=missing,
                bytes_unavailable=nbytes,
            )
        )
        return max(nbytes, 1)

    def _rebuild(
        self, s: int, x: list[Any], conn: Any, offset: int, idx: int
    ) -> tuple[bytes, int, int]:
        """Apply copy-ops; return ``(payload, payload size, bytes lost)``."""
        win = self._win
        parts: list[bytes | memoryview] = []
        lost = 0
        missing: int | None = None
        size = 0
        for op in x:
            if op.__class__ is bytes:
                parts.append(op)
                size += len(op)
                continue
            if op.__class__ is int:
                if op < 0:
                    raise ValueError("negative literal length")
                if op == 0:
                    continue
                g = self._lits[conn]
                if g[2] is not None:
                    lost += op
                    if missing is None:
                        missing = g[2]
                    continue
                pos = g[1]
                if pos + op > len(g[0]):
                    raise ValueError("literal reference past the literal frame")
                parts.append(g[0][pos : pos + op])
                g[1] = pos + op
                size += op
                continue
            back, off, ln = op
            if ln.__class__ is not int or ln < 0:
                raise ValueError("bad copy length")
            base = win.get(s - back)
            if base is None or off < 0 or off + ln > len(base) or back <= 0:
                lost += ln
                if missing is None:
                    missing = s - back
                continue
            # a view, not a slice: join copies the bytes once, not twice
            parts.append(memoryview(base)[off : off + ln])
            size += ln
            if size > fr.MAX_RECORD:
                raise ValueError("rebuilt payload exceeds the record size limit")
        if missing is not None:
            return b"", size + lost, self._lost(s, missing, size + lost, offset, idx)
        return b"".join(parts), size, 0


def _check_data(r: dict[str, Any]) -> None:
    """Raise TypeError unless a DATA record's fields have their spec'd types.

    A CRC-valid record of the wrong shape only comes from a buggy or hostile
    writer; it is reported as malformed, like any other undecodable record,
    instead of reaching the analysis (format-spec.md section 8).  A ``pid``
    or ``tid`` that is not an integer is dropped instead (the bytes are
    still good).

    Examples
    --------
    >>> _check_data({"k": 8, "s": 0, "t": 1, "conn": 2, "pid": 3, "dir": 0, "offset": 0,
    ...              "len": 1, "data": b"x"})
    >>> _check_data({"k": 8, "s": 0, "t": "1", "conn": 2, "dir": 0, "offset": 0, "len": 1})
    Traceback (most recent call last):
    ...
    TypeError: DATA field of the wrong type
    >>> r = {"k": 8, "s": 0, "t": 1, "conn": 2, "pid": "3", "dir": 0, "offset": 0, "len": 0}
    >>> _check_data(r); "pid" in r
    False
    """
    g = r.get
    if (
        g("t").__class__ is not int
        or g("conn").__class__ is not int
        or g("dir").__class__ is not int
        or g("offset").__class__ is not int
        or g("len").__class__ is not int
    ):
        raise TypeError("DATA field of the wrong type")
    for key in ("pid", "tid"):  # unknown, as when absent: the bytes are good
        v = g(key)
        if v is not None and v.__class__ is not int:
            del r[key]
    _check_optional(r)


def _check_optional(r: dict[str, Any]) -> None:
    """The optional DATA fields: ``trunc`` bool, ``redacted`` [[uint, uint], ...], ``fn`` str."""
    trunc, red, fn = r.get("trunc"), r.get("redacted"), r.get("fn")
    if trunc is not None and trunc.__class__ is not bool:
        raise TypeError("DATA trunc is not a bool")
    if fn is not None and fn.__class__ is not str:
        raise TypeError("DATA fn is not a string")
    if red is not None:
        if red.__class__ is not list:
            raise TypeError("DATA redacted is not an array")
        for span in red:
            if (
                span.__class__ is not list
                or len(span) != 2
                or span[0].__class__ is not int
                or span[1].__class__ is not int
            ):
                raise TypeError("DATA redacted span is not [start, length]")


def _columns(
    cols: Any, n: int, first_seq: int, min_t: int, frames: bytes
) -> tuple[list[Any], list[tuple[int, list[int], bytes]]]:
    """Check a chunk's DATA columns; return them (``t`` made absolute) and its literal groups.

    Raises ValueError/TypeError on anything malformed (the chunk is then bad).
    """
    if cols.__class__ is not list or len(cols) < _NCOLS + 1:
        raise ValueError(f"expected an array of at least {_NCOLS + 1} columns")
    groups_in = cols[0]
    data_cols = cols[1 : _NCOLS + 1]
    for j in range(1, _NCOLS):
        c = data_cols[j]
        if c.__class__ is not list:
            if j == _XCOL or c.__class__ is dict:
                raise ValueError("the payload column is not an array")
            data_cols[j] = repeat(c, n)  # a constant column
        elif len(c) != n:
            raise ValueError(f"a column does not hold {n} values")
    if groups_in.__class__ is not list or len(groups_in) > max(n, 1):
        raise ValueError("literal group list is not a short array")
    groups: list[tuple[int, list[int], bytes]] = []
    pos = 0
    for g in groups_in:
        conn, deltas, flen = g
        if conn.__class__ is not int:
            raise ValueError("literal group connection is not an integer")
        if deltas.__class__ is not list or len(deltas) > fr.MAX_DICT_SEQS:
            raise ValueError("dictionary list is not a short array")
        if flen.__class__ is not int or not 0 <= flen <= len(frames) - pos:
            raise ValueError("literal frame length runs past the chunk")
        seqs: list[int] = []
        cur = first_seq
        for j, dlt in enumerate(deltas):
            if dlt.__class__ is not int or dlt < 1:
                raise ValueError("dictionary list is not increasing")
            cur = cur - dlt if j == 0 else cur + dlt
            seqs.append(cur)
        if seqs and seqs[-1] >= first_seq:
            raise ValueError("dictionary payload is not before the chunk")
        groups.append((conn, seqs, frames[pos : pos + flen]))
        pos += flen
    if pos != len(frames):
        raise ValueError(f"{len(frames) - pos} bytes after the literal frames")
    dtb = data_cols[0]
    if dtb.__class__ is not bytes or (n and len(dtb) not in (4 * n, 8 * n)) or (not n and dtb):
        raise ValueError(f"time column is not {n} 4- or 8-byte integers")
    data_cols[0] = []
    if n:
        dt = array("i" if len(dtb) == 4 * n else "q", dtb)
        if sys.byteorder == "big":
            dt.byteswap()
        ts = list(accumulate(dt, initial=min_t))[1:]
        if min(ts) < 0 or max(ts) > _U64:
            ts = [t & _U64 for t in ts]
        data_cols[0] = ts
    return data_cols, groups


class _Input:
    """Owns the input of a reader: closes it only if the reader opened it."""

    _f: IO[bytes]
    _owned: bool

    def close(self) -> None:
        """Close the input if this reader opened it.

        Examples
        --------
        >>> import io
        >>> from heron.format import Writer
        >>> buf = io.BytesIO(); Writer(buf).close(); buf.seek(0)
        0
        >>> Reader(buf).close()
        """
        if self._owned:
            self._owned = False
            self._f.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Reader(_Input):
    """Stream the records of a ``.heron`` file, recovering from damage.

    Parameters
    ----------
    src
        Path, ``"-"`` (stdin), or a binary file object (pipes work).
    skip_unknown
        Drop records of kinds this version does not know (they are counted
        in ``report.unknown_kinds``).  With False they are yielded as is.
    strict
        Raise at the first damage instead of recovering: :class:`CorruptBlock`
        or :class:`TruncatedFile`.

    Attributes
    ----------
    header : dict
        ``version``, ``uuid``, ``host``, ``kernel``, ``boot_id``, ``options``,
        ``start_monotonic_ns``, ``realtime_offset_ns``, ... (empty fields when
        the header block itself was damaged, see ``report``).
    report : ReadReport
        Filled in while iterating; complete once iteration ends.

    Examples
    --------
    >>> import io
    >>> from heron.format import Writer, RecordKind
    >>> buf = io.BytesIO()
    >>> with Writer(buf) as w:
    ...     _ = w.append(RecordKind.EXIT, 7, pid=42, exit_code=0)
    >>> data = buf.getvalue()
    >>> r = Reader(io.BytesIO(data[:-60]))   # lose the footer
    >>> [x["pid"] for x in r], r.report.closed
    ([42], False)
    """

    def __init__(
        self,
        src: str | os.PathLike[str] | IO[bytes],
        *,
        skip_unknown: bool = True,
        strict: bool = False,
    ) -> None:
        self._f, self._owned, self.name = open_source(src)
        self.strict = strict
        self.report = ReadReport()
        self.index: Record | None = None
        self._dec = _Decoder(self.report, skip_unknown=skip_unknown)
        self._started = False
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        try:
            magic = _read_exact(self._f, len(fr.MAGIC))
        except OSError as e:
            raise SourceError(f"{self.name}: cannot read: {e.strerror or e}") from None
        except TypeError:
            magic = ""  # type: ignore[assignment]
        if not isinstance(magic, bytes):
            raise SourceError(f"{self.name}: expected a binary file object (open it with 'rb')")
        check_magic(magic, self.name)
        self._events: Iterator[Block | Damage | EndMarker] = iter(
            BlockScanner(self._f, len(fr.MAGIC))
        )
        self._first: Block | Damage | EndMarker | None = next(self._events, None)
        first = self._first
        if isinstance(first, Block) and first.type == fr.BlockType.HEADER:
            self.header = parse_header(first.payload)
            self._first = None
            return
        if isinstance(first, Damage):
            second = next(self._events, None)
            if second is None:
                if first.kind == "truncated" or first.end - first.offset < fr.BLOCK_HEADER_SIZE:
                    first = None  # the file ends inside its header block
                else:
                    raise CorruptHeader(
                        f"{self.name}: no valid block after the magic (bytes "
                        f"{first.offset}..{first.end} are damaged)"
                    )
            else:
                self._events = _prepend(second, self._events)
        if first is None:
            raise TruncatedFile(
                f"{self.name}: file ends inside its header block (byte {len(fr.MAGIC)}); "
                "no records were written",
                offset=len(fr.MAGIC),
            )
        # The header block is damaged: keep going so intact chunks are still
        # recovered; dedup window sizes come from each chunk header.
        self.header = {}
        self.report.losses.append(
            Loss(
                "bad-header",
                offset=len(fr.MAGIC),
                detail="file header block damaged; host/kernel/options unknown",
            )
        )
        if self.strict:
            raise CorruptHeader(f"{self.name}: file header block at byte 8 is damaged")

    def __iter__(self) -> Iterator[Record]:
        for recs in self.chunks():
            yield from recs

    def chunks(self) -> Iterator[list[Record]]:
        """Yield the records chunk by chunk (a list per chunk; faster than per record).

        Examples
        --------
        >>> import io
        >>> from heron.format import Writer
        >>> buf = io.BytesIO(); Writer(buf).close(); buf.seek(0)
        0
        >>> list(Reader(buf).chunks())
        []
        """
        if self._started:
            raise FormatError(f"{self.name}: a Reader can be iterated only once")
        self._started = True
        dec = self._dec
        rep = self.report
        try:
            events: Iterable[Block | Damage | EndMarker] = self._events
            if self._first is not None:
                events = _prepend(self._first, self._events)
            for ev in events:
                if rep.end_magic:
                    # anything after the end magic is not part of this file
                    off = ev.offset
                    dec.damage(Damage(off, off, "garbage"))
                    rep.end_magic = False
                if ev.__class__ is Block:
                    assert isinstance(ev, Block)
                    t = ev.type
                    if t == fr.BlockType.CHUNK:
                        before = len(rep.losses)
                        recs = dec.chunk(ev.offset, ev.payload)
                        if self.strict and len(rep.losses) > before:
                            self._raise(rep.losses[before])
                        if recs:
                            yield recs
                    elif t == fr.BlockType.INDEX:
                        self._load_index(ev)
                    elif t == fr.BlockType.FOOTER:
                        rep.closed = True
                    elif t == fr.BlockType.HEADER:
                        dec.damage(Damage(ev.offset, ev.offset, "garbage"))
                        rep.losses[-1].detail = "unexpected second header block"
                    else:
                        rep.unknown_blocks[t] = rep.unknown_blocks.get(t, 0) + 1
                elif ev.__class__ is Damage:
                    assert isinstance(ev, Damage)
                    loss = dec.damage(ev)
                    if self.strict:
                        self._raise(loss)
                else:
                    rep.end_magic = True
            if self.index is not None and not rep.closed:
                self.index = None  # an index without its footer is not trusted
            total = rep.total_records if rep.closed else None
            dec.finish(total)
            if self.strict and rep.losses:
                self._raise(rep.losses[0])
        finally:
            self.close()

    def _load_index(self, ev: Block) -> None:
        try:
            idx = msgpack.unpackb(ev.payload, raw=False, strict_map_key=False)
            if not isinstance(idx, dict):
                raise ValueError("index is not a map")
            total = idx.get("records")
            self.index = idx
            if isinstance(total, int):
                self.report.total_records = total
        except Exception as e:  # undecodable index: report, keep reading
            self.report.losses.append(
                Loss("bad-index", offset=ev.offset, detail=f"index undecodable: {e}")
            )

    def _raise(self, loss: Loss) -> None:
        if loss.kind == "truncated":
            raise TruncatedFile(f"{self.name}: {loss.describe()}", offset=loss.offset or 0)
        raise CorruptBlock(
            offset=loss.offset or 0,
            chunk_index=loss.chunk_index,
            expected_crc=loss.expected_crc,
            actual_crc=loss.actual_crc,
            detail=loss.describe(),
        )


def _prepend(
    first: Block | Damage | EndMarker, rest: Iterator[Block | Damage | EndMarker]
) -> Iterator[Block | Damage | EndMarker]:
    yield first
    yield from rest


def _read_exact(f: IO[bytes], n: int) -> bytes:
    out = b""
    while len(out) < n:
        piece = f.read(n - len(out))
        if not piece:
            break
        out += piece
    return out


def _undelta_chunks(entries: list[Any]) -> list[ChunkInfo]:
    """Decode the INDEX's delta-coded chunk entries (format-spec.md section 9).

    Examples
    --------
    >>> [c.offset for c in _undelta_chunks([[8, 100, 0, 3, 50, 10, 1, 9], [0, 90, 0, 2, 20, 5, 0, 5]])]
    [8, 108]
    """
    out: list[ChunkInfo] = []
    end = seq = t = 0
    for e in entries:
        gap, size, sgap, count, dt, span, flags, data_bytes = (int(v) for v in e[:8])
        off, first, t = end + gap, seq + sgap, (t + dt) & _U64
        out.append(ChunkInfo(off, size, first, count, t, t + span, flags, data_bytes))
        end, seq = off + size, first + count
    return out


def check_magic(magic: bytes, name: str) -> None:
    """Raise unless ``magic`` is the ``.heron`` magic, explaining what it looks like.

    Examples
    --------
    >>> check_magic(b"PK\\x03\\x04....", "x.zip")
    Traceback (most recent call last):
    ...
    heron.format.errors.NotAHeronFile: x.zip: not a .heron file: expected magic 89 48 52 4e 0d 0a 1a 0a, found 50 4b 03 04 2e 2e 2e 2e
    """
    if magic == fr.MAGIC:
        return
    if fr.MAGIC.startswith(magic):
        if not magic:
            raise TruncatedFile(f"{name}: empty file; expected a .heron file", offset=0)
        raise TruncatedFile(
            f"{name}: file ends after {len(magic)} bytes, inside the .heron magic", offset=0
        )
    hint = ""
    if magic[1:4] == b"HRN":
        hint = " (looks like a .heron file damaged by text-mode/newline conversion)"
    raise NotAHeronFile(
        f"{name}: not a .heron file: expected magic {fr.MAGIC.hex(' ')}, found "
        f"{magic.hex(' ')}{hint}"
    )


class IndexedReader(_Input):
    """Seek by time using the footer's index; scan when there is none.

    Needs a seekable file.  Decoding a time range starts at the nearest
    earlier *independent* chunk so dedup references resolve.

    Examples
    --------
    >>> import io
    >>> from heron.format import Writer, RecordKind
    >>> buf = io.BytesIO()
    >>> with Writer(buf) as w:
    ...     for t in range(5):
    ...         _ = w.append(RecordKind.ANNOTATION, t * 10, text=str(t))
    ...         w.flush()
    >>> ir = IndexedReader(io.BytesIO(buf.getvalue()))
    >>> ir.from_footer, len(ir.chunks), [r["text"] for r in ir.records(start_ns=25)]
    (True, 5, ['3', '4'])
    """

    def __init__(self, src: str | os.PathLike[str] | IO[bytes]) -> None:
        self._f, self._owned, self.name = open_source(src)
        try:
            if not self._f.seekable():
                raise SourceError(f"{self.name}: IndexedReader needs a seekable file; use Reader")
            self._f.seek(0)
            check_magic(_read_exact(self._f, len(fr.MAGIC)), self.name)
            blk = self._read_block(len(fr.MAGIC))
            if blk is None or blk[0] != fr.BlockType.HEADER:
                raise CorruptHeader(f"{self.name}: file header block at byte 8 is damaged")
            self.header = parse_header(blk[1])
            self.index: Record | None = None
            self.from_footer = self._load_footer()
            if not self.from_footer:
                self.chunks = self._scan()
        except BaseException:
            self.close()
            raise

    def _read_block(self, offset: int) -> tuple[int, bytes] | None:
        self._f.seek(offset)
        h = _read_exact(self._f, fr.BLOCK_HEADER_SIZE)
        parsed = fr.parse_block_header(h)
        if parsed is None:
            return None
        btype, length = parsed
        rest = _read_exact(self._f, length + fr.BLOCK_TRAILER_SIZE)
        if len(rest) != length + fr.BLOCK_TRAILER_SIZE:
            return None
        payload = rest[:length]
        if fr.block_crc(h, payload) != int.from_bytes(rest[length:], "little"):
            return None
        return btype, payload

    def _load_footer(self) -> bool:
        f = self._f
        size = f.seek(0, io.SEEK_END)
        if size < len(fr.MAGIC) + fr.TAIL_SIZE:
            return False
        f.seek(size - len(fr.MAGIC))
        if _read_exact(f, len(fr.MAGIC)) != fr.MAGIC:
            return False
        foot = self._read_block(size - fr.TAIL_SIZE)
        if foot is None or foot[0] != fr.BlockType.FOOTER or len(foot[1]) < fr.FOOTER.size:
            return False
        ioff, _isize, _nrec = fr.FOOTER.unpack_from(foot[1])
        if ioff >= size:
            return False
        iblk = self._read_block(ioff)
        if iblk is None or iblk[0] != fr.BlockType.INDEX:
            return False
        try:
            idx = msgpack.unpackb(iblk[1], raw=False, strict_map_key=False)
            chunks = _undelta_chunks(idx["chunks"])
        except Exception:  # a damaged or foreign index: fall back to scanning
            return False
        self.index = idx
        self.chunks = chunks
        return True

    def _scan(self) -> list[ChunkInfo]:
        self._f.seek(len(fr.MAGIC))
        out: list[ChunkInfo] = []
        for ev in BlockScanner(self._f, len(fr.MAGIC)):
            if isinstance(ev, Block) and ev.type == fr.BlockType.CHUNK:
                if len(ev.payload) < fr.CHUNK_HEADER.size:
                    continue
                _c, flags, _r, count, first, mint, maxt, _raw, _w = fr.CHUNK_HEADER.unpack_from(
                    ev.payload
                )
                size = len(ev.payload) + fr.BLOCK_OVERHEAD
                out.append(ChunkInfo(ev.offset, size, first, count, mint, maxt, flags, -1))
        return out

    @property
    def time_range(self) -> tuple[int, int] | None:
        """``(min t, max t)`` over all chunks, or None for an empty file.

        Examples
        --------
        >>> import io
        >>> from heron.format import Writer, RecordKind
        >>> buf = io.BytesIO()
        >>> with Writer(buf) as w:
        ...     _ = w.append(RecordKind.ANNOTATION, 5, text="a")
        ...     _ = w.append(RecordKind.ANNOTATION, 9, text="b")
        >>> IndexedReader(io.BytesIO(buf.getvalue())).time_range
        (5, 9)
        """
        if not self.chunks:
            return None
        return min(c.min_t for c in self.chunks), max(c.max_t for c in self.chunks)

    def records(
        self,
        *,
        start_ns: int | None = None,
        end_ns: int | None = None,
        kinds: Iterable[int] | None = None,
    ) -> Iterator[Record]:
        """Records with ``start_ns <= t <= end_ns`` (either bound optional).

        Examples
        --------
        >>> import io
        >>> from heron.format import Writer, RecordKind
        >>> buf = io.BytesIO()
        >>> with Writer(buf) as w:
        ...     _ = w.append(RecordKind.ANNOTATION, 5, text="x")
        >>> [r["t"] for r in IndexedReader(io.BytesIO(buf.getvalue())).records(end_ns=4)]
        []
        """
        lo = -1 if start_ns is None else start_ns
        hi = 1 << 64 if end_ns is None else end_ns
        want = None if kinds is None else {int(k) for k in kinds}
        chunks = self.chunks
        hits = [i for i, c in enumerate(chunks) if c.max_t >= lo and c.min_t <= hi]
        if not hits:
            return
        begin = hits[0]
        if self.header.get("incompat_flags", 0) & fr.INCOMPAT_DATA_REF:
            while begin > 0 and not chunks[begin].independent:
                begin -= 1
        report = ReadReport()
        dec = _Decoder(report)
        for i in range(begin, hits[-1] + 1):
            c = chunks[i]
            blk = self._read_block(c.offset)
            if blk is None or blk[0] != fr.BlockType.CHUNK:
                dec.chunk_index += 1
                report.losses.append(Loss("corrupt-block", offset=c.offset, chunk_index=i))
                continue
            dec.chunk_index = i
            recs = dec.chunk(c.offset, blk[1])
            if i < hits[0]:
                continue
            for r in recs:
                t = r.get("t")
                if t.__class__ is int and lo <= t <= hi and (want is None or r["k"] in want):
                    yield r
        self.last_report = report
