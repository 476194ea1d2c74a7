"""HTTP/2 framing: find header block fragments, skip everything else by length.

A frame is a 9-byte header then ``length`` payload bytes.  Only HEADERS,
PUSH_PROMISE and CONTINUATION carry header block fragments; their pad-length,
padding, priority and promised-stream fields are stepped over and the
fragment bytes go to the direction's :class:`~._hpack.HpackWalker`.  DATA and
all other frames cost one subtraction per ``feed`` call, whatever their size.
"""

from __future__ import annotations

from ._common import ConnInfo, Out, Parser
from ._hpack import HpackWalker

_PREFACE_LEN = 24
_DATA, _HEADERS, _PUSH_PROMISE, _CONTINUATION = 0x0, 0x1, 0x5, 0x9
_END_HEADERS, _PADDED, _PRIORITY = 0x4, 0x8, 0x20

# Steps inside one frame.
_HEAD, _PAD_LEN, _SKIP, _FRAGMENT = range(4)


def frame_header_plausible(b: bytes, *, extensions: bool) -> bool | None:
    """Does ``b`` start with a believable HTTP/2 frame header? None: too short.

    Recognises a connection joined mid-way (where no preface will ever be
    seen; ``extensions=False``, known frame types only) and notices when a
    walk has lost frame alignment (``extensions=True`` also admits the
    registered extension types up to 0x10, e.g. ALTSVC, ORIGIN,
    PRIORITY_UPDATE, at most 16 KiB).  Per-type flag, length and stream-id
    rules keep text, JSON and other binary protocols out.  Frames over 1 MiB
    are refused: legal only after a SETTINGS_MAX_FRAME_SIZE raise no LLM
    client uses, and treating them as misalignment over-redacts, never leaks.

    Examples
    --------
    >>> frame_header_plausible(b"\\x00\\x00\\x00\\x04\\x01\\x00\\x00\\x00\\x00", extensions=False)
    True
    >>> frame_header_plausible(b'{"model":', extensions=True)
    False
    """
    if len(b) >= 4 and b[3] > (0x10 if extensions else 9):
        return False
    if len(b) < 9:
        return None
    length = (b[0] << 16) | (b[1] << 8) | b[2]
    ftype, flags = b[3], b[4]
    if b[5] & 0x80 or length > 1 << 20:
        return False
    if ftype > 9:
        return length <= 1 << 14
    sid = int.from_bytes(b[5:9], "big")
    rules: dict[int, tuple[bool, int, bool]] = {
        # type: (needs stream id, allowed flags, length ok)
        0: (True, 0x09, True),
        1: (True, 0x2D, True),
        2: (True, 0x00, length == 5),
        3: (True, 0x00, length == 4),
        4: (False, 0x01, length % 6 == 0 and not (flags & 1 and length)),
        5: (True, 0x0C, length >= 4),
        6: (False, 0x01, length == 8),
        7: (False, 0x00, length >= 8),
        8: (sid != 0, 0x00, length == 4),
        9: (True, 0x04, True),
    }
    needs_sid, allowed, length_ok = rules[ftype]
    return length_ok and not flags & ~allowed and (sid != 0) == needs_sid


