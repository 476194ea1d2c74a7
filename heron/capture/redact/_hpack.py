"""HPACK walker: redact credential values inside header blocks, in place.

The walker reads representations (RFC 7541 section 6) byte by byte across
fragment, frame and ``feed`` boundaries.  It decodes only what it must:

* literal names, to learn which header a value belongs to;
* the decoded *length* of every value inserted into the dynamic table, so its
  model of the table (names and entry sizes, newest first, evicted by the
  RFC 7541 size rule) matches the real one and later indexed names resolve;
* ``:path`` values, to find sensitive query parameters.

Everything else is skipped by its length prefix.  Sensitive values are
rewritten so that the block still decodes to the same number of characters;
raw values become ``*``.  A Huffman-coded sensitive value (or ``:path``) is
gathered, across fragments and frames of one payload if need be, and
rewritten whole once its last byte is in (:func:`._huffman.rewrite_whole`:
the filler tells nothing of the secret); one that the payload ends in the
middle of is committed by :meth:`HpackWalker.end_feed` with the causal
per-character rewrite (:func:`._huffman.mirror_byte`), counted in
``Redactor.split_values``.

Name resolution is newest-first, which stays exact for every valid index even
when the walker joined mid-connection: entries inserted after the join are
the newest, so any index beyond them refers to an entry the walker never saw
and resolves to "unknown", whose value is redacted.  If the walker ever loses
its place (a block entered part-way, an impossible integer), it blanks the rest
of that block and from then on treats every dynamic-table name as unknown,
because an insertion may have been missed.
"""

from __future__ import annotations

from collections import deque
from functools import lru_cache

from hpack.table import HeaderTable

from . import _huffman as huff
from ._common import (
    AUTH_SCHEMES,
    FILL,
    SCHEME_HEADERS,
    SENSITIVE_HEADERS,
    Out,
    QueryScan,
    Stats,
    ValueBlanker,
    scheme_keep,
)

_STATIC: tuple[bytes, ...] = (b"", *(name for name, _ in HeaderTable.STATIC_TABLE))
_DEFAULT_TABLE_SIZE = 4096  # RFC 7540 SETTINGS_HEADER_TABLE_SIZE initial value
_MAX_INT = 1 << 28  # larger integers only come from garbage; hpack caps lengths too
_MAX_NAME = 64  # decoded name bytes kept; every sensitive name is shorter

# Walker states.
_REP, _INT, _STRHDR, _STR, _BROKEN = range(5)
# Representation kinds.
_INDEXED, _INCREMENTAL, _LITERAL, _SIZE_UPDATE = range(4)
# What an integer being read is for.
_P_INDEX, _P_NAME_INDEX, _P_SIZE, _P_STRLEN = range(4)
# What to do with a string body.
_SKIP, _COUNT, _TEXT, _SECRET, _SCHEME, _PATH = range(6)

_AMP_PATH = huff.code_path(0x26)  # '&' ends a query value: copied, not rewritten
_CODE_PATHS = [huff.code_path(c) for c in range(256)]


class DynamicTable:
    """Names and sizes of one decoder's dynamic table (RFC 7541 section 4).

    Examples
    --------
    >>> t = DynamicTable()
    >>> t.add(b"x-api-key", 9, 30); t.lookup(62), t.size
    ((b'x-api-key', 9), 71)
    >>> t.lookup(2), t.lookup(63)
    ((b':method', 7), (None, None))
    >>> t.resize(60); t.lookup(62), t.size
    ((None, None), 0)
    """

    def __init__(self) -> None:
        self.entries: deque[tuple[bytes | None, int | None, int]] = deque()
        self.size = 0
        self.max_size = _DEFAULT_TABLE_SIZE
        self.reliable = True  # False once an insertion may have been missed

    def lookup(self, index: int) -> tuple[bytes | None, int | None]:
        """(name, decoded name length) for an index; (None, None) if unknown."""
        if 1 <= index < len(_STATIC):
            return _STATIC[index], len(_STATIC[index])
        j = index - len(_STATIC)
        if self.reliable and 0 <= j < len(self.entries):
            name, nlen, _ = self.entries[j]
            return name, nlen
        return None, None

    def _evict(self, room: int) -> None:
        while self.entries and self.size + room > self.max_size:
            self.size -= self.entries.pop()[2]

    def add(self, name: bytes | None, name_len: int | None, value_len: int) -> None:
        """Insert an entry (size 32 + decoded name + decoded value), evicting as needed."""
        # An unknown name length only arises mid-connection; the lower bound
        # can only keep entries longer than the real table does, which never
        # changes what a valid (newest-first) index resolves to.
        size = 32 + (name_len or 0) + value_len
        if size > self.max_size:
            self.entries.clear()
            self.size = 0
            return
        self._evict(size)
        self.entries.appendleft((name, name_len, size))
        self.size += size

    def resize(self, max_size: int) -> None:
        """Apply a dynamic table size update."""
        self.max_size = max_size
        self._evict(0)


