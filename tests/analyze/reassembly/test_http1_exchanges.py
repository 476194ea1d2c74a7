"""HTTP/1.x from records to exchanges: keep-alive, pipelining, codings, timing, redaction.

Every scenario runs three ways: each call whole, one record per byte, and in
7-byte records; and each ends with an unrelated next exchange on the same
connection that must come out intact.
"""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest
import zstandard

from heron.analyze.exchange import Exchange
from heron.analyze.reassembly import iter_exchanges

from ._helpers import IN, OUT, Cap

SPLITS = [None, 1, 7]
NEXT_REQ = b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n"
NEXT_RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"


def talk(cap: Cap, conn: int, dir: int, data: bytes, split: int | None) -> None:
    if split is None:
        cap.call(conn, dir, data)
    else:
        cap.calls(conn, dir, data, split)


def run(cap: Cap) -> list[Exchange]:
    return sorted(iter_exchanges(cap.records), key=lambda e: e.exchange_id)


def assert_next(ex: Exchange) -> None:
    assert (ex.method, ex.path, ex.status, ex.response_body) == ("GET", "/next", 200, b"next")
    assert not (ex.partial or ex.gap or ex.parse_error)


@pytest.mark.parametrize("split", SPLITS)
def test_keep_alive_three_exchanges(split: int | None) -> None:
    cap = Cap()
    cap.open(1)
    bodies = [b'{"model":"m","messages":[]}', b"", b"x" * 3000]
    for i, body in enumerate(bodies):
        method = "POST" if body else "GET"
        req = f"{method} /v1/{i} HTTP/1.1\r\nHost: api.test\r\nContent-Length: {len(body)}\r\n\r\n"
        talk(cap, 1, OUT, req.encode() + body, split)
        resp = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body) + 1}\r\n\r\n".encode() + body + b"!"
        talk(cap, 1, IN, resp, split)
    talk(cap, 1, OUT, NEXT_REQ, split)
    talk(cap, 1, IN, NEXT_RESP, split)
    cap.close(1)
    exs = run(cap)
    assert len(exs) == 4
    for i, (ex, body) in enumerate(zip(exs, bodies, strict=False)):
        assert ex.path == f"/v1/{i}" and ex.status == 200
        assert ex.request_body == body and ex.response_body == body + b"!"
        assert ex.authority == "api.test" and ex.scheme == "https" and ex.http_version == "1.1"
        assert ex.request_body_size == len(body) and ex.response_body_size == len(body) + 1
        assert not (ex.partial or ex.gap or ex.truncated or ex.parse_error)
        assert ex.pid == 100 and ex.tid == 101 and ex.conn == 1
        assert ex.request_start_ns is not None and ex.request_end_ns is not None
        assert ex.response_start_ns is not None and ex.response_end_ns is not None
        assert ex.request_start_ns <= ex.request_end_ns < ex.response_start_ns <= ex.response_end_ns
        assert ex.response_timeline[-1][1] == len(body) + 1
    assert_next(exs[3])
    # request_start is the time of the record holding the first request byte
    first_out = next(r for r in cap.records if r["k"] == 8 and r["dir"] == OUT)
    assert exs[0].request_start_ns == first_out["t"]
    last_in = [r for r in cap.records if r["k"] == 8 and r["dir"] == IN][-1]
    assert exs[3].response_end_ns == last_in["t"]


@pytest.mark.parametrize("split", SPLITS)
def test_pipelining_with_head_in_the_middle(split: int | None) -> None:
    cap = Cap()
    cap.open(1)
    reqs = (
        b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
        b"HEAD /b HTTP/1.1\r\nHost: h\r\n\r\n"
        b"POST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
    )
    resps = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
        b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nC"
    )
    talk(cap, 1, OUT, reqs, split)
    talk(cap, 1, IN, resps, split)
    talk(cap, 1, OUT, NEXT_REQ, split)
    talk(cap, 1, IN, NEXT_RESP, split)
    exs = run(cap)
    assert [(e.method, e.path, e.status, e.response_body) for e in exs[:3]] == [
        ("GET", "/a", 200, b"A"),
        ("HEAD", "/b", 200, b""),
        ("POST", "/c", 201, b"C"),
    ]
    assert exs[2].request_body == b"abc"
    assert_next(exs[3])


