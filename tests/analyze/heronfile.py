"""Write small real ``.heron`` files (heron.format.Writer) from Exchanges.

Each exchange is serialised as HTTP/1.1 bytes in DATA records on its
connection (keep-alive: later exchanges continue the stream offsets), with
streamed response bodies split into one DATA record per SSE event / NDJSON
line 1 ms apart, so TTFT is measurable.  Times are synthetic monotonic ns;
one CLOCK_SYNC maps them to 2025-01-01T00:00:00Z + t.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from heron.analyze.exchange import Exchange
from heron.format import Direction, RecordKind, Writer

EPOCH_2025 = 1_735_689_600 * 10**9
MS = 1_000_000
_DROP = {"content-length", "transfer-encoding", "host", "connection", "content-encoding"}


@dataclass
class Proc:
    pid: int
    exe: str = "/usr/bin/python3"
    cmdline: list[str] = field(default_factory=lambda: ["python3", "agent.py"])
    comm: str = "python3"


def _head(first: str, headers: Sequence[tuple[str, str]], body: bytes, host: str | None) -> bytes:
    lines = [first]
    if host:
        lines.append(f"Host: {host}")
    lines += [f"{k}: {v}" for k, v in headers if k.lower() not in _DROP]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _pieces(body: bytes) -> list[bytes]:
    parts = re.split(rb"(?<=\n\n)|(?<=\n)(?=\{)", body)
    return [p for p in parts if p] or [b""]


def write_capture(
    path: str | Path,
    items: Sequence[tuple[Proc, Sequence[Exchange]]],
    *,
    close: bool = True,
    gap_ms: int = 50,
    flush_each: bool = True,
) -> None:
    """Write processes and their exchanges (in order) into a .heron file.

    ``flush_each`` ends a chunk after every exchange (as a live capture's
    periodic flush would), so a damaged file still has earlier chunks.
    """
    t = 1_000 * MS
    with Writer(str(path)) as w:
        w.append(RecordKind.CAPTURE_START, t, tool="test", version="0", realtime_ns=EPOCH_2025 + t)
        w.append(RecordKind.CLOCK_SYNC, t, realtime_ns=EPOCH_2025 + t)
        conn_ids: dict[tuple[int, int], int] = {}
        offsets: dict[int, list[int]] = {}
        for proc, exchanges in items:
            w.append(
                RecordKind.PROCESS,
                t,
                pid=proc.pid,
                comm=proc.comm,
                exe=proc.exe,
                cmdline=proc.cmdline,
            )
            for ex in exchanges:
                key = (proc.pid, ex.conn)
                if key not in conn_ids:
                    conn = conn_ids[key] = len(conn_ids) + 1
                    offsets[conn] = [0, 0]
                    w.append(
                        RecordKind.CONN_OPEN,
                        t,
                        conn=conn,
                        pid=proc.pid,
                        transport="tls",
                        lib="openssl",
                        remote_addr="127.0.0.1",
                        remote_port=8443,
                        sni="api.test",
                    )
                conn = conn_ids[key]
                t += gap_ms * MS
                req = _head(
                    f"{ex.method} {ex.path} HTTP/1.1",
                    ex.request_headers,
                    ex.request_body,
                    ex.authority,
                )
                req += ex.request_body
                _data(w, t, conn, proc.pid, Direction.OUT, offsets, req)
                t += 5 * MS
                status = ex.status or 200
                resp_head = _head(
                    f"HTTP/1.1 {status} X", ex.response_headers, ex.response_body, None
                )
                _data(w, t, conn, proc.pid, Direction.IN, offsets, resp_head)
                for piece in _pieces(ex.response_body):
                    t += 1 * MS
                    _data(w, t, conn, proc.pid, Direction.IN, offsets, piece)
                if flush_each:  # one chunk per exchange, so damage tests lose little
                    w.flush()
        if close:
            for conn in offsets:
                w.append(RecordKind.CONN_CLOSE, t, conn=conn, reason="close")
            w.append(RecordKind.CAPTURE_STOP, t, reason="signal")


def _data(
    w: Writer, t: int, conn: int, pid: int, d: Direction, offsets: dict[int, list[int]], data: bytes
) -> None:
    if not data:
        return
    off = offsets[conn][int(d)]
    w.data(t, conn=conn, pid=pid, dir=d, offset=off, length=len(data), data=data)
    offsets[conn][int(d)] = off + len(data)
