"""Fallback for bytes whose framing is unknown: look for header-like lines.

Used for unrecognised protocols, HTTP/1 bodies delimited by connection close,
upgraded connections (WebSocket, CONNECT tunnels) and HTTP/1 messages whose
framing headers are contradictory.  It redacts the value of any line that
starts with a credential header name followed by ``:`` (case-insensitive) and
changes nothing else.  This over-redacts rather than leaks: a body line that
merely looks like ``Cookie: x`` is blanked too.

The search is a handful of C-speed ``bytes.find`` calls over a lower-cased copy
of the payload, plus a small tail of the previous payload so that a name split
between two ``feed`` calls is still found.
"""

from __future__ import annotations

from ._common import SCHEME_HEADERS, SENSITIVE_HEADERS, Out, Parser, ValueBlanker

_PATTERNS: tuple[tuple[bytes, bool], ...] = tuple(
    (b"\n" + name + b":", name in SCHEME_HEADERS) for name in sorted(SENSITIVE_HEADERS)
)
_TAIL = max(len(p) for p, _ in _PATTERNS)


class TextScan:
    """Streaming scan for credential header lines in unframed bytes.

    Examples
    --------
    >>> o = Out(b"hello\\nX-Api-Key: sk-1\\r\\nbye")
    >>> TextScan().process(o.src, 0, o)
    >>> o.result()
    (b'hello\\nX-Api-Key: ****\\r\\nbye', [(17, 4)])
    """

    __slots__ = ("tail", "value")

    def __init__(self, tail: bytes = b"\n") -> None:
        # A virtual LF before the stream lets a header on its first line match.
        self.tail = tail[-_TAIL:].lower()
        self.value: ValueBlanker | None = None

    def _value(self, data: bytes, pos: int, out: Out) -> int:
        """Continue the value in progress; return where it (or data) ends."""
        assert self.value is not None
        nl = data.find(b"\n", pos)
        end = nl if nl >= 0 else len(data)
        self.value.run(data, pos, end, out)
        if nl >= 0:
            self.value = None
        return end

    def process(self, data: bytes, pos: int, out: Out) -> tuple[int, Parser] | None:
        """Scan ``data[pos:]``, blanking credential header values."""
        n = len(data)
        start = pos
        if self.value is not None:
            pos = self._value(data, pos, out)
        if pos < n:
            tail = self.tail
            hay = (tail + data[start:]).lower()
            base = start - len(tail)  # hay[i] is data[base + i]
            hits: list[tuple[int, bool]] = []
            for pat, scheme in _PATTERNS:
                i = hay.find(pat, max(0, pos - base - len(pat) + 1))
                while i >= 0:
                    colon = base + i + len(pat) - 1
                    if colon >= pos:
                        hits.append((colon, scheme))
                    i = hay.find(pat, i + 1)
            hits.sort()
            for colon, scheme in hits:
                if colon < pos:
                    continue
                self.value = ValueBlanker(scheme)
                pos = self._value(data, colon + 1, out)
        if n > start:
            self.tail = (self.tail + data[max(start, n - _TAIL) :]).lower()[-_TAIL:]
        return None