class H2:
    """One direction of an HTTP/2 connection.

    Examples
    --------
    >>> from hpack import Encoder
    >>> block = Encoder().encode([(b"authorization", b"Bearer sk-1")], huffman=False)
    >>> frame = len(block).to_bytes(3, "big") + bytes([1, 4, 0, 0, 0, 1]) + block
    >>> o = Out(b"PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n" + frame)
    >>> c = ConnInfo(); c.h2 = c.h2_synced = True
    >>> H2(0, c, preface=True).process(o.src, 0, o); b"Bearer ****" in o.result()[0]
    True
    """

    def __init__(self, direction: int, conn: ConnInfo, *, preface: bool) -> None:
        self.direction = direction
        self.preface_left = _PREFACE_LEN if preface else 0
        self.hpack = HpackWalker(synced=conn.h2_synced, stats=conn.stats)
        self.step = _HEAD
        self.head = bytearray()
        self.ftype = 0
        self.flags = 0
        self.left = 0  # payload bytes left in this frame
        self.fixed = 0  # priority / promised-stream bytes after the pad length
        # Pieces still to come in this frame: (step, length), consumed in order.
        self.plan: list[tuple[int, int]] = []
        # Frame alignment lost (gap, or a header no peer would send): every
        # byte is blanked until a payload starts with a plausible frame header.
        self.lost = False

    def _lose(self) -> None:
        self.lost = True
        self.hpack.fail()
        self.head.clear()
        self.plan = []
        self.step = _HEAD

    def skip(self, n: int) -> Parser:
        """Step over a gap inside a frame payload that is skipped anyway."""
        if self.step == _SKIP and not self.preface_left and self.plan[0][1] >= n:
            kind, want = self.plan[0]
            self.left -= n
            if want == n:
                self.plan.pop(0)
                self._next()
            else:
                self.plan[0] = (kind, want - n)
        elif not self.lost:
            self._lose()
        return self

    def _frame_start(self) -> None:
        h = self.head
        if not frame_header_plausible(bytes(h), extensions=True):
            self._lose()
            return
        length = (h[0] << 16) | (h[1] << 8) | h[2]
        ftype, flags = h[3], h[4]
        self.head.clear()
        self.ftype, self.flags, self.left = ftype, flags, length
        if ftype in (_HEADERS, _PUSH_PROMISE):
            self.hpack.begin_block()
            self.fixed = 4 if ftype == _PUSH_PROMISE else (5 if flags & _PRIORITY else 0)
            if flags & _PADDED:
                self.plan = [(_PAD_LEN, 1)]
            else:
                self.plan = [(_SKIP, self.fixed), (_FRAGMENT, length - self.fixed)]
        elif ftype == _CONTINUATION:
            self.plan = [(_FRAGMENT, length)]
        else:
            self.plan = [(_SKIP, length)]
        self._check()

    def _check(self) -> None:
        """A frame whose fields do not add up poisons the header state."""
        if any(n < 0 for _, n in self.plan):
            self.hpack.fail()
            self.plan = [(_FRAGMENT, self.left)]  # blank the lot: if in doubt, redact
        self._next()

    def _next(self) -> None:
        while self.plan and self.plan[0][1] == 0:
            self.plan.pop(0)
        if self.plan:
            self.step = self.plan[0][0]
        else:
            if self.ftype in (_HEADERS, _PUSH_PROMISE, _CONTINUATION) and (
                self.flags & _END_HEADERS
            ):
                self.hpack.end_block()
            self.step = _HEAD

    def process(self, data: bytes, pos: int, out: Out) -> tuple[int, Parser] | None:
        """Walk frames in ``data[pos:]``."""
        n = len(data)
        if self.preface_left:
            take = min(self.preface_left, n - pos)
            self.preface_left -= take
            pos += take
        if self.lost:
            if frame_header_plausible(data[pos : pos + 9], extensions=True):
                self.lost = False  # realigned; header blocks resume at the next HEADERS
            else:
                out.fill(pos, n)
                return None
        while pos < n:
            step = self.step
            if step == _HEAD:
                began = pos if not self.head else 0
                take = min(9 - len(self.head), n - pos)
                self.head += data[pos : pos + take]
                pos += take
                if len(self.head) == 9:
                    self._frame_start()
                    if self.lost:  # not a frame header: blank it and the rest
                        out.fill(began, n)
                        return None
                continue
            kind, want = self.plan[0]
            take = min(want, n - pos)
            if step == _FRAGMENT:
                self.hpack.feed(data, pos, pos + take, out)
            elif step == _PAD_LEN:
                pad = data[pos]
                rest = self.left - 1
                self.plan = [
                    (_SKIP, self.fixed),
                    (_FRAGMENT, rest - self.fixed - pad),
                    (_SKIP, pad),
                ]
                self.left = rest
                pos += 1
                self._check()
                continue
            pos += take
            self.left -= take
            if take == want:
                self.plan.pop(0)
                self._next()
            else:
                self.plan[0] = (kind, want - take)
        # A Huffman secret still incomplete at the end of the payload must be
        # committed now: bytes returned cannot be changed later.
        self.hpack.end_feed(out)
        return None
