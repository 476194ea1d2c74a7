"""HTTP/1.x: redact credential header values and query keys, skip bodies by length.

One :class:`Http1` instance follows one direction of one connection (requests
on the out direction, responses on the in direction) across any number of
``feed`` calls.  Header sections are walked line by line with ``bytes.find``;
bodies framed by ``Content-Length`` or chunked encoding are skipped by
arithmetic, never scanned.  When the framing cannot be known (a close-delimited
response, a 101 upgrade, a CONNECT tunnel, contradictory lengths) the rest of
the direction is handed to :class:`~._text.TextScan`, which over-redacts
header-looking lines instead of risking a leak.
"""

from __future__ import annotations

from ._common import (
    CR,
    FILL,
    LF,
    SCHEME_HEADERS,
    SENSITIVE_HEADERS,
    SP,
    ConnInfo,
    Out,
    Parser,
    QueryScan,
    ValueBlanker,
)
from ._h2 import H2
from ._text import TextScan

# Parser states.
_START, _LINE, _LINE_CR, _NAME, _VALUE, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END = range(9)
# Start-line sub-states.
_METHOD, _TARGET, _REST = range(3)

# Header values we read to learn the framing.
_FRAMING = frozenset({b"content-length", b"transfer-encoding", b"upgrade"})
_MAX_KEEP = 256  # bytes of a framing value / start line kept; longer is garbage anyway


