"""Per connection+direction byte streams rebuilt from DATA records.

Theory of operation
-------------------
Capture writes one DATA record per library/syscall "call".  Each record says
where its bytes sit in the connection+direction stream (``offset``), how many
bytes the call really moved (``len``) and which of them it kept (``data``,
shorter than ``len`` when the body cap cut it).  :class:`StreamAssembler`
turns that into an ordered sequence of :class:`Chunk` (contiguous new bytes)
and :class:`Gap` (bytes that exist on the wire but not in the capture):

* overlapping or duplicated bytes (a retried write, a record seen twice) are
  dropped: only bytes past the highest offset seen so far are new;
* a record that starts beyond that point leaves a ``"drop"`` gap (events lost
  in the ring buffer);
* a record whose ``data`` is shorter than ``len`` leaves a ``"trunc"`` gap
  after its bytes (the body cap);
* a stream whose first record starts past offset 0 leaves a ``"join"`` gap
  (capture attached to a connection that was already open).

Records that arrive out of order are not reordered: capture uses an ordered
ring buffer, so a late record is a duplicate or a bug, and its bytes are
treated as already seen.  Parsers above this layer decide what a gap means
for their framing; they must never join the bytes on either side of one as
if they were contiguous without flagging it.

:class:`TimeIndex` remembers which record (time, thread) each stream byte
came from for as long as a parser may still ask, so message start times are
the time of the record holding the message's first byte.

Examples
--------
>>> a = StreamAssembler()
>>> [type(e).__name__ for e in a.feed(0, 5, b"hello", 10)]
['Chunk']
>>> a.feed(3, 4, b"lo, ", 11)   # 2 bytes already seen, 2 new
[Chunk(offset=5, data=b', ', ts=11)]
>>> a.feed(10, 3, b"xyz", 12)   # offset jump: 3 bytes lost
[Gap(offset=7, length=3, kind='drop', ts=12), Chunk(offset=10, data=b'xyz', ts=12)]
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

GapKind = Literal["join", "drop", "trunc"]


@dataclass(frozen=True, slots=True)
class Chunk:
    """Contiguous new bytes of a stream, starting at stream ``offset``."""

    offset: int
    data: bytes
    ts: int


@dataclass(frozen=True, slots=True)
class Gap:
    """``length`` bytes at stream ``offset`` that were never captured.

    ``kind`` is ``"join"`` (capture started mid-connection), ``"drop"``
    (records lost) or ``"trunc"`` (cut by the capture's body cap).
    """

    offset: int
    length: int
    kind: GapKind
    ts: int


class StreamAssembler:
    """Rebuild one connection+direction byte stream from DATA records.

    Examples
    --------
    >>> a = StreamAssembler()
    >>> a.feed(0, 8, b"abcd", 1, trunc=True)
    [Chunk(offset=0, data=b'abcd', ts=1), Gap(offset=4, length=4, kind='trunc', ts=1)]
    >>> a.next_offset, a.duplicate_bytes
    (8, 0)
    """

    __slots__ = ("duplicate_bytes", "next_offset")

    def __init__(self) -> None:
        self.next_offset: int | None = None  # None until the first record
        self.duplicate_bytes = 0

    def feed(
        self, offset: int, length: int, data: bytes, ts: int, *, trunc: bool = False
    ) -> list[Chunk | Gap]:
        """Add one DATA record; return the new chunks and gaps in stream order.

        Examples
        --------
        >>> StreamAssembler().feed(100, 2, b"hi", 5)
        [Gap(offset=0, length=100, kind='join', ts=5), Chunk(offset=100, data=b'hi', ts=5)]
        """
        n = len(data)
        if length < n:  # a writer bug; trust the bytes we have
            length = n
        end = offset + length
        out: list[Chunk | Gap] = []
        nxt = self.next_offset
        if nxt is None:
            nxt = 0
            if offset > 0:
                out.append(Gap(0, offset, "join", ts))
                nxt = offset
        if end <= nxt:
            self.duplicate_bytes += length
            self.next_offset = nxt
            return out
        if offset > nxt:
            out.append(Gap(nxt, offset - nxt, "drop", ts))
            nxt = offset
        skip = nxt - offset
        if skip < n:
            if skip:
                self.duplicate_bytes += skip
                out.append(Chunk(nxt, data[skip:], ts))
            else:
                out.append(Chunk(nxt, data, ts))
            nxt = offset + n
        if end > nxt:
            out.append(Gap(nxt, end - nxt, "trunc" if trunc else "drop", ts))
        self.next_offset = end
        return out


class TimeIndex:
    """Which record (time, pid, tid) each not-yet-consumed stream byte came from.

    Entries are added in stream order and pruned once the parser no longer
    holds the bytes, so the index stays as small as the parser's buffer.

    Examples
    --------
    >>> ti = TimeIndex()
    >>> ti.add(0, 10, 100, 1, 7); ti.add(10, 5, 200, 1, 8)
    >>> ti.at(12)
    (200, 1, 8)
    >>> ti.prune(10); len(ti)
    1
    """

    __slots__ = ("entries",)

    def __init__(self) -> None:
        #: (end_offset, ts, pid, tid), end offsets increasing.  A list: it
        #: holds a record or two, and may be replaced whole (see only()).
        self.entries: list[tuple[int, int, int | None, int | None]] = []

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, offset: int, length: int, ts: int, pid: int | None, tid: int | None) -> None:
        """Record that stream bytes ``[offset, offset+length)`` came at ``ts``.

        Examples
        --------
        >>> ti = TimeIndex(); ti.add(0, 3, 50, None, None); ti.at(2)
        (50, None, None)
        """
        self.entries.append((offset + length, ts, pid, tid))

    def only(self, end: int, ts: int, pid: int | None, tid: int | None) -> None:
        """Keep just the record that ends at ``end``: what :meth:`add` then
        :meth:`prune` leave when a parser has consumed every byte it was given.

        Examples
        --------
        >>> ti = TimeIndex(); ti.add(0, 3, 50, None, None); ti.only(9, 60, 1, 2)
        >>> len(ti), ti.at(4)
        (1, (60, 1, 2))
        """
        self.entries = [(end, ts, pid, tid)]

    def at(self, offset: int) -> tuple[int, int | None, int | None] | None:
        """(ts, pid, tid) of the record holding byte ``offset``; the latest if beyond.

        Examples
        --------
        >>> TimeIndex().at(0) is None
        True
        """
        for end, ts, pid, tid in self.entries:
            if offset < end:
                return ts, pid, tid
        if self.entries:
            _, ts, pid, tid = self.entries[-1]
            return ts, pid, tid
        return None

    def prune(self, below: int) -> None:
        """Forget records that end at or before stream offset ``below`` (keeps the last).

        Examples
        --------
        >>> ti = TimeIndex(); ti.add(0, 3, 50, None, None); ti.prune(100); len(ti)
        1
        """
        e = self.entries
        last = len(e) - 1
        k = 0
        while k < last and e[k][0] <= below:
            k += 1
        if k:
            del e[:k]


class SpanSet:
    """Redacted byte spans of one stream, in stream coordinates.

    Examples
    --------
    >>> s = SpanSet(); s.add(10, 5)
    >>> s.overlaps(0, 10), s.overlaps(12, 20)
    (False, True)
    """

    __slots__ = ("items",)

    def __init__(self) -> None:
        #: (start, end) spans in stream order (empty: nothing to check).
        self.items: deque[tuple[int, int]] = deque()

    def add(self, start: int, length: int) -> None:
        """Add the span ``[start, start+length)``.

        Examples
        --------
        >>> s = SpanSet(); s.add(0, 0); bool(s)
        False
        """
        if length > 0:
            self.items.append((start, start + length))

    def overlaps(self, start: int, end: int) -> bool:
        """True when any span intersects ``[start, end)``.

        Examples
        --------
        >>> s = SpanSet(); s.add(4, 2); s.overlaps(5, 6), s.overlaps(6, 9)
        (True, False)
        """
        for s, e in self.items:  # noqa: SIM110 - a plain loop: this is on the per-record path
            if s < end and start < e:
                return True
        return False

    def within(self, start: int, end: int) -> list[tuple[int, int]]:
        """The spans that intersect ``[start, end)``.

        Examples
        --------
        >>> s = SpanSet(); s.add(4, 2); s.add(10, 1); s.within(0, 8)
        [(4, 6)]
        """
        return [(s, e) for s, e in self.items if s < end and start < e]

    def prune(self, below: int) -> None:
        """Forget spans that end at or before ``below``.

        Examples
        --------
        >>> s = SpanSet(); s.add(4, 2); s.prune(6); bool(s)
        False
        """
        sp = self.items
        while sp and sp[0][1] <= below:
            sp.popleft()

    def __bool__(self) -> bool:
        return bool(self.items)
