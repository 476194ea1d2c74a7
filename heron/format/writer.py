"""The ``.heron`` chunk writer (theory of operation).

A capture must survive ``kill -9``: everything written before the last flush
has to be readable.  So the writer buffers packed records in memory and
emits them as one *chunk block* (header + zstd body + CRC) with a single
``write()`` call:

* at least every ``flush_interval`` seconds while records arrive (checked on
  every append and on :meth:`Writer.tick`, which the capture loop calls even
  when idle);
* whenever the uncompressed chunk grows past ``chunk_bytes``;
* on :meth:`Writer.flush` and :meth:`Writer.close`.

A reader therefore sees a sequence of whole chunks followed, after a crash,
by at most one partial block, which it detects by length and CRC.

DATA payloads go through :class:`~heron.format._dedup.DedupEncoder`, which
stores repeated conversation history as references to earlier payloads, so
one-second chunks still compress like the whole stream.  With dedup on, DATA
metadata is kept column-wise per chunk (time deltas, offsets only where the
stream does not imply them, values constant over the chunk stored once, the
hooked function as a small integer): after dedup, a streamed response's
per-event metadata would otherwise be the larger part of the file.  Every
``sync_interval`` bytes of DATA the writer starts a fresh dedup history and
marks that chunk *independent*: seeking readers start decoding there, and a
damaged region can only spoil references up to the next sync point.

On :meth:`Writer.close` an INDEX block (chunk offsets, time ranges, per-kind
counts, last STATS record) and a fixed-size FOOTER block are appended,
followed by the magic again.  Readers use them to seek and summarise, but
never need them.

The writer is not thread-safe; give it one owner.

Examples
--------
>>> import io
>>> from heron.format import Reader, RecordKind
>>> buf = io.BytesIO()
>>> with Writer(buf) as w:
...     w.append(RecordKind.ANNOTATION, 5, text="hello")
0
>>> _ = buf.seek(0)
>>> [r["text"] for r in Reader(buf)]
['hello']
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import sys
import time
import uuid
from array import array
from itertools import pairwise
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import msgpack
import zstandard

from heron.format import _framing as fr
from heron.format._dedup import DedupEncoder
from heron.format.errors import InvalidRecord, OutputError
from heron.format.records import RecordKind

__all__ = ["Writer", "clock_offset_ns"]

_DATA = int(RecordKind.DATA)
_STATS = int(RecordKind.STATS)
_CLOCK_SYNC = int(RecordKind.CLOCK_SYNC)
_U64 = (1 << 64) - 1
_I64 = 1 << 63
_I32 = 1 << 31
_FN_CODE = {name: i for i, name in enumerate(fr.FN_TABLE)}
_NIL = b"\xc0"  # a columnar DATA record's place in the records array
#: Keys a DATA record's extra fields may not use (the writer sets them).
_DATA_KEYS = frozenset(("k", "s", "t", "conn", "pid", "tid", "dir", "offset", "len", "data",
                        "x", "fn", "trunc", "redacted", "lost"))  # fmt: skip


def _int(name: str, v: Any, lo: int, hi: int, seq: int) -> int:
    """``v`` as a plain int within ``lo..hi``, or InvalidRecord naming the field."""
    if v.__class__ is not int:
        if not isinstance(v, int):
            raise InvalidRecord(
                f"DATA record seq {seq}: {name} must be an integer, got {type(v).__name__}"
            )
        v = int(v)
    assert isinstance(v, int)
    if not lo <= v <= hi:
        raise InvalidRecord(f"DATA record seq {seq}: {name}={v} is outside {lo}..{hi}")
    return v


def clock_offset_ns() -> tuple[int, int]:
    """Sample ``(monotonic_ns, realtime_ns - monotonic_ns)`` with minimal skew.

    Takes the tightest of a few realtime/monotonic/realtime brackets.

    Examples
    --------
    >>> mono, off = clock_offset_ns()
    >>> abs(mono + off - time.time_ns()) < 10**9
    True
    """
    best: tuple[int, int, int] | None = None
    for _ in range(5):
        r1 = time.clock_gettime_ns(time.CLOCK_REALTIME)
        m = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        r2 = time.clock_gettime_ns(time.CLOCK_REALTIME)
        if best is None or r2 - r1 < best[0]:
            best = (r2 - r1, m, (r1 + r2) // 2 - m)
    assert best is not None
    return best[1], best[2]


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _open_dest(dest: str | os.PathLike[str], overwrite: bool) -> int:
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    flags |= os.O_TRUNC if overwrite else os.O_EXCL
    path = os.fspath(dest)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise OutputError(
            f"{path}: already exists; refusing to overwrite (pass overwrite=True / --force)"
        ) from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise OutputError(f"{path}: is a symbolic link; refusing to follow it") from None
        raise OutputError(f"{path}: cannot create output file: {e.strerror}") from None
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o600)  # overwrite=True keeps the old inode's mode otherwise
    return fd


class Writer:
    """Write a ``.heron`` file: records in, crash-safe chunks out.

    Parameters
    ----------
    dest
        A path (created ``O_CREAT|O_EXCL|O_NOFOLLOW``, mode 0600), ``"-"`` for
        standard output, or a binary file object (e.g. a pipe).
    overwrite
        Truncate an existing regular file instead of refusing.
    flush_interval
        Longest time, in seconds, a record waits in memory before its chunk is
        written (the most a ``kill -9`` can lose).
    options
        Capture options, stored in the file header.
    chunk_bytes
        Flush when the uncompressed chunk body reaches this size.
    window
        Dedup window in bytes: how much recent DATA payload a reader must keep.
        ``0`` disables dedup.
    sync_interval
        Bytes of DATA payload between independent (sync-point) chunks.
    clock_sync_interval
        Seconds between automatic CLOCK_SYNC records (0 disables).
    level
        zstd level of the records section.
    literal_level
        zstd level of the literal sections (small after dedup, so a higher
        level costs little).
    meta
        Extra header fields (overrides host/kernel/boot_id detection).

    Examples
    --------
    >>> import io
    >>> buf = io.BytesIO()
    >>> w = Writer(buf, flush_interval=0.5)
    >>> w.data(10, conn=1, pid=2, dir=0, offset=0, length=3, data=b"abc")
    0
    >>> w.close(); buf.getvalue()[:4]
    b'\\x89HRN'
    """

    _prev_lit: int  # length of the chunk's previous all-literal DATA payload

    def __init__(
        self,
        dest: str | os.PathLike[str] | IO[bytes],
        *,
        overwrite: bool = False,
        flush_interval: float = 1.0,
        options: dict[str, Any] | None = None,
        chunk_bytes: int = 1 << 20,
        window: int = 16 << 20,
        sync_interval: int = 64 << 20,
        clock_sync_interval: float = 60.0,
        level: int = 3,
        literal_level: int = 9,
        meta: dict[str, Any] | None = None,
    ) -> None:
        if not 0 <= window <= fr.MAX_WINDOW:
            raise InvalidRecord(f"window must be within 0..{fr.MAX_WINDOW} bytes, got {window}")
        self._fd: int | None = None
        self._file: IO[bytes] | None = None
        self._closed = False
        if isinstance(dest, (str, os.PathLike)):
            if os.fspath(dest) == "-":
                self._file = sys.stdout.buffer
                self.name = "<stdout>"
            else:
                self._fd = _open_dest(dest, overwrite)
                self.name = os.fspath(dest)
        else:
            self._file = dest
            self.name = str(getattr(dest, "name", "<stream>"))
        self.flush_interval = float(flush_interval)
        self.chunk_bytes = int(chunk_bytes)
        self.window = int(window)
        self.sync_interval = int(sync_interval)
        self.clock_sync_interval = float(clock_sync_interval)
        self._cctx = zstandard.ZstdCompressor(level=level, write_content_size=True)
        self._cctx_small = zstandard.ZstdCompressor(
            level=max(level, SMALL_SECTION_LEVEL), write_content_size=True
        )
        self._packer = msgpack.Packer(use_bin_type=True, autoreset=True)
        self._dedup = DedupEncoder(self.window) if self.window else None
        self._seq = 0
        self._parts: list[bytes] = []
        self._raw = 0
        self._first_seq = 0
        self._min_t = 0
        self._max_t = 0
        self._pending_since = 0.0
        self._pending_data = 0
        self._lit_size = 0
        self._reset_columns()
        self._level = level
        self._lit_level = literal_level
        self._since_sync = 0
        self._independent = True
        self._offset = 0
        self._chunks: list[list[int]] = []
        self._kinds: dict[int, int] = {}
        self._last_stats: dict[str, Any] | None = None
        self._first_t: int | None = None
        self._last_t: int | None = None
        mono, off = clock_offset_ns()
        self._last_clock_sync = time.monotonic()
        self.uuid = uuid.uuid4()
        uname = os.uname()
        header_meta: dict[str, Any] = {
            "host": socket.gethostname(),
            "kernel": uname.release,
            "machine": uname.machine,
            "boot_id": _boot_id(),
            "options": options or {},
            "start_monotonic_ns": mono,
            "realtime_offset_ns": off,
            "created_realtime_ns": mono + off,
            "writer": "heron",
            "writer_version": _version(),
            "window": self.window,
            "flush_interval": self.flush_interval,
            "chunk_bytes": self.chunk_bytes,
            "sync_interval": self.sync_interval,
        }
        if meta:
            header_meta.update(meta)
        self.header = header_meta
        incompat = fr.INCOMPAT_DATA_REF if self._dedup else 0
        fixed = fr.FILE_HEADER.pack(
            fr.VERSION_MAJOR, fr.VERSION_MINOR, fr.COMPAT_SYNC_POINTS, incompat, self.uuid.bytes
        )
        try:
            payload = fixed + msgpack.packb(header_meta, use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as e:
            self._abandon()
            raise InvalidRecord(f"file header (options/meta) cannot be stored: {e}") from None
        self._write(fr.MAGIC + fr.encode_block(fr.BlockType.HEADER, payload))

    # -- records ----------------------------------------------------------

    @property
    def next_seq(self) -> int:
        """Sequence number the next record will get.

        Examples
        --------
        >>> import io; Writer(io.BytesIO()).next_seq
        0
        """
        return self._seq

    def append(self, kind: int, ts_ns: int, **fields: Any) -> int:
        """Append one record of any kind; return its sequence number.

        Fields whose value is ``None`` are omitted.  DATA records are routed
        through :meth:`data` (``len`` may be given as ``length``).

        Examples
        --------
        >>> import io
        >>> w = Writer(io.BytesIO())
        >>> w.append(RecordKind.PROCESS, 1, pid=1, comm="init")
        0
        """
        if kind == _DATA:
            f = dict(fields)
            length = f.pop("length", None)
            if length is None:
                length = f.pop("len", None)
            try:
                return self.data(
                    ts_ns,
                    conn=f.pop("conn"),
                    pid=f.pop("pid"),
                    dir=f.pop("dir"),
                    offset=f.pop("offset"),
                    length=length,
                    data=f.pop("data"),
                    **f,
                )
            except KeyError as e:
                raise InvalidRecord(f"DATA record is missing required field {e}") from None
        rec: dict[str, Any] = {"k": int(kind), "s": self._seq, "t": ts_ns}
        for k, v in fields.items():
            if v is not None:
                rec[k] = v
        if kind == _STATS:
            self._last_stats = rec
        return self._add(rec, int(kind), ts_ns, 0)

    def data(
        self,
        ts_ns: int,
        *,
        conn: int,
        pid: int,
        dir: int,
        offset: int,
        length: int | None = None,
        data: bytes = b"",
        tid: int | None = None,
        trunc: bool = False,
        redacted: list[list[int]] | None = None,
        fn: str | None = None,
        **extra: Any,
    ) -> int:
        """Append a DATA record (payload deduplicated); return its sequence number.

        Examples
        --------
        >>> import io
        >>> w = Writer(io.BytesIO())
        >>> w.data(1, conn=7, pid=9, dir=1, offset=0, length=2, data=b"hi", fn="SSL_read")
        0
        """
        if not isinstance(data, bytes):
            if isinstance(data, (bytearray, memoryview)):
                data = bytes(data)
            else:
                raise InvalidRecord(
                    f"DATA.data must be bytes, got {type(data).__name__} (conn {conn})"
                )
        if ts_ns.__class__ is not int or ts_ns < 0 or ts_ns > _U64:
            raise InvalidRecord(f"DATA record: ts_ns must be a uint64, got {ts_ns!r}")
        if self._closed:
            raise OutputError(f"{self.name}: writer is closed")
        seq = self._seq
        if length is None:
            length = len(data)
        ex: dict[str, Any] = {}
        if trunc:
            ex["trunc"] = True
        if redacted:
            ex["redacted"] = redacted
        for k, v in extra.items():
            if v is not None:
                if k in _DATA_KEYS:
                    raise InvalidRecord(f"DATA record seq {seq}: field {k!r} is set by the writer")
                ex[k] = v
        if self._dedup is None:
            rec: dict[str, Any] = {
                "k": _DATA,
                "s": seq,
                "t": ts_ns,
                "conn": conn,
                "pid": pid,
                "dir": dir,
                "offset": offset,
                "len": length,
            }
            if tid is not None:
                rec["tid"] = tid
            rec["data"] = data
            rec.update(ex)
            if fn is not None:
                rec["fn"] = fn
            return self._add(rec, _DATA, ts_ns, len(data))
        # Columnar DATA (format-spec.md section 7): validate everything first,
        # so a refused record never enters the dedup window.
        conn = _int("conn", conn, 0, _U64, seq)
        pid = _int("pid", pid, -_I64, _I64 - 1, seq)
        dir = _int("dir", dir, 0, _U64, seq)
        offset = _int("offset", offset, 0, _U64, seq)
        length = _int("len", length, 0, _U64, seq)
        if tid is not None:
            tid = _int("tid", tid, -_I64, _I64 - 1, seq)
        if fn is not None and not isinstance(fn, str):
            raise InvalidRecord(f"DATA record seq {seq}: fn must be a str, got {type(fn).__name__}")
        ex_size = 0
        if ex:
            try:
                ex_size = len(self._packer.pack(ex))
            except (TypeError, ValueError, OverflowError) as e:
                self._packer.reset()
                raise InvalidRecord(
                    f"DATA record seq {seq} cannot be stored as msgpack: {e}"
                ) from None
        if len(data) + ex_size > fr.MAX_RECORD - 256:
            raise InvalidRecord(
                f"DATA record seq {seq} is {len(data) + ex_size} bytes; "
                f"the limit is {fr.MAX_RECORD - 256}"
            )
        if self._raw + self._lit_size + len(data) + ex_size + 64 > fr.MAX_CHUNK_RAW // 2:
            self.flush()
        dedup = self._dedup
        if self._since_sync >= self.sync_interval and not self._parts:
            dedup.reset()
            self._since_sync = 0
            self._independent = True
        self._since_sync += len(data)
        ops = dedup.encode(seq, conn, pid, dir, data)
        chunk_first = self._first_seq if self._parts else seq
        g = self._groups.get(conn)
        if g is None:
            # The conversation so far (the previous response, for a request)
            # joins this connection's literal dictionary: new text repeats it.
            g = self._groups[conn] = _Group(dict(dedup.recent_of_conn(conn, chunk_first)))
        x: int | list[Any]
        est = 24 + ex_size + (len(fn) if fn else 0)
        if ops is None:
            x = len(data) - self._prev_lit
            self._prev_lit = len(data)
            if data:
                g.lits.append(data)
                g.size += len(data)
                self._lit_size += len(data)
        else:
            x = []
            bases = g.bases
            for op in ops:
                if op.__class__ is bytes:
                    assert isinstance(op, bytes)
                    g.lits.append(op)
                    g.size += len(op)
                    self._lit_size += len(op)
                    x.append(len(op))
                else:
                    x.append(op)
                    b = seq - op[0]
                    if b < chunk_first and b not in bases:
                        base = dedup.payload(b)
                        if base is not None:
                            bases[b] = base
            est += 8 * len(x)
        key = (conn, dir)
        od = (offset - self._next_off.get(key, 0)) & _U64
        self._next_off[key] = (offset + length) & _U64
        self._c_t.append(ts_ns)
        self._c_conn.append(conn)
        self._c_pid.append(pid)
        self._c_tid.append(tid)
        self._c_dir.append(dir)
        self._c_off.append(od - (1 << 64) if od > _I64 - 1 else od)
        self._c_x.append(x)
        self._c_xl.append(length - len(data))
        self._c_fn.append(_FN_CODE.get(fn, fn) if fn is not None else None)
        self._c_ex.append(ex or None)
        return self._commit(_NIL, _DATA, ts_ns, len(data), est)

    def _add(
        self,
        rec: dict[str, Any],
        kind: int,
        ts_ns: int,
        data_len: int,
    ) -> int:
        if self._closed:
            raise OutputError(f"{self.name}: writer is closed")
        if ts_ns.__class__ is not int or ts_ns < 0 or ts_ns > _U64:
            raise InvalidRecord(f"record kind {kind}: ts_ns must be a uint64, got {ts_ns!r}")
        try:
            packed = self._packer.pack(rec)
        except (TypeError, ValueError, OverflowError) as e:
            self._packer.reset()
            raise InvalidRecord(
                f"record kind {kind} seq {rec['s']} cannot be stored as msgpack: {e}"
            ) from None
        if len(packed) > fr.MAX_RECORD:
            raise InvalidRecord(
                f"record kind {kind} seq {rec['s']} is {len(packed)} bytes packed; "
                f"the limit is {fr.MAX_RECORD}"
            )
        if self._raw + self._lit_size + len(packed) > fr.MAX_CHUNK_RAW // 2:
            self.flush()
        return self._commit(packed, kind, ts_ns, data_len, len(packed))

    def _commit(self, packed: bytes, kind: int, ts_ns: int, data_len: int, size: int) -> int:
        if not self._parts:
            self._first_seq = self._seq
            self._min_t = self._max_t = ts_ns
            self._pending_since = time.monotonic()
        elif ts_ns < self._min_t:
            self._min_t = ts_ns
        elif ts_ns > self._max_t:
            self._max_t = ts_ns
        self._parts.append(packed)
        self._raw += size
        self._pending_data += data_len
        self._kinds[kind] = self._kinds.get(kind, 0) + 1
        if self._first_t is None:
            self._first_t = ts_ns
        self._last_t = ts_ns
        seq = self._seq
        self._seq = seq + 1
        if self._raw + self._lit_size >= self.chunk_bytes:
            self.flush()
        elif time.monotonic() - self._pending_since >= self.flush_interval:
            self.tick()
        return seq

    # -- flushing ----------------------------------------------------------

    def tick(self) -> None:
        """Flush if the oldest buffered record has waited ``flush_interval``.

        Call this regularly (e.g. from the capture poll loop) so a quiet
        period never leaves records unwritten.

        Examples
        --------
        >>> import io; Writer(io.BytesIO()).tick()
        """
        now = time.monotonic()
        if (
            self.clock_sync_interval
            and now - self._last_clock_sync >= self.clock_sync_interval
            and self._parts
        ):
            self._last_clock_sync = now
            mono, off = clock_offset_ns()
            self.append(_CLOCK_SYNC, mono, realtime_ns=mono + off)
        if self._parts and now - self._pending_since >= self.flush_interval:
            self.flush()

    def flush(self) -> None:
        """Write buffered records as one chunk (one ``write()`` call).

        Examples
        --------
        >>> import io; w = Writer(io.BytesIO()); w.flush()
        """
        if not self._parts:
            return
        count = len(self._parts)
        body = _array_header(count) + b"".join(self._parts)
        flags = fr.CHUNK_FLAG_INDEPENDENT if self._independent else 0
        frames: list[bytes] = []
        if self._c_t:
            flags |= fr.CHUNK_FLAG_COLUMNS
            groups: list[list[Any]] = []
            for conn, g in self._groups.items():
                if g.size:
                    seqs, frame = _literal_frame(self._first_seq, g, self._lit_level)
                    groups.append([conn, seqs, len(frame)])
                    frames.append(frame)
            dt = array("q")
            prev = self._min_t
            for t in self._c_t:
                d = (t - prev) & _U64
                dt.append(d - (1 << 64) if d > _I64 - 1 else d)
                prev = t
            if min(dt) >= -_I32 and max(dt) < _I32:
                dt = array("i", dt)
            if sys.byteorder == "big":
                dt.byteswap()
            cols = [
                groups,
                dt.tobytes(),
                _const(self._c_conn),
                _const(self._c_pid),
                _const(self._c_tid),
                _const(self._c_dir),
                _const(self._c_off),
                self._c_x,
                _const(self._c_xl),
                _const(self._c_fn),
                _const(self._c_ex),
            ]
            body += msgpack.packb(cols, use_bin_type=True)
        comp = (self._cctx_small if len(body) <= SMALL_SECTION else self._cctx).compress(body)
        codec = fr.Codec.ZSTD
        if len(comp) >= len(body):
            comp, codec = body, fr.Codec.NONE
        if flags & fr.CHUNK_FLAG_COLUMNS:
            comp = b"".join((len(comp).to_bytes(4, "little"), comp, *frames))
        hdr = fr.CHUNK_HEADER.pack(
            codec,
            flags,
            0,
            count,
            self._first_seq,
            self._min_t,
            self._max_t,
            len(body),
            (self.window + 1023) // 1024,
        )
        block = fr.encode_block(fr.BlockType.CHUNK, hdr + comp)
        self._chunks.append(
            [
                self._offset,
                len(block),
                self._first_seq,
                count,
                self._min_t,
                self._max_t,
                flags,
                self._pending_data,
            ]
        )
        self._parts = []
        self._raw = 0
        self._pending_data = 0
        self._lit_size = 0
        self._reset_columns()
        self._independent = False
        self._write(block)

    def _reset_columns(self) -> None:
        self._groups: dict[int, _Group] = {}
        self._prev_lit = 0
        self._next_off: dict[tuple[int, int], int] = {}
        self._c_t: list[int] = []
        self._c_conn: list[int] = []
        self._c_pid: list[int] = []
        self._c_tid: list[int | None] = []
        self._c_dir: list[int] = []
        self._c_off: list[int] = []
        self._c_x: list[int | list[Any]] = []
        self._c_xl: list[int] = []
        self._c_fn: list[str | int | None] = []
        self._c_ex: list[dict[str, Any] | None] = []

    def close(self) -> None:
        """Flush, write the index and footer, and close a file we opened.

        Safe to call twice.  Standard output and caller-owned streams are
        flushed but not closed.

        Examples
        --------
        >>> import io; w = Writer(io.BytesIO()); w.close(); w.close()
        """
        if self._closed:
            return
        try:
            self.flush()
            mono, off = clock_offset_ns()
            index = {
                "chunks": _delta_chunks(self._chunks),
                "chunk_fields": list(fr.INDEX_CHUNK_FIELDS),
                "kinds": self._kinds,
                "records": self._seq,
                "first_t": self._first_t,
                "last_t": self._last_t,
                "stats": self._last_stats,
                "closed_monotonic_ns": mono,
                "closed_realtime_offset_ns": off,
            }
            ipayload = msgpack.packb(index, use_bin_type=True)
            iblock = fr.encode_block(fr.BlockType.INDEX, ipayload)
            footer = fr.encode_block(
                fr.BlockType.FOOTER, fr.FOOTER.pack(self._offset, len(iblock), self._seq)
            )
            self._write(iblock + footer + fr.MAGIC)
        finally:
            self._closed = True
            self._abandon()

    def _abandon(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _write(self, buf: bytes) -> None:
        try:
            if self._fd is not None:
                view = memoryview(buf)
                while view:  # one write() for regular files; loop only on short writes
                    n = os.write(self._fd, view)
                    view = view[n:]
            else:
                assert self._file is not None
                self._file.write(buf)
                self._file.flush()
        except (OSError, TypeError, ValueError) as e:  # TypeError: a text-mode stream
            raise OutputError(
                f"{self.name}: write of {len(buf)} bytes at offset {self._offset} failed: "
                f"{getattr(e, 'strerror', None) or e}"
            ) from None
        self._offset += len(buf)

    def __enter__(self) -> Writer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


#: Records sections up to this size are compressed at SMALL_SECTION_LEVEL:
#: a one-second chunk's metadata is a few hundred bytes, where a high level
#: costs microseconds and saves about 3%.
SMALL_SECTION = 16 << 10
SMALL_SECTION_LEVEL = 19


def _const(col: list[Any]) -> Any:
    """A column whose values are all the same scalar is stored as that scalar."""
    v = col[0]
    if (
        (v.__class__ in (int, str) or v is None)
        and col.count(v) == len(col)
        and all(c.__class__ is v.__class__ for c in col)
    ):
        return v
    return col


class _Group:
    """One connection's share of a chunk's literal section (format-spec.md section 7)."""

    __slots__ = ("bases", "lits", "size")

    def __init__(self, bases: dict[int, bytes]) -> None:
        self.bases = bases  # dictionary candidates: seq -> payload
        self.lits: list[bytes] = []
        self.size = 0


def _literal_frame(first_seq: int, g: _Group, level: int) -> tuple[list[int], bytes]:
    """Compress a group's literals against its dictionary payloads.

    Returns the dictionary list as stored (``first_seq`` minus the oldest seq,
    then gaps between ascending seqs) and the zstd frame.
    """
    bases = g.bases
    chosen: list[int] = []
    size = 0
    for b in sorted(bases, reverse=True):  # most recent first, until the dictionary is full
        if size >= fr.DICT_BYTES or len(chosen) >= fr.MAX_DICT_SEQS:
            break
        chosen.append(b)
        size += len(bases[b])
    chosen.sort()
    lit = b"".join(g.lits)
    if chosen:
        ctx = b"".join([bases[b] for b in chosen])[-fr.DICT_BYTES :]
        d = zstandard.ZstdCompressionDict(ctx, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
        cctx = zstandard.ZstdCompressor(
            level=level, dict_data=d, write_content_size=True, write_dict_id=False
        )
        stored = [first_seq - chosen[0]]
        stored += [b - a for a, b in pairwise(chosen)]
    else:
        cctx = zstandard.ZstdCompressor(level=level, write_content_size=True)
        stored = []
    return stored, cctx.compress(lit)


def _delta_chunks(chunks: list[list[int]]) -> list[list[int]]:
    """Index chunk entries, delta-coded as format-spec.md section 9 says.

    Examples
    --------
    >>> _delta_chunks([[8, 100, 0, 3, 50, 60, 1, 9], [108, 90, 3, 2, 70, 75, 0, 5]])
    [[8, 100, 0, 3, 50, 10, 1, 9], [0, 90, 0, 2, 20, 5, 0, 5]]
    """
    out: list[list[int]] = []
    end = seq = t = 0
    for off, size, first, count, min_t, max_t, flags, data_bytes in chunks:
        dt = (min_t - t) & _U64  # modulo 2**64, as a signed 64-bit value
        dt = dt - (1 << 64) if dt > _I64 - 1 else dt
        out.append([off - end, size, first - seq, count, dt, max_t - min_t, flags, data_bytes])
        end, seq, t = off + size, first + count, min_t
    return out


def _array_header(n: int) -> bytes:
    if n < 16:
        return bytes((0x90 | n,))
    if n < 1 << 16:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


def _version() -> str:
    try:
        from heron import __version__

        return __version__
    except ImportError:  # pragma: no cover
        return "unknown"
