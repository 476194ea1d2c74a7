"""From capture records to :class:`~heron.analyze.exchange.Exchange` objects.

Theory of operation
-------------------
:class:`Reassembler` is a sans-I/O state machine fed one record at a time
(``feed(record) -> list[Exchange]``), so :func:`iter_exchanges` can stream a
capture of any size: an exchange is handed out the moment both its request
and its response have ended, and a connection's state is dropped at its
``CONN_CLOSE``.  Memory is bounded by what is *in flight*: open exchanges'
bodies (capped by ``max_body_bytes``) and parser buffers (capped in
:mod:`.http1` / :mod:`.http2`).

Per connection and direction a :class:`~.streams.StreamAssembler` turns DATA
records into chunks and gaps.  Until the connection's protocol is known the
chunks are held back (at most :data:`DETECT_LIMIT` bytes) and the first bytes
decide:

* the HTTP/2 client preface, or a SETTINGS frame from the server side → HTTP/2;
* a request line or a status line → HTTP/1.x;
* a direction whose first record starts past offset 0 (capture joined late):
  an HTTP/1 start line anywhere at a line start → HTTP/1 (resynchronised), a
  strictly plausible frame header → HTTP/2 joined mid-stream, else HTTP/1 in
  resync mode;
* TLS records (a plain socket carrying still-encrypted bytes) → the
  connection is skipped (counted in ``stats["opaque_connections"]``);
* anything else → one ``parse_error`` exchange for the connection, then the
  bytes are scanned for an HTTP/1 start line in case one turns up.

The side that sends the preface or request lines is the client, whatever
the traced process's role; ``role`` from ``CONN_OPEN`` only breaks the tie for
a connection joined mid-way.

HTTP/1 pairing: requests queue up in order; each final response takes the
oldest unanswered request (pipelining works), and a response that arrives
with nothing queued is an *orphan* (its request was lost).  Parsers report
lost message heads (:class:`~.http1.Lost`) so a lost request gets a
placeholder exchange and later responses stay paired with the right
requests.  A response found by resync answers the newest request sent
before it, but a request lost on the other direction only shows up with the
next request record; so such an exchange is held back (one per connection)
until the request side shows a new request (pairing stands) or a loss (the
response becomes an orphan), or another response head or the close comes.
Time settles two more cases, since clients send a request only after the
previous response: response bytes skipped unread after the waiting request
went out were its answer (the found head answers a lost request: an
orphan), and a second response head with no request between, after the
response side lost bytes that may have held the held request's answer,
leaves both answers unpaired rather than guessing.  One case stays
ambiguous: a request lost at the very end of a connection (nothing after it
to show the loss; ``CONN_CLOSE`` carries no byte counts).

A ``101`` answering ``Upgrade: h2c`` switches the connection to HTTP/2 (the
upgraded request becomes stream 1); any other ``101`` or a ``CONNECT``
tunnel ends parsing of that connection.

HTTP/2: one :class:`~.http2.H2Parser` per direction; exchanges are keyed by
stream id.  SETTINGS_HEADER_TABLE_SIZE from one side widens the other side's
decoder limit.  Once HPACK context is lost on a direction, new exchanges get
no headers and say why in ``parse_error`` (or ``mid_stream`` when the
capture joined late) rather than showing mis-decoded values.  Frames that
arrive for a stream already handed out (in flight when RST_STREAM crossed
them) are ignored.

Completeness (``partial``): a message is complete when its framing says so,
with two deliberate allowances for what real clients do: a chunked body that
stops cleanly at a chunk boundary when the connection closes (the OpenAI SDK
closes after ``data: [DONE]`` without reading the empty last-chunk), and an
HTTP/2 body that reached its Content-Length without the END_STREAM frame
being read (curl).  No body byte is missing in either case; whether the
*stream* finished is for the provider layer to judge from its events.

Per-record shortcut: most records of SDK traffic are either a whole head
(body framed by Content-Length, or chunked), the next bytes of a
Content-Length body, or whole chunks of a chunked one (a server writes each
SSE event as one or more whole chunks).  :meth:`Reassembler._h1_fast` hands
those to :meth:`~.http1.HTTP1Parser.take_head` /
:meth:`~.http1.HTTP1Parser.take_body` / :meth:`~.http1.HTTP1Parser.take_chunks`
and updates the exchange directly, with no parser events, buffer or
time-index churn.  A head whose bytes before its last line (and redaction
spans) repeat an earlier one's, the last line being ``Content-Length``, is
taken from a per-reassembler cache (:meth:`Reassembler._h1_take_head`): only
that last line is read.  Both methods refuse
(changing nothing) anything the general path would treat differently, and
the shortcut itself stands aside for held pairings, h2c switches, upgrade
answers and unanswered responses; ``tests/analyze/reassembly/test_fast_path.py``
runs every scenario with it on and off.  Bodies are kept as the bytes object
they arrived in when they come in one piece (no copy), and a body with no
content coding needs no decoder object.

Times: ``request_start_ns``/``response_start_ns`` are the times of the records
that held the first byte of the request/response head;
``request_end_ns``/``response_end_ns`` the times of the records that completed
them; ``response_timeline`` has one ``(ts, decoded bytes so far)`` point per
record that grew the decoded response body.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from operator import itemgetter
from typing import Any
from urllib.parse import urlsplit

from heron.analyze.exchange import Exchange
from heron.format.records import RecordKind, typed_fields

from .content import BodyDecoder
from .http1 import (
    CHUNKED,
    MAX_HEAD,
    MAX_START_LINE,
    Body,
    BodyGap,
    End,
    Head,
    HTTP1Parser,
    Lost,
    ParseError,
    Trailers,
)
from .http1 import Event as H1Event
from .http2 import (
    PREFACE,
    H2Data,
    H2Event,
    H2GoAway,
    H2Headers,
    H2Lost,
    H2Parser,
    H2Reset,
    H2Settings,
    plausible_frame_header,
)
from .streams import Chunk, Gap, SpanSet, StreamAssembler, TimeIndex

#: Header names whose values are never shown (capture redacts them too).
SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "cookie",
        "set-cookie",
    }
)
_SENSITIVE_B = frozenset(h.encode() for h in SENSITIVE_HEADERS)
# Headers reassembly itself consults (looked up once while decoding).
_INDEXED = frozenset({b"host", b"content-encoding", b"upgrade"})
REDACTED = "[REDACTED]"
#: Default cap on a decoded body kept in an Exchange (the rest is counted in
#: ``*_body_size`` and the exchange is flagged ``truncated``).
MAX_BODY_BYTES = 64 << 20
#: Entries in a Reassembler's head cache (cleared when full).
_HEAD_CACHE_MAX = 256
#: Response records fed while resynchronising that are remembered (see
#: _Builder._h1_answered_in_skip): enough for a head split over many records.
_SKIPPED_MAX = 256
#: Bytes held per direction while deciding the protocol.
DETECT_LIMIT = MAX_HEAD
#: Decoded header fields by their raw bytes: ((name, value), (name, masked
#: value), sensitive, the lower-cased name if it is one of :data:`_INDEXED`
#: else None), bounded (cleared when full): a client repeats most fields on
#: every request.
_FIELD_CACHE: dict[
    tuple[bytes, bytes], tuple[tuple[str, str], tuple[str, str], bool, bytes | None]
] = {}
_FIELD_CACHE_MAX = 4096
#: The fields of :data:`_FIELD_CACHE` that are neither sensitive nor
#: indexed, straight to their decoded (name, value).
_PLAIN_FIELDS: dict[tuple[bytes, bytes], tuple[str, str]] = {}

_DIR = ("out", "in")
_DATA_FIELD_NAMES = ("conn", "dir", "data", "offset", "len", "t", "pid", "tid")
_DATA_FIELDS = itemgetter(*_DATA_FIELD_NAMES)
# Stands for a finished exchange's decoders: ignores whatever still comes.
_FLUSHED = BodyDecoder(None, max_output=0)
_FLUSHED.flush()
_COMMON = frozenset({"k", "s", "t"})
_DATA = int(RecordKind.DATA)
_CONN_OPEN = int(RecordKind.CONN_OPEN)
_CONN_CLOSE = int(RecordKind.CONN_CLOSE)
_REQ_START = re.compile(rb"[A-Z][A-Z0-9_-]{0,19} +\S+ +HTTP/1\.[01]\r?\n")
_REQ_PREFIX = re.compile(rb"[A-Z][A-Z0-9_-]{0,19}( [^\r\n]*\r?)?\Z")
_REQ_ANYWHERE = re.compile(
    rb"(?:\A|\n)(?:GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH|CONNECT|TRACE) \S+ HTTP/1\.[01]\r?\n"
)
# A TLS record header (handshake 0x16 at a connection start, application data
# 0x17 after a join), version 3.x.
_TLS_RECORD = re.compile(rb"[\x16\x17]\x03[\x00-\x04]")
_STATUS_ANYWHERE = re.compile(rb"(?:\A|\n)HTTP/1\.[01] [1-5]\d\d[^\r\n]*\r?\n")


#: An HTTP/1 head as :meth:`Reassembler._h1_decode` gives it.
_Decoded = tuple[list[tuple[str, str]], bool, dict[bytes, str]]


class _Ex:
    """An exchange being built, plus what is needed to finish it."""

    __slots__ = (
        "ex",
        "req_body",
        "req_dec",
        "req_done",
        "req_seen",
        "resp_body",
        "resp_dec",
        "resp_done",
        "resp_seen",
        "upgrade",
    )

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex
        # A body that came in one piece is that piece (no copy); a second
        # piece makes it a bytearray (see _grow).
        self.req_body: bytes | bytearray = b""
        self.resp_body: bytes | bytearray = b""
        # None: no content coding (the body is the bytes as they come,
        # up to max_body; see Reassembler._body).
        self.req_dec: BodyDecoder | None = None
        self.resp_dec: BodyDecoder | None = None
        self.req_done = False
        self.resp_done = False
        self.req_seen = False  # request head seen
        self.resp_seen = False  # final response head seen
        self.upgrade = False  # request asked to switch protocols (CONNECT/Upgrade)


class _Conn:
    __slots__ = (
        "any_spans",
        "asm",
        "client_dir",
        "conn",
        "detect",
        "detect_buf",
        "detect_gap",
        "h1_cur_req",
        "h1_cur_resp",
        "h1_held",
        "h1_held_flags",
        "h1_held_sure",
        "h1_lost_ns",
        "h1_orphans",
        "h1_queue",
        "h1_req",
        "h1_resp",
        "h1_skipped",
        "h2",
        "h2_closed",
        "h2_lost",
        "h2_streams",
        "h2c",
        "info",
        "joined",
        "last_ts",
        "open",
        "proto",
        "spans",
        "times",
    )

    def __init__(self, conn: int) -> None:
        self.conn = conn
        self.info: dict[str, Any] = {}
        self.asm = (StreamAssembler(), StreamAssembler())
        self.times = (TimeIndex(), TimeIndex())
        self.spans = (SpanSet(), SpanSet())
        self.any_spans = False  # redaction spans were ever seen (skips checks when not)
        self.proto: str | None = None  # "h1" | "h2"
        self.client_dir = 0
        self.joined = [False, False]
        self.detect: tuple[list[Chunk | Gap], list[Chunk | Gap]] = ([], [])
        self.detect_buf = (bytearray(), bytearray())
        self.detect_gap = [False, False]
        self.last_ts = [0, 0]
        self.open: dict[int, _Ex] = {}  # exchange_id -> not yet emitted
        self.h1_req: HTTP1Parser | None = None
        self.h1_resp: HTTP1Parser | None = None
        self.h1_queue: deque[_Ex] = deque()
        self.h1_cur_req: _Ex | None = None
        self.h1_cur_resp: _Ex | None = None
        # Orphan responses (no request queued) since the last request head;
        # a request loss discovered later is one of these, not a new gap.
        self.h1_orphans = 0
        # (stream end, ns) of response records fed while the parser was
        # resynchronising, since the last response head (None: none).
        self.h1_skipped: deque[tuple[int, int]] | None = None
        # A request paired with a response found by resync, not handed out
        # until the request side shows it lost nothing in between (at most
        # one per connection), and the request's own flags at pairing time.
        self.h1_held: _Ex | None = None
        self.h1_held_flags: tuple[bool, bool, bool, bool, str | None] | None = None
        # Whether the held request's own answer cannot be in bytes the
        # response side lost (they arrived before it was sent).
        self.h1_held_sure = True
        # When the response side last lost bytes (the time of the record that
        # showed the gap) since the last response head; None: none lost.
        self.h1_lost_ns: int | None = None
        self.h2: list[H2Parser] = []
        self.h2_streams: dict[int, _Ex] = {}
        self.h2_lost: list[str | None] = [None, None]
        # Streams already handed out: frames still in flight for them (after a
        # RST_STREAM, say) are ignored rather than made into orphan exchanges.
        self.h2_closed: set[int] = set()
        self.h2c: _Ex | None = None  # exchange whose 101 switches the connection to h2c


def _detect(buf: bytes, joined: bool, final: bool) -> tuple[str, bool | None] | None:
    """Decide the protocol from a direction's first bytes.

    Returns ``(proto, this_side_is_client)`` with proto ``"h1"``, ``"h2"`` or
    ``"unknown"`` (client side None when it cannot be told), or None to wait
    for more bytes.
    """
    if _TLS_RECORD.match(buf):
        return "opaque", None  # encrypted TLS on a plain socket: nothing to read
    if joined:
        if _REQ_ANYWHERE.search(buf):
            return "h1", True
        if _STATUS_ANYWHERE.search(buf):
            return "h1", False
        if len(buf) < 9 and not final:
            return None
        if plausible_frame_header(buf[:9]):
            return "h2", None
        return "h1", None
    if buf.startswith(PREFACE):
        return "h2", True
    if _REQ_START.match(buf):
        return "h1", True
    if buf.startswith((b"HTTP/1.0 ", b"HTTP/1.1 ")):
        return "h1", False
    if len(buf) >= 9 and buf[3] == 4 and plausible_frame_header(buf[:9]):
        return "h2", False  # a server's initial SETTINGS
    if not final:
        if PREFACE.startswith(buf) or b"HTTP/1.1 ".startswith(buf[:9]):
            return None
        if b"\n" not in buf and len(buf) < MAX_START_LINE and _REQ_PREFIX.match(buf):
            return None
        if len(buf) < 9 and buf[0] == 0:
            return None  # maybe a server's SETTINGS frame header
    elif _REQ_PREFIX.match(buf) or _REQ_START.match(buf):
        return "h1", True
    return "unknown", None


def _decode_field(
    f: tuple[bytes, bytes],
) -> tuple[tuple[str, str], tuple[str, str], bool, bytes | None]:
    k, v = f
    lk = k.lower()
    name = k.decode("latin-1")
    dec = (
        (name, v.decode("utf-8", "replace")),
        (name, REDACTED),
        lk in _SENSITIVE_B,
        lk if lk in _INDEXED else None,
    )
    if len(_FIELD_CACHE) >= _FIELD_CACHE_MAX:
        _FIELD_CACHE.clear()
        _PLAIN_FIELDS.clear()
    _FIELD_CACHE[f] = dec
    if not dec[2] and dec[3] is None:
        _PLAIN_FIELDS[f] = dec[0]
    return dec


def _grow(body: bytes | bytearray, more: bytes) -> bytes | bytearray:
    """*body* followed by *more*: the first piece as it is, later ones appended in place."""
    if not body:
        return more if more.__class__ is bytes else bytes(more)
    if body.__class__ is bytes:
        body = bytearray(body)
    body += more
    return body


def _split_h2(
    raw: list[tuple[bytes, bytes]],
) -> tuple[dict[str, str], list[tuple[bytes, bytes]]]:
    pseudo: dict[str, str] = {}
    rest: list[tuple[bytes, bytes]] = []
    for k, v in raw:
        if k[:1] == b":":
            pseudo[k.decode("ascii", "replace")] = v.decode("utf-8", "replace")
        else:
            rest.append((k, v))
    return pseudo, rest


class Reassembler:
    """Turn capture records into exchanges, one record at a time.

    Parameters
    ----------
    max_body_bytes
        Keep at most this many decoded bytes of each body.
    mask_sensitive
        Show values of :data:`SENSITIVE_HEADERS` as ``"[REDACTED]"`` even if
        capture did not redact them.

    Examples
    --------
    >>> r = Reassembler()
    >>> r.feed({"k": 8, "s": 0, "t": 5, "conn": 1, "pid": 9, "dir": 0, "offset": 0,
    ...         "len": 18, "data": b"GET / HTTP/1.1\\r\\n\\r\\n"})
    []
    >>> out = r.feed({"k": 8, "s": 1, "t": 7, "conn": 1, "pid": 9, "dir": 1, "offset": 0,
    ...               "len": 38, "data": b"HTTP/1.1 204 No Content\\r\\n\\r\\n"})
    >>> [(e.method, e.path, e.status, e.request_start_ns, e.response_end_ns) for e in out]
    [('GET', '/', 204, 5, 7)]
    """

    def __init__(
        self, *, max_body_bytes: int = MAX_BODY_BYTES, mask_sensitive: bool = True
    ) -> None:
        #: Take the per-record shortcuts (:meth:`_h1_fast`); tests turn them
        #: off to check that the general path gives the same exchanges.
        self._fast = True
        self.max_body = max_body_bytes
        self.mask_sensitive = mask_sensitive
        self._conns: dict[int, _Conn] = {}
        self._next_id = 0
        self._out: list[Exchange] = []
        self._records = 0
        self._data_bytes = 0
        self._dup_bytes = 0
        self._connections = 0
        self._exchanges = 0
        self._opaque = 0
        #: The head cache (see :meth:`_h1_take_head`): (client side, the head's
        #: bytes before its last line, its redaction spans relative to it) ->
        #: (last field's name and colon, that name decoded, start line parse,
        #: the other fields decoded and masked, redacted, first indexed values).
        self._heads: dict[
            tuple[bool, bytes, tuple[tuple[int, int], ...]],
            tuple[
                bytes,
                str,
                tuple[str, str | None, str | None, int | None, None],
                list[tuple[str, str]],
                bool,
                dict[bytes, str],
            ],
        ] = {}

    @property
    def stats(self) -> dict[str, int]:
        """Counters so far, and what is held open right now.

        ``records``, ``data_bytes``, ``duplicate_bytes`` (overlapping bytes
        dropped), ``connections``, ``exchanges`` (emitted) and
        ``opaque_connections`` (encrypted TLS seen on a plain socket, skipped)
        are cumulative;
        ``open_connections`` and ``open_exchanges`` are the current state
        (memory is bounded by these).

        Examples
        --------
        >>> Reassembler().stats["records"]
        0
        """
        return {
            "records": self._records,
            "data_bytes": self._data_bytes,
            "duplicate_bytes": self._dup_bytes,
            "connections": self._connections,
            "exchanges": self._exchanges,
            "opaque_connections": self._opaque,
            "open_connections": len(self._conns),
            "open_exchanges": sum(len(c.open) for c in self._conns.values()),
        }

    # -- public -----------------------------------------------------------
    def feed(self, rec: Mapping[str, Any]) -> list[Exchange]:
        """Process one record; return the exchanges it completed.

        Examples
        --------
        >>> r = Reassembler()
        >>> r.feed({"k": 7, "s": 0, "t": 1, "conn": 5, "pid": 3, "transport": "tcp"})
        []
        """
        self._records += 1
        k = rec.get("k")
        if k == _DATA:
            self._data(rec)
        elif k == _CONN_OPEN:
            rec = typed_fields(rec)  # a field of the wrong type is absent
            conn = rec.get("conn")
            if conn is not None:
                c = self._conn(conn)
                c.info.update({f: v for f, v in rec.items() if v is not None and f not in _COMMON})
        elif k == _CONN_CLOSE:
            rec = typed_fields(rec)
            conn = rec.get("conn")
            c2 = self._conns.pop(conn, None) if conn is not None else None
            if c2 is not None:
                self._close(c2, clean=rec.get("reason") != "capture-end")
        out, self._out = self._out, []
        return out

    def finish(self) -> list[Exchange]:
        """End of capture: flush every open connection (incomplete → ``partial``).

        Examples
        --------
        >>> r = Reassembler()
        >>> r.feed({"k": 8, "s": 0, "t": 1, "conn": 5, "pid": 3, "dir": 0, "offset": 0,
        ...         "len": 18, "data": b"GET / HTTP/1.1\\r\\n\\r\\n"})
        []
        >>> [(e.path, e.partial) for e in r.finish()]
        [('/', True)]
        """
        for c in list(self._conns.values()):
            self._close(c, clean=False)
        self._conns.clear()
        out, self._out = self._out, []
        return out

    # -- records ----------------------------------------------------------
    def _conn(self, conn: int) -> _Conn:
        c = self._conns.get(conn)
        if c is None:
            c = self._conns[conn] = _Conn(conn)
            self._connections += 1
        return c

    def _data(self, rec: Mapping[str, Any]) -> None:
        get = rec.get
        try:
            conn, d, data, offset, length, ts, pid, tid = _DATA_FIELDS(rec)
        except KeyError:  # a field left out (tid, say): None, as get() gives
            conn = rec["conn"]
            d, data, offset, length, ts, pid, tid = map(get, _DATA_FIELD_NAMES[1:])
        c = self._conns.get(conn) or self._conn(conn)
        d = 1 if d else 0
        if not data:
            data = b""
        n = len(data)
        if not offset:
            offset = 0
        if not length:
            length = n
        if ts.__class__ is not int:
            ts = 0  # missing or not an integer (a buggy writer): unknown, as 0
        if pid.__class__ is not int:
            pid = None  # likewise unknown: it names a process in the tables
        if tid.__class__ is not int:
            tid = None
        self._data_bytes += n
        red = get("redacted")
        if red:
            items = c.spans[d].items
            for start, ln in red:  # SpanSet.add, inline
                if ln > 0:
                    items.append((offset + start, offset + start + ln))
            c.any_spans = True
        asm = c.asm[d]
        if asm.next_offset == offset and n == length and c.proto is not None:
            # Hot path: the next bytes of a stream whose protocol is known.
            asm.next_offset = offset + n
            if n:
                c.last_ts[d] = ts
                if (
                    c.proto == "h1"
                    and self._fast
                    and self._h1_fast(c, d, data, offset, ts, pid, tid)
                ):
                    return
                c.times[d].add(offset, n, ts, pid, tid)
                self._feed_bytes(c, d, data, ts)
            return
        if "pid" not in c.info and pid is not None:
            c.info["pid"] = pid
        dup = asm.duplicate_bytes
        for item in asm.feed(offset, length, data, ts, trunc=bool(get("trunc"))):
            if isinstance(item, Chunk):
                c.times[d].add(item.offset, len(item.data), ts, pid, tid)
                c.last_ts[d] = ts
            self._route(c, d, item)
        self._dup_bytes += asm.duplicate_bytes - dup

    def _route(self, c: _Conn, d: int, item: Chunk | Gap) -> None:
        if c.proto is not None:
            self._dispatch(c, d, item)
            return
        if isinstance(item, Gap) and item.kind == "join" and not c.detect[d]:
            c.joined[d] = True
        c.detect[d].append(item)
        if isinstance(item, Chunk):
            c.detect_buf[d].extend(item.data)
        elif item.kind != "join":
            c.detect_gap[d] = True
        self._try_detect(c, d, final=False)

    def _try_detect(self, c: _Conn, d: int, *, final: bool) -> None:
        buf = bytes(c.detect_buf[d])
        if not buf and not final:
            return
        # bytes after a gap cannot complete a start line: decide now
        final = final or len(buf) >= DETECT_LIMIT or c.detect_gap[d]
        res = _detect(buf, c.joined[d], final) if buf else ("unknown", None)
        if res is None:
            return
        proto, here_client = res
        if proto == "opaque":
            c.proto = "opaque"
            self._opaque += 1
            for dd in (0, 1):
                c.detect[dd].clear()
            c.detect_buf = (bytearray(), bytearray())
            return
        if here_client is None:
            c.client_dir = 1 if c.info.get("role") == "server" else 0
        else:
            c.client_dir = d if here_client else 1 - d
        if proto == "unknown" and buf:
            self._emit_error(
                c,
                d,
                0,
                f"bytes are neither HTTP/1.x nor HTTP/2 (first bytes {buf[:32]!r})",
            )
        self._start(c, "h2" if proto == "h2" else "h1", resync=proto == "unknown")
        for dd in (d, 1 - d):
            pending = c.detect[dd]
            for item in pending:
                self._dispatch(c, dd, item)
            pending.clear()
        c.detect_buf = (bytearray(), bytearray())

    def _start(self, c: _Conn, proto: str, *, resync: bool) -> None:
        c.proto = proto
        if proto == "h1":
            c.h1_req = HTTP1Parser("request", resync=resync)
            c.h1_resp = HTTP1Parser("response", resync=resync)
        else:
            c.h2 = [H2Parser(client=dd == c.client_dir, joined=c.joined[dd]) for dd in (0, 1)]

    def _dispatch(self, c: _Conn, d: int, item: Chunk | Gap) -> None:
        if isinstance(item, Chunk):
            self._feed_bytes(c, d, item.data, item.ts)
            return
        ts = item.ts
        if c.proto == "opaque":
            return
        if c.proto == "h1":
            p = c.h1_req if d == c.client_dir else c.h1_resp
            assert p is not None
            if d != c.client_dir and item.kind == "drop":
                c.h1_lost_ns = ts  # (a stale time only makes _h1_hold surer: older)
            evs = p.gap(item.length, item.kind)
            if evs:
                self._h1(c, d, evs, ts)
            pend = p.pending_offset
        else:
            hp = c.h2[d]
            hevs = hp.gap(item.length, item.kind)
            if hevs:
                self._h2(c, d, hevs, ts)
            pend = hp.pending_offset
        c.times[d].prune(pend)
        if c.any_spans:
            c.spans[d].prune(pend)

    def _feed_bytes(self, c: _Conn, d: int, data: bytes, ts: int) -> None:
        if c.proto == "opaque":
            c.times[d].prune(1 << 62)
            return
        if c.proto == "h1":
            p = c.h1_req if d == c.client_dir else c.h1_resp
            assert p is not None
            evs = p.feed(data)
            if evs:
                self._h1(c, d, evs, ts)
            if p.resyncing and d != c.client_dir:  # for _h1_answered_in_skip
                if c.h1_skipped is None:
                    c.h1_skipped = deque(maxlen=_SKIPPED_MAX)
                c.h1_skipped.append((p.fed_offset, ts))
            pend = p.pending_offset
        else:
            hp = c.h2[d]
            hevs = hp.feed(data)
            if hevs:
                self._h2(c, d, hevs, ts)
            pend = hp.pending_offset
        c.times[d].prune(pend)
        if c.any_spans:
            c.spans[d].prune(pend)

    def _close(self, c: _Conn, *, clean: bool) -> None:
        for d in (0, 1):
            if c.proto is None and c.detect[d]:
                self._try_detect(c, d, final=True)
        if c.proto == "h1":
            c.h1_held = None  # no more requests can reveal a loss: the pairing stands
            for d in (c.client_dir, 1 - c.client_dir):
                p = c.h1_req if d == c.client_dir else c.h1_resp
                assert p is not None
                evs = p.eof(clean=clean)
                if evs:
                    self._h1(c, d, evs, c.last_ts[d])
        for x in sorted(c.open.values(), key=lambda x: x.ex.exchange_id):
            ex = x.ex
            if c.proto == "h2":
                self._h2_length_done(x)
            if not (x.req_done and x.resp_done):
                ex.partial = True
            self._finish(c, x)

    @staticmethod
    def _h2_length_done(x: _Ex) -> None:
        """An HTTP/2 side whose body reached its Content-Length is complete.

        Clients (curl, for one) stop reading once Content-Length bytes have
        arrived, so the empty END_STREAM frame that follows is never captured.
        """
        ex = x.ex
        if x.req_seen and not x.req_done:
            cl = ex.header("content-length")
            if cl is not None and cl.isdigit() and int(cl) == ex.request_body_size:
                x.req_done = True
        if x.resp_seen and not x.resp_done:
            cl = ex.header("content-length", response=True)
            if cl is not None and cl.isdigit() and int(cl) == ex.response_body_size:
                x.resp_done = True
                if ex.response_end_ns is None:
                    tl = ex.response_timeline
                    ex.response_end_ns = tl[-1][0] if tl else ex.response_start_ns

    # -- exchanges --------------------------------------------------------
    def _new(self, c: _Conn, version: str, ts: int | None, at: tuple[Any, ...] | None) -> _Ex:
        info = c.info
        tid = None
        if at is None:
            pid = info.get("pid")
        else:
            ts, pid, tid = at
            if pid is None:
                pid = info.get("pid")
        sni = info.get("sni")
        transport = info.get("transport")
        xid = self._next_id
        self._next_id = xid + 1
        # Every field up to request_start_ns by position: the dataclass's
        # __init__ takes positional arguments about twice as fast as keywords.
        ex = Exchange(
            xid,
            c.conn,
            pid,
            version,
            None,  # stream_id
            tid,
            None,  # method
            "https" if transport == "tls" else "http" if transport == "tcp" else None,
            str(sni) if sni else None,
            None,  # path
            None,  # status
            [],  # request_headers
            [],  # response_headers
            b"",  # request_body
            b"",  # response_body
            0,  # request_body_size
            0,  # response_body_size
            ts,  # request_start_ns
        )
        x = _Ex(ex)
        c.open[xid] = x
        return x

    def _where(self, c: _Conn, d: int, offset: int) -> str:
        return f"conn {c.conn} {_DIR[d]} @{offset}"

    def _emit_error(self, c: _Conn, d: int, offset: int, what: str) -> None:
        x = self._new(c, "1.1", c.last_ts[d] or None, None)
        x.ex.parse_error = f"{self._where(c, d, offset)}: {what}"
        x.req_done = x.resp_done = True
        self._finish(c, x)

    def _maybe_finish(self, c: _Conn, x: _Ex) -> None:
        if x.req_done and x.resp_done and x is not c.h1_held:
            self._finish(c, x)

    def _finish(self, c: _Conn, x: _Ex) -> None:
        if c.open.pop(x.ex.exchange_id, None) is None:
            return
        ex = x.ex
        if x.req_dec is not None:
            tail = self._flush(ex, x.req_dec)
            if tail:
                x.req_body = _grow(x.req_body, tail)
        if x.resp_dec is not None:
            tail = self._flush(ex, x.resp_dec)
            if tail:
                x.resp_body = _grow(x.resp_body, tail)
                self._tick(ex, len(x.resp_body), ex.response_end_ns or 0)
        # Bytes still arriving for it are ignored, as a flushed decoder does.
        x.req_dec = x.resp_dec = _FLUSHED
        ex.request_body = bytes(x.req_body)
        ex.response_body = bytes(x.resp_body)
        if x.ex.stream_id is not None:
            c.h2_streams.pop(x.ex.stream_id, None)
            c.h2_closed.add(x.ex.stream_id)
        self._exchanges += 1
        self._out.append(ex)

    @staticmethod
    def _flush(ex: Exchange, dec: BodyDecoder) -> bytes:
        """End a body's decoding: the bytes it still held; its verdict onto *ex*."""
        tail = dec.flush()
        if dec.truncated:
            ex.truncated = True
        if dec.error and ex.parse_error is None:
            ex.parse_error = dec.error
        return tail

    def _decoder(self, content_encoding: str | None) -> BodyDecoder | None:
        """The decoder for a Content-Encoding (None: none, the bytes as they come)."""
        if content_encoding is None:
            return None
        return BodyDecoder(content_encoding, max_output=self.max_body)

    @staticmethod
    def _tick(ex: Exchange, n: int, ts: int) -> None:
        tl = ex.response_timeline
        if tl and tl[-1][0] == ts:
            tl[-1] = (ts, n)
        elif not tl or tl[-1][1] < n:
            tl.append((ts, n))

    def _headers(
        self, raw: list[tuple[bytes, bytes]], hit: set[int] | None
    ) -> tuple[list[tuple[str, str]], bool, dict[bytes, str]]:
        """Decoded, masked headers; whether any was masked; first values of :data:`_INDEXED`."""
        # Most fields are plain (not sensitive, not looked up): one map over
        # their cache; the others (and fields not seen before) one by one.
        out: list[Any] = list(map(_PLAIN_FIELDS.get, raw))
        first: dict[bytes, str] = {}
        redacted = False
        indexed_at: list[tuple[int, bytes]] = []
        missing = out.count(None)
        if missing:
            mask = self.mask_sensitive
            index = out.index
            at = -1
            for _ in range(missing):
                at = index(None, at + 1)
                f = raw[at]
                dec = _FIELD_CACHE.get(f) or _decode_field(f)
                pair, masked, sensitive, indexed = dec
                if mask and sensitive:
                    pair = masked
                    redacted = True
                out[at] = pair
                if indexed is not None:
                    indexed_at.append((at, indexed))
        if hit:
            n = len(out)
            for i in hit:
                if i < n:
                    out[i] = (out[i][0], REDACTED)
                    redacted = True
        for at, lk in indexed_at:
            if lk not in first:
                first[lk] = out[at][1]
        return out, redacted, first

    @staticmethod
    def _span_hit(c: _Conn, d: int, start: int, end: int) -> bool:
        """Capture redacted some of stream bytes ``[start, end)``."""
        sp = c.spans[d]
        return bool(sp.items) and sp.overlaps(start, end)

    @staticmethod
    def _h1_hits(
        start: int, end: int, raw: bytes, spans: SpanSet, folded: bool | None = None
    ) -> set[int] | None:
        """Indexes of the fields of the head *raw* at stream ``[start, end)`` whose
        bytes overlap a redacted span (None: none do).

        *folded*: whether any field line is continued (obs-fold); None: look.
        """
        inside = spans.within(start, end)
        if not inside:
            return None
        hits: set[int] = set()
        if folded is None:
            folded = raw.find(b"\n ") >= 0 or raw.find(b"\n\t") >= 0
        if not folded:
            # One field per line after the start line: a span's line number
            # is its field index + 1.
            n_raw = end - start  # raw may go on past the head
            for s, e in inside:
                a = s - start if s > start else 0
                b = e - start if e - start < n_raw else n_raw
                first_line = raw.count(b"\n", 0, a)
                last_line = first_line + raw.count(b"\n", a, b - 1) if b - 1 > a else first_line
                for n in range(first_line if first_line > 1 else 1, last_line + 1):
                    hits.add(n - 1)
            return hits
        pos = start
        idx = -1
        for n, line in enumerate(raw.split(b"\n")):
            end = pos + len(line) + 1
            if n > 0 and line.strip(b"\r"):
                if line[:1] not in (b" ", b"\t"):
                    idx += 1
                if spans.overlaps(pos, end):
                    hits.add(idx)
            pos = end
        return hits

    def _h1_decode(
        self,
        c: _Conn,
        d: int,
        start: int,
        end: int,
        raw: bytes,
        fields: list[tuple[bytes, bytes]],
        plain: bool,
    ) -> _Decoded:
        """An HTTP/1 head's decoded, masked fields; whether the head was redacted
        (a field masked, or capture redacted some of its bytes); the first
        values of :data:`_INDEXED` fields."""
        spans = c.spans[d]
        if not spans.items:
            return self._headers(fields, None)
        hits = self._h1_hits(start, end, raw, spans, False if plain else None)
        hs, red, first = self._headers(fields, hits)
        return hs, red or spans.overlaps(start, end), first

    def _body(
        self, c: _Conn, d: int, x: _Ex, data: bytes, offset: int, ts: int, resp: bool
    ) -> None:
        ex = x.ex
        n = len(data)
        if c.spans[d].items and c.spans[d].overlaps(offset, offset + n):
            ex.redacted = True
        if resp:
            ex.response_body_size += n
            dec = x.resp_dec
            body = x.resp_body
            if dec is None and len(body) + n <= self.max_body:
                out = data  # no content coding, under the cap: the bytes as they are
            else:
                if dec is None:
                    dec = x.resp_dec = self._overflowing(len(body))
                out = dec.feed(data)
            if out:
                x.resp_body = body = _grow(body, out)
                # _tick, inline: one point per record that grew the body
                tl = ex.response_timeline
                m = len(body)
                if not tl:
                    tl.append((ts, m))
                elif tl[-1][0] == ts:
                    tl[-1] = (ts, m)
                elif tl[-1][1] < m:
                    tl.append((ts, m))
        else:
            ex.request_body_size += n
            dec = x.req_dec
            body = x.req_body
            if dec is None and len(body) + n <= self.max_body:
                out = data
            else:
                if dec is None:
                    dec = x.req_dec = self._overflowing(len(body))
                out = dec.feed(data)
            if out:
                x.req_body = _grow(body, out)

    def _overflowing(self, kept: int) -> BodyDecoder:
        """An identity decoder that has passed *kept* bytes (it cuts what comes next)."""
        dec = BodyDecoder(None, max_output=self.max_body)
        dec.output_size = kept
        return dec

    def _sniff(self, first: bytes, dec: BodyDecoder | None) -> BodyDecoder | None:
        """Headers unknown (HPACK lost): recognise gzip/zstd bodies by their magic."""
        if first[:2] == b"\x1f\x8b":
            return BodyDecoder("gzip", max_output=self.max_body)
        if first[:4] == b"\x28\xb5\x2f\xfd":
            return BodyDecoder("zstd", max_output=self.max_body)
        return dec

    def _hole(self, x: _Ex, n: int, kind: str, resp: bool) -> None:
        ex = x.ex
        if kind == "trunc":
            ex.truncated = True
        else:
            ex.gap = True
        if resp:
            ex.response_body_size += n
            if x.resp_dec is not None:
                x.resp_dec.interrupt()
        else:
            ex.request_body_size += n
            if x.req_dec is not None:
                x.req_dec.interrupt()

    # -- HTTP/1 -----------------------------------------------------------
    def _h1_fast(
        self,
        c: _Conn,
        d: int,
        data: bytes,
        offset: int,
        ts: int,
        pid: int | None,
        tid: int | None,
    ) -> bool:
        """The common record, handled without parser events; False: use the general path.

        Three shapes, each the exact equivalent of what :meth:`_feed_bytes`
        does with the events :meth:`HTTP1Parser.feed` would produce: the
        next bytes of a Content-Length body (:meth:`HTTP1Parser.take_body`),
        whole chunks of a chunked body (:meth:`HTTP1Parser.take_chunks`), or
        a record that starts a message and holds its whole head
        (:meth:`_h1_take_head`: Content-Length or no body, nothing after the
        message's end; or chunked, nothing after the head).  Both leave the parser with nothing
        buffered, so the time index keeps just this record.  Anything
        unusual on the connection (a held resync pairing, a pending h2c
        switch, an upgrade answer, an unanswered response) goes the general
        way.
        """
        if c.h1_held is not None or c.h2c is not None:
            return False
        n = len(data)
        if d == c.client_dir:
            client = True
            p = c.h1_req
            x = c.h1_cur_req
        else:
            client = False
            p = c.h1_resp
            x = c.h1_cur_resp
        assert p is not None
        if x is not None:
            left = p.take_body(data, offset)
            if left >= 0:
                self._body(c, d, x, data, offset, ts, not client)
            else:
                chunks = p.take_chunks(data, offset)
                if chunks is None:
                    return False
                pieces, ended = chunks
                for ds, de in pieces:
                    self._body(c, d, x, data[ds:de], offset + ds, ts, not client)
                left = 0 if ended else 1
        else:
            if not client:
                q = c.h1_queue
                if not q or q[0].upgrade:
                    return False
            took = self._h1_take_head(c, d, p, data, offset, ts, pid, tid, client)
            if took is None:
                return False
            x, after, length = took
            left = length - (n - after) if length != CHUNKED else 1
            if n > after:
                self._body(c, d, x, data[after:], offset + after, ts, not client)
        if not left:
            ex = x.ex
            if client:
                ex.request_end_ns = ts
                x.req_done = True
                c.h1_cur_req = None
            else:
                ex.response_end_ns = ts
                x.resp_done = True
                c.h1_cur_resp = None
            if x.req_done and x.resp_done:
                self._finish(c, x)
        # What times.only() and spans.prune() do, inline: this runs per record.
        end = offset + n
        c.times[d].entries = [(end, ts, pid, tid)]
        items = c.spans[d].items
        while items and items[0][1] <= end:
            items.popleft()
        return True

    def _h1_take_head(
        self,
        c: _Conn,
        d: int,
        p: HTTP1Parser,
        data: bytes,
        offset: int,
        ts: int,
        pid: int | None,
        tid: int | None,
        client: bool,
    ) -> tuple[_Ex, int, int] | None:
        """The head part of :meth:`_h1_fast`: the exchange, where the head ends in
        *data*, and the body length; None (nothing changed): the general path.

        The head cache: a client repeats every field of a request head but the
        last, Content-Length, from one request to the next (a server likewise
        its response heads), so a head whose bytes before the last line and
        redaction spans (relative to the head) were seen before is taken from
        :attr:`_heads` (the same parse, decoded and masked fields), and only the
        last line is read.  Anything else (another last line, spans reaching it)
        goes through :meth:`HTTP1Parser.take_head` and may fill the cache.
        """
        he = data.find(b"\r\n\r\n")
        ls = data.rfind(b"\n", 0, he) + 1 if he > 0 else 0
        key: tuple[bool, bytes, tuple[tuple[int, int], ...]] | None = None
        if ls:
            items = c.spans[d].items
            if not items:
                key = (client, data[:ls], ())
            elif len(items) == 1:  # the usual: one span (the API key)
                s, e = items[0]
                if e - offset <= ls:
                    key = (client, data[:ls], ((s - offset, e - offset),))
            else:
                rel = tuple([(s - offset, e - offset) for s, e in items])
                if max([e for _, e in rel]) <= ls:
                    key = (client, data[:ls], rel)
        entry = self._heads.get(key) if key is not None else None
        if entry is not None:
            cl_name, cl_str, parsed, hdrs, red, first = entry
            line = data[ls:he]
            if line.startswith(cl_name):
                v = line[len(cl_name) :].strip(b" \t")
                if v.isdigit() and len(v) <= 18:
                    after = he + 4
                    length = p.take_known_head(data, offset, after, v, parsed)
                    if length < 0:
                        return None
                    decoded = ([*hdrs, (cl_str, v.decode())], red, first)
                    version, method, target, status, _ = parsed
                    if client:
                        x = self._h1_request_head(
                            c, d, ts, (ts, pid, tid), offset, offset + after, data,
                            version, method, target, [], True, decoded,
                        )  # fmt: skip
                    else:
                        x = c.h1_queue.popleft()
                        self._h1_response_head(
                            c, d, x, ts, (ts, pid, tid), offset, offset + after, data,
                            version, status, [], True, decoded,
                        )  # fmt: skip
                    return x, after, length
        h = p.take_head(data, offset)
        if h is None:
            return None
        after, fields, version, method, target, status, length = h
        decoded = self._h1_decode(c, d, offset, offset + after, data, fields, True)
        if key is not None and after == he + 4 and fields:
            name = fields[-1][0]
            hdrs = decoded[0]
            if name.lower() == b"content-length" and hdrs[-1][1] != REDACTED:
                if len(self._heads) >= _HEAD_CACHE_MAX:
                    self._heads.clear()
                self._heads[key] = (
                    name + b":",
                    hdrs[-1][0],
                    (version, method, target, status, None),
                    hdrs[:-1],
                    decoded[1],
                    decoded[2],
                )
        if client:
            x = self._h1_request_head(
                c, d, ts, (ts, pid, tid), offset, offset + after, data,
                version, method, target, fields, True, decoded,
            )  # fmt: skip
        else:
            x = c.h1_queue.popleft()
            self._h1_response_head(
                c, d, x, ts, (ts, pid, tid), offset, offset + after, data,
                version, status, fields, True, decoded,
            )  # fmt: skip
        return x, after, length

    def _h1(self, c: _Conn, d: int, evs: list[H1Event], ts: int) -> None:
        if d == c.client_dir:
            self._h1_request(c, d, evs, ts)
        else:
            self._h1_response(c, d, evs, ts)

    def _placeholder(self, c: _Conn, d: int, kind: str, ts: int) -> _Ex:
        assert c.h1_resp is not None
        x = self._new(c, "1.1", ts, None)
        if kind == "trunc":
            x.ex.truncated = True
        elif kind != "eof":
            x.ex.gap = True
        x.ex.partial = True
        x.req_done = True
        c.h1_queue.append(x)
        c.h1_resp.methods.append(None)
        return x

    def _h1_skip_lost_responses(self, c: _Conn, t: int) -> None:
        """A response found by resync answers the newest request sent before it.

        Clients do not pipeline in practice: each request goes out after the
        previous response.  So when bytes were skipped and several requests
        are still waiting, the older ones' responses were in what was lost;
        pairing the found response with the oldest would shift every pairing
        after it by one.
        """
        q = c.h1_queue
        before = [
            i
            for i, x in enumerate(q)
            if x.ex.request_start_ns is not None and x.ex.request_start_ns <= t
        ]
        if not before:
            return
        assert c.h1_resp is not None
        for _ in range(before[-1]):
            lost = q.popleft()
            if c.h1_resp.methods:
                c.h1_resp.methods.popleft()
            lost.ex.gap = True
            lost.ex.partial = True
            lost.resp_done = True
            self._maybe_finish(c, lost)

    @staticmethod
    def _h1_hold(c: _Conn, x: _Ex, lost_ns: int | None = None) -> None:
        """Keep *x* back: its response was found by resync, so the request
        side may still reveal a lost request that the response answered.

        :meth:`_h1_skip_lost_responses` pairs with the newest request seen,
        but a request lost on the other direction only shows up when the
        next request record arrives, after this pairing.  That includes a
        request still being sent: a gap that ends its body may swallow the
        next request too.
        """
        ex = x.ex
        c.h1_held = x
        # (a request still being sent: before it started; its body may have
        # ended in a gap)
        sent = ex.request_end_ns if x.req_done else ex.request_start_ns
        c.h1_held_sure = lost_ns is None or (sent is not None and lost_ns <= sent)
        # A request still being sent can gain flags of its own after this;
        # those are kept on unpairing (None: keep every flag it then has).
        c.h1_held_flags = (
            (ex.redacted, ex.truncated, ex.gap, ex.partial, ex.parse_error) if x.req_done else None
        )

    def _h1_release(self, c: _Conn) -> None:
        """The held pairing stands: hand the exchange out once it has ended."""
        x = c.h1_held
        c.h1_held = c.h1_held_flags = None
        if x is not None:
            self._maybe_finish(c, x)

    def _h1_unpair(self, c: _Conn, x: _Ex) -> None:
        """Undo a held pairing: the response moves to a new orphan exchange.

        *x* keeps its request, is flagged as having lost its response, and
        gets back the flags it had before the response was attached (the
        orphan takes the ones the response may have set).
        """
        flags = c.h1_held_flags
        c.h1_held = c.h1_held_flags = None
        ex = x.ex
        y = self._new(c, ex.http_version, None, None)
        y.ex.mid_stream = c.joined[c.client_dir] or c.joined[1 - c.client_dir]
        y.req_done = True
        oy = y.ex
        oy.status, ex.status = ex.status, None
        oy.response_start_ns, ex.response_start_ns = ex.response_start_ns, None
        oy.response_end_ns, ex.response_end_ns = ex.response_end_ns, None
        oy.response_headers, ex.response_headers = ex.response_headers, []
        oy.response_body_size, ex.response_body_size = ex.response_body_size, 0
        oy.response_timeline, ex.response_timeline = ex.response_timeline, []
        y.resp_body, x.resp_body = x.resp_body, b""
        y.resp_dec, x.resp_dec = x.resp_dec, None
        y.resp_seen, y.resp_done = x.resp_seen, x.resp_done
        oy.redacted, oy.truncated, oy.parse_error = ex.redacted, ex.truncated, ex.parse_error
        oy.partial = oy.gap = True
        if flags is not None:
            ex.redacted, ex.truncated, _, _, ex.parse_error = flags
        ex.gap = ex.partial = True
        x.resp_seen = False
        x.resp_done = True
        if c.h1_cur_resp is x:
            c.h1_cur_resp = y
        self._maybe_finish(c, x)  # a request still being sent ends on its own side
        self._maybe_finish(c, y)

    def _h1_request_head(
        self,
        c: _Conn,
        d: int,
        ts: int,
        at: tuple[Any, ...] | None,
        start: int,
        end: int,
        raw: bytes,
        version: str,
        method: str | None,
        target: str | None,
        fields: list[tuple[bytes, bytes]],
        plain: bool = False,
        decoded: _Decoded | None = None,
    ) -> _Ex:
        """A request head at stream ``[start, end)``: a new exchange, queued.

        *decoded*: what :meth:`_h1_decode` gives for it, when already known.
        """
        resp = c.h1_resp
        assert resp is not None
        x = self._new(c, "1.0" if version == "1.0" else "1.1", ts, at)
        ex = x.ex
        ex.method = method
        ex.path = target
        netloc = ""
        t = target or ""
        if t[:1] != "/" and (t[:7].lower() == "http://" or t[:8].lower() == "https://"):
            # absolute-form (a request to a plain HTTP proxy): keep
            # path and authority apart, as for origin-form requests
            u = urlsplit(t)
            netloc = u.netloc
            ex.scheme = u.scheme.lower()
            ex.path = (u.path or "/") + ("?" + u.query if u.query else "")
        ex.request_headers, red, first = decoded or self._h1_decode(
            c, d, start, end, raw, fields, plain
        )
        ex.redacted = ex.redacted or red
        host = netloc or first.get(b"host")
        if host:  # else the SNI (set by _new), if any
            ex.authority = host
        x.req_dec = self._decoder(first.get(b"content-encoding"))
        x.req_seen = True
        x.upgrade = method == "CONNECT" or b"upgrade" in first
        c.h1_cur_req = x
        c.h1_queue.append(x)
        resp.methods.append(method)
        c.h1_orphans = 0
        return x

    def _h1_request(self, c: _Conn, d: int, evs: list[H1Event], ts: int) -> None:
        assert c.h1_resp is not None
        for ev in evs:
            x = c.h1_cur_req
            if isinstance(ev, Body):
                if x is not None:
                    self._body(c, d, x, ev.data, ev.offset, ts, False)
            elif isinstance(ev, Head):
                if c.h1_held is not None:
                    self._h1_release(c)  # nothing was lost before this request
                self._h1_request_head(
                    c,
                    d,
                    ts,
                    c.times[d].at(ev.start),
                    ev.start,
                    ev.end,
                    ev.raw,
                    ev.version,
                    ev.method,
                    ev.target,
                    ev.headers,
                )
            elif isinstance(ev, End):
                if x is None:
                    continue
                x.ex.request_end_ns = ts
                if not ev.complete:
                    x.ex.partial = True
                    if "gap" in ev.reason:
                        x.ex.gap = True
                x.req_done = True
                c.h1_cur_req = None
                self._maybe_finish(c, x)
            elif isinstance(ev, BodyGap):
                if x is not None:
                    self._hole(x, ev.length, ev.kind, False)
            elif isinstance(ev, Trailers):
                if x is not None:
                    hs, red, _ = self._headers(ev.headers, None)
                    x.ex.request_headers.extend(hs)
                    x.ex.redacted = x.ex.redacted or red
            elif isinstance(ev, Lost):
                held = c.h1_held
                if held is not None and held is not x:
                    # A request was lost after the held one: the resynced
                    # response answered it, not the held request.
                    self._h1_unpair(c, held)
                elif c.h1_orphans:
                    # Its response already came (and became an orphan) before
                    # the next request record revealed this loss.
                    c.h1_orphans -= 1
                else:
                    self._placeholder(c, d, ev.kind, ts)
            elif isinstance(ev, ParseError):
                if c.h1_held is not None and c.h1_held is not x:
                    self._h1_release(c)
                msg = f"{self._where(c, d, ev.offset)}: {ev.what}"
                if x is not None:
                    x.ex.parse_error = msg
                    x.ex.partial = True
                    x.req_done = True
                    c.h1_cur_req = None
                    self._maybe_finish(c, x)
                elif ev.in_message:
                    ph = self._placeholder(c, d, "eof", ts)
                    ph.ex.parse_error = msg
                else:  # pragma: no cover - the parser reports errors only inside messages
                    self._emit_error(c, d, ev.offset, ev.what)

    def _h1_response_head(
        self,
        c: _Conn,
        d: int,
        x: _Ex,
        ts: int,
        at: tuple[Any, ...] | None,
        start: int,
        end: int,
        raw: bytes,
        version: str,
        status: int | None,
        fields: list[tuple[bytes, bytes]],
        plain: bool = False,
        decoded: _Decoded | None = None,
    ) -> dict[bytes, str]:
        """A final response head at stream ``[start, end)`` answers *x*.

        Returns the first values of :data:`_INDEXED` fields.  *decoded*: what
        :meth:`_h1_decode` gives for it, when already known.
        """
        ex = x.ex
        if not x.req_seen:
            ex.http_version = "1.0" if version == "1.0" else "1.1"
        ex.status = status
        ex.response_start_ns = at[0] if at else ts
        ex.response_headers, red, first = decoded or self._h1_decode(
            c, d, start, end, raw, fields, plain
        )
        ex.redacted = ex.redacted or red
        x.resp_dec = self._decoder(first.get(b"content-encoding"))
        x.resp_seen = True
        c.h1_cur_resp = x
        return first

    def _h1_answered_in_skip(self, c: _Conn, skipped: int) -> bool:
        """Whether bytes skipped before a resynced response head answered the oldest request.

        The response side skipped whole records, the last at *skipped* ns
        (the last :data:`_SKIPPED_MAX` records fed while resynchronising are
        kept; a head split over more falls back to pairing),
        after the oldest waiting request had been sent (or, if its body has
        not ended, begun): clients wait for a
        response before the next request, so those bytes were that request's
        response, and the head found now answers a later request that was
        lost.  The waiting request then ends without a response (gap), and
        the caller makes the head an orphan.  Skipped bytes that came before
        the request was sent belong to an earlier response; the pairing
        stands.
        """
        x = c.h1_queue[0]
        # a request still being sent (its body may have ended in a gap on
        # the request side): bytes after it started already answer it
        sent = x.ex.request_end_ns if x.req_done else x.ex.request_start_ns
        if sent is None or skipped <= sent:
            return False
        c.h1_queue.popleft()
        x.ex.gap = True
        x.ex.partial = True
        x.resp_done = True
        self._maybe_finish(c, x)
        return True

    def _h1_response(self, c: _Conn, d: int, evs: list[H1Event], ts: int) -> None:
        for ev in evs:
            x = c.h1_cur_resp
            if isinstance(ev, Body):
                if x is not None:
                    self._body(c, d, x, ev.data, ev.offset, ts, True)
            elif isinstance(ev, Head):
                if ev.status is not None and 100 <= ev.status < 200 and ev.status != 101:
                    continue  # interim (100-continue, 103): the final response follows
                held = c.h1_held
                if held is not None:
                    if not c.h1_queue and not c.h1_held_sure:
                        # A second response, and no request since the held
                        # one: a request was lost.  The held request's own
                        # answer may have been in the bytes the response side
                        # lost after it was sent, so either response may
                        # answer the lost request.  Do not guess: both become
                        # orphans.
                        self._h1_unpair(c, held)
                    else:
                        # Another response head came first: no pipelining, so
                        # the held response was not for a later (lost) request.
                        self._h1_release(c)
                at = c.times[d].at(ev.start)
                lost_ns, c.h1_lost_ns = c.h1_lost_ns, None
                skipped = None
                if c.h1_skipped is not None:
                    # the last record that ended before this head: its bytes were skipped
                    for end, t in c.h1_skipped:
                        if end <= ev.start:
                            skipped = t
                    c.h1_skipped = None
                paired = ev.paired
                if paired and ev.resynced and len(c.h1_queue) > 1:
                    self._h1_skip_lost_responses(c, at[0] if at else ts)
                if paired and ev.resynced and skipped is not None and c.h1_queue:
                    paired = not self._h1_answered_in_skip(c, skipped)
                if paired and c.h1_queue:
                    x = c.h1_queue.popleft()
                    if ev.resynced and x.req_seen and not x.upgrade:
                        self._h1_hold(c, x, lost_ns)
                else:
                    x = self._new(c, "1.1", None, None)  # orphan: its request was lost
                    c.h1_orphans += 1
                    x.ex.gap = True
                    x.ex.partial = True
                    x.ex.mid_stream = c.joined[c.client_dir] or c.joined[d]
                    x.req_done = True
                first = self._h1_response_head(
                    c, d, x, ts, at, ev.start, ev.end, ev.raw, ev.version, ev.status, ev.headers
                )
                ex = x.ex
                if x.upgrade and c.h1_req is not None:
                    switched = ev.status == 101 or (
                        ex.method == "CONNECT" and ev.status is not None and 200 <= ev.status < 300
                    )
                    h2c = ev.status == 101 and "h2c" in first.get(b"upgrade", "").lower()
                    if h2c:
                        c.h2c = x  # switch to HTTP/2 once this 101 has ended
                    elif switched:
                        c.h1_req.tunnel()
                        assert c.h1_resp is not None
                        c.h1_resp.tunnel()
                    else:
                        more = c.h1_req.resume()
                        if more:
                            self._h1_request(c, c.client_dir, more, c.last_ts[c.client_dir])
            elif isinstance(ev, End):
                if x is None:
                    continue
                if x is c.h2c:
                    self._switch_to_h2c(c, x, ts)
                    return
                x.ex.response_end_ns = (
                    ts
                    if ev.complete or not x.ex.response_timeline
                    else (x.ex.response_timeline[-1][0])
                )
                if not ev.complete:
                    x.ex.partial = True
                    if "gap" in ev.reason:
                        x.ex.gap = True
                x.resp_done = True
                c.h1_cur_resp = None
                self._maybe_finish(c, x)
            elif isinstance(ev, BodyGap):
                if x is not None:
                    self._hole(x, ev.length, ev.kind, True)
            elif isinstance(ev, Trailers):
                if x is not None:
                    hs, red, _ = self._headers(ev.headers, None)
                    x.ex.response_headers.extend(hs)
                    x.ex.redacted = x.ex.redacted or red
            elif isinstance(ev, Lost):
                if ev.paired and c.h1_queue:
                    lost = c.h1_queue.popleft()
                    self._hole(lost, 0, ev.kind, True)
                    lost.ex.partial = True
                    lost.resp_done = True
                    self._maybe_finish(c, lost)
            elif isinstance(ev, ParseError):
                msg = f"{self._where(c, d, ev.offset)}: {ev.what}"
                if x is not None:
                    target = x
                    c.h1_cur_resp = None
                elif ev.paired and c.h1_queue:
                    target = c.h1_queue.popleft()
                else:
                    self._emit_error(c, d, ev.offset, ev.what)
                    continue
                target.ex.parse_error = msg
                target.ex.partial = True
                target.resp_done = True
                self._maybe_finish(c, target)

    def _switch_to_h2c(self, c: _Conn, x: _Ex, ts: int) -> None:
        """HTTP/1.1 ``Upgrade: h2c`` was accepted: the rest is HTTP/2.

        The upgraded request becomes stream 1 (RFC 9113 §3.2 of RFC 7540);
        its real response arrives as HTTP/2 HEADERS on stream 1.
        """
        assert c.h1_req is not None and c.h1_resp is not None
        rests = {c.client_dir: c.h1_req.detach(), 1 - c.client_dir: c.h1_resp.detach()}
        c.h2c = None
        c.h1_cur_resp = None
        ex = x.ex
        ex.http_version = "2"
        ex.stream_id = 1
        ex.status = None
        ex.response_headers = []
        ex.response_start_ns = None
        x.resp_seen = x.resp_done = False
        x.req_done = True
        c.proto = "h2"
        c.h2 = [H2Parser(client=dd == c.client_dir, base=rests[dd][0]) for dd in (0, 1)]
        c.h2_streams[1] = x
        for dd in (1 - c.client_dir, c.client_dir):
            rest = rests[dd][1]
            if rest:
                evs = c.h2[dd].feed(rest)
                if evs:
                    self._h2(c, dd, evs, ts if dd != c.client_dir else c.last_ts[dd])

    # -- HTTP/2 -----------------------------------------------------------
    def _stream(self, c: _Conn, d: int, sid: int, ts: int, at: tuple[Any, ...] | None) -> _Ex:
        x = c.h2_streams.get(sid)
        if x is None:
            x = self._new(c, "2", ts, at)
            x.ex.stream_id = sid
            x.ex.mid_stream = c.joined[0] or c.joined[1]
            c.h2_streams[sid] = x
        return x

    def _h2_no_headers(self, c: _Conn, d: int, x: _Ex, ev: H2Headers) -> None:
        ex = x.ex
        if ev.error:
            ex.parse_error = f"{self._where(c, d, ev.start)}: {ev.error}"
        elif c.joined[d] and c.h2[d].lost_at is None:
            ex.mid_stream = True
        elif ex.parse_error is None:
            why = c.h2_lost[d] or "HPACK context unknown"
            ex.parse_error = f"{self._where(c, d, ev.start)}: headers not decoded: {why}"

    def _h2(self, c: _Conn, d: int, evs: list[H2Event], ts: int) -> None:
        client = d == c.client_dir
        closed = c.h2_closed
        for ev in evs:
            if (
                closed
                and isinstance(ev, (H2Data, H2Headers))  # a tuple: X | Y builds a union per call
                and ev.stream_id in closed
                and not (isinstance(ev, H2Headers) and ev.promised_stream_id is not None)
            ):
                continue  # a frame still in flight for a stream already handed out
            if isinstance(ev, H2Data):
                x = c.h2_streams.get(ev.stream_id)
                if x is None:
                    x = self._stream(c, d, ev.stream_id, ts, c.times[d].at(ev.start))
                    x.ex.partial = True
                    if not x.ex.mid_stream:
                        x.ex.gap = True
                    if client:
                        x.req_seen = True
                    else:
                        x.req_done = True
                if client:
                    if not x.ex.request_body_size and x.ex.method is None:
                        x.req_dec = self._sniff(ev.data, x.req_dec)
                    self._body(c, d, x, ev.data, ev.start, ts, False)
                else:
                    if x.ex.response_start_ns is None:
                        at = c.times[d].at(ev.start)
                        x.ex.response_start_ns = at[0] if at else ts
                    if not x.ex.response_body_size and x.ex.status is None:
                        x.resp_dec = self._sniff(ev.data, x.resp_dec)
                    self._body(c, d, x, ev.data, ev.start, ts, True)
                if ev.hole:
                    self._hole(x, 0, ev.hole_kind or "drop", not client)
                    if client:
                        x.ex.request_body_size += ev.hole
                    else:
                        x.ex.response_body_size += ev.hole
                if ev.end_stream:
                    self._h2_end(c, x, client, ts)
            elif isinstance(ev, H2Headers):
                self._h2_headers(c, d, ev, ts, client)
            elif isinstance(ev, H2Reset):
                x = c.h2_streams.get(ev.stream_id)
                if x is not None:
                    if not (x.req_done and x.resp_done):
                        x.ex.partial = True
                    x.req_done = x.resp_done = True
                    if x.ex.response_end_ns is None and x.resp_seen:
                        x.ex.response_end_ns = ts
                    self._finish(c, x)
            elif isinstance(ev, H2Settings):
                if ev.header_table_size is not None:
                    c.h2[1 - d].peer_table_size(ev.header_table_size)
            elif isinstance(ev, H2GoAway):
                if not client:
                    for sid, x in list(c.h2_streams.items()):
                        if sid % 2 == 1 and sid > ev.last_stream_id and not x.resp_seen:
                            x.ex.partial = True
                            x.ex.parse_error = x.ex.parse_error or (
                                f"{self._where(c, d, ev.offset)}: GOAWAY "
                                f"(last stream {ev.last_stream_id}, error {ev.error_code})"
                            )
                            x.req_done = x.resp_done = True
                            self._finish(c, x)
            elif isinstance(ev, H2Lost):
                if c.h2_lost[d] is None:
                    c.h2_lost[d] = f"{ev.what} at {self._where(c, d, ev.offset)}"
                if ev.frames:
                    for x in c.h2_streams.values():
                        done = x.req_done if client else x.resp_done
                        if not done:
                            x.ex.gap = True

    def _h2_end(self, c: _Conn, x: _Ex, client: bool, ts: int) -> None:
        if client:
            x.req_done = True
            x.ex.request_end_ns = ts
        else:
            x.resp_done = True
            x.ex.response_end_ns = ts
        self._maybe_finish(c, x)

    def _h2_headers(self, c: _Conn, d: int, ev: H2Headers, ts: int, client: bool) -> None:
        at = c.times[d].at(ev.start)
        red_block = self._span_hit(c, d, ev.start, ev.end)
        if ev.promised_stream_id is not None:
            # PUSH_PROMISE (server → client): a request made up by the server.
            x = self._stream(c, d, ev.promised_stream_id, ts, at)
            x.req_seen = x.req_done = True
            x.ex.request_end_ns = ts
            if ev.headers is None:
                self._h2_no_headers(c, d, x, ev)
            else:
                self._h2_request_head(x, ev.headers, red_block)
            return
        found = c.h2_streams.get(ev.stream_id)
        if client:
            x = found if found is not None else self._stream(c, d, ev.stream_id, ts, at)
            if ev.headers is None:
                if not x.req_seen:
                    self._h2_no_headers(c, d, x, ev)
            elif not x.req_seen:
                self._h2_request_head(x, ev.headers, red_block)
            else:  # trailers
                hs, red, _ = self._headers(ev.headers, None)
                x.ex.request_headers.extend(hs)
                x.ex.redacted = x.ex.redacted or red or red_block
            x.req_seen = True
            if ev.end_stream:
                self._h2_end(c, x, True, ts)
            return
        if found is not None:
            x = found
        else:
            x = self._stream(c, d, ev.stream_id, ts, None)
            x.ex.request_start_ns = None
            x.req_done = True
            if not x.ex.mid_stream:
                x.ex.gap = True
                x.ex.partial = True
        ex = x.ex
        if ev.headers is None:
            if not x.resp_seen:
                self._h2_no_headers(c, d, x, ev)
                if ex.response_start_ns is None:
                    ex.response_start_ns = at[0] if at else ts
                x.resp_seen = True
        else:
            pseudo, rest = _split_h2(ev.headers)
            status = pseudo.get(":status", "")
            if not x.resp_seen and status.isdigit() and 100 <= int(status) < 200:
                return  # interim response
            hs, red, first = self._headers(rest, None)
            ex.redacted = ex.redacted or red or red_block
            if not x.resp_seen:
                ex.status = int(status) if status.isdigit() else None
                ex.response_headers = hs
                ex.response_start_ns = at[0] if at else ts
                x.resp_dec = self._decoder(first.get(b"content-encoding"))
                x.resp_seen = True
            else:
                ex.response_headers.extend(hs)
        if ev.end_stream:
            self._h2_end(c, x, False, ts)

    def _h2_request_head(self, x: _Ex, raw: list[tuple[bytes, bytes]], red_block: bool) -> None:
        ex = x.ex
        pseudo, rest = _split_h2(raw)
        ex.method = pseudo.get(":method")
        ex.scheme = pseudo.get(":scheme", ex.scheme)
        ex.authority = pseudo.get(":authority", ex.authority)
        ex.path = pseudo.get(":path")
        ex.request_headers, red, first = self._headers(rest, None)
        if ":authority" not in pseudo:
            host = first.get(b"host")
            if host:
                ex.authority = host
        ex.redacted = ex.redacted or red or red_block
        x.req_dec = self._decoder(first.get(b"content-encoding"))
        x.req_seen = True


