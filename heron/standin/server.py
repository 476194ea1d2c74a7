"""The stand-in's HTTP server: asyncio sockets, h11 and h2 state machines.

Theory of operation
-------------------
Two listeners on loopback:

* the **TLS port** offers ALPN ``h2`` and ``http/1.1``; after the handshake
  the selected protocol picks the h2 or the h11 connection driver;
* the **plain port** speaks HTTP/1.1, and HTTP/2 with prior knowledge when
  the client opens with the HTTP/2 preface (``curl --http2-prior-knowledge``).

Each request is read in full, handed to the pure :class:`~heron.standin.app.App`,
and its :class:`~heron.standin.wire.Reply` is sent part by part with the
scripted delays (latency before headers, TTFT before the first part, a gap
between later parts).  HTTP/1.1 streams use chunked transfer coding; HTTP/2
honours flow control per stream and per connection.

Every exchange is appended to the JSONL log (:mod:`heron.standin.log`) with
the exact request and response body bytes, when its response has been sent
(or the client went away).  Timestamps are ``CLOCK_MONOTONIC`` nanoseconds,
the clock the capture's BPF programs use, plus wall-clock time.

The server is written with h11/h2 by hand (not an ASGI server) so that it
controls every byte and every delay, and can log exactly what it sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import h11

from heron.standin.app import App
from heron.standin.log import ExchangeLog
from heron.standin.peers import socket_owner
from heron.standin.wire import SERVER_NAME, Reply, Request

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_READ = 256 * 1024
# Large inbound windows so a multi-MiB upload is not throttled by 64 KiB
# default windows (the 3 MiB capture test sends one).
_H2_WINDOW = 16 * 1024 * 1024
_MAX_H1_HEADERS = 256 * 1024


@dataclass(slots=True)
class _ConnInfo:
    conn_id: int
    tls: bool
    protocol: str  # "1.1" or "2"
    client_port: int
    server_port: int
    alpn: str | None
    client_pid: int | None = None


@dataclass(slots=True)
class _Record:
    """Everything the log keeps about one exchange."""

    info: _ConnInfo
    stream_id: int | None
    method: str = ""
    target: str = ""
    request_headers: list[list[str]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    t_start_ns: int = 0
    wall_start: float = 0.0
    t_request_end_ns: int = 0
    t_response_start_ns: int = 0
    t_first_byte_ns: int = 0
    t_end_ns: int = 0
    status: int = 0
    response_headers: list[list[str]] = field(default_factory=list)
    sent: bytearray = field(default_factory=bytearray)
    timeline: list[list[int]] = field(default_factory=list)  # [t_ns, bytes sent so far]
    aborted: bool = False
    error: str | None = None

    def to_log(self, reply: Reply | None) -> dict[str, Any]:
        i = self.info
        return {
            "time": self.wall_start,
            "t_start_ns": self.t_start_ns,
            "t_request_end_ns": self.t_request_end_ns,
            "t_response_start_ns": self.t_response_start_ns,
            "t_first_byte_ns": self.t_first_byte_ns,
            "t_end_ns": self.t_end_ns,
            "conn_id": i.conn_id,
            "protocol": i.protocol,
            "tls": i.tls,
            "alpn": i.alpn,
            "client_port": i.client_port,
            "client_pid": i.client_pid,
            "server_port": i.server_port,
            "stream_id": self.stream_id,
            "method": self.method,
            "path": self.target,
            "request_headers": self.request_headers,
            "request_body": bytes(self.body),
            "status": self.status,
            "response_headers": self.response_headers,
            "response_body": bytes(self.sent),
            "response_timeline": self.timeline,
            "api": reply.api if reply else None,
            "scenario": reply.scenario if reply else None,
            "streamed": reply.streamed if reply else False,
            "aborted": self.aborted,
            "error": self.error,
        }


class Server:
    """Serve an :class:`App` on a TLS port and a plain port (one asyncio loop).

    Use :meth:`start` inside a running loop, then :meth:`serve_forever`.
    Most callers want :class:`heron.standin.StandIn` (a subprocess) or the
    CLI instead.

    Examples
    --------
    >>> import asyncio
    >>> async def ports():
    ...     s = Server(App(), ssl_context=None, log=None, host="127.0.0.1", tls_port=None, plain_port=0)
    ...     await s.start()
    ...     p = s.plain_port
    ...     await s.close()
    ...     return p > 0
    >>> asyncio.run(ports())
    True
    """

    def __init__(
        self,
        app: App,
        *,
        ssl_context: ssl.SSLContext | None,
        log: ExchangeLog | None,
        host: str = "127.0.0.1",
        tls_port: int | None = 0,
        plain_port: int | None = 0,
        client_pids: bool = False,
    ) -> None:
        self.app = app
        self.client_pids = client_pids
        self.ssl_context = ssl_context
        self.log = log
        self.host = host
        self._want_tls = tls_port
        self._want_plain = plain_port
        self._servers: list[asyncio.Server] = []
        self._next_conn = 0
        self.tls_port: int | None = None
        self.plain_port: int | None = None

    async def start(self) -> None:
        """Bind the listeners (port 0 picks a free port; see the attributes)."""
        if self._want_tls is not None:
            if self.ssl_context is None:
                raise ValueError("a TLS port needs an ssl_context")
            srv = await asyncio.start_server(
                self._on_tls, self.host, self._want_tls, ssl=self.ssl_context, backlog=512
            )
            self.tls_port = srv.sockets[0].getsockname()[1]
            self._servers.append(srv)
        if self._want_plain is not None:
            srv = await asyncio.start_server(
                self._on_plain, self.host, self._want_plain, backlog=512
            )
            self.plain_port = srv.sockets[0].getsockname()[1]
            self._servers.append(srv)

    async def serve_forever(self) -> None:
        """Serve until cancelled."""
        await asyncio.gather(*(s.serve_forever() for s in self._servers))

    async def close(self) -> None:
        """Stop listening."""
        for s in self._servers:
            s.close()
        for s in self._servers:
            with contextlib.suppress(Exception):
                await s.wait_closed()

    # ------------------------------------------------------------ connections

    def _info(
        self, writer: asyncio.StreamWriter, tls: bool, protocol: str, alpn: str | None
    ) -> _ConnInfo:
        self._next_conn += 1
        peer = writer.get_extra_info("peername") or ("", 0)
        sock = writer.get_extra_info("sockname") or ("", 0)
        pid = None
        if self.client_pids and peer[0]:
            pid = socket_owner((peer[0], int(peer[1])), (sock[0], int(sock[1])))
        return _ConnInfo(self._next_conn, tls, protocol, int(peer[1]), int(sock[1]), alpn, pid)

    async def _on_tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sslobj = writer.get_extra_info("ssl_object")
        alpn = sslobj.selected_alpn_protocol() if sslobj else None
        try:
            if alpn == "h2":
                await _H2Conn(self, reader, writer, self._info(writer, True, "2", alpn), b"").run()
            else:
                await _H11Conn(
                    self, reader, writer, self._info(writer, True, "1.1", alpn), b""
                ).run()
        finally:
            await _close(writer)

    async def _on_plain(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = b""
            while len(first) < len(H2_PREFACE) and H2_PREFACE.startswith(first):
                more = await reader.read(len(H2_PREFACE) - len(first))
                if not more:
                    break
                first += more
            if first == H2_PREFACE:
                await _H2Conn(
                    self, reader, writer, self._info(writer, False, "2", None), first
                ).run()
            elif first:
                await _H11Conn(
                    self, reader, writer, self._info(writer, False, "1.1", None), first
                ).run()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            await _close(writer)

    def write_log(self, rec: _Record, reply: Reply | None) -> None:
        if self.log is not None:
            self.log.write(rec.to_log(reply))


def _reason(status: int) -> bytes:
    try:
        return http.HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


async def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), 2)


# ------------------------------------------------------------------- HTTP/1.1


class _H11Conn:
    def __init__(
        self,
        server: Server,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        info: _ConnInfo,
        initial: bytes,
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.info = info
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_H1_HEADERS)
        if initial:
            self.conn.receive_data(initial)

    async def _next(self) -> Any:
        while True:
            ev = self.conn.next_event()
            if ev is not h11.NEED_DATA:
                return ev
            if self.conn.they_are_waiting_for_100_continue:
                await self._send(h11.InformationalResponse(status_code=100, headers=[]))
            data = await self.reader.read(_READ)
            self.conn.receive_data(data)  # b"" means EOF

    async def _send(self, ev: Any) -> None:
        data = self.conn.send(ev)
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def run(self) -> None:
        while True:
            try:
                ev = await self._next()
            except (h11.RemoteProtocolError, ConnectionError):
                return
            if isinstance(ev, h11.ConnectionClosed) or ev is h11.PAUSED:
                return
            if not isinstance(ev, h11.Request):
                return
            rec = _Record(self.info, None)
            rec.t_start_ns = time.monotonic_ns()
            rec.wall_start = time.time()
            rec.method = ev.method.decode("latin-1")
            rec.target = ev.target.decode("latin-1")
            rec.request_headers = [
                [k.decode("latin-1"), v.decode("latin-1")] for k, v in ev.headers.raw_items()
            ]
            try:
                while True:
                    part = await self._next()
                    if isinstance(part, h11.Data):
                        rec.body += part.data
                    elif isinstance(part, h11.EndOfMessage):
                        break
                    else:
                        rec.aborted = True
                        rec.error = "connection closed before the request body ended"
                        rec.t_end_ns = time.monotonic_ns()
                        self.server.write_log(rec, None)
                        return
            except (h11.RemoteProtocolError, ConnectionError) as e:
                rec.aborted = True
                rec.error = f"request: {e}"
                rec.t_end_ns = time.monotonic_ns()
                self.server.write_log(rec, None)
                return
            rec.t_request_end_ns = time.monotonic_ns()
            req = Request(
                rec.method,
                rec.target,
                [(k.lower(), v) for k, v in rec.request_headers],
                bytes(rec.body),
            )
            reply = self.server.app.handle(req)
            try:
                await self._respond(rec, reply)
            except (ConnectionError, h11.LocalProtocolError) as e:
                rec.aborted = True
                rec.error = f"response: {e!r}"
            rec.t_end_ns = time.monotonic_ns()
            self.server.write_log(rec, reply)
            if (
                rec.aborted
                or self.conn.our_state is not h11.DONE
                or self.conn.their_state is not h11.DONE
            ):
                return
            try:
                self.conn.start_next_cycle()
            except h11.LocalProtocolError:
                return

    async def _respond(self, rec: _Record, reply: Reply) -> None:
        if reply.latency_s:
            await asyncio.sleep(reply.latency_s)
        headers = [("server", SERVER_NAME), *reply.headers]
        if not reply.streamed:
            headers.append(("content-length", str(len(reply.body))))
        rec.status = reply.status
        rec.response_headers = [[k, v] for k, v in headers]
        rec.t_response_start_ns = time.monotonic_ns()
        reason = _reason(reply.status)
        await self._send(h11.Response(status_code=reply.status, headers=headers, reason=reason))
        for i, part in enumerate(reply.parts):
            delay = (reply.ttft_s if i == 0 else reply.chunk_s) if reply.streamed else 0.0
            if delay:
                await asyncio.sleep(delay)
            if not part:
                continue
            await self._send(h11.Data(data=part))
            now = time.monotonic_ns()
            if not rec.t_first_byte_ns:
                rec.t_first_byte_ns = now
            rec.sent += part
            rec.timeline.append([now, len(rec.sent)])
        await self._send(h11.EndOfMessage())


# --------------------------------------------------------------------- HTTP/2


class _H2Conn:
    def __init__(
        self,
        server: Server,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        info: _ConnInfo,
        initial: bytes,
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.info = info
        cfg = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.conn = h2.connection.H2Connection(config=cfg)
        self.initial = initial
        self.records: dict[int, _Record] = {}
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.window_open = asyncio.Event()
        self.closed = False

    def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data and not self.closed:
            self.writer.write(data)

    async def run(self) -> None:
        self.conn.initiate_connection()
        self.conn.update_settings(
            {
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: _H2_WINDOW,
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 256,
            }
        )
        self.conn.increment_flow_control_window(_H2_WINDOW - 65535)
        self._flush()
        data = self.initial
        try:
            while True:
                if not data:
                    data = await self.reader.read(_READ)
                    if not data:
                        break
                try:
                    events = self.conn.receive_data(data)
                except h2.exceptions.ProtocolError:
                    self._flush()
                    break
                data = b""
                for ev in events:
                    self._on_event(ev)
                self._flush()
                await self.writer.drain()
        except ConnectionError:
            pass
        finally:
            self.closed = True
            self.window_open.set()
            for t in list(self.tasks.values()):
                t.cancel()
            for t in list(self.tasks.values()):
                with contextlib.suppress(BaseException):
                    await t
            for rec in self.records.values():  # requests that never completed
                rec.aborted = True
                rec.error = rec.error or "connection closed before the request ended"
                rec.t_end_ns = time.monotonic_ns()
                self.server.write_log(rec, None)

    def _on_event(self, ev: Any) -> None:
        if isinstance(ev, h2.events.RequestReceived):
            rec = _Record(self.info, ev.stream_id)
            rec.t_start_ns = time.monotonic_ns()
            rec.wall_start = time.time()
            rec.request_headers = [
                [k.decode("latin-1"), v.decode("latin-1")] for k, v in ev.headers
            ]
            for k, v in ev.headers:
                if k == b":method":
                    rec.method = v.decode("latin-1")
                elif k == b":path":
                    rec.target = v.decode("latin-1")
            self.records[ev.stream_id] = rec
            if ev.stream_ended is not None:
                self._start(ev.stream_id)
        elif isinstance(ev, h2.events.DataReceived):
            rec_or_none = self.records.get(ev.stream_id)
            if rec_or_none is not None:
                rec_or_none.body += ev.data
            self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            if ev.stream_ended is not None:
                self._start(ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            self._start(ev.stream_id)
        elif isinstance(ev, h2.events.WindowUpdated | h2.events.RemoteSettingsChanged):
            self.window_open.set()
        elif isinstance(ev, h2.events.StreamReset):
            task = self.tasks.get(ev.stream_id)
            reset = self.records.get(ev.stream_id)
            if reset is not None:
                reset.error = f"stream reset by client (error code {ev.error_code})"
            if task is not None:
                task.cancel()
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.closed = True

    def _start(self, stream_id: int) -> None:
        if stream_id in self.tasks or stream_id not in self.records:
            return
        rec = self.records[stream_id]
        rec.t_request_end_ns = time.monotonic_ns()
        self.tasks[stream_id] = asyncio.get_running_loop().create_task(self._serve(stream_id, rec))

    async def _serve(self, stream_id: int, rec: _Record) -> None:
        req = Request(
            rec.method,
            rec.target,
            [(k.lower(), v) for k, v in rec.request_headers if not k.startswith(":")],
            bytes(rec.body),
        )
        reply = self.server.app.handle(req)
        try:
            await self._respond(stream_id, rec, reply)
        except asyncio.CancelledError:
            rec.aborted = True
            rec.error = rec.error or "cancelled (stream reset or connection closed)"
        except (h2.exceptions.ProtocolError, ConnectionError) as e:
            rec.aborted = True
            rec.error = f"response: {e!r}"
        finally:
            rec.t_end_ns = time.monotonic_ns()
            self.records.pop(stream_id, None)
            self.tasks.pop(stream_id, None)
            self.server.write_log(rec, reply)

    async def _respond(self, sid: int, rec: _Record, reply: Reply) -> None:
        if reply.latency_s:
            await asyncio.sleep(reply.latency_s)
        headers = [(":status", str(reply.status)), ("server", SERVER_NAME), *reply.headers]
        if not reply.streamed:
            headers.append(("content-length", str(len(reply.body))))
        rec.status = reply.status
        rec.response_headers = [[k, v] for k, v in headers]
        rec.t_response_start_ns = time.monotonic_ns()
        self.conn.send_headers(sid, [(k.encode(), v.encode()) for k, v in headers])
        self._flush()
        for i, part in enumerate(reply.parts):
            delay = (reply.ttft_s if i == 0 else reply.chunk_s) if reply.streamed else 0.0
            if delay:
                await asyncio.sleep(delay)
            await self._send_data(sid, part, rec)
        self.conn.end_stream(sid)
        self._flush()
        await self.writer.drain()

    async def _send_data(self, sid: int, data: bytes, rec: _Record) -> None:
        view = memoryview(data)
        while view:
            if self.closed:
                raise ConnectionError("HTTP/2 connection closed while sending")
            window = self.conn.local_flow_control_window(sid)
            if window <= 0:
                self.window_open.clear()
                await self.window_open.wait()
                continue
            n = min(window, self.conn.max_outbound_frame_size, len(view))
            chunk = bytes(view[:n])
            self.conn.send_data(sid, chunk)
            self._flush()
            now = time.monotonic_ns()
            if not rec.t_first_byte_ns:
                rec.t_first_byte_ns = now
            rec.sent += chunk
            rec.timeline.append([now, len(rec.sent)])
            view = view[n:]
            await self.writer.drain()
