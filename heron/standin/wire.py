"""Request and reply values passed between the HTTP server and the providers.

The providers are pure: they take a :class:`Request` and return a
:class:`Reply` (status, headers, body parts and the delays between them).
The server does all I/O and timing, so the scripted answers can be tested
without sockets.

Examples
--------
>>> r = Reply.json(200, {"ok": True})
>>> r.body, r.streamed
(b'{"ok":true}', False)
>>> sse({"a": 1}, event="x")
b'event: x\\ndata: {"a":1}\\n\\n'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

# Every answer carries a fixed "created" time so that replies are byte-for-byte
# reproducible across runs (2026-01-01T00:00:00Z).
CREATED = 1767225600
CREATED_ISO = "2026-01-01T00:00:00Z"

SERVER_NAME = "heron-standin"


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes, as most providers send.

    Examples
    --------
    >>> dumps({"a": [1, 2]})
    b'{"a":[1,2]}'
    """
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def sse(obj: Any, *, event: str | None = None) -> bytes:
    """One server-sent event carrying ``obj`` as JSON.

    Examples
    --------
    >>> sse({"x": 1})
    b'data: {"x":1}\\n\\n'
    """
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + dumps(obj) + b"\n\n"


@dataclass(slots=True)
class Request:
    """One HTTP request as the server received it (body fully read)."""

    method: str
    target: str  # path with query string, as sent
    headers: list[tuple[str, str]] = field(default_factory=list)  # names lower-cased
    body: bytes = b""

    @property
    def path(self) -> str:
        """The path without the query string."""
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        """The query string, parsed."""
        return parse_qs(urlsplit(self.target).query)

    def header(self, name: str) -> str | None:
        """First value of a header (case-insensitive), or None.

        Examples
        --------
        >>> Request("GET", "/", [("x-a", "1")]).header("X-A")
        '1'
        """
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)


@dataclass(slots=True)
class Reply:
    """What to send back: status, headers, body parts and their pacing.

    ``parts`` are sent in order; for a streamed reply, ``ttft_s`` is waited
    before the first part and ``chunk_s`` before each later one.  ``latency_s``
    is waited before the headers.
    """

    status: int
    headers: list[tuple[str, str]]
    parts: list[bytes]
    streamed: bool = False
    latency_s: float = 0.0
    ttft_s: float = 0.0
    chunk_s: float = 0.0
    api: str = ""
    scenario: dict[str, Any] | None = None

    @property
    def body(self) -> bytes:
        """All body parts joined."""
        return b"".join(self.parts)

    @classmethod
    def json(cls, status: int, obj: Any, *, extra: list[tuple[str, str]] | None = None) -> Reply:
        """A non-streamed JSON reply.

        Examples
        --------
        >>> Reply.json(404, {"e": 1}).headers[0]
        ('content-type', 'application/json')
        """
        return cls(status, [("content-type", "application/json"), *(extra or [])], [dumps(obj)])

    @classmethod
    def stream(cls, parts: list[bytes], content_type: str = "text/event-stream") -> Reply:
        """A streamed 200 reply.

        Examples
        --------
        >>> Reply.stream([b"a", b"b"]).streamed
        True
        """
        headers = [("content-type", content_type)]
        if content_type == "text/event-stream":
            headers.append(("cache-control", "no-cache"))
        return cls(200, headers, parts, streamed=True)