def iter_exchanges(
    records: Iterable[Mapping[str, Any]],
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    mask_sensitive: bool = True,
) -> Iterator[Exchange]:
    """Rebuild HTTP exchanges from capture records, streaming.

    See :func:`heron.analyze.reassembly.iter_exchanges` for the full story.

    Examples
    --------
    >>> recs = [
    ...     {"k": 8, "s": 0, "t": 1, "conn": 3, "pid": 9, "dir": 0, "offset": 0, "len": 18,
    ...      "data": b"GET / HTTP/1.1\\r\\n\\r\\n"},
    ...     {"k": 8, "s": 1, "t": 2, "conn": 3, "pid": 9, "dir": 1, "offset": 0, "len": 40,
    ...      "data": b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok"},
    ... ]
    >>> [(e.status, e.response_body) for e in iter_exchanges(recs)]
    [(200, b'ok')]
    """
    r = Reassembler(max_body_bytes=max_body_bytes, mask_sensitive=mask_sensitive)
    feed = r.feed
    data = r._data
    n = 0
    for rec in records:
        if rec.get("k") == _DATA:  # what feed() does, one call less per record
            n += 1
            data(rec)
            if r._out:
                yield from r._out
                r._out = []
            continue
        out = feed(rec)
        if out:
            yield from out
    r._records += n
    yield from r.finish()
