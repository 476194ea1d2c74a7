"""A passive, incremental HTTP/1.x message parser (one per direction).

Why not h11
-----------
h11 is an excellent *endpoint* state machine, but reassembly is a passive
observer of both endpoints, and h11 fights that:

* its client role will not accept a second request before the first response
  has ended, so pipelined traffic cannot be followed;
* its server role stops reading requests until a response has been *sent*
  through it, so both roles would have to be driven in lock-step with
  synthetic events;
* any protocol error is terminal for the ``Connection`` object: there is no
  way to resynchronise after a capture gap (the normal case for us), only to
  start a fresh connection and hope the next byte is a message boundary;
* a gap inside a body of known length is fine for us (framing survives), but
  h11 cannot be told "n bytes are missing here".

So this is a small hand parser with the framing rules of RFC 9112 §6 and
explicit size limits, producing events instead of touching any I/O.  It is
deliberately lenient where real peers are sloppy (bare LF line ends, obs-fold
header continuation, leading empty lines) and strict where leniency would
mis-frame (conflicting Content-Length, bad chunk sizes).

Events (all offsets are stream offsets of the connection+direction):

* :class:`Head` — a start line and headers;
* :class:`Body` — body bytes (transfer coding removed, content coding not);
* :class:`BodyGap` — body bytes missing, framing intact;
* :class:`Trailers` — chunked trailer fields;
* :class:`End` — the message ended (``complete=False``: cut by a gap/EOF);
* :class:`Lost` — bytes of a message whose head was never parsed are missing
  (the builder keeps request/response pairing honest with it);
* :class:`ParseError` — malformed input; the parser then resynchronises.

:meth:`HTTP1Parser.take_head`, :meth:`HTTP1Parser.take_known_head`,
:meth:`HTTP1Parser.take_body` and :meth:`HTTP1Parser.take_chunks` are the
owner's per-record shortcut for the common case (a whole head framed by
Content-Length or chunked, the next bytes of a Content-Length body, whole
chunks): the same state changes as :meth:`HTTP1Parser.feed`, without event
objects, or None/-1 and nothing changed when :meth:`HTTP1Parser.feed` must
decide.

After a gap or an error the parser is in *resync* mode: it scans (with a
regex, not a byte loop) for the next request line or status line at a line
start and carries on from there.

Examples
--------
>>> p = HTTP1Parser("request")
>>> evs = p.feed(b"POST /v1 HTTP/1.1\\r\\nContent-Length: 2\\r\\n\\r\\nhi")
>>> [type(e).__name__ for e in evs]
['Head', 'Body', 'End']
>>> evs[0].method, evs[0].target, evs[1].data
('POST', '/v1', b'hi')
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Literal

# Limits, and why:
#: A head (start line + fields) larger than this is treated as garbage.  Real
#: agent traffic stays far below (h11 uses 16 KiB; large cookie jars and
#: long beta-feature headers reach ~30 KiB), while without a cap a
#: non-HTTP stream would be buffered forever while we look for CRLFCRLF.
MAX_HEAD = 256 * 1024
#: Field lines per head; stops quadratic work on pathological heads.
MAX_FIELDS = 1000
#: A chunk-size line (hex size + extensions).  RFC 9112 sets no limit; 4 KiB
#: keeps a corrupt stream from being buffered while waiting for a LF.
MAX_CHUNK_LINE = 4096
#: While resynchronising, keep at most this much of an unterminated line, the
#: longest start line we are willing to recognise.
MAX_START_LINE = 16 * 1024

Role = Literal["request", "response"]

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") +(\S+) +HTTP/(\d)\.(\d) *")
_STATUS_LINE = re.compile(rb"HTTP/(\d)\.(\d) +(\d{3})(?: (.*))?")
_FIELD_NAME = re.compile(_TOKEN)
_FIELD_LINE = re.compile(rb"(" + _TOKEN + rb"):[ \t]*([^\r\n]*?)[ \t]*\r?")
_HEX = re.compile(rb"[0-9A-Fa-f]+")
_WHOLE_CHUNK = re.compile(rb"([0-9A-Fa-f]{1,16})\r\n")
# Resync anchors: only methods and versions seen in practice, after a LF or
# at a record boundary (a write boundary, where messages usually start).
_START = {
    "request": rb"(?:GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH|CONNECT|TRACE) \S+ HTTP/1\.[01]\r?\n",
    "response": rb"HTTP/1\.[01] [1-5]\d\d[^\r\n]*\r?\n",
}
_RESYNC = {k: re.compile(rb"\n(" + v + rb")") for k, v in _START.items()}
_RESYNC_HERE = {k: re.compile(v) for k, v in _START.items()}


@dataclass(slots=True)
class Head:
    """A parsed start line and header fields.

    ``paired`` (responses only) is True when this final response consumed
    one entry of :attr:`HTTP1Parser.methods`, i.e. it answers the oldest
    unanswered request.  ``resynced`` is True when the parser found this
    head by scanning after a gap or an error (bytes before it were skipped).
    """

    start: int
    end: int
    version: str
    headers: list[tuple[bytes, bytes]]
    raw: bytes
    method: str | None = None
    target: str | None = None
    status: int | None = None
    reason: str | None = None
    paired: bool = False
    resynced: bool = False


@dataclass(slots=True)
class Body:
    """Body bytes (transfer coding removed) starting at stream ``offset``."""

    offset: int
    data: bytes


@dataclass(slots=True)
class BodyGap:
    """``length`` body bytes missing at ``offset``; framing is intact."""

    offset: int
    length: int
    kind: str


@dataclass(slots=True)
class Trailers:
    """Trailer fields of a chunked message."""

    headers: list[tuple[bytes, bytes]]


@dataclass(slots=True)
class End:
    """The current message ended at ``offset`` (``complete=False``: cut short)."""

    offset: int
    complete: bool = True
    reason: str = ""


@dataclass(slots=True)
class Lost:
    """Part of a message whose head we never parsed is missing.

    ``paired`` (responses only): an entry of :attr:`HTTP1Parser.methods` was
    consumed for it, as a final response would have.
    """

    offset: int
    kind: str
    paired: bool = False


@dataclass(slots=True)
class ParseError:
    """Malformed input at ``offset``.

    ``in_message``: a message had started (its head or body was being read).
    ``head``: the head itself was malformed, so no :class:`Head` was emitted
    for this message.  ``paired`` (responses only, with ``head``): an entry of
    :attr:`HTTP1Parser.methods` was consumed for it, as for a final response.
    """

    offset: int
    what: str
    in_message: bool
    head: bool = False
    paired: bool = False


Event = Head | Body | BodyGap | Trailers | End | Lost | ParseError


#: What :meth:`HTTP1Parser.take_head` parsed from a head at the start of the
#: bytes: (after, fields, version, method, target, status, length).  ``after``
#: is the head's length (body bytes, if any, follow it); ``length`` the body
#: length (0: none); ``fields`` as in :class:`Head`.  A plain tuple: one is
#: made per message.  The length is :data:`CHUNKED` for a chunked body.
FastHead = tuple[int, list[tuple[bytes, bytes]], str, str | None, str | None, int | None, int]


#: :meth:`HTTP1Parser.take_head`'s body length for a chunked body.
CHUNKED = -2


class _S:
    """Parser states (plain ints: an Enum member lookup costs ~0.1 us on 3.11)."""

    IDLE = 0  # between messages: expecting a start line
    BODY_LEN = 1
    CHUNK_SIZE = 2
    CHUNK_DATA = 3
    CHUNK_CRLF = 4
    TRAILERS = 5
    BODY_CLOSE = 6  # response body delimited by connection close
    WAIT = 7  # request asked to switch protocols; waiting for the answer
    TUNNEL = 8  # not HTTP any more (CONNECT, 101 upgrade)
    RESYNC = 9


_STATE_NAMES = tuple(k for k in vars(_S) if k.isupper())


class _Malformed(Exception):
    pass


def _parse_fields(lines: list[bytes]) -> list[tuple[bytes, bytes]]:
    if len(lines) > MAX_FIELDS:
        raise _Malformed(f"more than {MAX_FIELDS} header fields")
    out: list[tuple[bytes, bytes]] = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            if not out:
                raise _Malformed("continuation line before any field")
            name, value = out[-1]
            out[-1] = (name, value + b" " + line.strip(b" \t"))
            continue
        name, colon, value = line.partition(b":")
        if not colon or not _FIELD_NAME.fullmatch(name):
            raise _Malformed(f"bad header field line {line[:60]!r}")
        out.append((name, value.strip(b" \t")))
    return out


def _fast_fields(rest: bytes) -> list[tuple[bytes, bytes]] | None:
    """Field lines, or None when the slow path must decide.

    Every line must match (no obs-fold, no malformed line); otherwise
    :func:`_parse_fields` redoes the work and reports what is wrong.  A
    client sends nearly the same head on every request, so each distinct
    line is matched once and remembered (see :data:`_LINE_CACHE`).
    """
    if not rest:
        return []
    lines = rest.split(b"\n")
    if len(lines) > MAX_FIELDS:
        return None
    get = _LINE_CACHE.get
    out: list[tuple[bytes, bytes]] = []
    for line in lines:
        f = get(line)
        if f is None:
            f = _new_field(line)
            if f is None:
                return None
        out.append(f)
    return out


def _new_field(line: bytes) -> tuple[bytes, bytes] | None:
    """Parse a field line not in :data:`_LINE_CACHE` and remember it (None: not a field)."""
    m = _FIELD_LINE.fullmatch(line)
    if m is None:
        return None
    f = (m.group(1), m.group(2))
    if len(_LINE_CACHE) >= _LINE_CACHE_MAX:
        _LINE_CACHE.clear()
    _LINE_CACHE[line] = f
    return f


#: Parsed field lines by their bytes, shared by all parsers (bounded: cleared
#: when full).  Most lines of a head repeat from one request to the next.
_LINE_CACHE: dict[bytes, tuple[bytes, bytes]] = {}
_LINE_CACHE_MAX = 4096
#: Field names that decide body framing, and each name seen so far → its kind
#: (0 for any other name), so a head's names are not lower-cased every time.
_FRAMING = {b"transfer-encoding": 1, b"content-length": 2, b"upgrade": 3}
_NAME_KIND: dict[bytes, int] = {}
#: The part of :data:`_LINE_CACHE` whose names do not affect framing
#: (:meth:`HTTP1Parser.take_head` looks whole heads up in one ``map``).
_PLAIN_LINES: dict[bytes, tuple[bytes, bytes]] = {}


def _split_lines(raw: bytes) -> list[bytes]:
    lines = raw.split(b"\n")
    return [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]


#: A start line's parse: (version, method, target, status, reason).
_Start = tuple[str, str | None, str | None, int | None, str | None]
#: Parsed start lines by role and bytes (bounded like :data:`_LINE_CACHE`):
#: a client repeats its request line, a server its status line.
_START_CACHE: dict[str, dict[bytes, _Start]] = {"request": {}, "response": {}}


def _parse_start(role: str, first: bytes) -> _Start:
    if role == "request":
        m = _REQUEST_LINE.fullmatch(first)
        if m is None:
            raise _Malformed(f"expected a request line, got {first[:60]!r}")
        version = f"{m.group(3).decode()}.{m.group(4).decode()}"
        method = m.group(1).decode("ascii")
        return version, method, m.group(2).decode("utf-8", "replace"), None, None
    m = _STATUS_LINE.fullmatch(first)
    if m is None:
        raise _Malformed(f"expected a status line, got {first[:60]!r}")
    version = f"{m.group(1).decode()}.{m.group(2).decode()}"
    reason = m.group(4)
    return (
        version,
        None,
        None,
        int(m.group(3)),
        reason.decode("utf-8", "replace") if reason is not None else None,
    )


class HTTP1Parser:
    """Parse one direction of an HTTP/1.x connection.

    Parameters
    ----------
    role
        ``"request"`` for the client-to-server direction, ``"response"`` for
        the other.
    resync
        Start in resync mode (the stream was joined mid-way or its protocol
        is unknown): skip bytes until a start line.

    Attributes
    ----------
    methods
        Response role only: methods of the requests still waiting for a
        response, oldest first (None when unknown).  The owner appends one per
        request; the parser takes one per final response (HEAD and CONNECT
        change response framing).

    Examples
    --------
    >>> p = HTTP1Parser("response"); p.methods.append("HEAD")
    >>> [type(e).__name__ for e in p.feed(b"HTTP/1.1 200 OK\\r\\nContent-Length: 5\\r\\n\\r\\n")]
    ['Head', 'End']
    """

    def __init__(self, role: Role, *, resync: bool = False) -> None:
        self.role: Role = role
        self.methods: deque[str | None] = deque()
        self._buf = bytearray()
        self._pos = 0
        self._base = 0  # stream offset of _buf[0]
        self._scan = 0  # head-terminator search resumes here
        self._remaining = 0
        self._state = _S.IDLE
        self._in_message = False
        self._upgrade_pending = False
        self._chunks = 0  # chunks seen in the current chunked message
        self._resynced = False  # the next head was found by a resync scan
        self._boundaries: list[int] = []  # record-boundary stream offsets while resyncing
        if resync:
            self._enter_resync(at_boundary=True)

    # -- public -----------------------------------------------------------
    @property
    def pending_offset(self) -> int:
        """Stream offset of the first byte not yet consumed.

        Examples
        --------
        >>> p = HTTP1Parser("request"); _ = p.feed(b"GET / HT"); p.pending_offset
        0
        """
        return self._base + self._pos

    @property
    def fed_offset(self) -> int:
        """Stream offset just past the last byte fed.

        Examples
        --------
        >>> p = HTTP1Parser("request"); _ = p.feed(b"GET / HT"); p.fed_offset
        8
        """
        return self._base + len(self._buf)

    @property
    def state(self) -> str:
        """The parser state name (for diagnostics and tests).

        Examples
        --------
        >>> HTTP1Parser("response", resync=True).state
        'RESYNC'
        """
        return _STATE_NAMES[self._state]

    @property
    def resyncing(self) -> bool:
        """True while the parser skips bytes looking for the next start line.

        Examples
        --------
        >>> HTTP1Parser("response", resync=True).resyncing, HTTP1Parser("response").resyncing
        (True, False)
        """
        return self._state == _S.RESYNC

    @property
    def in_message(self) -> bool:
        """True while a message has started (head seen) and not ended.

        Examples
        --------
        >>> p = HTTP1Parser("request")
        >>> _ = p.feed(b"POST / HTTP/1.1\\r\\nContent-Length: 3\\r\\n\\r\\na"); p.in_message
        True
        """
        return self._in_message

    def feed(self, data: bytes) -> list[Event]:
        """Consume more bytes of the stream; return the events they complete.

        Examples
        --------
        >>> p = HTTP1Parser("request")
        >>> p.feed(b"GET /a HTTP/1.1\\r\\n")
        []
        >>> [type(e).__name__ for e in p.feed(b"\\r\\n")]
        ['Head', 'End']
        """
        out: list[Event] = []
        st = self._state
        if st == _S.TUNNEL:
            self._skip(len(self._buf) - self._pos + len(data))
            return out
        # Fast path: body bytes with nothing buffered are passed on uncopied.
        if self._pos == len(self._buf) and st in (_S.BODY_LEN, _S.CHUNK_DATA, _S.BODY_CLOSE):
            self._buf.clear()
            self._base += self._pos
            self._pos = 0
            n = len(data)
            if st == _S.BODY_CLOSE:
                out.append(Body(self._base, data))
                self._base += n
                return out
            if n <= self._remaining:
                out.append(Body(self._base, data))
                self._base += n
                self._remaining -= n
                if self._remaining == 0:
                    self._body_part_done(out)
                return out
        if st == _S.RESYNC:
            self._boundaries.append(self._base + len(self._buf))
        self._buf += data
        self._run(out)
        self._compact()
        return out

    def gap(self, length: int, kind: str) -> list[Event]:
        """``length`` bytes of the stream were not captured (``kind``: join, drop, trunc).

        Examples
        --------
        >>> p = HTTP1Parser("request")
        >>> _ = p.feed(b"POST / HTTP/1.1\\r\\nContent-Length: 4\\r\\n\\r\\nab")
        >>> [type(e).__name__ for e in p.gap(2, "trunc")]
        ['BodyGap', 'End']
        """
        out: list[Event] = []
        st = self._state
        at = self.pending_offset
        if st == _S.TUNNEL:
            self._base += length
            return out
        if st in (_S.BODY_LEN, _S.CHUNK_DATA) and self._pos == len(self._buf):
            take = min(length, self._remaining)
            out.append(BodyGap(at, take, kind))
            self._remaining -= take
            if take == length:
                self._skip(length)
                if self._remaining == 0:
                    self._body_part_done(out)
                return out
            if st == _S.BODY_LEN:
                out.append(End(at + take, True))
                self._in_message = False
                if length - take > 2:
                    out.append(self._lost(at + take, kind))
            else:
                out.append(End(at + take, False, f"{kind} gap inside chunked body"))
                self._in_message = False
        elif st == _S.BODY_CLOSE:
            out.append(BodyGap(at, length, kind))
            self._skip(length)
            return out
        elif st == _S.IDLE:
            pending = bytes(self._buf[self._pos :]).strip(b"\r\n")
            if kind != "join" and (pending or length > 2):
                out.append(self._lost(at, kind))
        elif st == _S.WAIT:
            self._upgrade_pending = False
        elif st != _S.RESYNC:  # chunk framing or trailers: message cut
            out.append(End(at, False, f"{kind} gap in chunked framing"))
            self._in_message = False
        self._skip(len(self._buf) - self._pos + length)
        self._enter_resync(at_boundary=True)
        return out

    def eof(self, *, clean: bool) -> list[Event]:
        """The stream ended; ``clean`` when the connection really closed.

        Ends a close-delimited body (complete only when ``clean``) and
        reports a message left half-way.  A chunked body that stops cleanly
        at a chunk boundary, after at least one chunk, counts as complete:
        streaming clients (the OpenAI SDK, for one) close the connection
        after the last event without reading the empty last-chunk, and no
        body byte is missing.  Whether the *stream* finished is the
        provider layer's call (``[DONE]``, ``message_stop``).

        Examples
        --------
        >>> p = HTTP1Parser("response")
        >>> _ = p.feed(b"HTTP/1.0 200 OK\\r\\n\\r\\nbody")
        >>> p.eof(clean=True)
        [End(offset=23, complete=True, reason='')]
        """
        out: list[Event] = []
        st = self._state
        at = self.pending_offset
        if st == _S.BODY_CLOSE:
            out.append(End(at, clean, "" if clean else "capture ended before connection close"))
        elif st == _S.CHUNK_SIZE and clean and self._chunks and self._pos == len(self._buf):
            out.append(End(at, True, "closed at a chunk boundary, before the last-chunk"))
        elif st in (_S.BODY_LEN, _S.CHUNK_SIZE, _S.CHUNK_DATA, _S.CHUNK_CRLF, _S.TRAILERS):
            out.append(End(at, False, "stream ended inside the message"))
        elif st == _S.IDLE and bytes(self._buf[self._pos :]).strip(b"\r\n"):
            out.append(self._lost(at, "eof"))
        self._in_message = False
        self._state = _S.TUNNEL
        return out

    def tunnel(self) -> None:
        """The connection switched protocols (101, CONNECT 2xx): stop parsing.

        Examples
        --------
        >>> p = HTTP1Parser("request"); p.tunnel(); p.feed(b"\\x00binary")
        []
        """
        self._skip(len(self._buf) - self._pos)
        self._state = _S.TUNNEL
        self._in_message = False

    def detach(self) -> tuple[int, bytes]:
        """Stop parsing and hand back the unparsed bytes and their stream offset.

        Used when the connection switches to another protocol (h2c upgrade):
        the bytes after the 101 response belong to the new protocol.

        Examples
        --------
        >>> p = HTTP1Parser("response"); p.methods.append("GET")
        >>> _ = p.feed(b"HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: h2c\\r\\n\\r\\n\\x00\\x00")
        >>> p.detach()
        (50, b'\\x00\\x00')
        """
        at = self.pending_offset
        rest = bytes(self._buf[self._pos :])
        self._skip(len(rest))
        self._state = _S.TUNNEL
        self._in_message = False
        return at, rest

    def resume(self) -> list[Event]:
        """A requested protocol switch was refused: parse what was held back.

        Examples
        --------
        >>> p = HTTP1Parser("request")
        >>> _ = p.feed(b"GET / HTTP/1.1\\r\\nUpgrade: h2c\\r\\n\\r\\nGET /b HTTP/1.1\\r\\n\\r\\n")
        >>> [e.target for e in p.resume() if isinstance(e, Head)]
        ['/b']
        """
        out: list[Event] = []
        if self._state == _S.WAIT:
            self._state = _S.IDLE
            self._run(out)
            self._compact()
        return out

    # -- fast paths (the owner's per-record shortcut) ---------------------
    def take_body(self, data: bytes, offset: int) -> int:
        """Consume *data*, the next bytes of a Content-Length body, without events.

        The shortcut for what :meth:`feed` would report as one :class:`Body`
        (the bytes themselves) and, when they finish the body, an
        :class:`End`: returns how many body bytes are still expected (0: the
        message ended), or -1, having changed nothing, when :meth:`feed` must
        handle *data* (not inside such a body, bytes buffered, *data* runs
        past the body's end, or *offset* is not the next stream offset).

        Examples
        --------
        >>> p = HTTP1Parser("request")
        >>> _ = p.feed(b"POST / HTTP/1.1\\r\\nContent-Length: 5\\r\\n\\r\\n")
        >>> p.take_body(b"abc", 38), p.take_body(b"xyz", 41), p.take_body(b"de", 41)
        (2, -1, 0)
        >>> p.state, p.pending_offset
        ('IDLE', 43)
        """
        n = len(data)
        if (
            self._state != _S.BODY_LEN
            or self._buf
            or n > self._remaining
            or self._base != offset
            or not n
        ):
            return -1
        self._base += n
        left = self._remaining = self._remaining - n
        if not left:
            self._end_message()
        return left

    def take_head(self, data: bytes, offset: int) -> FastHead | None:
        """Parse a message that *data* starts, when it is the plain common case.

        The shortcut for what :meth:`feed` would report as a :class:`Head`,
        maybe a :class:`Body` and an :class:`End`, when nothing is buffered,
        the parser is between messages (not resynchronising), *data* starts
        with the start line and holds the whole head, the head is well-formed
        with one field per line, and the body is framed by Content-Length
        (or absent) and does not end before *data* does, or is chunked
        (``Transfer-Encoding: chunked`` alone, no Content-Length) and *data*
        ends with the head (the length is then :data:`CHUNKED`; see
        :meth:`take_chunks`).  Anything else (other transfer-codings,
        close-delimited, upgrades, CONNECT, interim responses, an unanswered
        response, malformed input) returns None having changed nothing, and
        :meth:`feed` must be used.  A response consumes one entry of
        :attr:`methods` (it is paired).

        Examples
        --------
        >>> p = HTTP1Parser("request")
        >>> h = p.take_head(b"POST /v1 HTTP/1.1\\r\\nContent-Length: 5\\r\\n\\r\\nab", 0)
        >>> after, _, version, method, target, status, length = h
        >>> after, method, target, length, p.state, p.pending_offset
        (40, 'POST', '/v1', 5, 'BODY_LEN', 42)
        >>> p.take_head(b"GET / HTTP/1.1\\r\\n\\r\\n", 42) is None   # inside a body
        True
        """
        if not self._head_may_start(data, offset):
            return None
        # The first CRLFCRLF.  _find_head_end would stop at an earlier blank
        # line (LF LF or LF CRLF), but then a field line below is empty or a
        # lone CR, which no field line matches: the general path decides.
        q = data.find(b"\r\n\r\n")
        if q < 0:
            return None
        after = q + 4
        lines = data[:q].split(b"\n")
        if len(lines) > MAX_FIELDS:
            return None
        first = lines[0]
        if first[-1:] == b"\r":
            first = first[:-1]
        del lines[0]
        # Field lines exactly as _fast_fields reads them: plain names come
        # from one map over the cache; the rest (framing names, and lines
        # not seen before) one by one.
        fields: list[tuple[bytes, bytes] | None] = list(map(_PLAIN_LINES.get, lines))
        cl: bytes | None = None
        chunked = False
        missing = fields.count(None)
        if missing:
            kinds = _NAME_KIND
            at = -1
            for _ in range(missing):
                at = fields.index(None, at + 1)
                line = lines[at]
                f = _LINE_CACHE.get(line) or _new_field(line)
                if f is None:
                    return None
                fields[at] = f
                name, value = f
                kind = kinds.get(name)
                if kind is None:
                    kind = _FRAMING.get(name.lower(), 0)
                    if len(kinds) >= _LINE_CACHE_MAX:
                        kinds.clear()
                    kinds[name] = kind
                if not kind:
                    if len(_PLAIN_LINES) >= _LINE_CACHE_MAX:
                        _PLAIN_LINES.clear()
                    _PLAIN_LINES[line] = f
                    continue
                if kind == 1 and not chunked and value.strip().lower() == b"chunked":
                    chunked = True
                    continue
                # other transfer-codings, upgrade, or more than one Content-Length
                if kind != 2 or cl is not None or 44 in value:  # a comma
                    return None
                cl = value.strip()
                if not cl.isdigit() or len(cl) > 18:
                    return None
        if chunked and cl is not None:
            return None  # both: the general path decides
        role = self.role
        cache = _START_CACHE[role]
        parsed = cache.get(first)
        if parsed is None:
            try:
                parsed = _parse_start(role, first)
            except _Malformed:
                return None
            if len(cache) >= _LINE_CACHE_MAX:
                cache.clear()
            cache[first] = parsed
        r = self._take_parsed(len(data), after, cl, parsed, chunked)
        if r == -1:
            return None
        version, method, target, status, _ = parsed
        return after, fields, version, method, target, status, r  # type: ignore[return-value]

    def take_known_head(
        self, data: bytes, offset: int, after: int, cl: bytes, parsed: _Start
    ) -> int:
        """:meth:`take_head` for a head the owner has already seen parsed.

        *data* starts with a head ending at *after* whose field lines are those
        of an earlier head that :meth:`take_head` accepted, and whose start line
        parses to *parsed*, except a last ``Content-Length`` line with the digits
        *cl* (the owner checks that; no other line may decide framing).  Makes
        the same checks and state changes as :meth:`take_head` and returns the
        body length, or -1 having changed nothing.

        Examples
        --------
        >>> p = HTTP1Parser("request")
        >>> head = b"POST /v1 HTTP/1.1\\r\\nContent-Length: 5\\r\\n\\r\\n"
        >>> p.take_known_head(head + b"ab", 0, len(head), b"5", ("1.1", "POST", "/v1", None, None))
        5
        >>> p.state, p.pending_offset
        ('BODY_LEN', 42)
        """
        if not self._head_may_start(data, offset):
            return -1
        return self._take_parsed(len(data), after, cl, parsed)

    def _head_may_start(self, data: bytes, offset: int) -> bool:
        """A shortcut may take a head at ``offset``: idle between messages, nothing held."""
        return not (
            self._state != _S.IDLE
            or self._buf
            or self._resynced
            or self._upgrade_pending
            or self._scan
            or self._base != offset
            or not data
            or data[0] in (0x0D, 0x0A)
        )

    def _take_parsed(
        self, n: int, after: int, cl: bytes | None, parsed: _Start, chunked: bool = False
    ) -> int:
        """The framing part of :meth:`take_head`: body length, :data:`CHUNKED`,
        or -1 (nothing changed)."""
        _, method, _, status, _ = parsed
        role = self.role
        length = int(cl) if cl is not None else 0
        if role == "request":
            if method == "CONNECT":
                return -1
        else:
            if status is None or status < 200 or not self.methods:
                return -1
            answered = self.methods[0]
            if answered == "CONNECT":
                return -1
            if answered == "HEAD" or status in (204, 304):
                length = 0
                chunked = False
            elif cl is None and not chunked:
                return -1  # close-delimited
        if chunked:
            if n != after:
                return -1  # chunks in the same record: the general path
            if self.role == "response":
                self.methods.popleft()
            self._base += n
            self._chunks = 0
            self._state = _S.CHUNK_SIZE
            self._in_message = True
            return CHUNKED
        if n - after > length:
            return -1  # another message follows in the same bytes
        if role == "response":
            self.methods.popleft()
        self._base += n
        self._chunks = 0
        self._remaining = length - (n - after)
        if self._remaining:
            self._state = _S.BODY_LEN
            self._in_message = True
        else:
            self._in_message = False
        return length

    def take_chunks(self, data: bytes, offset: int) -> tuple[list[tuple[int, int]], bool] | None:
        """Consume *data*, whole chunks of a chunked body, without events.

        The shortcut for what :meth:`feed` would report as one :class:`Body`
        per chunk and, when *data* ends with the last chunk (exactly
        ``0\\r\\n\\r\\n``, no trailers), an :class:`End`: returns the
        ``(start, end)`` of each chunk's data in *data* and whether the
        message ended; or None, having changed nothing, when :meth:`feed`
        must handle *data* (not between chunks, bytes buffered, *offset* not
        the next stream offset, a chunk cut by the record's end, chunk
        extensions, trailers, or anything after the last chunk).

        Examples
        --------
        >>> p = HTTP1Parser("response"); p.methods.append("GET")
        >>> _ = p.feed(b"HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n")
        >>> p.take_chunks(b"2\\r\\nhi\\r\\n1\\r\\n!\\r\\n", 47)
        ([(3, 5), (10, 11)], False)
        >>> p.take_chunks(b"0\\r\\n\\r\\n", 60), p.state
        (([], True), 'IDLE')
        >>> p.take_chunks(b"0\\r\\n\\r\\n", 65) is None   # not inside a chunked body
        True
        """
        if self._state != _S.CHUNK_SIZE or self._buf or self._base != offset or not data:
            return None
        n = len(data)
        pos = 0
        count = 0
        pieces: list[tuple[int, int]] = []
        ended = False
        match = _WHOLE_CHUNK.match
        while pos < n:
            m = match(data, pos)
            if m is None:
                return None
            size = int(m.group(1), 16)
            ds = m.end()
            if not size:
                if ds + 2 != n or data[ds:] != b"\r\n":
                    return None
                count += 1
                ended = True
                break
            de = ds + size
            if data[de : de + 2] != b"\r\n":
                return None
            pieces.append((ds, de))
            count += 1
            pos = de + 2
        self._base += n
        self._chunks += count
        if ended:
            self._end_message()
        return pieces, ended

    # -- internals --------------------------------------------------------
    def _skip(self, n: int) -> None:
        """Advance past n bytes that are either buffered or missing."""
        buffered = len(self._buf) - self._pos
        if n >= buffered:
            self._base += self._pos + n
            self._buf.clear()
            self._pos = 0
        else:
            self._pos += n
        self._scan = self._pos

    def _compact(self) -> None:
        if self._pos:
            del self._buf[: self._pos]
            self._base += self._pos
            self._scan = max(0, self._scan - self._pos)
            self._pos = 0

    def _lost(self, at: int, kind: str) -> Lost:
        paired = False
        if self.role == "response" and self.methods:
            self.methods.popleft()
            paired = True
        return Lost(at, kind, paired)

    def _enter_resync(self, *, at_boundary: bool) -> None:
        self._state = _S.RESYNC
        self._in_message = False
        self._compact()
        self._boundaries = [self._base + len(self._buf)] if at_boundary else []

    def _error(self, out: list[Event], at: int, what: str, *, head: bool = False) -> None:
        paired = False
        if head and self.role == "response" and self.methods:
            self.methods.popleft()
            paired = True
        out.append(ParseError(at, what, self._in_message or head, head, paired))
        self._in_message = False
        # Drop the byte we choked on so the resync does not find the same
        # broken line again, and look for a start line after a LF.
        self._pos = min(len(self._buf), max(self._pos, at - self._base) + 1)
        self._enter_resync(at_boundary=False)

    def _body_part_done(self, out: list[Event]) -> None:
        if self._state == _S.BODY_LEN:
            self._message_done(out)
        else:  # CHUNK_DATA
            self._state = _S.CHUNK_CRLF

    def _message_done(self, out: list[Event]) -> None:
        out.append(End(self.pending_offset, True))
        self._end_message()

    def _end_message(self) -> None:
        self._in_message = False
        if self._upgrade_pending and self.role == "request":
            self._state = _S.WAIT
        else:
            self._state = _S.IDLE
        self._upgrade_pending = False
        self._scan = self._pos

    def _run(self, out: list[Event]) -> None:
        buf = self._buf
        while True:
            st = self._state
            avail = len(buf) - self._pos
            if st == _S.IDLE:
                if not self._head(out):
                    return
            elif st == _S.BODY_LEN or st == _S.CHUNK_DATA:
                if not avail:
                    return
                take = min(avail, self._remaining)
                out.append(Body(self._base + self._pos, bytes(buf[self._pos : self._pos + take])))
                self._pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._body_part_done(out)
                elif take == avail:
                    return
            elif st == _S.BODY_CLOSE:
                if avail:
                    out.append(Body(self._base + self._pos, bytes(buf[self._pos :])))
                    self._pos = len(buf)
                return
            elif st == _S.CHUNK_SIZE:
                # Fast path: a whole plain chunk (size, data, CRLF) is buffered.
                m = _WHOLE_CHUNK.match(buf, self._pos)
                if m is not None:
                    size = int(m.group(1), 16)
                    ds = m.end()
                    de = ds + size
                    if size and buf[de : de + 2] == b"\r\n":
                        out.append(Body(self._base + ds, bytes(buf[ds:de])))
                        self._pos = de + 2
                        self._chunks += 1
                        continue
                nl = buf.find(b"\n", self._pos)
                if nl < 0:
                    if avail > MAX_CHUNK_LINE:
                        self._error(out, self.pending_offset, "chunk-size line too long")
                        continue
                    return
                line = bytes(buf[self._pos : nl]).rstrip(b"\r")
                size_txt = line.split(b";", 1)[0].strip(b" \t")
                if not _HEX.fullmatch(size_txt) or len(size_txt) > 16:
                    self._error(out, self.pending_offset, f"bad chunk size {line[:40]!r}")
                    continue
                self._pos = nl + 1
                self._remaining = int(size_txt, 16)
                self._state = _S.CHUNK_DATA if self._remaining else _S.TRAILERS
                self._chunks += 1
                self._scan = self._pos
            elif st == _S.CHUNK_CRLF:
                two = bytes(buf[self._pos : self._pos + 2])
                if two == b"\r\n":
                    self._pos += 2
                elif two[:1] == b"\n":
                    self._pos += 1
                elif two == b"\r" or not two:
                    return
                else:
                    self._error(out, self.pending_offset, f"expected CRLF after chunk, got {two!r}")
                    continue
                self._state = _S.CHUNK_SIZE
            elif st == _S.TRAILERS:
                if not self._trailers(out):
                    return
            elif st == _S.RESYNC:
                if not self._resync():
                    return
            else:  # WAIT, TUNNEL: hold bytes
                if st == _S.WAIT and avail > MAX_HEAD:
                    # No answer to the upgrade came; carry on as plain HTTP.
                    self._state = _S.IDLE
                    continue
                return

    def _resync(self) -> bool:
        buf = self._buf
        base = self._base
        m = _RESYNC[self.role].search(buf, self._pos)
        best = m.start(1) if m is not None else None
        here = _RESYNC_HERE[self.role]
        live: list[int] = []  # boundaries whose first line is still incomplete
        for b_abs in self._boundaries:
            b = b_abs - base
            if b < self._pos or (best is not None and b >= best):
                continue
            if here.match(buf, b):
                best = b
                break
            if buf.find(b"\n", b) < 0:
                live.append(b_abs)
        if best is not None:
            self._pos = best
            self._scan = best
            self._boundaries = []
            self._state = _S.IDLE
            self._resynced = True
            return True
        keep = [x - base for x in live]
        nl = buf.rfind(b"\n", self._pos)
        if nl >= 0:
            keep.append(nl)  # keep the LF: a start line may follow it
        start = min(keep) if keep else len(buf)
        if len(buf) - start > MAX_START_LINE:
            start = len(buf)
            live = []
        self._pos = max(start, self._pos)
        self._boundaries = live
        return False

    def _find_head_end(self) -> tuple[int, int] | None:
        # The first match of ``\r?\n\r?\n``, with two memchr-speed finds
        # instead of a regex scan: the first LF followed by LF or CRLF.
        buf = self._buf
        start = max(self._pos, self._scan - 3)
        q = buf.find(b"\n\r\n", start)
        q2 = buf.find(b"\n\n", start, len(buf) if q < 0 else q + 2)
        if q2 >= 0:
            q, end = q2, q2 + 2
        elif q >= 0:
            end = q + 3
        else:
            self._scan = len(buf)
            return None
        if q > start and buf[q - 1] == 0x0D:
            q -= 1
        return q, end

    def _head(self, out: list[Event]) -> bool:
        buf = self._buf
        # Tolerate empty lines between messages (RFC 9112 §2.2).
        while self._pos < len(buf) and buf[self._pos] in (0x0D, 0x0A):
            if buf[self._pos] == 0x0D and self._pos + 1 >= len(buf):
                return False
            self._pos += 1
        if self._pos >= len(buf):
            return False
        found = self._find_head_end()
        if found is None:
            if len(buf) - self._pos > MAX_HEAD:
                self._error(
                    out, self.pending_offset, f"no end of head within {MAX_HEAD} bytes", head=True
                )
                return True
            return False
        hend, after = found
        start = self.pending_offset
        raw = bytes(buf[self._pos : after])
        block = raw[: hend - self._pos]
        nl = block.find(b"\n")
        first, rest = (block, b"") if nl < 0 else (block[:nl], block[nl + 1 :])
        if first.endswith(b"\r"):
            first = first[:-1]
        try:
            fields = _fast_fields(rest)
            if fields is None:
                fields = _parse_fields(_split_lines(rest)) if rest else []
            head = self._parse_head(first, fields, start, self._base + after, raw)
        except _Malformed as e:
            self._error(out, start, str(e), head=True)
            return True
        self._pos = after
        self._scan = after
        self._chunks = 0
        head.resynced, self._resynced = self._resynced, False
        out.append(head)
        self._in_message = True
        try:
            self._frame(head, out)
        except _Malformed as e:
            self._error(out, start, str(e))
        return True

    def _parse_head(
        self, first: bytes, fields: list[tuple[bytes, bytes]], start: int, end: int, raw: bytes
    ) -> Head:
        cache = _START_CACHE[self.role]
        parsed = cache.get(first)
        if parsed is None:
            parsed = _parse_start(self.role, first)
            if len(cache) >= _LINE_CACHE_MAX:
                cache.clear()
            cache[first] = parsed
        version, method, target, status, reason = parsed
        if method is not None:
            return Head(start, end, version, fields, raw, method=method, target=target)
        return Head(start, end, version, fields, raw, status=status, reason=reason)

    def _frame(self, head: Head, out: list[Event]) -> None:
        """Choose the body framing (RFC 9112 §6.3) and move to its state."""
        te: list[bytes] = []
        cl: list[bytes] = []
        upgrade = False
        kinds = _NAME_KIND
        for name, value in head.headers:
            kind = kinds.get(name)
            if kind is None:
                kind = _FRAMING.get(name.lower(), 0)
                if len(kinds) >= _LINE_CACHE_MAX:
                    kinds.clear()
                kinds[name] = kind
            if not kind:
                continue
            if kind == 1:
                te.extend(v.strip().lower() for v in value.split(b",") if v.strip())
            elif kind == 2:
                cl.extend(v.strip() for v in value.split(b","))
            else:
                upgrade = True
        if self.role == "request":
            if head.method == "CONNECT" or upgrade:
                self._upgrade_pending = True
            if te:
                if te[-1] != b"chunked":
                    raise _Malformed(f"request transfer-encoding {b', '.join(te)!r} is not chunked")
                self._state = _S.CHUNK_SIZE
                return
            self._length(cl, out)
            return
        status = head.status or 0
        if 100 <= status < 200 and status != 101:
            # Interim response: no body, no End; the final one follows.
            self._in_message = False
            self._state = _S.IDLE
            return
        method: str | None = None
        if self.methods:
            method = self.methods.popleft()
            head.paired = True
        if status == 101 or (method == "CONNECT" and 200 <= status < 300):
            out.append(End(self.pending_offset, True))
            # Hold what follows: the owner either drops it (tunnel) or hands
            # it to the next protocol's parser (detach).
            self._state = _S.TUNNEL
            self._in_message = False
            return
        if method == "HEAD" or status in (204, 304):
            self._message_done(out)
            return
        if te:
            self._state = _S.CHUNK_SIZE if te[-1] == b"chunked" else _S.BODY_CLOSE
            return
        if cl:
            self._length(cl, out)
            return
        self._state = _S.BODY_CLOSE

    def _length(self, cl: list[bytes], out: list[Event]) -> None:
        if not cl:
            self._message_done(out)
            return
        if any(not v.isdigit() for v in cl) or len(set(cl)) != 1 or len(cl[0]) > 18:
            raise _Malformed(f"bad content-length {b', '.join(cl)!r}")
        self._remaining = int(cl[0])
        if self._remaining == 0:
            self._message_done(out)
        else:
            self._state = _S.BODY_LEN

    def _trailers(self, out: list[Event]) -> bool:
        buf = self._buf
        if buf[self._pos : self._pos + 2] == b"\r\n" or buf[self._pos : self._pos + 1] == b"\n":
            self._pos += 2 if buf[self._pos] == 0x0D else 1
            self._message_done(out)
            return True
        if len(buf) - self._pos < 2:
            return False
        found = self._find_head_end()
        if found is None:
            if len(buf) - self._pos > MAX_HEAD:
                self._error(out, self.pending_offset, "trailer section too long")
                return True
            return False
        hend, after = found
        try:
            fields = _parse_fields(_split_lines(bytes(buf[self._pos : hend])))
        except _Malformed as e:
            self._error(out, self.pending_offset, f"trailers: {e}")
            return True
        self._pos = after
        out.append(Trailers(fields))
        self._message_done(out)
        return True
