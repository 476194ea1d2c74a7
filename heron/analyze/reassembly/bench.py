"""Throughput benchmark for reassembly (not a test: timing belongs here).

Builds a synthetic but realistic record stream in memory: agent-like
conversations whose requests grow turn by turn (big JSON bodies written in
16 KiB calls) and whose answers stream as SSE (one small read per event),
over both HTTP/1.1 (chunked) and HTTP/2 (real ``h2`` library traffic), with
several connections interleaved.  Then it times :func:`iter_exchanges` over
it and reports MB/s of captured payload.

Run it with ``python -m heron.analyze.reassembly.bench [MB]``.

Examples
--------
>>> r = bench_reassembly(total_mb=1)
>>> r["exchanges"] > 0 and r["mb_per_s"] > 0
True
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import h2.config
import h2.connection
import h2.settings

from heron.format.records import RecordKind

from .builder import iter_exchanges

_DATA = int(RecordKind.DATA)


def _sse_events(turn: int, n: int) -> list[bytes]:
    out = [
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"m%d"}}\n\n' % turn
    ]
    for i in range(n):
        delta = json.dumps(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": f"token {i} "},
            }
        )
        out.append(b"event: content_block_delta\ndata: " + delta.encode() + b"\n\n")
    out.append(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    return out


def _request_body(turn: int) -> bytes:
    history = [{"role": "user", "content": "x" * 400 + str(i)} for i in range(turn * 4 + 1)]
    return json.dumps({"model": "claude", "stream": True, "messages": history}).encode()


class _Conn:
    def __init__(self) -> None:
        self.recs: list[tuple[int, bytes]] = []  # (dir, data) in order

    def write(self, d: int, data: bytes, size: int = 16384) -> None:
        for i in range(0, len(data), size):
            self.recs.append((d, data[i : i + size]))


def _h1_template(turns: int, events: int) -> list[tuple[int, bytes]]:
    c = _Conn()
    for t in range(turns):
        body = _request_body(t)
        head = (
            b"POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.com\r\n"
            b"Content-Type: application/json\r\nx-api-key: sk-xxxxxxxx\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        c.write(0, head + body)
        c.recs.append(
            (
                1,
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
            )
        )
        for ev in _sse_events(t, events):
            c.recs.append((1, b"%x\r\n" % len(ev) + ev + b"\r\n"))
        c.recs.append((1, b"0\r\n\r\n"))
    return c.recs


def _h2_template(turns: int, events: int) -> list[tuple[int, bytes]]:
    c = _Conn()
    cl = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    sv = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    cl.initiate_connection()
    sv.initiate_connection()
    cl.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 30})
    cl.increment_flow_control_window(1 << 30)
    sv.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 30})
    sv.increment_flow_control_window(1 << 30)

    def pump() -> None:
        for _ in range(4):
            a = cl.data_to_send()
            if a:
                c.write(0, a)
                sv.receive_data(a)
            b = sv.data_to_send()
            if b:
                c.write(1, b)
                cl.receive_data(b)

    pump()
    for t in range(turns):
        sid = 1 + 2 * t
        body = _request_body(t)
        cl.send_headers(
            sid,
            [
                (":method", "POST"),
                (":scheme", "https"),
                (":authority", "api.openai.com"),
                (":path", "/v1/chat/completions"),
                ("content-type", "application/json"),
                ("authorization", "Bearer sk-xxxxxxxx"),
            ],
        )
        for i in range(0, len(body), 16000):
            cl.send_data(sid, body[i : i + 16000], end_stream=i + 16000 >= len(body))
        pump()
        sv.send_headers(sid, [(":status", "200"), ("content-type", "text/event-stream")])
        pump()
        evs = _sse_events(t, events)
        for i, ev in enumerate(evs):
            sv.send_data(sid, ev, end_stream=i == len(evs) - 1)
            pump()
    return c.recs


def _records(total_bytes: int, concurrent: int = 8) -> Iterator[dict[str, Any]]:
    """Cycle the templates over fresh connection ids, ``concurrent`` interleaved."""
    templates = [_h1_template(12, 150), _h2_template(12, 150)]
    made = 0
    conn = 0
    seq = 0
    ts = 0
    active: list[tuple[int, list[tuple[int, bytes]], int, list[int]]] = []
    while made < total_bytes or active:
        while made < total_bytes and len(active) < concurrent:
            conn += 1
            tpl = templates[conn % len(templates)]
            active.append((conn, tpl, 0, [0, 0]))
            made += sum(len(d) for _, d in tpl)
        nxt = []
        for cid, tpl, i, offs in active:
            d, data = tpl[i]
            ts += 1000
            yield {
                "k": _DATA,
                "s": seq,
                "t": ts,
                "conn": cid,
                "pid": 1000 + cid % 4,
                "tid": 1,
                "dir": d,
                "offset": offs[d],
                "len": len(data),
                "data": data,
            }
            seq += 1
            offs[d] += len(data)
            if i + 1 < len(tpl):
                nxt.append((cid, tpl, i + 1, offs))
            else:
                yield {
                    "k": int(RecordKind.CONN_CLOSE),
                    "s": seq,
                    "t": ts,
                    "conn": cid,
                    "reason": "close",
                }
                seq += 1
        active = nxt


def bench_reassembly(total_mb: float = 64) -> dict[str, float]:
    """Time :func:`iter_exchanges` over ~``total_mb`` MB of synthetic agent traffic.

    Records are built in memory first, so only reassembly is timed.

    Returns
    -------
    dict
        ``mb`` (payload MB), ``records``, ``exchanges``, ``seconds``,
        ``mb_per_s`` and ``records_per_s``.

    Examples
    --------
    >>> sorted(bench_reassembly(total_mb=0.5))
    ['exchanges', 'mb', 'mb_per_s', 'records', 'records_per_s', 'seconds']
    """
    recs = list(_records(int(total_mb * 1e6)))
    payload = sum(len(r.get("data", b"")) for r in recs)
    t0 = time.perf_counter()
    n = 0
    for ex in iter_exchanges(recs):
        n += 1
        if ex.parse_error:  # pragma: no cover - the synthetic stream is clean
            raise AssertionError(f"bench stream did not parse: {ex.parse_error}")
    dt = time.perf_counter() - t0
    return {
        "mb": payload / 1e6,
        "records": float(len(recs)),
        "exchanges": float(n),
        "seconds": dt,
        "mb_per_s": payload / 1e6 / dt,
        "records_per_s": len(recs) / dt,
    }


if __name__ == "__main__":  # pragma: no cover
    mb = float(sys.argv[1]) if len(sys.argv) > 1 else 64.0
    r = bench_reassembly(mb)
    print(
        f"reassembly: {r['mb']:.1f} MB, {r['records']:.0f} records, {r['exchanges']:.0f} exchanges "
        f"in {r['seconds']:.2f} s = {r['mb_per_s']:.1f} MB/s, {r['records_per_s']:.0f} records/s"
    )
