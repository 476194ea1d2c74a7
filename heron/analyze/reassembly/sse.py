"""A sans-I/O parser for ``text/event-stream`` (Server-Sent Events) bodies.

Follows the WHATWG event-stream interpretation: lines end in CRLF, LF or CR;
``:``-lines are comments; ``data`` lines accumulate (joined by LF); a blank
line dispatches the event; ``id`` sets the last event id (ignored when it
contains NUL); ``retry`` takes only ASCII digits; a leading UTF-8 BOM is
skipped.  Each event carries the byte offsets of its first and last byte in
the body so the LLM layer can time it with :meth:`Exchange.time_at`.

Unlike a browser, an event that carries only ``event:``/``id:`` and no
``data`` is still reported (with ``data=""``) rather than silently dropped,
because for traffic analysis its presence is information.

Examples
--------
>>> p = SSEParser()
>>> evs = p.feed(b"event: ping\\ndata: a\\ndata: b\\n\\n: keepalive\\n\\n")
>>> [(e.event, e.data, e.start, e.end) for e in evs]
[('ping', 'a\\nb', 0, 29)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(rb"([^\r\n]*)(\r\n|\r|\n)")
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event.

    ``start``/``end`` are body byte offsets: the event's first field line and
    just past its terminating blank line.  ``event`` is None when the stream
    named no type (a browser would call it "message").  ``terminated`` is
    False only for an event returned by :meth:`SSEParser.flush` that the body
    ended before its blank line.
    """

    event: str | None
    data: str
    id: str | None
    start: int
    end: int
    retry: int | None = None
    terminated: bool = True


class SSEParser:
    """Incremental event-stream parser: ``feed(bytes) -> list[SSEEvent]``.

    Examples
    --------
    >>> p = SSEParser()
    >>> p.feed(b"data: {\\"a\\"")
    []
    >>> p.feed(b": 1}\\r\\n\\r\\n")[0].data
    '{"a": 1}'
    >>> p.comments
    0
    """

    def __init__(self) -> None:
        self._buf = b""
        self._base = 0  # body offset of _buf[0]
        self._started = False
        self._reset_event()
        self.last_id: str | None = None
        self.comments = 0

    def _reset_event(self) -> None:
        self._event: str | None = None
        self._data: list[str] = []
        self._has_field = False
        self._id: str | None = None
        self._retry: int | None = None
        self._ev_start: int | None = None

    @property
    def offset(self) -> int:
        """Body bytes seen so far (the next byte's offset).

        Examples
        --------
        >>> p = SSEParser(); _ = p.feed(b"data: 1\\n"); p.offset
        8
        """
        return self._base + len(self._buf)

    def feed(self, data: bytes) -> list[SSEEvent]:
        """Parse more body bytes; return the events completed by them.

        Examples
        --------
        >>> [e.data for e in SSEParser().feed(b"data: a\\n\\ndata: b\\n\\n")]
        ['a', 'b']
        """
        if not data:
            return []
        if not self._started:
            buf = self._buf + data
            if len(buf) < 3 and _BOM.startswith(buf):
                self._buf = buf
                return []
            self._started = True
            self._buf = b""
            if buf.startswith(_BOM):
                self._base += 3
                buf = buf[3:]
            data = buf
        if self._buf and 10 not in data and 13 not in data:  # LF, CR (int: no str-search setup)
            self._buf += data  # still inside one line: skip the rescan
            return []
        buf = self._buf + data if self._buf else data
        out: list[SSEEvent] = []
        pos = 0
        base = self._base
        n = len(buf)
        for m in _LINE.finditer(buf):
            if m.group(2) == b"\r" and m.end() == n:
                break  # maybe CR LF split across feeds: wait for the next byte
            self._line(m.group(1), base + m.start(), base + m.end(), out)
            pos = m.end()
        self._buf = buf[pos:]
        self._base = base + pos
        return out

    def _line(self, line: bytes, start: int, end: int, out: list[SSEEvent]) -> None:
        if not line:
            if self._has_field and self._ev_start is not None:
                out.append(
                    SSEEvent(
                        self._event,
                        "\n".join(self._data),
                        self._id if self._id is not None else self.last_id,
                        self._ev_start,
                        end,
                        self._retry,
                    )
                )
            self._reset_event()
            return
        if line[0] == 0x3A:  # ':' comment
            self.comments += 1
            return
        if self._ev_start is None:
            self._ev_start = start
        colon = line.find(b":")
        if colon < 0:
            name, value = line, b""
        else:
            name = line[:colon]
            value = line[colon + 1 :]
            if value[:1] == b" ":
                value = value[1:]
        if name == b"data":
            self._data.append(value.decode("utf-8", "replace"))
            self._has_field = True
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
            self._has_field = True
        elif name == b"id":
            if 0 not in value:
                self._id = value.decode("utf-8", "replace")
                self.last_id = self._id
            self._has_field = True
        elif name == b"retry" and value.isdigit():
            self._retry = int(value)
        # unknown field names are ignored, as the standard says

    def flush(self) -> list[SSEEvent]:
        """End of body: return an unterminated last event, if one was started.

        Examples
        --------
        >>> p = SSEParser(); p.feed(b"data: x")
        []
        >>> p.flush()[0].terminated
        False
        """
        out: list[SSEEvent] = []
        if self._buf:
            buf, self._buf = self._buf, b""
            pos = 0
            for m in _LINE.finditer(buf):
                self._line(m.group(1), self._base + m.start(), self._base + m.end(), out)
                pos = m.end()
            if pos < len(buf):
                self._line(buf[pos:], self._base + pos, self._base + len(buf), out)
            self._base += len(buf)
        if self._has_field and self._ev_start is not None:
            out.append(
                SSEEvent(
                    self._event,
                    "\n".join(self._data),
                    self._id if self._id is not None else self.last_id,
                    self._ev_start,
                    self._base,
                    self._retry,
                    terminated=False,
                )
            )
        self._reset_event()
        return out


