"""A sans-I/O parser for newline-delimited JSON bodies (Ollama streams).

Every non-blank line becomes one :class:`NDJSONLine` with its byte offsets in
the body.  A line that is not valid JSON is reported with ``error`` set and
``value`` None; it never raises.  A last line without a newline is returned
by :meth:`NDJSONParser.flush` (with ``terminated=False``).

Examples
--------
>>> p = NDJSONParser()
>>> [(x.value, x.start, x.end) for x in p.feed(b'{"a":1}\\n{"b":')]
[({'a': 1}, 0, 8)]
>>> [(x.value, x.error is None) for x in p.feed(b'2}\\nnope\\n')]
[({'b': 2}, True), (None, False)]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class NDJSONLine:
    """One line: its decoded value (or the error) and body byte offsets."""

    value: Any
    start: int
    end: int
    error: str | None = None
    terminated: bool = True


class NDJSONParser:
    """Incremental NDJSON parser: ``feed(bytes) -> list[NDJSONLine]``.

    Examples
    --------
    >>> p = NDJSONParser()
    >>> p.feed(b'{"done": true}')
    []
    >>> p.flush()[0].value
    {'done': True}
    """

    def __init__(self) -> None:
        self._buf = b""
        self._base = 0
        self.errors = 0

    def feed(self, data: bytes) -> list[NDJSONLine]:
        """Parse more body bytes; return the complete lines they finished.

        Examples
        --------
        >>> [x.value for x in NDJSONParser().feed(b"1\\n[2]\\n")]
        [1, [2]]
        """
        if not data:
            return []
        buf = self._buf + data if self._buf else data
        last = buf.rfind(b"\n")
        if last < 0:
            self._buf = buf
            return []
        out: list[NDJSONLine] = []
        pos = 0
        base = self._base
        while pos <= last:
            nl = buf.index(b"\n", pos)
            self._line(buf[pos:nl], base + pos, base + nl + 1, True, out)
            pos = nl + 1
        self._buf = buf[pos:]
        self._base = base + pos
        return out

    def _line(self, line: bytes, start: int, end: int, term: bool, out: list[NDJSONLine]) -> None:
        if not line.strip():
            return
        try:
            out.append(NDJSONLine(json.loads(line), start, end, None, term))
        except (ValueError, UnicodeDecodeError) as e:
            self.errors += 1
            what = "partial last line" if not term else "invalid JSON"
            out.append(NDJSONLine(None, start, end, f"{what} at body offset {start}: {e}", term))

    def flush(self) -> list[NDJSONLine]:
        """End of body: parse a last line that had no newline.

        Examples
        --------
        >>> p = NDJSONParser(); _ = p.feed(b"{}"); [x.terminated for x in p.flush()]
        [False]
        """
        out: list[NDJSONLine] = []
        if self._buf:
            buf, self._buf = self._buf, b""
            self._line(buf, self._base, self._base + len(buf), False, out)
            self._base += len(buf)
        return out
