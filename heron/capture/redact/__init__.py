"""Credential redaction for captured plaintext, applied before anything hits disk.

This is the one piece of protocol awareness ``heron-capture`` has.  It is pure
Python, sans-IO and never imports bcc, so it is tested anywhere.

API
---
>>> r = Redactor(enabled=True)                 # one per capture
>>> out, spans = r.feed(7, 0, b"GET /v1?key=AIza HTTP/1.1\\r\\nAuthorization: Bearer sk-9\\r\\n\\r\\n")
>>> out
b'GET /v1?key=**** HTTP/1.1\\r\\nAuthorization: Bearer ****\\r\\n\\r\\n'
>>> spans                                      # (start, length) within the input
[(12, 4), (49, 4)]
>>> r.close(7)                                 # forget the connection

``feed(conn_id, direction, data)`` takes the bytes of one ``SSL_write``
(direction 0, "out", written by the traced process) or ``SSL_read``
(direction 1, "in") in stream order and returns bytes of exactly the same
length with credential values overwritten, plus the overwritten spans (the
capture stores them in the DATA record's ``redacted`` field).  Stream offsets
therefore stay valid, and analysis can tell a redacted value from a real one.
The optional keyword ``offset=`` (the DATA record's stream offset) lets the
redactor notice bytes the capture never saw (ring-buffer loss, writes cut at
the body cap): a gap inside a body of known length or an HTTP/2 DATA frame is
stepped over exactly; anywhere else the direction falls back to
over-redaction.

Theory of operation
-------------------
*State.*  Each (connection, direction) owns a streaming parser that survives
between calls, so a header name or value split across two payloads (or split
one byte per call) is still found and redacted.  Bytes already returned can
never be changed, so the parsers decide as they go and, where a decision
would need look-ahead beyond the payload at hand, choose the answer that
cannot leak.  Output is identical however a stream is split into payloads,
except in three counted cases where a value is cut by a payload boundary: a
Huffman-coded HTTP/2 secret (:attr:`Redactor.split_values`), an auth value
cut inside what may be its scheme word (:attr:`Redactor.split_schemes`), and
HTTP/2 realignment after lost bytes (below).  Clients write a whole header
block per ``SSL_write``, so the first two stay at 0 in normal captures.

*Sniffing.*  The first bytes of a direction pick the parser: the HTTP/2 client
preface ``PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n`` (out), an HTTP method token
and a space (out), ``HTTP/1.`` (in), a plausible HTTP/2 frame header
(mid-connection join, either direction) - else the text fallback.  While
undecided (at most 24 bytes) bytes pass unchanged; no parser would redact
them, because no credential can be reached within that prefix.

*HTTP/1.x* (:mod:`._http1`).  Values of ``Authorization``,
``Proxy-Authorization``, ``x-api-key``, ``api-key``, ``x-goog-api-key``,
``Cookie``, ``Set-Cookie`` and ``x-amz-security-token`` (any case, in headers
and chunked trailers) are
overwritten with ``*`` up to the end of the line (CR kept), after leading
blanks; for the two ``Authorization`` headers a well-known scheme word
(``Bearer``, ``Basic``, ``Digest``, ``Token``, any case) and the one space
after it are kept, and nothing else: a value that merely starts with such
letters (``BasicXYZ``, ``tok_live_...``, ``Bea``) is blanked whole, and so is
one whose scheme word is cut by the end of a payload (counted in
:attr:`Redactor.split_schemes`), since its first letters could have been a
token's.  In the request target
the values of the query parameters ``key``, ``api_key``, ``apikey``,
``api-key``, ``access_token``, ``token``, ``auth_token``,
``X-Amz-Security-Token``, ``X-Amz-Signature`` and ``sig`` (any case) become
``*``.
An ``Upgrade: h2c`` request answered by ``101`` switches both directions
to the HTTP/2 walker (the client's ``PRI *`` preface follows on the out
direction).  Bodies framed by ``Content-Length`` or chunked encoding are
skipped by arithmetic, so body text that looks like a header is left alone
and a 1 MiB body costs a few Python operations.  Where framing is unknown
(close-delimited responses, upgrades, CONNECT, bad lengths) the direction
falls back to the text scan below: over-redaction, never a leak.

*Text fallback* (:mod:`._text`).  For other protocols (and a direction
whose first bytes were unrecognisable, until the other direction shows the
connection is HTTP/2), any line starting with one of the credential header
names and ``:`` has its value blanked, and so has the value after
``?key=``/``&key=`` (and the other query names).  This is a few C-speed
``find`` calls per payload.

*HTTP/2* (:mod:`._h2`, :mod:`._hpack`).  Frames are walked across calls;
DATA and other non-header frames are skipped by their length.  Header block
fragments (HEADERS, PUSH_PROMISE, CONTINUATION, pad and priority fields
excluded) feed an HPACK walker that keeps, per direction, a dynamic table of
header *names* and entry *sizes* with RFC 7541 eviction.  Credential values
are overwritten in place so that the redacted block still decodes and the
receiver's dynamic table stays in step:

* a raw string value becomes ``*`` of the same length;
* a Huffman-coded value whose bytes are all in the payload at hand (the
  usual case, even when it spans HEADERS and CONTINUATION frames) is
  decoded and re-encoded whole: the secret characters become a filler of
  the same number of characters whose codes, with the kept characters
  (``Bearer ``, the rest of a ``:path``), fill exactly the original byte
  length with valid padding (at most 7 one-bits); ``Bearer sk-proj-`` and
  40 base64 characters become
  ``Bearer *********************-00000000000000000000000000``.  As many ``*``
  (8-bit code) as that allows, then ``x``/``-``/``0`` (7, 6, 5 bits) or
  ``?`` ... ````` (10 to 15 bits) to make up the difference
  (:func:`._huffman.filler`).  Decoded length, hence dynamic-table entry
  sizes (32 + name + value), is unchanged.  The filler is a function of the
  encoded byte length, the number of secret characters and the kept
  characters only, all of which the output shows anyway: two secrets of
  the same length and encoded length give byte-identical output, whatever
  their characters (not even their exact bit count shows);
* a Huffman value that no such filler fits (invalid coding, or secret
  characters averaging over 15 code bits: non-ASCII bytes) is rewritten
  character by character as below, counted in
  :attr:`Redactor.fallback_values`;
* a Huffman value cut by the end of a payload cannot wait for its end,
  because its first bytes must be returned now.  It is rewritten causally,
  bit by bit (:func:`._huffman.mirror_byte`), for its whole length: each
  character becomes a filler character with the same code length (``s`` for
  5-bit codes, ``-``/``3``/``r`` for 6, ``:``/``x`` for 7, ``X`` for 8),
  counted in :attr:`Redactor.split_values`.  That filler reveals each secret
  character's code-length class and nothing else: measured at 2.2 bits of a
  base64 character's 6 (1.5 of a hex digit's 4), so a 40-character base64
  key split this way keeps about 150 of its 240 bits secret, a 32-digit hex
  key about 80 of 128.  An ``Authorization`` value cut this way keeps its
  scheme word only if the whole word was in the first payload;
* a ``:path`` value keeps everything except the values of the sensitive
  query parameters above.

For a Huffman value the ``redacted`` spans, not the filler, are what marks
the bytes: they run from the byte holding the first secret bit to the end of
the value (later kept characters may shift by a few bits).

If the name of a literal cannot be resolved (the capture joined an HTTP/2
connection mid-way, so earlier dynamic-table entries are unknown, or the
block was entered part-way through), its value is redacted: if in doubt,
redact.  A header block that cannot be parsed is blanked from the point of
failure to the end of that block.

An HTTP/2 direction that loses frame alignment (a gap inside a header block,
a mid-connection join that began inside a frame, a frame header no peer would
send) blanks whole payloads until one starts with a plausible frame header,
then resumes with every dynamic-table name treated as unknown.  This
recovery depends on payload boundaries; well-formed streams never reach it.

Redaction failures never propagate to the capture: an unexpected internal
error blanks the whole payload, switches the direction to the text fallback and
is counted in :attr:`Redactor.errors`.
"""

