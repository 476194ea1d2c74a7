"""Pieces shared by the redaction parsers: the output buffer, the names that
count as credentials, and the streaming value blanker for text headers.

Everything here is pure Python and sans-IO.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

from heron.errors import HeronError

#: The byte written over redacted text (``*``).  Chosen because it is printable,
#: legal in header values and query strings, and never a plausible credential.
FILL = 0x2A

#: Header names (lower case) whose values are credentials, in HTTP/1.x and HTTP/2.
SENSITIVE_HEADERS: frozenset[bytes] = frozenset(
    {
        b"authorization",
        b"proxy-authorization",
        b"x-api-key",
        b"api-key",
        b"x-goog-api-key",
        b"cookie",
        b"set-cookie",
        b"x-amz-security-token",  # AWS STS session token (Bedrock, S3)
    }
)

#: Headers whose value starts with an auth scheme worth keeping ("Bearer ***").
SCHEME_HEADERS: frozenset[bytes] = frozenset({b"authorization", b"proxy-authorization"})

#: Auth schemes (lower case, with the separating space) kept visible.  A value
#: is kept only while it is still a prefix of one of these, so at most the
#: prefix of a well-known word is ever left unredacted.
AUTH_SCHEMES: tuple[bytes, ...] = (b"bearer ", b"basic ", b"digest ", b"token ")

#: Query-string parameter names (lower case, matched exactly, not
#: percent-decoded) whose values are credentials.
SENSITIVE_QUERY_KEYS: frozenset[bytes] = frozenset(
    {
        b"key",  # Gemini
        b"api_key",
        b"apikey",
        b"api-key",
        b"access_token",
        b"token",
        b"auth_token",
        b"x-amz-security-token",  # pre-signed AWS URLs
        b"x-amz-signature",
        b"sig",  # Azure SAS
    }
)

CR, LF, SP, HT = 0x0D, 0x0A, 0x20, 0x09


class RedactionError(HeronError):
    """A :class:`~heron.capture.redact.Redactor` was called with bad arguments."""


class Out:
    """Copy-on-write output for one ``feed`` call, collecting redacted spans.

    The input is only copied once the first byte is overwritten, so the common
    case (nothing to redact) returns the caller's own ``bytes`` object.

    Examples
    --------
    >>> o = Out(b"abcdef")
    >>> o.fill(1, 3); o.fill(3, 4); o.put(5, 0x2A)
    >>> o.result()
    (b'a***e*', [(1, 3), (5, 1)])
    >>> o = Out(b"abcdef"); o.write(2, b"XY"); o.result()
    (b'abXYef', [(2, 2)])

    Writes must come in stream order (spans are merged with the last one).
    """

    __slots__ = ("buf", "spans", "src")

    def __init__(self, src: bytes) -> None:
        self.src = src
        self.buf: bytearray | None = None
        self.spans: list[list[int]] = []

    def _mark(self, start: int, end: int) -> None:
        spans = self.spans
        if spans and spans[-1][1] >= start:
            if end > spans[-1][1]:
                spans[-1][1] = end
        else:
            spans.append([start, end])

    def fill(self, start: int, end: int) -> None:
        """Overwrite ``[start, end)`` with :data:`FILL`."""
        if end <= start:
            return
        if self.buf is None:
            self.buf = bytearray(self.src)
        self.buf[start:end] = b"*" * (end - start)
        self._mark(start, end)

    def write(self, pos: int, chunk: bytes) -> None:
        """Overwrite ``len(chunk)`` bytes from ``pos`` (counted as redacted)."""
        if not chunk:
            return
        if self.buf is None:
            self.buf = bytearray(self.src)
        self.buf[pos : pos + len(chunk)] = chunk
        self._mark(pos, pos + len(chunk))

    def put(self, pos: int, value: int) -> None:
        """Overwrite one byte with ``value`` (counted as redacted)."""
        if self.buf is None:
            self.buf = bytearray(self.src)
        self.buf[pos] = value
        self._mark(pos, pos + 1)

    def result(self) -> tuple[bytes, list[tuple[int, int]]]:
        """The output bytes and ``(start, length)`` spans."""
        data = self.src if self.buf is None else bytes(self.buf)
        return data, [(s, e - s) for s, e in self.spans]


class Stats:
    """Counters shared by every connection of one :class:`~heron.capture.redact.Redactor`.

    Examples
    --------
    >>> s = Stats(); s.split_values += 1; (s.split_values, s.fallback_values)
    (1, 0)
    """

    __slots__ = ("fallback_values", "split_schemes", "split_values")

    def __init__(self) -> None:
        # Huffman-coded secret values split across feed() calls, rewritten
        # causally character by character (code-length classes visible).
        self.split_values = 0
        # Auth values cut by the end of a payload inside what might be their
        # scheme word: blanked whole (no scheme kept), so the output depends
        # on where the payload ended.
        self.split_schemes = 0
        # Whole Huffman values for which no length-preserving filler exists
        # (invalid coding, or secret characters averaging over 15 bits):
        # also rewritten character by character.
        self.fallback_values = 0


class ConnInfo:
    """What one direction of a connection tells the other."""

    __slots__ = ("h2", "h2_synced", "h2c", "methods", "stats")

    def __init__(self, stats: Stats | None = None) -> None:
        self.stats = stats if stats is not None else Stats()
        self.h2c = False  # an HTTP/1.1 request asked to upgrade to cleartext HTTP/2
        self.h2 = False  # frames seen (preface, or recognised mid-connection)
        self.h2_synced = False  # preface seen: HPACK state known from the start
        self.methods: deque[bytes] = deque(maxlen=64)  # pipelined requests awaiting responses


class Parser(Protocol):
    """One direction's protocol state machine."""

    def process(self, data: bytes, pos: int, out: Out) -> tuple[int, Parser] | None:
        """Consume ``data[pos:]``; or hand the rest to another parser."""

    def skip(self, n: int) -> Parser:
        """``n`` stream bytes were never seen (capture loss or truncation).

        Returns the parser for what follows: itself when the gap falls
        where it can be stepped over (inside a body of known length), else
        a fallback that over-redacts.
        """