class HpackWalker:
    """One direction's header-block walker.

    Parameters
    ----------
    synced
        True when the connection was seen from its preface, so the dynamic
        table is known from empty.  Otherwise the walker waits for the first
        block start and treats older table entries as unknown.

    Examples
    --------
    >>> from hpack import Encoder
    >>> block = Encoder().encode([(b":path", b"/v1?key=AIza"), (b"x-api-key", b"sk-1")], huffman=False)
    >>> o = Out(block); w = HpackWalker(True); w.begin_block(); w.feed(block, 0, len(block), o)
    >>> from hpack import Decoder; Decoder().decode(o.result()[0], raw=True)
    [(b':path', b'/v1?key=****'), (b'x-api-key', b'****')]
    """

    def __init__(self, synced: bool, stats: Stats | None = None) -> None:
        self.stats = stats if stats is not None else Stats()
        self.table = DynamicTable()
        self.state = _REP if synced else _BROKEN
        self.kind = _INDEXED
        self.purpose = _P_INDEX
        self.ival = 0
        self.ishift = 0
        self.naming = False  # the string being read is a literal name
        self.name: bytes | None = None
        self.name_len: int | None = None
        self.huffman = False
        self.left = 0
        self.length = 0
        self.action = _SKIP
        self.count = 0
        self.text = bytearray()
        self.v = self.w = huff.ROOT
        self.blanker: ValueBlanker | None = None
        self.query: QueryScan | None = None
        self.scheme: bytes | None = b""  # auth scheme read so far; None: settled
        # A Huffman secret value is gathered (as ranges of the current
        # payload) until it is whole, then rewritten at once; one still
        # incomplete at the end of the payload is committed causally and the
        # rest of it streamed (``streaming``).
        self.pending: list[tuple[int, int]] = []
        self.pend_data = b""
        self.pend_out: Out | None = None
        self.streaming = False
        self.memo: tuple[tuple[int, int, int], bytes, int, int] | None = None

    # -- block boundaries -----------------------------------------------------

    def begin_block(self) -> None:
        """A HEADERS or PUSH_PROMISE frame starts a new header block."""
        self._drop_pending()
        if self.state not in (_REP, _BROKEN):
            self.table.reliable = False  # previous block ended mid-representation
        self.state = _REP

    def end_block(self) -> None:
        """END_HEADERS seen: the block must end on a representation boundary."""
        if self.state != _REP:
            self._drop_pending()
            self.table.reliable = False
            self.state = _REP

    def fail(self) -> None:
        """Lose our place: blank until the next block start."""
        self._drop_pending()
        self.state = _BROKEN
        self.table.reliable = False

    def end_feed(self, out: Out) -> None:
        """The payload ends: commit a Huffman secret value that is not yet whole.

        Its bytes so far are rewritten character by character (the causal
        rewrite of :mod:`._huffman`, whose filler shows each character's code
        length class), and so is the rest of it in later payloads.  Counted in
        :attr:`Stats.split_values`.
        """
        if self.pending:
            self.stats.split_values += 1
            self.streaming = True
            data, ranges = self.pend_data, self.pending
            self.pending, self.pend_data, self.pend_out = [], b"", None
            if self.action == _SCHEME:
                # Keep a scheme word only if it is whole in what is at hand,
                # never the first letters of what may be a token.
                v, text = huff.ROOT, bytearray()
                for a, b in ranges:
                    for i in range(a, b):
                        v, chars = huff.decode_byte(v, data[i])
                        text += chars
                if not scheme_keep(bytes(text)):
                    self.action = _SECRET
            for a, b in ranges:
                self._stream(data, a, b, out)

    def _drop_pending(self) -> None:
        """A value cut short by the block's end: blank what was gathered."""
        if self.pending and self.pend_out is not None:
            for a, b in self.pending:
                self.pend_out.fill(a, b)
        self.pending, self.pend_data, self.pend_out = [], b"", None

    # -- the walk -------------------------------------------------------------

    def feed(self, data: bytes, pos: int, end: int, out: Out) -> None:
        """Walk the header block fragment ``data[pos:end]``."""
        while pos < end:
            st = self.state
            if st == _STR:
                pos = self._string(data, pos, end, out)
            elif st == _REP:
                b = data[pos]
                pos += 1
                if b & 0x80:
                    self.kind, self.purpose, prefix = _INDEXED, _P_INDEX, 0x7F
                elif b & 0x40:
                    self.kind, self.purpose, prefix = _INCREMENTAL, _P_NAME_INDEX, 0x3F
                elif b & 0x20:
                    self.kind, self.purpose, prefix = _SIZE_UPDATE, _P_SIZE, 0x1F
                else:
                    self.kind, self.purpose, prefix = _LITERAL, _P_NAME_INDEX, 0x0F
                self._int_start(b & prefix, prefix)
            elif st == _STRHDR:
                b = data[pos]
                pos += 1
                self.huffman = bool(b & 0x80)
                self.purpose = _P_STRLEN
                self._int_start(b & 0x7F, 0x7F)
            elif st == _INT:
                b = data[pos]
                pos += 1
                self.ival += (b & 0x7F) << self.ishift
                self.ishift += 7
                if self.ival >= _MAX_INT:
                    self.fail()
                elif not b & 0x80:
                    self._int_done(self.ival)
            else:  # _BROKEN
                out.fill(pos, end)
                return

    def _int_start(self, value: int, mask: int) -> None:
        if value == mask:
            self.ival, self.ishift, self.state = value, 0, _INT
        else:
            self._int_done(value)

    def _int_done(self, value: int) -> None:
        purpose = self.purpose
        if purpose == _P_STRLEN:
            self._begin_string(value)
        elif purpose == _P_NAME_INDEX:
            self.state = _STRHDR
            if value == 0:
                self.naming = True
            else:
                self.naming = False
                self.name, self.name_len = self.table.lookup(value)
        elif purpose == _P_SIZE:
            self.table.resize(value)
            self.state = _REP
        else:  # an indexed field: no bytes to redact, no table change
            self.state = _REP

    def _begin_string(self, length: int) -> None:
        self.left = self.length = length
        self.count = 0
        self.streaming = False
        self.v = self.w = huff.ROOT
        if self.naming:
            action = _TEXT
            self.text.clear()
        else:
            name = self.name
            if name is None or name in SENSITIVE_HEADERS:
                action = _SECRET
                if name in SCHEME_HEADERS:
                    action = _SCHEME
                    self.blanker = ValueBlanker(True, self.stats)
                    self.scheme = b""
            elif name == b":path":
                action = _PATH
                self.query = QueryScan()
            else:
                action = _COUNT if self.kind == _INCREMENTAL else _SKIP
        if not self.huffman and action == _COUNT:
            action = _SKIP
        self.action = action
        self.state = _STR
        if length == 0:
            self._end_string()

    def _end_string(self) -> None:
        length = self.count if self.huffman else self.length
        if self.naming:
            text = bytes(self.text).lower()
            self.name = text if length <= _MAX_NAME else b"\x00long"
            self.name_len = length
            self.naming = False
            self.state = _STRHDR
            return
        if self.kind == _INCREMENTAL:
            self.table.add(self.name, self.name_len, length)
        self.state = _REP

    # -- string bodies --------------------------------------------------------

    def _string(self, data: bytes, pos: int, end: int, out: Out) -> int:
        stop = min(end, pos + self.left)
        action = self.action
        if not self.huffman:
            if action == _TEXT:
                room = _MAX_NAME + 1 - len(self.text)
                if room > 0:
                    self.text += data[pos : min(stop, pos + room)]
            elif action == _SECRET:
                out.fill(pos, stop)
            elif action == _SCHEME:
                assert self.blanker is not None
                more = stop == len(data) and stop - pos < self.left  # value goes on next feed
                self.blanker.run(data, pos, stop, out, more=more)
            elif action == _PATH:
                assert self.query is not None
                step = self.query.step
                for i in range(pos, stop):
                    if step(data[i]):
                        out.put(i, FILL)
        elif action == _SKIP:
            pass
        elif action in (_COUNT, _TEXT):
            v, count, text = self.v, self.count, self.text
            decode = huff.decode_byte
            for i in range(pos, stop):
                v, chars = decode(v, data[i])
                if chars:
                    count += len(chars)
                    if action == _TEXT and len(text) <= _MAX_NAME:
                        text += chars
            self.v, self.count = v, count
        elif self.streaming:
            self._stream(data, pos, stop, out)
        elif not self.pending and stop - pos == self.left:  # the usual case
            self._whole(data, [(pos, stop)], out)
        else:
            self.pending.append((pos, stop))
            self.pend_data, self.pend_out = data, out
            if stop - pos == self.left:
                ranges, self.pending = self.pending, []
                self.pend_data, self.pend_out = b"", None
                self._whole(data, ranges, out)
        self.left -= stop - pos
        if not self.left:
            self._end_string()
        return stop

    def _whole(self, data: bytes, ranges: list[tuple[int, int]], out: Out) -> None:
        """A whole Huffman value is at hand: choose its filler at once."""
        coded = b"".join(data[a:b] for a, b in ranges)
        # Clients re-send the same never-indexed Authorization on every
        # request: remember the last result (by a keyed hash of the input,
        # so no secret is kept; it holds only redacted output).
        key = (self.action, len(coded), hash(coded))
        memo = self.memo
        if memo is not None and memo[0] == key:
            _, new, first, self.count = memo
        else:
            text = huff.decode(coded)
            done = None if text is None else huff.rewrite_whole(coded, self._mask(text), text)
            if text is None or done is None:
                self.stats.fallback_values += 1
                for a, b in ranges:
                    self._stream(data, a, b, out)
                return
            self.count = len(text)
            new, first = done
            if new is coded:
                return
            self.memo = (key, new, first, self.count)
        k = 0  # index into the value of ranges' first byte
        for a, b in ranges:
            if k + (b - a) > first:
                skip = max(first - k, 0)
                out.write(a + skip, new[k + skip : k + (b - a)])
            k += b - a

    def _mask(self, text: bytes) -> list[bool] | int:
        """Which characters of a whole decoded value are secret (int: from there on)."""
        action = self.action
        if action == _PATH:
            if b"=" not in text:
                return [False] * len(text)
            step = QueryScan().step
            return [step(c) for c in text]
        return scheme_keep(text) if action == _SCHEME else 0

    def _stream(self, data: bytes, pos: int, stop: int, out: Out) -> None:
        """The causal, character-by-character rewrite of a secret value's bytes."""
        action = self.action
        if action == _SECRET:
            self._mirror(data, pos, stop, out)
        elif action == _SCHEME:
            self._rewrite_scheme(data, pos, stop, out)
        else:
            self._rewrite_path(data, pos, stop, out)

    def _mirror(self, data: bytes, pos: int, stop: int, out: Out) -> None:
        v, w, count = self.v, self.w, self.count
        mirror = huff.mirror_byte
        put = out.put
        for i in range(pos, stop):
            ob, v, w, done = mirror(v, w, data[i])
            put(i, ob)
            count += done
        self.v, self.w, self.count = v, w, count

    def _rewrite_scheme(self, data: bytes, pos: int, stop: int, out: Out) -> None:
        """Huffman auth value: keep a scheme word, rewrite the rest."""
        v, w, count, scheme = self.v, self.w, self.count, self.scheme
        for i in range(pos, stop):
            if scheme is None:  # settled: exactly as _mirror
                ob, v, w, done = huff.mirror_byte(v, w, data[i])
                out.put(i, ob)
            else:
                ob, v, w, red, done, scheme = _scheme_byte(v, w, data[i], scheme)
                if red:
                    out.put(i, ob)
            count += done
        self.v, self.w, self.count, self.scheme = v, w, count, scheme

    def _rewrite_path(self, data: bytes, pos: int, stop: int, out: Out) -> None:
        """Huffman ``:path``: copy everything but sensitive query values."""
        v, w, count = self.v, self.w, self.count
        query = self.query
        assert query is not None
        for i in range(pos, stop):
            byte = data[i]
            if v == w and not query.in_secret:
                v2, chars = huff.decode_byte(v, byte)
                if 0x3D not in chars:  # no '=': cannot enter a secret value here
                    for c in chars:
                        query.step(c)
                    count += len(chars)
                    v = w = v2
                    continue
            ob = 0
            red = False
            for k in range(7, -1, -1):
                bit = (byte >> k) & 1
                secret = query.in_secret
                # In a secret value only the code of '&' (its end) is copied.
                copy = not secret or huff.child(v, bit) in _AMP_PATH
                v2, w2, o = huff.mirror_bit(v, w, bit, copy)
                red = red or secret or not (copy and v == w)
                ob = (ob << 1) | o
                if huff.is_leaf(v2):
                    count += 1
                    if huff.symbol(v2) < 256:
                        query.step(huff.symbol(v2))
                    v = w = huff.ROOT
                else:
                    v, w = v2, w2
            if red:
                out.put(i, ob)
        self.v, self.w, self.count = v, w, count