from __future__ import annotations

from collections.abc import Hashable

from ._common import (
    AUTH_SCHEMES,
    SENSITIVE_HEADERS,
    SENSITIVE_QUERY_KEYS,
    ConnInfo,
    Out,
    Parser,
    RedactionError,
    Stats,
)
from ._h2 import H2, frame_header_plausible
from ._http1 import Http1
from ._text import TextScan

__all__ = [
    "AUTH_SCHEMES",
    "SENSITIVE_HEADERS",
    "SENSITIVE_QUERY_KEYS",
    "RedactionError",
    "Redactor",
    "benchmark",
]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_SNIFF_MAX = 32  # every sniffing rule decides within len(PREFACE) bytes


class _Sniff:
    """Holds the first bytes of a direction until the protocol is known."""

    def __init__(self, direction: int, conn: ConnInfo) -> None:
        self.direction = direction
        self.conn = conn
        self.buf = bytearray()

    def _decide(self) -> Parser | None:
        b = bytes(self.buf)
        conn = self.conn
        if self.direction == 0:
            # Before conn.h2: the server's SETTINGS may be read before the
            # client's preface is written, and must not hide the preface.
            if len(b) < len(PREFACE) and PREFACE.startswith(b):
                return None
            if b.startswith(PREFACE):
                conn.h2 = conn.h2_synced = True
                return _h2_parser(0, conn, preface=True)
        if conn.h2:
            return _h2_parser(self.direction, conn, preface=False)
        if self.direction == 0:
            i = 0
            while i < len(b) and (0x41 <= b[i] <= 0x5A or 0x61 <= b[i] <= 0x7A):
                i += 1
            if i == len(b) and i <= 20:
                return None
            if 1 <= i <= 20 and b[i] == 0x20:
                return Http1(request=True, conn=conn)
        elif b"HTTP/1.".startswith(b[:7]):
            return None if len(b) < 7 else Http1(request=False, conn=conn)
        plausible = frame_header_plausible(b, extensions=False)
        if plausible is None:
            return None
        if plausible:
            conn.h2 = True
            return _h2_parser(self.direction, conn, preface=False)
        return _Unknown(self.direction, conn)

    def skip(self, n: int) -> Parser:
        """A gap before the protocol is known: scan as text from here."""
        return _Unknown(self.direction, self.conn)

    def process(self, data: bytes, pos: int, out: Out) -> tuple[int, Parser] | None:
        """Buffer up to the deciding byte, then hand over to the real parser."""
        earlier = bytes(self.buf)
        # Every rule looks at a fixed prefix (at most 24 bytes), so deciding on
        # all the bytes at hand gives the same answer as deciding byte by byte.
        self.buf += data[pos : pos + _SNIFF_MAX - len(earlier)]
        parser = self._decide()
        if parser is None:
            if len(self.buf) < _SNIFF_MAX:
                return None
            parser = _Unknown(self.direction, self.conn)  # unreachable; never stall
        # Bring the parser up to date on bytes already returned; they were
        # passed unchanged and, by construction, need no redaction.
        return pos, _run(parser, earlier, 0, Out(earlier))