def parse_events(body: bytes) -> list[SSEEvent]:
    """Every event of a complete body: exactly ``feed(body) + flush()`` of a new parser.

    The common shape -- LF line ends, no BOM, only ``data:`` and ``event:``
    lines -- is split in one pass (a find per event instead of a regex match
    and a method call per line, ~4x faster); any other body goes through
    :class:`SSEParser`.

    Examples
    --------
    >>> [(e.event, e.data, e.start, e.end) for e in parse_events(b"event: a\\ndata: 1\\n\\ndata: 2")]
    [('a', '1', 0, 18), (None, '2', 18, 25)]
    >>> parse_events(b"data: x\\r\\n\\r\\n")[0].data
    'x'
    """
    fast = _fast_events(body)
    if fast is not None:
        return fast
    p = SSEParser()
    return p.feed(body) + p.flush()


def _fast_events(body: bytes) -> list[SSEEvent] | None:
    """:func:`parse_events` for the common shape, or None when the parser must decide."""
    if 13 in body or body[:1] == b"\xef":  # CR
        return None
    out: list[SSEEvent] = []
    parts = body.split(b"\n\n")
    last = len(parts) - 1
    pos = 0
    for k, part in enumerate(parts):
        end = pos + len(part) + 2 if k < last else len(body)
        block = part.lstrip(b"\n")  # blank lines with no event pending
        if not block:
            pos = end
            continue
        start = pos + len(part) - len(block)
        if k == last and block[-1:] == b"\n":
            block = block[:-1]
        if block[:6] == b"data: " and 10 not in block:  # LF
            out.append(
                SSEEvent(
                    None, block[6:].decode("utf-8", "replace"), None, start, end, None, k < last
                )
            )
            pos = end
            continue
        event: str | None = None
        data: list[str] = []
        for line in block.split(b"\n"):
            if line[:5] == b"data:":
                v = line[5:]
                data.append((v[1:] if v[:1] == b" " else v).decode("utf-8", "replace"))
            elif line[:6] == b"event:":
                v = line[6:]
                event = (v[1:] if v[:1] == b" " else v).decode("utf-8", "replace")
            else:
                return None
        out.append(SSEEvent(event, "\n".join(data), None, start, end, None, k < last))
        pos = end
    return out