def scheme_keep(value: bytes) -> int:
    """How many leading bytes of an auth value are a scheme word to keep.

    Only a whole well-known scheme word and the one space after it
    (``Bearer ``, any case); anything else, including a value that merely
    starts with the letters of one (``BasicXYZ``, ``tok_live_...``), keeps
    nothing.

    Examples
    --------
    >>> scheme_keep(b"Bearer sk-1"), scheme_keep(b"BasicXYZ"), scheme_keep(b"Bea")
    (7, 0, 0)
    """
    low = value[:8].lower()
    for scheme in AUTH_SCHEMES:
        if low.startswith(scheme):
            return len(scheme)
    return 0


class ValueBlanker:
    """Streaming redaction of one text header value (HTTP/1.x, text scans, raw HPACK).

    Leading blanks are kept, then an auth scheme if the header has one: a
    whole scheme word with its space (``Bearer ``, see :func:`scheme_keep`);
    then every byte up to the end of the line is overwritten except CR (so
    line structure survives).  The caller passes pieces that never include
    the terminating LF.

    Output is causal, so a scheme word is only kept if it is whole within
    the piece at hand.  A piece that ends while its bytes could still be
    the start of a scheme word is blanked: if it ends the value (``Bea``),
    it was no scheme; if the payload ends there (``more=True``: the value
    continues in a later ``feed``), keeping it could leak the first letters
    of a token, so it is blanked with the rest of the value and counted in
    :attr:`Stats.split_schemes`.

    Examples
    --------
    >>> o = Out(b" Bearer sk-1\\r")
    >>> ValueBlanker(True).run(o.src, 0, len(o.src), o)
    >>> o.result()
    (b' Bearer ****\\r', [(8, 4)])
    >>> o = Out(b"tok_live_1"); ValueBlanker(True).run(o.src, 0, 10, o); o.result()[0]
    b'**********'
    """

    __slots__ = ("phase", "scheme", "stats")

    OWS, SCHEME, BLANK = 0, 1, 2

    def __init__(self, scheme: bool, stats: Stats | None = None) -> None:
        self.phase = self.OWS
        self.scheme = scheme
        self.stats = stats

    def run(self, data: bytes, pos: int, end: int, out: Out, *, more: bool = False) -> None:
        """Process ``data[pos:end]`` (no LF inside).

        ``more``: the payload ends at ``end`` but the value does not.
        """
        while pos < end and self.phase == self.OWS:
            if data[pos] not in (SP, HT):
                self.phase = self.SCHEME if self.scheme else self.BLANK
                break
            pos += 1
        if self.phase == self.SCHEME and pos < end:
            # Nothing of the value has been returned yet (an earlier piece
            # held only blanks): decide on the bytes at hand.
            self.phase = self.BLANK
            keep = scheme_keep(data[pos:end])
            if keep:
                pos += keep
            elif (
                more
                and self.stats is not None
                and any(s.startswith(data[pos:end].lower()) for s in AUTH_SCHEMES)
            ):
                self.stats.split_schemes += 1  # maybe a scheme, cut: blank it all
        if self.phase == self.BLANK and pos < end:
            cr = data.find(b"\r", pos, end)
            while cr >= 0:
                out.fill(pos, cr)
                pos = cr + 1
                cr = data.find(b"\r", pos, end)
            out.fill(pos, end)


# Query sub-states.
_PATH, _QNAME, _QVAL, _QSECRET, _FRAG = range(5)


class QueryScan:
    """Character-at-a-time scanner for credential values in a request target.

    :meth:`step` returns True for characters that belong to the value of a
    sensitive query parameter (those must be overwritten).

    Examples
    --------
    >>> q = QueryScan()
    >>> "".join("*" if q.step(c) else chr(c) for c in b"/v1?a=1&key=AIza&b=2")
    '/v1?a=1&key=****&b=2'
    """

    __slots__ = ("name", "state")

    def __init__(self) -> None:
        self.state = _PATH
        self.name = bytearray()

    @property
    def started(self) -> bool:
        """True once the ``?`` has been seen."""
        return self.state != _PATH

    @property
    def in_secret(self) -> bool:
        """True while inside a sensitive parameter's value."""
        return self.state == _QSECRET

    def step(self, b: int) -> bool:
        """Advance over one character; True if it is secret."""
        q = self.state
        if q == _PATH:
            if b == 0x3F:  # ?
                self.state = _QNAME
        elif b == 0x23:  # '#'
            self.state = _FRAG
        elif b == 0x26:  # '&'
            if q != _FRAG:
                self.state = _QNAME
                self.name.clear()
        elif q == _QNAME:
            if b == 0x3D:  # '='
                secret = bytes(self.name).lower() in SENSITIVE_QUERY_KEYS
                self.state = _QSECRET if secret else _QVAL
            elif len(self.name) < 32:
                self.name.append(b)
        elif q == _QSECRET:
            return b != CR
        return False