@lru_cache(maxsize=8192)
def _scheme_byte(
    v: int, w: int, byte: int, prefix: bytes
) -> tuple[int, int, int, bool, int, bytes | None]:
    """One byte of an auth value whose scheme is still open.

    Bits are copied while they stay on the code of a character that would
    continue ``prefix`` towards a scheme word; from the first bit that leaves
    every such code the rewrite takes over.  Returns ``(out byte, v, w,
    rewritten?, characters completed, prefix after)``; prefix ``None`` means
    settled (a whole scheme kept, or none possible).  Pure, hence cached.
    """
    nexts = _scheme_next(prefix)
    scheme: bytes | None = prefix
    ob = done = 0
    red = False
    for k in range(7, -1, -1):
        bit = (byte >> k) & 1
        nxt = huff.child(v, bit)
        copy = nexts is not None and any(nxt in _CODE_PATHS[c] for c in nexts)
        v2, w2, o = huff.mirror_bit(v, w, bit, copy)
        red = red or not (copy and v == w)
        ob = (ob << 1) | o
        if huff.is_leaf(v2):
            done += 1
            sym = huff.symbol(v2)
            if scheme is not None:
                scheme = (
                    scheme + bytes([sym | 0x20 if 0x41 <= sym <= 0x5A else sym])
                    if sym < 256
                    else None
                )
                nexts = _scheme_next(scheme) if scheme is not None else None
                if nexts is None:
                    scheme = None
            v = w = huff.ROOT
        else:
            v, w = v2, w2
    return ob, v, w, red, done, scheme


def _scheme_next(prefix: bytes) -> list[int] | None:
    """Characters that would keep ``prefix`` on the way to an auth scheme."""
    if prefix in AUTH_SCHEMES:
        return None
    nexts = {s[len(prefix)] for s in AUTH_SCHEMES if len(s) > len(prefix) and s.startswith(prefix)}
    if not nexts:
        return None
    return sorted(nexts | {c - 0x20 for c in nexts if 0x61 <= c <= 0x7A})
