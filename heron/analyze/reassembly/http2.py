"""A passive, incremental HTTP/2 parser for one direction of a connection.

Theory of operation
-------------------
Frames are cut with ``hyperframe`` and header blocks decoded with ``hpack``,
one :class:`hpack.Decoder` per direction, because HPACK state is per
direction and stateful: every header block in a direction must be decoded, in
order, or every later block may decode *wrongly* (not just fail).  The parser
therefore tracks two independent facts:

``frames_ok``
    We know where the next frame starts.  Lost after a gap that is not
    wholly inside one DATA frame's payload; regained only at a record
    boundary whose first bytes form a strictly plausible frame header (a
    capture call writes whole frames in every HTTP/2 library we know).

``hpack_ok``
    Our decoder's dynamic table equals the peer encoder's.  False from the
    start on a connection joined mid-way, and forever after any lost header
    block.  While False, header blocks are *not* decoded (``headers=None``):
    guessing would mis-attribute header values, which is worse than saying
    "unknown".

A gap inside a DATA frame payload keeps both: the frame is completed with
zero filler that is cut out again, and the data event reports the hole.
That keeps a body-cap truncation of a big request from poisoning the rest of
the connection.

Capture redaction overwrites header *values* with same-length filler so HPACK
still decodes; the builder masks sensitive names and flags the exchange.

Examples
--------
>>> import h2.connection, h2.config
>>> c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
>>> c.initiate_connection()
>>> c.send_headers(1, [(":method", "GET"), (":path", "/x"), (":scheme", "https"),
...                    (":authority", "a")], end_stream=True)
>>> p = H2Parser(client=True)
>>> [type(e).__name__ for e in p.feed(c.data_to_send())]
['H2Settings', 'H2Headers']
"""

from __future__ import annotations

from dataclasses import dataclass

import hpack
import hpack.exceptions
from hyperframe.exceptions import HyperframeError
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PushPromiseFrame,
    RstStreamFrame,
    SettingsFrame,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Limits, and why:
#: Protocol maximum frame payload (2^24-1); anything larger is not HTTP/2.
MAX_FRAME = (1 << 24) - 1
#: A header block split over HEADERS+CONTINUATION is buffered until
#: END_HEADERS; cap it (the "CONTINUATION flood" that h2 also guards).
MAX_HEADER_BLOCK = 1 << 20
#: Decoded header list size we accept.  hpack's default (64 KiB) is a server
#: protection; a passive reader would rather see large real headers.
MAX_HEADER_LIST = 16 << 20
#: When regaining frame sync at a record boundary, a frame larger than this
#: is judged implausible (SETTINGS_MAX_FRAME_SIZE above 1 MiB is unheard of,
#: and text such as "data: ..." reads as a multi-megabyte length).
MAX_PLAUSIBLE_FRAME = 1 << 20
#: Largest table size we let a peer's size update choose, whatever SETTINGS
#: we saw (a passive observer may have missed them).
MAX_TABLE_SIZE = 1 << 20

# type -> (allowed flag bits, needs a stream id: True / must be 0: False / either: None)
_FRAME_RULES: dict[int, tuple[int, bool | None]] = {
    0x0: (0x01 | 0x08, True),  # DATA
    0x1: (0x01 | 0x04 | 0x08 | 0x20, True),  # HEADERS
    0x2: (0x00, True),  # PRIORITY
    0x3: (0x00, True),  # RST_STREAM
    0x4: (0x01, False),  # SETTINGS
    0x5: (0x04 | 0x08, True),  # PUSH_PROMISE
    0x6: (0x01, False),  # PING
    0x7: (0x00, False),  # GOAWAY
    0x8: (0x00, None),  # WINDOW_UPDATE
    0x9: (0x04, True),  # CONTINUATION
}