def _h2_parser(direction: int, conn: ConnInfo, *, preface: bool) -> Parser:
    return H2(direction, conn, preface=preface)


class _Unknown(TextScan):
    """Text scan for a direction whose first bytes were not recognised.

    If the other direction later proves the connection is HTTP/2 (this one
    joined mid-frame), switch to the HTTP/2 walker in its "lost" state, which
    blanks payloads until one starts on a frame boundary: HPACK-coded
    credentials are invisible to a text scan.
    """

    __slots__ = ("conn", "direction")

    def __init__(self, direction: int, conn: ConnInfo) -> None:
        super().__init__(stats=conn.stats)
        self.direction = direction
        self.conn = conn

    def process(self, data: bytes, pos: int, out: Out) -> tuple[int, Parser] | None:
        """Scan as text, or hand over to HTTP/2 once the connection is known to be."""
        if self.conn.h2:
            h2 = H2(self.direction, self.conn, preface=False)
            h2.lost = True
            return pos, h2
        return super().process(data, pos, out)


def _run(parser: Parser, data: bytes, pos: int, out: Out) -> Parser:
    """Feed ``data[pos:]`` through ``parser``, following protocol switches."""
    while True:
        switch = parser.process(data, pos, out)
        if switch is None:
            return parser
        pos, parser = switch


class _Conn:
    __slots__ = ("info", "next", "parsers")

    def __init__(self, stats: Stats) -> None:
        self.info = ConnInfo(stats)
        self.parsers: list[Parser] = [_Sniff(0, self.info), _Sniff(1, self.info)]
        self.next: list[int | None] = [None, None]  # expected stream offset per direction


