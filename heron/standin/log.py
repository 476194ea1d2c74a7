"""The stand-in's exchange log: one JSON line per HTTP exchange, exact bytes.

Capture tests compare what ``heron-capture`` recorded with what the server
really received and sent, so each line keeps the request and response
*body* bytes exactly (base64; HTTP/1.1 chunked coding and HTTP/2 framing
removed, nothing else), together with who and when:

=====================  =====================================================
field                  meaning
=====================  =====================================================
``time``               wall-clock start (Unix seconds, float)
``t_start_ns`` ...     CLOCK_MONOTONIC ns: request headers received,
                       request end, response headers sent, first body byte
                       sent (``t_first_byte_ns``), response end
``protocol``           ``"1.1"`` or ``"2"``
``tls`` / ``alpn``     TLS port or plain port; the ALPN protocol chosen
``conn_id``            server-side connection number (1, 2, ...)
``client_port``        the client's TCP port (identifies its connection)
``client_pid``         pid owning the client socket (``--client-pids``), else None
``server_port``        which listener answered
``stream_id``          HTTP/2 stream id (None for HTTP/1.1)
``method`` ``path``    request line (path includes the query string)
``request_headers``    ``[[name, value], ...]`` as sent (HTTP/2: with
                       pseudo-headers, lower case)
``request_body_b64``   exact request body bytes
``status``             response status (0 if no response was sent)
``response_headers``   ``[[name, value], ...]`` as sent
``response_body_b64``  exact response body bytes sent
``response_timeline``  ``[[t_ns, n], ...]``: by ``t_ns`` the first ``n``
                       body bytes had been written (one pair per write)
``api`` ``scenario``   which API answered and the scenario options used
``aborted`` ``error``  the client went away, and why
=====================  =====================================================

Examples
--------
>>> import io, json
>>> buf = io.StringIO()
>>> ExchangeLog(buf).write({"method": "GET", "request_body": b"hi", "response_body": b""})
>>> json.loads(buf.getvalue())["request_body_b64"]
'aGk='
>>> parse_entry(buf.getvalue()).request_body
b'hi'
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from heron.standin.encoding import decode_body, decode_timeline
from heron.standin.errors import StandInError

if TYPE_CHECKING:
    from heron.analyze.exchange import Exchange


class ExchangeLog:
    """Append-only JSONL writer; every line is flushed as it is written.

    Examples
    --------
    >>> import io
    >>> log = ExchangeLog(io.StringIO())
    >>> log.write({"request_body": b"", "response_body": b"x"})
    """

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str | Path) -> ExchangeLog:
        """Open (append to) a log file."""
        return cls(open(path, "a", encoding="utf-8"))

    def write(self, entry: dict[str, Any]) -> None:
        """Write one exchange; ``request_body``/``response_body`` are bytes."""
        entry = dict(entry)
        entry["request_body_b64"] = base64.b64encode(entry.pop("request_body", b"")).decode()
        entry["response_body_b64"] = base64.b64encode(entry.pop("response_body", b"")).decode()
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        with self._lock:
            self._out.write(line)
            self._out.flush()

    def close(self) -> None:
        """Close the underlying file."""
        self._out.close()


@dataclass(slots=True)
class LogEntry:
    """One logged exchange, bodies as bytes (see the module doc for fields).

    Examples
    --------
    >>> e = LogEntry("POST", "/v1/x", "1.1", True, 200, b'{"a":1}', b"")
    >>> e.request_json(), e.protocol
    ({'a': 1}, '1.1')
    """

    method: str
    path: str
    protocol: str
    tls: bool
    status: int
    request_body: bytes
    response_body: bytes
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    client_port: int = 0
    client_pid: int | None = None
    server_port: int = 0
    conn_id: int = 0
    stream_id: int | None = None
    alpn: str | None = None
    api: str | None = None
    scenario: dict[str, Any] | None = None
    streamed: bool = False
    aborted: bool = False
    error: str | None = None
    time: float = 0.0
    t_start_ns: int = 0
    t_request_end_ns: int = 0
    t_response_start_ns: int = 0
    t_first_byte_ns: int = 0
    t_end_ns: int = 0
    response_timeline: list[tuple[int, int]] = field(default_factory=list)

    def to_exchange(
        self, exchange_id: int = 0, *, conn: int | None = None, pid: int | None = None
    ) -> Exchange:
        """This exchange as the analysis layer's :class:`~heron.analyze.exchange.Exchange`.

        Lets provider parsers be tested on transcripts recorded from the real
        SDKs (the stand-in log) without a capture.  Times are the server's
        CLOCK_MONOTONIC ns; pseudo-headers become method/path/authority/status;
        bodies and the timeline are content-decoded (sizes stay the wire sizes).

        Examples
        --------
        >>> e = LogEntry("POST", "/v1/x", "2", True, 200, b"{}", b"[]",
        ...              [(":authority", "127.0.0.1:1"), ("a", "b")], [(":status", "200")])
        >>> ex = e.to_exchange(7)
        >>> ex.exchange_id, ex.authority, ex.request_headers, ex.response_json()
        (7, '127.0.0.1:1', [('a', 'b')], [])
        """
        from heron.analyze.exchange import Exchange

        return Exchange(
            exchange_id=exchange_id,
            conn=self.conn_id if conn is None else conn,
            pid=self.client_pid if pid is None else pid,
            http_version=self.protocol,
            stream_id=self.stream_id,
            method=self.method,
            scheme="https" if self.tls else "http",
            authority=self.header(":authority") or self.header("host"),
            path=self.path,
            status=self.status or None,
            request_headers=[(k, v) for k, v in self.request_headers if not k.startswith(":")],
            response_headers=[(k, v) for k, v in self.response_headers if not k.startswith(":")],
            request_body=decode_body(self.request_body, self.header("content-encoding")),
            response_body=decode_body(
                self.response_body, self.header("content-encoding", response=True)
            ),
            request_body_size=len(self.request_body),
            response_body_size=len(self.response_body),
            request_start_ns=self.t_start_ns or None,
            request_end_ns=self.t_request_end_ns or None,
            response_start_ns=self.t_response_start_ns or None,
            response_end_ns=self.t_end_ns or None,
            response_timeline=decode_timeline(
                self.response_body,
                self.header("content-encoding", response=True),
                self.response_timeline,
            ),
            partial=self.aborted,
        )

    def header(self, name: str, *, response: bool = False) -> str | None:
        """First value of a request (or response) header, case-insensitive.

        Examples
        --------
        >>> LogEntry("GET", "/", "1.1", True, 200, b"", b"", [("Host", "x")]).header("host")
        'x'
        """
        name = name.lower()
        hs = self.response_headers if response else self.request_headers
        return next((v for k, v in hs if k.lower() == name), None)

    def request_json(self) -> Any:
        """The request body parsed as JSON (raises ValueError if it is not)."""
        return json.loads(self.request_body)


def parse_entry(line: str) -> LogEntry:
    """Decode one JSONL line of the log.

    Examples
    --------
    >>> parse_entry('{"method":"GET","path":"/","request_body_b64":"","response_body_b64":"eA=="}').response_body
    b'x'
    """
    d = json.loads(line)
    return LogEntry(
        method=d.get("method", ""),
        path=d.get("path", ""),
        protocol=d.get("protocol", ""),
        tls=bool(d.get("tls", False)),
        status=int(d.get("status", 0)),
        request_body=base64.b64decode(d.get("request_body_b64", "")),
        response_body=base64.b64decode(d.get("response_body_b64", "")),
        request_headers=[(k, v) for k, v in d.get("request_headers", [])],
        response_headers=[(k, v) for k, v in d.get("response_headers", [])],
        client_port=int(d.get("client_port", 0)),
        client_pid=d.get("client_pid"),
        server_port=int(d.get("server_port", 0)),
        conn_id=int(d.get("conn_id", 0)),
        stream_id=d.get("stream_id"),
        alpn=d.get("alpn"),
        api=d.get("api"),
        scenario=d.get("scenario"),
        streamed=bool(d.get("streamed", False)),
        aborted=bool(d.get("aborted", False)),
        error=d.get("error"),
        time=float(d.get("time", 0.0)),
        t_start_ns=int(d.get("t_start_ns", 0)),
        t_request_end_ns=int(d.get("t_request_end_ns", 0)),
        t_response_start_ns=int(d.get("t_response_start_ns", 0)),
        t_first_byte_ns=int(d.get("t_first_byte_ns", 0)),
        t_end_ns=int(d.get("t_end_ns", 0)),
        response_timeline=[(int(t), int(n)) for t, n in d.get("response_timeline", [])],
    )


def read_log(path: str | Path) -> list[LogEntry]:
    """Read every complete entry of a log file (a torn last line is skipped).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "log.jsonl")
    >>> read_log(p)
    []
    """
    p = Path(path)
    if not p.exists():
        return []
    out = []
    with open(p, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.endswith("\n"):
                break  # being written right now
            try:
                out.append(parse_entry(line))
            except (ValueError, KeyError) as e:
                raise StandInError(f"stand-in log {p}: line {n} is not a log entry ({e})") from e
    return out