CHUNKED_SSE = [
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
    b'10\r\ndata: {"n": 1}\n\n\r\n',
    b'10\r\ndata: {"n": 2}\n\n\r\n',
    b"0\r\nX-Trailer: yes\r\n\r\n",
]


@pytest.mark.parametrize("split", SPLITS)
def test_chunked_streaming_with_trailers_and_timeline(split: int | None) -> None:
    cap = Cap()
    cap.open(1)
    talk(cap, 1, OUT, b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", split)
    times = []
    for piece in CHUNKED_SSE:
        talk(cap, 1, IN, piece, split)
        times.append(cap.t)
    talk(cap, 1, OUT, NEXT_REQ, split)
    talk(cap, 1, IN, NEXT_RESP, split)
    ex, nxt = run(cap)
    assert ex.response_body == b'data: {"n": 1}\n\ndata: {"n": 2}\n\n'
    assert ex.header("x-trailer", response=True) == "yes"
    # the first event was complete by the record that finished chunk 1
    # (with split records the last body byte may precede the chunk's CRLF)
    t1 = ex.time_at(len(b'data: {"n": 1}\n\n'))
    t2 = ex.time_at(len(ex.response_body))
    assert t1 is not None and t2 is not None
    assert times[0] < t1 <= times[1] < t2 <= times[2]
    if split is None:
        assert (t1, t2) == (times[1], times[2])
    assert ex.response_end_ns == times[3]
    assert ex.response_body_size == 32
    assert_next(nxt)


def _raw_deflate(b: bytes) -> bytes:
    c = zlib.compressobj(wbits=-15)
    return c.compress(b) + c.flush()


CODINGS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": zstandard.ZstdCompressor().compress,
}


@pytest.mark.parametrize("coding", [*CODINGS, "deflate-raw"])
@pytest.mark.parametrize("split", SPLITS)
def test_content_encodings(coding: str, split: int | None) -> None:
    plain = b'{"choices":[{"message":{"content":"' + b"hello " * 200 + b'"}}]}'
    enc = _raw_deflate(plain) if coding == "deflate-raw" else CODINGS[coding](plain)
    name = "deflate" if coding == "deflate-raw" else coding
    cap = Cap()
    cap.open(1)
    talk(
        cap,
        1,
        OUT,
        b"POST /x HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
        % len(gz := gzip.compress(b"{}"))
        + gz,
        split,
    )
    talk(
        cap,
        1,
        IN,
        b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n"
        % (name.encode(), len(enc))
        + enc,
        split,
    )
    talk(cap, 1, OUT, NEXT_REQ, split)
    talk(cap, 1, IN, NEXT_RESP, split)
    ex, nxt = run(cap)
    assert ex.request_body == b"{}"
    assert ex.response_body == plain and ex.response_json() is not None
    assert ex.response_body_size == len(enc)
    assert ex.response_timeline[-1][1] == len(plain)
    assert ex.parse_error is None
    assert_next(nxt)