class Redactor:
    """Streaming credential redactor, one per capture.

    Parameters
    ----------
    enabled
        ``False`` passes every payload through untouched (``--no-redact``).

    Examples
    --------
    >>> r = Redactor()
    >>> r.feed("c1", 0, b"POST / HTTP/1.1\\r\\nx-api-key: ")[0]
    b'POST / HTTP/1.1\\r\\nx-api-key: '
    >>> r.feed("c1", 0, b"sk-ant-123\\r\\nContent-Length: 2\\r\\n\\r\\nhi")
    (b'**********\\r\\nContent-Length: 2\\r\\n\\r\\nhi', [(0, 10)])
    >>> Redactor(enabled=False).feed(1, 0, b"Cookie: a=b\\r\\n")
    (b'Cookie: a=b\\r\\n', [])

    A gap (lost or truncated bytes) inside a body of known length is stepped
    over when the capture passes stream offsets:

    >>> r.feed("c2", 0, b"POST / HTTP/1.1\\r\\nContent-Length: 100\\r\\n\\r\\nab", offset=0)[1]
    []
    >>> r.feed("c2", 0, b"yzGET /?key=k HTTP/1.1\\r\\n", offset=138)[0]
    b'yzGET /?key=* HTTP/1.1\\r\\n'
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.errors = 0  # internal failures (each blanked a whole payload)
        self.stats = Stats()
        self._conns: dict[Hashable, _Conn] = {}

    @property
    def split_values(self) -> int:
        """Huffman-coded HTTP/2 secret values that were split across ``feed`` calls.

        Each was rewritten character by character, so its filler shows the
        code-length class of every secret character (see the module
        docstring).  Clients write a whole HEADERS frame per ``SSL_write``, so
        this stays 0 in normal captures.

        Examples
        --------
        >>> Redactor().split_values
        0
        """
        return self.stats.split_values

    @property
    def split_schemes(self) -> int:
        """Auth values cut by a payload end where a scheme word might have been.

        Blanked whole (``Bearer`` included) rather than risk keeping the first
        letters of a token; see :class:`~heron.capture.redact._common.ValueBlanker`.

        Examples
        --------
        >>> r = Redactor(); r.feed(1, 0, b"GET / HTTP/1.1\\r\\nAuthorization: Bea")[0][-3:]
        b'***'
        >>> r.feed(1, 0, b"rer sk-1\\r\\n\\r\\n")[0], r.split_schemes
        (b'********\\r\\n\\r\\n', 1)
        """
        return self.stats.split_schemes

    @property
    def fallback_values(self) -> int:
        """Whole Huffman-coded secret values for which no whole-value filler exists.

        Invalid Huffman coding, or secret characters averaging more than 15
        code bits (mostly non-ASCII bytes); rewritten character by character
        like :attr:`split_values`.

        Examples
        --------
        >>> Redactor().fallback_values
        0
        """
        return self.stats.fallback_values

    def feed(
        self,
        conn_id: Hashable,
        direction: int,
        data: bytes | bytearray | memoryview,
        *,
        offset: int | None = None,
    ) -> tuple[bytes, list[tuple[int, int]]]:
        """Redact one payload of a connection direction, in stream order.

        Returns the bytes (same length as ``data``) and the ``(start, length)``
        spans that were overwritten.

        ``offset``, if given, is the payload's stream byte offset (the DATA
        record's ``offset``).  A jump forward means bytes were never seen
        (ring-buffer loss, or the tail of a write beyond the body cap): a gap
        inside a body of known length is stepped over exactly; anywhere else
        the direction falls back to over-redaction (HTTP/1, text) or to
        blanking until frame alignment is found again (HTTP/2).  Without
        ``offset`` payloads are assumed contiguous.

        Examples
        --------
        >>> r = Redactor()
        >>> r.feed(1, 1, b"HTTP/1.1 200 OK\\r\\nSet-Cookie: sid=42\\r\\n")[0]
        b'HTTP/1.1 200 OK\\r\\nSet-Cookie: ******\\r\\n'
        """
        if direction not in (0, 1):
            raise RedactionError(
                f"redact: expected direction 0 (out) or 1 (in), found {direction!r}"
                f" for connection {conn_id!r}"
            )
        src = data if type(data) is bytes else bytes(data)
        if not self.enabled or not src:
            return src, []
        conn = self._conns.get(conn_id)
        if conn is None:
            conn = self._conns[conn_id] = _Conn(self.stats)
        expected = conn.next[direction]
        if offset is not None:
            if expected is not None and offset != expected:
                parser = conn.parsers[direction]
                gap = offset - expected
                conn.parsers[direction] = (
                    parser.skip(gap) if gap > 0 else TextScan(stats=self.stats)
                )
            conn.next[direction] = offset + len(src)
        else:
            conn.next[direction] = (expected or 0) + len(src)
        out = Out(src)
        try:
            conn.parsers[direction] = _run(conn.parsers[direction], src, 0, out)
        except Exception:  # a bug here must never stop a capture or leak a secret
            self.errors += 1
            conn.parsers[direction] = TextScan()
            out = Out(src)
            out.fill(0, len(src))
        return out.result()

    def close(self, conn_id: Hashable) -> None:
        """Forget a connection's state (call on close; unknown ids are fine).

        Examples
        --------
        >>> r = Redactor(); _ = r.feed(3, 0, b"GET / HTTP/1.1\\r\\n"); r.close(3); r.close(3)
        """
        self._conns.pop(conn_id, None)


def benchmark(size: int = 1 << 20, rounds: int = 20) -> dict[str, float]:
    """Measure redaction throughput (MB/s) and per-request header cost (µs).

    Not a test: prints nothing and asserts nothing; ``bench/`` and the report
    call it.  Each scenario feeds a request with a ``size``-byte JSON body in
    16 KiB payloads (as SSL_write delivers them).

    Examples
    --------
    >>> sorted(benchmark(size=1 << 16, rounds=1))
    ['h1_chunked', 'h1_content_length', 'h1_headers_us', 'h2_data', 'h2_headers_fresh_us', 'h2_headers_us', 'text_fallback']
    """
    from ._bench import run

    return run(size, rounds)
