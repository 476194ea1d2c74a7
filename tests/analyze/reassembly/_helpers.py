"""Build capture-like records in tests: one DATA record per "call", with offsets.

Mimics what heron-capture writes: per connection+direction stream offsets,
``len`` = bytes the call moved, ``data`` = bytes kept (shorter when cut).
"""

from __future__ import annotations

from typing import Any

import h2.config
import h2.connection
import h2.events

from heron.format.records import RecordKind


class Cap:
    """Accumulates records; times advance by 1000 ns per record."""

    def __init__(self, t0: int = 1_000_000) -> None:
        self.records: list[dict[str, Any]] = []
        self.t = t0
        self.seq = 0
        self.offsets: dict[tuple[int, int], int] = {}

    def _rec(self, kind: RecordKind, **fields: Any) -> dict[str, Any]:
        self.t += 1000
        rec = {"k": int(kind), "s": self.seq, "t": self.t, **fields}
        self.seq += 1
        self.records.append(rec)
        return rec

    def open(self, conn: int, pid: int = 100, **fields: Any) -> None:
        fields.setdefault("transport", "tls")
        self._rec(RecordKind.CONN_OPEN, conn=conn, pid=pid, **fields)

    def close(self, conn: int, reason: str = "close") -> None:
        self._rec(RecordKind.CONN_CLOSE, conn=conn, pid=100, reason=reason)

    def call(
        self,
        conn: int,
        dir: int,
        data: bytes,
        *,
        keep: int | None = None,
        skip: int = 0,
        pid: int = 100,
        tid: int = 101,
        redacted: list[list[int]] | None = None,
    ) -> dict[str, Any]:
        """One write/read of ``data``; ``keep`` bytes captured; ``skip`` bytes lost before it."""
        key = (conn, dir)
        off = self.offsets.get(key, 0) + skip
        self.offsets[key] = off + len(data)
        kept = data if keep is None else data[:keep]
        fields: dict[str, Any] = dict(
            conn=conn, pid=pid, tid=tid, dir=dir, offset=off, len=len(data), data=kept
        )
        if keep is not None and keep < len(data):
            fields["trunc"] = True
        if redacted:
            fields["redacted"] = redacted
        return self._rec(RecordKind.DATA, **fields)

    def calls(self, conn: int, dir: int, data: bytes, size: int) -> None:
        """``data`` moved in calls of at most ``size`` bytes."""
        for i in range(0, len(data), size):
            self.call(conn, dir, data[i : i + size])


OUT, IN = 0, 1


class H2Pair:
    """A real h2 client and server talking through memory, recorded as DATA.

    The traced process is the client: its writes are OUT, its reads IN.
    """

    def __init__(self, cap: Cap, conn: int, *, client_settings: dict[int, int] | None = None):
        self.cap = cap
        self.conn = conn
        self.client = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.server = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        self.client.initiate_connection()
        if client_settings:
            self.client.update_settings(client_settings)
        self.server.initiate_connection()
        self.server_events: list[h2.events.Event] = []
        self.pump()

    def literal_headers(self) -> None:
        """Make the client encode header values without Huffman (as bytes on the wire)."""
        enc = self.client.encoder
        plain = enc.encode
        enc.encode = lambda headers, huffman=True: plain(headers, huffman=False)  # type: ignore[method-assign]

    def pump(self, *, out_size: int | None = None, in_size: int | None = None) -> None:
        for _ in range(10):
            moved = False
            data = self.client.data_to_send()
            if data:
                moved = True
                if out_size:
                    self.cap.calls(self.conn, OUT, data, out_size)
                else:
                    self.cap.call(self.conn, OUT, data)
                self.server_events += self.server.receive_data(data)
            data = self.server.data_to_send()
            if data:
                moved = True
                if in_size:
                    self.cap.calls(self.conn, IN, data, in_size)
                else:
                    self.cap.call(self.conn, IN, data)
                self.client.receive_data(data)
            if not moved:
                return

    def request(
        self,
        sid: int,
        method: str,
        path: str,
        body: bytes = b"",
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        hs = [
            (":method", method),
            (":scheme", "https"),
            (":authority", "api.test"),
            (":path", path),
        ]
        hs += headers or []
        self.client.send_headers(sid, hs, end_stream=not body)
        if body:
            self.client.send_data(sid, body, end_stream=True)

    def respond(
        self,
        sid: int,
        status: int,
        body: bytes = b"",
        headers: list[tuple[str, str]] | None = None,
        *,
        end: bool = True,
        trailers: list[tuple[str, str]] | None = None,
    ) -> None:
        hs = [(":status", str(status))] + (headers or [])
        self.server.send_headers(sid, hs, end_stream=not body and not trailers and end)
        if body:
            self.send_body(sid, body, end=end and not trailers)
        if trailers:
            self.server.send_headers(sid, trailers, end_stream=True)

    def send_body(self, sid: int, body: bytes, *, end: bool) -> None:
        # Respect flow control by sending in max-frame pieces and pumping.
        step = self.server.max_outbound_frame_size
        for i in range(0, len(body), step):
            piece = body[i : i + step]
            last = i + step >= len(body)
            while self.server.local_flow_control_window(sid) < len(piece):
                self.pump()
                self.client.acknowledge_received_data(len(piece), sid)
                self.client.increment_flow_control_window(1 << 20)
                self.pump()
            self.server.send_data(sid, piece, end_stream=end and last)