@pytest.mark.parametrize("split", SPLITS)
def test_expect_100_continue(split: int | None) -> None:
    cap = Cap()
    cap.open(1)
    talk(
        cap, 1, OUT, b"PUT /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", split
    )
    talk(cap, 1, IN, b"HTTP/1.1 100 Continue\r\n\r\n", split)
    talk(cap, 1, OUT, b"data", split)
    final_at = cap.t + 1000
    talk(cap, 1, IN, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", split)
    talk(cap, 1, OUT, NEXT_REQ, split)
    talk(cap, 1, IN, NEXT_RESP, split)
    ex, nxt = run(cap)
    assert (ex.status, ex.request_body, ex.response_body) == (200, b"data", b"ok")
    assert ex.response_start_ns == final_at  # the final response, not the 100
    assert_next(nxt)


@pytest.mark.parametrize("status", [204, 304])
@pytest.mark.parametrize("split", SPLITS)
def test_no_body_statuses(status: int, split: int | None) -> None:
    cap = Cap()
    cap.open(1)
    talk(cap, 1, OUT, b"GET /a HTTP/1.1\r\n\r\n", split)
    talk(cap, 1, IN, b"HTTP/1.1 %d X\r\nContent-Length: 10\r\n\r\n" % status, split)
    talk(cap, 1, OUT, NEXT_REQ, split)
    talk(cap, 1, IN, NEXT_RESP, split)
    ex, nxt = run(cap)
    assert ex.status == status and ex.response_body == b"" and not ex.partial
    assert_next(nxt)


@pytest.mark.parametrize("split", SPLITS)
def test_close_delimited_body(split: int | None) -> None:
    cap = Cap()
    cap.open(1)
    talk(cap, 1, OUT, b"GET /old HTTP/1.0\r\n\r\n", split)
    talk(cap, 1, IN, b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil", split)
    talk(cap, 1, IN, b" close", split)
    last = cap.t
    cap.close(1)
    (ex,) = run(cap)
    assert ex.http_version == "1.0" and ex.response_body == b"until close"
    assert not ex.partial and ex.response_end_ns == last


def test_close_delimited_body_at_capture_end_is_partial() -> None:
    cap = Cap()
    cap.open(1)
    cap.call(1, OUT, b"GET / HTTP/1.1\r\n\r\n")
    cap.call(1, IN, b"HTTP/1.1 200 OK\r\n\r\nsome")
    cap.close(1, reason="capture-end")
    (ex,) = run(cap)
    assert ex.partial and ex.response_body == b"some"


@pytest.mark.parametrize("split", SPLITS)
def test_chunked_request_body(split: int | None) -> None:
    cap = Cap()
    cap.open(1)
    talk(
        cap,
        1,
        OUT,
        b"POST /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        split,
    )
    talk(cap, 1, IN, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", split)
    talk(cap, 1, OUT, NEXT_REQ, split)
    talk(cap, 1, IN, NEXT_RESP, split)
    ex, nxt = run(cap)
    assert ex.request_body == b"abc" and ex.request_body_size == 3
    assert_next(nxt)


def test_sensitive_headers_masked_and_capture_redaction_spans() -> None:
    cap = Cap()
    cap.open(1)
    head = b"POST /v1/messages HTTP/1.1\r\nx-api-key: sk-ant-123\r\nX-Custom: secret-value\r\nContent-Length: 0\r\n\r\n"
    start = head.index(b"secret-value")
    cap.call(1, OUT, head, redacted=[[start, len(b"secret-value")]])
    cap.call(1, IN, b"HTTP/1.1 200 OK\r\nSet-Cookie: a=b\r\nContent-Length: 0\r\n\r\n")
    cap.call(1, OUT, NEXT_REQ)
    cap.call(1, IN, NEXT_RESP)
    ex, nxt = run(cap)
    assert ex.redacted
    assert ex.header("x-api-key") == "[REDACTED]"
    assert ex.header("x-custom") == "[REDACTED]"
    assert ex.header("content-length") == "0"
    assert ex.header("set-cookie", response=True) == "[REDACTED]"
    assert not nxt.redacted
    # unmasked on request
    exs = list(iter_exchanges(cap.records, mask_sensitive=False))
    assert exs[0].header("x-api-key") == "sk-ant-123"


def test_connections_interleave_independently() -> None:
    cap = Cap()
    cap.open(1)
    cap.open(2, transport="tcp")
    cap.call(1, OUT, b"GET /one HTTP/1.1\r\n\r\n")
    cap.call(2, OUT, b"GET /two HTTP/1.1\r\n\r\n")
    cap.call(2, IN, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2")
    cap.call(1, IN, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1")
    exs = list(iter_exchanges(cap.records))
    # yielded in completion order, not held back until the end
    assert [(e.conn, e.path, e.response_body, e.scheme) for e in exs] == [
        (2, "/two", b"2", "http"),
        (1, "/one", b"1", "https"),
    ]


def test_exchanges_are_yielded_as_soon_as_complete() -> None:
    cap = Cap()
    cap.open(1)
    cap.call(1, OUT, b"GET / HTTP/1.1\r\n\r\n")
    cap.call(1, IN, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    consumed: list[int] = []

    def records():  # type: ignore[no-untyped-def]
        for r in cap.records:
            consumed.append(r["s"])
            yield r
        raise AssertionError("should not need to read past the response")  # pragma: no cover

    it = iter_exchanges(records())
    ex = next(it)
    assert ex.status == 200 and consumed[-1] == cap.records[-1]["s"]


def test_traced_process_is_the_server() -> None:
    cap = Cap()
    cap.open(1, role="server")
    cap.call(1, IN, b"POST /api/chat HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
    cap.call(1, OUT, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes")
    (ex,) = run(cap)
    assert (ex.method, ex.path, ex.status, ex.request_body, ex.response_body) == (
        "POST",
        "/api/chat",
        200,
        b"{}",
        b"yes",
    )


def test_max_body_bytes_truncates_but_counts() -> None:
    cap = Cap()
    cap.open(1)
    cap.call(1, OUT, b"GET / HTTP/1.1\r\n\r\n")
    cap.call(1, IN, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"z" * 1000)
    (ex,) = list(iter_exchanges(cap.records, max_body_bytes=100))
    assert ex.truncated and len(ex.response_body) == 100 and ex.response_body_size == 1000


def test_memory_stays_bounded_while_streaming() -> None:
    """State is dropped as exchanges complete and connections close."""
    from heron.analyze.reassembly import Reassembler

    def records():  # type: ignore[no-untyped-def]
        cap = Cap()
        for conn in range(1, 301):
            cap.records.clear()
            cap.open(conn)
            for i in range(5):
                cap.call(
                    conn,
                    OUT,
                    b"POST /v1/%d HTTP/1.1\r\nContent-Length: 1000\r\n\r\n" % i + b"q" * 1000,
                )
                cap.call(conn, IN, b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"r" * 5000)
            cap.close(conn)
            yield from list(cap.records)

    r = Reassembler()
    peak_conns = peak_open = done = 0
    for rec in records():
        done += len(r.feed(rec))
        st = r.stats
        peak_conns = max(peak_conns, st["open_connections"])
        peak_open = max(peak_open, st["open_exchanges"])
    done += len(r.finish())
    assert done == 1500
    assert peak_conns == 1 and peak_open == 1


def test_redacted_query_in_request_line_flags_exchange() -> None:
    cap = Cap()
    cap.open(1)
    line = b"GET /v1beta/models?key=XXXXXXXX HTTP/1.1\r\nHost: g\r\n\r\n"
    cap.call(1, OUT, line, redacted=[[line.index(b"XXXX"), 8]])
    cap.call(1, IN, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    (ex,) = run(cap)
    assert ex.redacted and ex.header("host") == "g"


def test_stream_closed_at_chunk_boundary_without_last_chunk() -> None:
    """The OpenAI SDK closes after ``data: [DONE]`` without reading ``0\\r\\n\\r\\n``."""
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for reason, closed_mid_chunk, partial in [
        ("ssl_free", False, False),
        ("capture-end", False, True),
        ("ssl_free", True, True),
    ]:
        cap = Cap()
        cap.open(1)
        cap.call(1, OUT, b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
        cap.call(
            1, IN, head + b"e\r\ndata: [DONE]\n\n\r\n" + (b"5\r\nab" if closed_mid_chunk else b"")
        )
        cap.close(1, reason=reason)
        (ex,) = run(cap)
        assert ex.partial is partial, (reason, closed_mid_chunk)
        assert ex.response_body.startswith(b"data: [DONE]\n\n")
        assert ex.response_end_ns is not None


def test_redaction_span_maps_to_the_right_field_with_and_without_folding() -> None:
    for folded in (False, True):
        cap = Cap()
        cap.open(1)
        fold = b"X-Fold: a\r\n  b\r\n" if folded else b""
        head = b"GET / HTTP/1.1\r\n" + fold + b"A: 1\r\nX-Token: secret\r\nB: 2\r\n\r\n"
        i = head.index(b"secret")
        cap.call(1, OUT, head, redacted=[[i, 6]])
        cap.call(1, IN, b"HTTP/1.1 204 No Content\r\n\r\n")
        (ex,) = run(cap)
        assert ex.header("x-token") == "[REDACTED]"
        assert (ex.header("a"), ex.header("b")) == ("1", "2")
        if folded:
            assert ex.header("x-fold") == "a b"


def test_absolute_form_target_through_a_plain_proxy() -> None:
    cap = Cap()
    cap.open(1, transport="tcp", sni=None)
    cap.call(
        1,
        OUT,
        b"POST http://api.example.com/v1/chat/completions?x=1 HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 2\r\n\r\n{}",
    )
    cap.call(1, IN, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    (ex,) = run(cap)
    assert (ex.scheme, ex.authority, ex.path) == (
        "http",
        "api.example.com",
        "/v1/chat/completions?x=1",
    )


def test_authority_falls_back_to_sni_without_host() -> None:
    cap = Cap()
    cap.open(1, sni="api.openai.com")
    cap.call(1, OUT, b"GET /v1/models HTTP/1.0\r\n\r\n")
    cap.call(1, IN, b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n[]")
    (ex,) = run(cap)
    assert ex.authority == "api.openai.com" and ex.scheme == "https"


def test_chunked_gzip_sse_stream_decodes_per_record() -> None:
    c = zlib.compressobj(wbits=31)
    cap = Cap()
    cap.open(1)
    cap.call(1, OUT, b"POST /v1/messages HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
    cap.call(
        1, IN, b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    for i in range(3):
        piece = c.compress(b"data: %d\n\n" % i) + c.flush(zlib.Z_SYNC_FLUSH)
        cap.call(1, IN, b"%x\r\n" % len(piece) + piece + b"\r\n")
    tail = c.flush()
    cap.call(1, IN, b"%x\r\n" % len(tail) + tail + b"\r\n0\r\n\r\n")
    (ex,) = run(cap)
    assert ex.response_body == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
    assert [n for _, n in ex.response_timeline] == [9, 18, 27]
    assert len({t for t, _ in ex.response_timeline}) == 3


def test_websocket_upgrade_and_connect_tunnel_stop_http_parsing() -> None:
    cap = Cap()
    cap.open(1)
    cap.call(1, OUT, b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
    cap.call(1, IN, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi")
    cap.call(1, OUT, b"\x81\x85GET / HTTP/1.1\r\n")  # frame bytes that look like HTTP
    cap.call(1, IN, b"HTTP/1.1 200 OK\r\n\r\n")  # ditto, inside the tunnel
    cap.open(2, transport="tcp")
    cap.call(2, OUT, b"CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n")
    cap.call(2, IN, b"HTTP/1.1 200 Connection established\r\n\r\n")
    cap.call(2, OUT, b"\x16\x03\x01\x00\x05hello")
    cap.call(2, IN, b"\x16\x03\x03\x00\x05world")
    cap.close(1)
    cap.close(2)
    ws, tunnel = run(cap)
    assert (ws.path, ws.status, ws.partial, ws.parse_error) == ("/ws", 101, False, None)
    assert (tunnel.method, tunnel.path, tunnel.status) == ("CONNECT", "api.openai.com:443", 200)
    assert tunnel.authority == "api.openai.com:443" and not tunnel.partial


def test_refused_upgrade_keeps_parsing_http() -> None:
    cap = Cap()
    cap.open(1, transport="tcp")
    cap.call(
        1,
        OUT,
        b"GET / HTTP/1.1\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n",
    )
    cap.call(1, IN, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    cap.call(1, OUT, NEXT_REQ)
    cap.call(1, IN, NEXT_RESP)
    first, nxt = run(cap)
    assert first.status == 200 and first.response_body == b"ok"
    assert_next(nxt)