class Http1:
    """One direction of an HTTP/1.x connection.

    Examples
    --------
    >>> p = Http1(request=True, conn=ConnInfo())
    >>> o = Out(b"GET /v1?key=abc HTTP/1.1\\r\\nX-Api-Key: s3\\r\\n\\r\\n")
    >>> p.process(o.src, 0, o)
    >>> o.result()[0]
    b'GET /v1?key=*** HTTP/1.1\\r\\nX-Api-Key: **\\r\\n\\r\\n'
    """

    def __init__(self, *, request: bool, conn: ConnInfo) -> None:
        self.request = request
        self.conn = conn
        self._new_message()

    def _new_message(self) -> None:
        self.state = _START
        self.sub = _METHOD
        self.query = QueryScan()
        self.line = bytearray()  # start line (capped)
        self.name = bytearray()  # current header name (capped)
        self.keep = bytearray()  # value of a framing header
        self.kind = 0  # 0 skip value, 1 credential, 2 framing header
        self.blanker: ValueBlanker | None = None
        self.fold_sensitive = False  # previous header was a credential (obs-fold)
        self.trailers = False
        self.remaining = 0
        self.lengths: set[int] = set()
        self.bad_length = False
        self.te: bytes | None = None
        self.method = b""
        self.status = 0

    # -- start line ---------------------------------------------------------

    def _start_line(self, data: bytes, pos: int, out: Out) -> int | None:
        """Walk the start line; None means "not HTTP/1 any more"."""
        n = len(data)
        request = self.request
        while pos < n:
            b = data[pos]
            if b == LF:
                if self.sub == _METHOD and not self.line:
                    pos += 1  # tolerated empty line between messages
                    continue
                self._end_start_line()
                return pos + 1
            sub = self.sub
            if sub == _METHOD:
                if b == CR and not self.line:
                    pos += 1
                    continue
                if request:
                    if b == SP and self.line:
                        self.method = bytes(self.line)
                        self.sub = _TARGET
                    elif (0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A) and len(self.line) < 24:
                        self.line.append(b)
                    else:
                        return None
                else:
                    self.line.append(b)
                    if len(self.line) <= 5 and not b"HTTP/".startswith(self.line):
                        return None
                    if len(self.line) == 5:
                        self.sub = _REST
            elif sub == _TARGET:
                pos = self._target(data, pos, out)
                continue
            else:  # the rest of the line, kept only to read a status code
                nl = data.find(b"\n", pos)
                end = nl if nl >= 0 else n
                if len(self.line) < _MAX_KEEP:
                    self.line += data[pos : min(end, pos + _MAX_KEEP)]
                pos = end
                continue
            pos += 1
        return pos

    def _target(self, data: bytes, pos: int, out: Out) -> int:
        """Walk request-target bytes up to the next blank or line end."""
        sp = data.find(b" ", pos)
        nl = data.find(b"\n", pos)
        end = min(x for x in (sp, nl, len(data)) if x >= 0)
        query = self.query
        if not query.started:  # skip the path in one step
            q = data.find(b"?", pos, end)
            pos = end if q < 0 else q
        step = query.step
        for i in range(pos, end):
            if step(data[i]):
                out.put(i, FILL)
        if end == sp:
            self.sub = _REST
            return end + 1
        return end

    def _end_start_line(self) -> None:
        if not self.request:
            parts = bytes(self.line).split(None, 2)
            code = parts[1] if len(parts) > 1 else b""
            self.status = int(code) if code.isdigit() and len(code) == 3 else 0
        self.state = _LINE

    # -- headers ------------------------------------------------------------

    def _begin_value(self) -> None:
        name = bytes(self.name).strip().lower()
        if name in SENSITIVE_HEADERS:
            self.kind = 1
            self.blanker = ValueBlanker(name in SCHEME_HEADERS, self.conn.stats)
        elif name in _FRAMING:
            self.kind = 2
            self.keep.clear()
        else:
            self.kind = 0

    def _end_header(self) -> None:
        if self.kind == 2:
            name = bytes(self.name).strip().lower()
            value = bytes(self.keep).strip().lower()
            if name == b"content-length":
                for part in value.split(b","):
                    part = part.strip()
                    if part.isdigit():
                        self.lengths.add(int(part))
                    else:
                        self.bad_length = True
            elif name == b"upgrade":
                if self.request and b"h2c" in value:
                    self.conn.h2c = True  # a 101 reply switches both directions to HTTP/2
            else:
                self.te = value if self.te is None else self.te + b"," + value
        self.fold_sensitive = self.kind == 1
        self.kind = 0
        self.blanker = None
        self.name.clear()

    def _end_headers(self) -> Parser | None:
        """Decide how the body is framed; a parser to switch to, or None."""
        if self.trailers:
            self._new_message()
            return None
        if self.request:
            method = self.method.upper()
            self.conn.methods.append(method)
            if method == b"CONNECT":
                return TextScan(stats=self.conn.stats)
        else:
            status = self.status
            if 100 <= status < 200:
                if status == 101:
                    if self.conn.h2c:  # h2c upgrade: the server now sends frames
                        self.conn.h2 = self.conn.h2_synced = True
                        return H2(1, self.conn, preface=False)
                    return TextScan(stats=self.conn.stats)
                self._new_message()
                return None
            method = self.conn.methods.popleft() if self.conn.methods else b""
            if method == b"HEAD" or status in (204, 304):
                self._new_message()
                return None
            if method == b"CONNECT" and 200 <= status < 300:
                return TextScan(stats=self.conn.stats)
        if self.te is not None:
            codings = [c.strip() for c in self.te.split(b",")]
            if codings and codings[-1] == b"chunked":
                self.state = _CHUNK_SIZE
                self.line.clear()
                return None
            return TextScan(
                stats=self.conn.stats
            )  # not chunked: framing unknown (or close-delimited)
        if self.bad_length or len(self.lengths) > 1:
            return TextScan(stats=self.conn.stats)
        if self.lengths:
            self.remaining = self.lengths.pop()
            if self.remaining:
                self.state = _BODY
            else:
                self._new_message()
            return None
        if self.request:
            self._new_message()  # a request without framing headers has no body
            return None
        return TextScan(stats=self.conn.stats)  # response delimited by connection close

    # -- driver -------------------------------------------------------------

    def skip(self, n: int) -> Parser:
        """Step over a gap inside a body of known length; else fall back."""
        if self.state in (_BODY, _CHUNK_DATA) and self.remaining >= n:
            self.remaining -= n
            if not self.remaining:
                if self.state == _BODY:
                    self._new_message()
                else:
                    self.state = _CHUNK_END
            return self
        return TextScan(stats=self.conn.stats)

    def process(self, data: bytes, pos: int, out: Out) -> tuple[int, Parser] | None:
        """Consume ``data[pos:]``, redacting as it goes."""
        n = len(data)
        while pos < n:
            st = self.state
            if st in (_BODY, _CHUNK_DATA):
                take = min(self.remaining, n - pos)
                pos += take
                self.remaining -= take
                if not self.remaining:
                    if st == _BODY:
                        self._new_message()
                    else:
                        self.state = _CHUNK_END
            elif st == _LINE:
                b = data[pos]
                if b == LF:
                    pos += 1
                    switch = self._end_headers()
                    if switch is not None:
                        return pos, switch
                elif b == CR:
                    pos += 1
                    self.state = _LINE_CR
                elif b in (SP, 0x09) and self.fold_sensitive:
                    # obs-fold continuation of a credential: keep blanking
                    self.kind = 1
                    self.blanker = ValueBlanker(False)
                    self.state = _VALUE
                else:
                    self.fold_sensitive = False
                    self.state = _NAME
            elif st == _LINE_CR:
                if data[pos] == LF:
                    pos += 1
                    switch = self._end_headers()
                    if switch is not None:
                        return pos, switch
                else:
                    self.name[:] = b"\r"
                    self.state = _NAME
            elif st == _NAME:
                nl = data.find(b"\n", pos)
                end = nl if nl >= 0 else n
                colon = data.find(b":", pos, end)
                if colon >= 0:
                    if len(self.name) < 64:
                        self.name += data[pos : min(colon, pos + 64)]
                    self._begin_value()
                    self.state = _VALUE
                    pos = colon + 1
                else:
                    if len(self.name) < 64:
                        self.name += data[pos : min(end, pos + 64)]
                    pos = end
                    if nl >= 0:  # a line without a colon: not a header, ignore it
                        self.name.clear()
                        self.state = _LINE
                        pos = nl + 1
            elif st == _VALUE:
                nl = data.find(b"\n", pos)
                end = nl if nl >= 0 else n
                if self.kind == 1:
                    assert self.blanker is not None
                    self.blanker.run(data, pos, end, out, more=nl < 0)
                elif self.kind == 2 and len(self.keep) < _MAX_KEEP:
                    self.keep += data[pos : min(end, pos + _MAX_KEEP)]
                pos = end
                if nl >= 0:
                    pos = nl + 1
                    self._end_header()
                    self.state = _LINE
            elif st == _START:
                earlier = bytes(self.line)  # start-line bytes from earlier payloads
                newpos = self._start_line(data, pos, out)
                if newpos is None:  # not a start line: rescan this payload's part as text
                    return pos, TextScan(b"\n" + earlier, stats=self.conn.stats)
                pos = newpos
                if self.state == _LINE and self.request and self.method == b"PRI":
                    # "PRI * HTTP/2.0": the HTTP/2 preface after an h2c upgrade
                    self.conn.h2 = self.conn.h2_synced = True
                    h2 = H2(0, self.conn, preface=True)
                    h2.preface_left = len(b"\r\nSM\r\n\r\n")
                    return pos, h2
            elif st == _CHUNK_SIZE:
                nl = data.find(b"\n", pos)
                end = nl if nl >= 0 else n
                if len(self.line) < 64:
                    self.line += data[pos : min(end, pos + 64)]
                pos = end
                if nl >= 0:
                    pos = nl + 1
                    size = bytes(self.line).split(b";", 1)[0].strip()
                    self.line.clear()
                    if not size or size.strip(b"0123456789abcdefABCDEF") or len(size) > 16:
                        return pos, TextScan(
                            stats=self.conn.stats
                        )  # broken framing: over-redact from here
                    self.remaining = int(size, 16)
                    if self.remaining:
                        self.state = _CHUNK_DATA
                    else:
                        self.trailers = True
                        self.state = _LINE
            else:  # _CHUNK_END: the CRLF after chunk data
                nl = data.find(b"\n", pos)
                if nl < 0:
                    pos = n
                else:
                    pos = nl + 1
                    self.state = _CHUNK_SIZE
        return None
