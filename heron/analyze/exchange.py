"""One HTTP request/response pair, rebuilt from captured bytes.

This is the boundary between protocol reassembly (streams, HTTP/1.x, HTTP/2,
content decoding) and the LLM layer (providers, calls, tools, loops).  The
reassembly side produces :class:`Exchange` objects; the LLM side never looks
at raw records.

Times are kernel monotonic nanoseconds, as in the capture; convert to UTC
with the capture's clock-sync records.

Examples
--------
>>> ex = Exchange(exchange_id=0, conn=1, pid=42, http_version="1.1",
...               method="POST", path="/v1/chat/completions")
>>> ex.request_json() is None
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Exchange:
    """A request and its response on one connection (and HTTP/2 stream)."""

    exchange_id: int
    conn: int
    pid: int | None
    http_version: str  # "1.0", "1.1" or "2"
    stream_id: int | None = None  # HTTP/2 stream id; None for HTTP/1.x
    tid: int | None = None
    method: str | None = None
    scheme: str | None = None
    authority: str | None = None  # :authority or Host
    path: str | None = None
    status: int | None = None
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    request_body: bytes = b""  # content-decoded (gzip/deflate/br/zstd removed)
    response_body: bytes = b""  # content-decoded
    request_body_size: int = 0  # body bytes on the wire (before content decoding)
    response_body_size: int = 0
    request_start_ns: int | None = None
    request_end_ns: int | None = None
    response_start_ns: int | None = None  # first byte of the response (status line/HEADERS)
    response_end_ns: int | None = None
    # (ts_ns, n) pairs: by time ts_ns, the first n bytes of response_body had
    # arrived.  Non-decreasing in both.  Lets streaming parsers time each event
    # (TTFT) without holding records.
    response_timeline: list[tuple[int, int]] = field(default_factory=list)
    partial: bool = False  # request or response incomplete (capture ended, conn closed early)
    gap: bool = False  # bytes missing inside the exchange (drops, mid-stream join)
    truncated: bool = False  # body cut by the capture's body cap
    redacted: bool = False  # some header value was redacted by capture
    mid_stream: bool = False  # connection first seen mid-way; headers may be undecodable
    parse_error: str | None = None  # what went wrong, where, if parsing failed

    def header(self, name: str, *, response: bool = False) -> str | None:
        """Return the first value of header ``name`` (case-insensitive), or None.

        Examples
        --------
        >>> Exchange(0, 1, 2, "2", request_headers=[("Content-Type", "a/b")]).header("content-type")
        'a/b'
        """
        hs = self.response_headers if response else self.request_headers
        lname = name.lower()
        for k, v in hs:
            if k.lower() == lname:
                return v
        return None

    def request_json(self) -> Any | None:
        """The request body parsed as JSON, or None when it is not JSON.

        Examples
        --------
        >>> Exchange(0, 1, 2, "1.1", request_body=b'{"a": 1}').request_json()
        {'a': 1}
        """
        return _json_or_none(self.request_body)

    def response_json(self) -> Any | None:
        """The response body parsed as JSON, or None when it is not JSON.

        Examples
        --------
        >>> Exchange(0, 1, 2, "1.1", response_body=b'[1]').response_json()
        [1]
        """
        return _json_or_none(self.response_body)

    def time_at(self, body_offset: int) -> int | None:
        """Monotonic ns at which ``response_body[:body_offset]`` had fully arrived.

        Examples
        --------
        >>> Exchange(0, 1, 2, "1.1", response_timeline=[(10, 4), (20, 9)]).time_at(5)
        20
        """
        for ts, n in self.response_timeline:
            if n >= body_offset:
                return ts
        return self.response_end_ns


def _json_or_none(body: bytes) -> Any | None:
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