def plausible_frame_header(h: bytes) -> bool:
    """Strict check that 9 bytes look like an HTTP/2 frame header.

    Used only where we must guess a frame boundary (mid-stream join, after a
    gap).  Unknown types are rejected here even though HTTP/2 allows them.

    Examples
    --------
    >>> plausible_frame_header(bytes.fromhex("000000040000000000"))  # SETTINGS
    True
    >>> plausible_frame_header(b"data: {\\"a")
    False
    """
    if len(h) < 9:
        return False
    length = int.from_bytes(h[0:3], "big")
    ftype, flags = h[3], h[4]
    sid = int.from_bytes(h[5:9], "big")
    rule = _FRAME_RULES.get(ftype)
    if rule is None or length > MAX_PLAUSIBLE_FRAME or sid & 0x80000000:
        return False
    allowed, needs_stream = rule
    if flags & ~allowed:
        return False
    if needs_stream is True and sid == 0:
        return False
    if needs_stream is False and sid != 0:
        return False
    if ftype == 0x4 and length % 6:
        return False
    return not (ftype in (0x6, 0x7) and length < 8)


@dataclass(slots=True)
class H2Headers:
    """A complete header block (HEADERS or PUSH_PROMISE + CONTINUATIONs).

    ``headers`` is None when the block could not be decoded (``error`` says
    why, or HPACK context was already lost).  For PUSH_PROMISE,
    ``promised_stream_id`` is set and ``stream_id`` is the parent stream.
    """

    stream_id: int
    headers: list[tuple[bytes, bytes]] | None
    end_stream: bool
    start: int
    end: int
    promised_stream_id: int | None = None
    error: str | None = None


@dataclass(slots=True)
class H2Data:
    """A DATA frame's payload (padding removed); ``hole`` bytes were never captured."""

    stream_id: int
    data: bytes
    end_stream: bool
    start: int
    end: int
    hole: int = 0
    hole_kind: str | None = None


@dataclass(slots=True)
class H2Reset:
    """RST_STREAM."""

    stream_id: int
    error_code: int
    offset: int


@dataclass(slots=True)
class H2GoAway:
    """GOAWAY: streams above ``last_stream_id`` were not processed by the sender's peer."""

    last_stream_id: int
    error_code: int
    offset: int


@dataclass(slots=True)
class H2Settings:
    """A non-ACK SETTINGS frame; ``header_table_size`` when it set one."""

    header_table_size: int | None
    offset: int


@dataclass(slots=True)
class H2Lost:
    """Sync was lost at ``offset``: ``frames`` (where frames start) and/or HPACK context."""

    offset: int
    what: str
    frames: bool
    hpack: bool


H2Event = H2Headers | H2Data | H2Reset | H2GoAway | H2Settings | H2Lost


