"""Reassembly of chunk events into one DATA record per hooked call (sans-IO).

The kernel cuts a call's bytes into chunks (see ``bpf/heron.h``); chunks of
one call arrive in order, but chunks of other calls may sit between them and
any chunk may have been dropped (ring buffer full).  The assembler joins the
contiguous chunks of each (connection, direction) call and hands back
:class:`Piece` objects:

* a complete call gives one piece with ``offset = call_off``, ``length =
  call_len`` and ``trunc`` set when the body cap cut it;
* a call with a lost chunk gives one piece per contiguous run, each with its
  own stream offset and ``length = len(data)``: the hole stays visible as a
  gap between offsets, nothing is spliced.

Examples
--------
>>> a = CallAssembler()
>>> c = lambda off, data, last: DataChunk(1, 7, 7, 3, 0, 100, 6, off, 5, 0, 0, 0, last, data)
>>> a.feed(c(0, b"abc", 0))
[]
>>> [(p.offset, p.length, p.data) for p in a.feed(c(3, b"def", DF_LAST))]
[(100, 6, b'abcdef')]
"""

from __future__ import annotations

from dataclasses import dataclass, field

from heron.capture.events import DF_LAST, DF_TRUNC, DataChunk


@dataclass(slots=True)
class Piece:
    """Contiguous captured bytes of one call: becomes one DATA record."""

    ts: int
    pid: int
    tid: int
    conn: int
    ssl: int
    fd: int
    dir: int
    fn: int
    lib: int
    offset: int
    length: int
    data: bytes
    trunc: bool


@dataclass(slots=True)
class _Pending:
    first: DataChunk
    start: int  # chunk_off of the first chunk held
    next: int  # chunk_off expected next
    parts: list[bytes] = field(default_factory=list)

    def piece(self, complete: bool) -> Piece:
        c = self.first
        data = b"".join(self.parts)
        if complete and self.start == 0:
            offset, length = c.call_off, c.call_len
            trunc = bool(c.flags & DF_TRUNC) or len(data) < c.call_len
        else:
            offset, length, trunc = c.call_off + self.start, len(data), False
        return Piece(
            c.ts,
            c.pid,
            c.tid,
            c.conn,
            c.ssl,
            c.fd,
            c.dir,
            c.fn,
            c.lib,
            offset,
            length,
            data,
            trunc,
        )


class CallAssembler:
    """Join chunk events into per-call pieces.

    Examples
    --------
    >>> a = CallAssembler()
    >>> c = lambda off, data, flags: DataChunk(5, 1, 1, 9, 0, 0, 4, off, -1, 1, 1, 0, flags, data)
    >>> a.feed(c(0, b"ab", 0)); [p.data for p in a.feed(c(3, b"d", DF_LAST))]
    []
    [b'ab', b'd']
    """

    def __init__(self) -> None:
        self._open: dict[tuple[int, int], _Pending] = {}

    def feed(self, ch: DataChunk) -> list[Piece]:
        """Add one chunk; return the pieces it completed (often zero or one)."""
        key = (ch.conn, ch.dir)
        out: list[Piece] = []
        p = self._open.get(key)
        if p is not None and (p.first.call_off != ch.call_off or p.next != ch.chunk_off):
            # A new call, or a hole inside this one: what we hold is final.
            out.append(p.piece(False))
            p = None
        if p is None:
            p = _Pending(ch, ch.chunk_off, ch.chunk_off)
        p.parts.append(ch.data)
        p.next += len(ch.data)
        if ch.flags & DF_LAST:
            self._open.pop(key, None)
            out.append(p.piece(True))
        else:
            self._open[key] = p
        return out

    def flush(self, older_than: int | None = None) -> list[Piece]:
        """Give up on calls whose last chunk never came (lost), oldest first.

        ``older_than`` (kernel ns) keeps calls that started after it open.
        """
        out = []
        for key, p in list(self._open.items()):
            if older_than is None or p.first.ts < older_than:
                del self._open[key]
                out.append(p.piece(False))
        out.sort(key=lambda piece: piece.ts)
        return out

    def __len__(self) -> int:
        return len(self._open)