class H2Parser:
    """Parse one direction of an HTTP/2 connection from its byte stream.

    Parameters
    ----------
    client
        This direction carries the client's bytes (starts with the preface).
    joined
        The stream was joined mid-way: no preface, unknown HPACK state.
    base
        Stream offset of the first byte fed (after an HTTP/1.1 ``h2c`` upgrade).

    Examples
    --------
    >>> p = H2Parser(client=False)
    >>> p.feed(bytes.fromhex("000000040000000000"))
    [H2Settings(header_table_size=None, offset=0)]
    """

    def __init__(self, *, client: bool, joined: bool = False, base: int = 0) -> None:
        self.client = client
        self.decoder = hpack.Decoder(max_header_list_size=MAX_HEADER_LIST)
        self.decoder.max_allowed_table_size = MAX_TABLE_SIZE
        self._buf = bytearray()
        self._pos = 0
        self._base = base  # stream offset of _buf[0] (nonzero after an h2c upgrade)
        self._need_preface = client and not joined
        self.frames_ok = True
        self.hpack_ok = not joined
        self._guess = joined  # next frame header must pass the plausibility check
        self._holes: list[tuple[int, int, str]] = []  # (payload-relative start, len, kind)
        # Bytes of the current DATA frame's data already handed out before the
        # frame was complete (big frames read in several records).
        self._data_emitted = 0
        # Header block being assembled: (kind, stream, promised, end_stream, start, fragments)
        self._block: list[bytes] | None = None
        self._block_len = 0
        self._block_stream = 0
        self._block_promised: int | None = None
        self._block_end_stream = False
        self._block_start = 0
        self.lost_at: int | None = None  # offset where frame/HPACK sync was first lost
        self._quiet = False  # frame sync loss already reported; not again per record

    @property
    def pending_offset(self) -> int:
        """Stream offset of the first byte not yet consumed.

        Examples
        --------
        >>> p = H2Parser(client=False); _ = p.feed(b"\\x00\\x00"); p.pending_offset
        0
        """
        return self._base + self._pos

    def peer_table_size(self, size: int) -> None:
        """The *other* direction announced SETTINGS_HEADER_TABLE_SIZE ``size``.

        Examples
        --------
        >>> p = H2Parser(client=False); p.peer_table_size(65536)
        >>> p.decoder.max_allowed_table_size >= 65536
        True
        """
        if size > self.decoder.max_allowed_table_size:
            self.decoder.max_allowed_table_size = min(size, MAX_TABLE_SIZE)

    def feed(self, data: bytes) -> list[H2Event]:
        """Consume more bytes; return the events of every frame they complete.

        Examples
        --------
        >>> p = H2Parser(client=True)
        >>> p.feed(PREFACE[:10]), p.feed(PREFACE[10:])
        ([], [])
        """
        out: list[H2Event] = []
        if not self.frames_ok:
            # Every record starts at a write boundary: try to regain frame
            # sync here, strictly (HPACK stays lost).
            self.frames_ok = True
            self._guess = True
        self._buf += data
        self._run(out)
        self._compact()
        return out

    def _compact(self) -> None:
        if self._pos:
            del self._buf[: self._pos]
            self._base += self._pos
            self._pos = 0

    def gap(self, length: int, kind: str) -> list[H2Event]:
        """``length`` bytes were not captured here (``kind``: join, drop, trunc).

        Examples
        --------
        >>> p = H2Parser(client=False)
        >>> [e.what for e in p.gap(5, "drop")]
        ['5 bytes missing (drop) outside a DATA payload']
        >>> p.hpack_ok
        False
        """
        out: list[H2Event] = []
        if not self.frames_ok:
            self._base += length
            return out
        at = self.pending_offset
        buf = self._buf
        avail = len(buf) - self._pos
        if self.frames_ok and not self._need_preface and avail >= 9 and buf[self._pos + 3] == 0:
            flen = int.from_bytes(buf[self._pos : self._pos + 3], "big")
            missing = 9 + flen - avail
            if 0 < length <= missing:
                # Wholly inside one DATA frame: fill, cut out later.
                self._holes.append((avail - 9, length, kind))
                buf += bytes(length)
                self._run(out)
                self._compact()
                return out
        self._base += len(self._buf) + length
        self._buf.clear()
        self._pos = 0
        self._holes.clear()
        self._data_emitted = 0
        if kind == "join" and not avail and self._block is None:
            # First bytes of a stream we joined late.
            self.hpack_ok = False
            self._need_preface = False
            self._guess = True
            return out
        lose_hpack = self.hpack_ok
        self.hpack_ok = False
        self._need_preface = False
        self._block = None
        self._guess = True
        if self.lost_at is None:
            self.lost_at = at
        out.append(
            H2Lost(at, f"{length} bytes missing ({kind}) outside a DATA payload", True, lose_hpack)
        )
        return out

    # -- internals --------------------------------------------------------
    def _die(self, out: list[H2Event], at: int, what: str) -> None:
        self.frames_ok = False
        lose_hpack = self.hpack_ok
        self.hpack_ok = False
        self._need_preface = False
        self._block = None
        self._holes.clear()
        self._data_emitted = 0
        if self.lost_at is None:
            self.lost_at = at
        if not self._quiet:
            out.append(H2Lost(at, what, True, lose_hpack))
        self._quiet = True
        self._base += len(self._buf)
        self._buf.clear()
        self._pos = 0

    def _run(self, out: list[H2Event]) -> None:
        buf = self._buf
        if self._need_preface:
            if len(buf) < len(PREFACE):
                if not PREFACE.startswith(bytes(buf)):
                    self._die(out, self._base, f"expected the HTTP/2 preface, got {bytes(buf)!r}")
                return
            if buf[: len(PREFACE)] != PREFACE:
                self._die(out, self._base, f"expected the HTTP/2 preface, got {bytes(buf[:24])!r}")
                return
            self._pos = len(PREFACE)
            self._need_preface = False
        while len(buf) - self._pos >= 9:
            p = self._pos
            start = self._base + p
            hdr = bytes(buf[p : p + 9])
            if self._guess:
                if not plausible_frame_header(hdr):
                    self._die(
                        out,
                        start,
                        f"no plausible HTTP/2 frame header at a record boundary ({hdr.hex()})",
                    )
                    return
                self._guess = False
                self._quiet = False
            if hdr[3] == 0 and not hdr[4] & 0x08 and not self._holes and not self._data_emitted:
                # Fast path for the bulk of traffic: a complete, unpadded DATA
                # frame (same rules hyperframe applies, without the objects).
                length = int.from_bytes(hdr[0:3], "big")
                sid = int.from_bytes(hdr[5:9], "big") & 0x7FFFFFFF
                if sid and self._block is None and len(buf) - p - 9 >= length:
                    self._pos = p + 9 + length
                    out.append(
                        H2Data(
                            sid,
                            bytes(buf[p + 9 : self._pos]),
                            bool(hdr[4] & 1),
                            start,
                            self._base + self._pos,
                        )
                    )
                    continue
            try:
                frame, length = Frame.parse_frame_header(memoryview(hdr))
            except HyperframeError as e:
                self._die(out, start, f"bad frame header {hdr.hex()}: {e}")
                return
            if length > MAX_FRAME:  # pragma: no cover - 24-bit field cannot exceed it
                self._die(out, start, f"frame length {length} too large")
                return
            if len(buf) - p - 9 < length:
                if isinstance(frame, DataFrame) and not self._holes and self._block is None:
                    self._partial_data(frame, length, p, start, out)
                return
            payload = bytes(buf[p + 9 : p + 9 + length])
            self._pos = p + 9 + length
            end = self._base + self._pos
            holes = self._holes
            self._holes = []
            try:
                frame.parse_body(memoryview(payload))
            except HyperframeError as e:
                if isinstance(frame, (HeadersFrame, PushPromiseFrame, ContinuationFrame)):
                    self._lose_hpack(out, start, f"bad {type(frame).__name__}: {e}")
                    self._block = None
                continue  # the frame's length is still known: framing survives
            self._dispatch(frame, start, end, holes, out)

    def _partial_data(
        self, frame: DataFrame, length: int, p: int, start: int, out: list[H2Event]
    ) -> None:
        """Hand out the data of an incomplete DATA frame as it arrives (for timing)."""
        buf = self._buf
        avail = len(buf) - p - 9
        if "PADDED" in frame.flags:
            if avail < 1:
                return
            first, last = 1, length - buf[p + 9]
        else:
            first, last = 0, length
        lo = first + self._data_emitted
        hi = min(avail, last)
        if hi > lo:
            out.append(
                H2Data(
                    frame.stream_id,
                    bytes(buf[p + 9 + lo : p + 9 + hi]),
                    False,
                    start,
                    self._base + p + 9 + hi,
                )
            )
            self._data_emitted += hi - lo

    def _lose_hpack(self, out: list[H2Event], at: int, what: str) -> None:
        if self.hpack_ok:
            self.hpack_ok = False
            if self.lost_at is None:
                self.lost_at = at
            out.append(H2Lost(at, what, False, True))

    def _dispatch(
        self,
        frame: Frame,
        start: int,
        end: int,
        holes: list[tuple[int, int, str]],
        out: list[H2Event],
    ) -> None:
        if self._block is not None and not isinstance(frame, ContinuationFrame):
            self._lose_hpack(out, start, f"{type(frame).__name__} inside a header block")
            self._block = None
        if isinstance(frame, DataFrame):
            data = frame.data
            hole = 0
            kind: str | None = None
            if holes:
                data, hole = _cut_holes(data, 1 if "PADDED" in frame.flags else 0, holes)
                kind = holes[0][2]
            if self._data_emitted:
                data = data[self._data_emitted :]
                self._data_emitted = 0
            out.append(
                H2Data(frame.stream_id, data, "END_STREAM" in frame.flags, start, end, hole, kind)
            )
        elif isinstance(frame, (HeadersFrame, PushPromiseFrame)):
            self._block = [frame.data]
            self._block_len = len(frame.data)
            self._block_stream = frame.stream_id
            self._block_start = start
            if isinstance(frame, PushPromiseFrame):
                self._block_promised = frame.promised_stream_id
                self._block_end_stream = False
            else:
                self._block_promised = None
                self._block_end_stream = "END_STREAM" in frame.flags
            if "END_HEADERS" in frame.flags:
                self._finish_block(end, out)
        elif isinstance(frame, ContinuationFrame):
            if self._block is None or frame.stream_id != self._block_stream:
                self._lose_hpack(out, start, "CONTINUATION without an open header block")
                self._block = None
                return
            self._block.append(frame.data)
            self._block_len += len(frame.data)
            if self._block_len > MAX_HEADER_BLOCK:
                self._lose_hpack(out, start, f"header block over {MAX_HEADER_BLOCK} bytes")
                self._block = None
                return
            if "END_HEADERS" in frame.flags:
                self._finish_block(end, out)
        elif isinstance(frame, RstStreamFrame):
            out.append(H2Reset(frame.stream_id, frame.error_code, start))
        elif isinstance(frame, GoAwayFrame):
            out.append(H2GoAway(frame.last_stream_id, frame.error_code, start))
        elif isinstance(frame, SettingsFrame) and "ACK" not in frame.flags:
            out.append(H2Settings(frame.settings.get(SettingsFrame.HEADER_TABLE_SIZE), start))
        # PRIORITY, PING, WINDOW_UPDATE and extension frames carry nothing we keep.

    def _finish_block(self, end: int, out: list[H2Event]) -> None:
        assert self._block is not None
        block = b"".join(self._block)
        self._block = None
        headers: list[tuple[bytes, bytes]] | None = None
        error: str | None = None
        if self.hpack_ok:
            try:
                headers = [(bytes(k), bytes(v)) for k, v in self.decoder.decode(block, raw=True)]
            except hpack.exceptions.HPACKError as e:
                error = f"HPACK decoding failed: {type(e).__name__}: {e}"
                self._lose_hpack(out, self._block_start, error)
        out.append(
            H2Headers(
                self._block_stream,
                headers,
                self._block_end_stream,
                self._block_start,
                end,
                self._block_promised,
                error,
            )
        )


def _cut_holes(data: bytes, data_rel: int, holes: list[tuple[int, int, str]]) -> tuple[bytes, int]:
    """Remove zero-filled hole ranges (payload-relative) from a DATA frame's data."""
    parts: list[bytes] = []
    pos = 0
    cut = 0
    for hs, hl, _ in holes:
        a = max(hs - data_rel, 0)
        b = min(hs + hl - data_rel, len(data))
        if b <= a:
            continue
        parts.append(data[pos:a])
        cut += b - a
        pos = b
    parts.append(data[pos:])
    return b"".join(parts), cut
