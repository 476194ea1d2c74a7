"""HTTP/2 from records to exchanges, using real traffic made by the h2 library.

Each scenario is recorded whole (one record per write), as one record per
byte, and in 7-byte records, and ends with a further exchange that must
decode intact (HPACK state carried correctly across everything before it).
"""

from __future__ import annotations

import gzip
from typing import Any

import h2.settings
import pytest

from heron.analyze.exchange import Exchange
from heron.analyze.reassembly import iter_exchanges

from ._helpers import IN, OUT, Cap, H2Pair

SPLITS = [None, 1, 7]


def resplit(records: list[dict[str, Any]], size: int | None) -> list[dict[str, Any]]:
    """Re-cut DATA records into ``size``-byte records (same offsets, same times)."""
    if size is None:
        return records
    out: list[dict[str, Any]] = []
    for r in records:
        if r["k"] != 8:
            out.append(r)
            continue
        data = r["data"]
        for i in range(0, len(data), size):
            out.append(
                {
                    **r,
                    "offset": r["offset"] + i,
                    "len": len(data[i : i + size]),
                    "data": data[i : i + size],
                }
            )
    return out


def run(records: list[dict[str, Any]], split: int | None = None) -> list[Exchange]:
    return sorted(iter_exchanges(resplit(records, split)), key=lambda e: (e.conn, e.stream_id or 0))


def finish_with_next(p: H2Pair, sid: int) -> None:
    p.request(sid, "GET", "/next", headers=[("x-trace", "t" * 20)])
    p.pump()
    p.respond(sid, 200, b"next", [("content-type", "text/plain")])
    p.pump()


def assert_next(ex: Exchange) -> None:
    assert (ex.method, ex.path, ex.status, ex.response_body) == ("GET", "/next", 200, b"next")
    assert ex.header("x-trace") == "t" * 20
    assert not (ex.partial or ex.gap or ex.parse_error or ex.mid_stream)


def conversation() -> tuple[Cap, list[bytes]]:
    cap = Cap()
    cap.open(1)
    p = H2Pair(cap, 1)
    big = b"".join(b'data: {"i": %d}\n\n' % i for i in range(2500))  # ~43 KB: many DATA frames
    long_header = "v" * 20000  # > 16 KiB: the header block needs CONTINUATION frames
    p.request(
        1,
        "POST",
        "/v1/chat/completions",
        b'{"stream": true}',
        [("content-type", "application/json"), ("authorization", "Bearer sk-1")],
    )
    p.request(3, "GET", "/v1/models", headers=[("x-long", long_header)])
    p.request(5, "POST", "/v1/embeddings", b"{}", [("content-encoding", "identity")])
    p.pump()
    # interleave responses: 3 first, then 1 in pieces (streaming), 5 with gzip
    p.respond(3, 200, b'{"data": []}', [("x-long-resp", long_header)])
    p.pump()
    p.server.send_headers(1, [(":status", "200"), ("content-type", "text/event-stream")])
    p.pump()
    p.send_body(1, big, end=True)
    p.pump(in_size=4000)  # the client reads the stream 4000 bytes at a time
    p.respond(5, 200, gzip.compress(b'{"embedding": [1]}'), [("content-encoding", "gzip")])
    p.pump()
    finish_with_next(p, 7)
    cap.close(1)
    return cap, [big]


@pytest.mark.parametrize("split", SPLITS)
def test_concurrent_streams_continuation_large_data(split: int | None) -> None:
    cap, (big,) = conversation()
    exs = run(cap.records, split)
    assert [(e.stream_id, e.method, e.path, e.status) for e in exs] == [
        (1, "POST", "/v1/chat/completions", 200),
        (3, "GET", "/v1/models", 200),
        (5, "POST", "/v1/embeddings", 200),
        (7, "GET", "/next", 200),
    ]
    s1, s3, s5, nxt = exs
    assert s1.request_body == b'{"stream": true}' and s1.response_body == big
    assert s1.http_version == "2" and s1.scheme == "https" and s1.authority == "api.test"
    assert s1.header("authorization") == "[REDACTED]" and s1.redacted
    assert s1.header("content-type", response=True) == "text/event-stream"
    assert len(s1.response_timeline) > 3  # many records carried the stream
    assert s1.response_timeline[-1][1] == len(big)
    assert (
        s3.header("x-long") == "v" * 20000
        and s3.header("x-long-resp", response=True) == "v" * 20000
    )
    assert s5.response_json() == {"embedding": [1]} and s5.request_body == b"{}"
    for e in exs:
        assert not (e.partial or e.gap or e.parse_error or e.mid_stream)
        assert e.request_start_ns is not None and e.response_start_ns is not None
        assert e.request_start_ns <= e.response_start_ns <= (e.response_end_ns or 0)
    assert_next(nxt)


def test_huffman_and_literal_headers_decode_to_the_same_values() -> None:
    cap = Cap()
    cap.open(1)
    p = H2Pair(cap, 1)
    hs = [("user-agent", "Anthropic/Python 0.40.0"), ("x-stainless-lang", "python")]
    p.request(1, "GET", "/a", headers=hs)
    p.request(3, "GET", "/b", headers=hs)  # second time: dynamic-table references
    p.pump()
    p.respond(1, 200, b"a")
    p.respond(3, 200, b"b")
    p.pump()
    a, b = run(cap.records)
    assert a.request_headers == b.request_headers == hs


@pytest.mark.parametrize("split", SPLITS)
def test_padding_trailers_and_interim_status(split: int | None) -> None:
    cap = Cap()
    cap.open(1)
    p = H2Pair(cap, 1)
    p.client.send_headers(
        1, [(":method", "POST"), (":scheme", "https"), (":authority", "a"), (":path", "/grpc")]
    )
    p.client.send_data(1, b"req-body", end_stream=True, pad_length=17)
    p.pump()
    p.server.send_headers(1, [(":status", "103"), ("link", "</x>")])
    p.server.send_headers(1, [(":status", "200")])
    p.server.send_data(1, b"resp-body", pad_length=40)
    p.server.send_headers(1, [("grpc-status", "0")], end_stream=True)
    p.pump()
    finish_with_next(p, 3)
    ex, nxt = run(cap.records, split)
    assert ex.request_body == b"req-body" and ex.response_body == b"resp-body"
    assert ex.status == 200 and ex.header("grpc-status", response=True) == "0"
    assert ex.header("link", response=True) is None
    assert_next(nxt)


def test_rst_stream_makes_partial_and_connection_continues() -> None:
    cap = Cap()
    cap.open(1)
    p = H2Pair(cap, 1)
    p.request(1, "POST", "/v1/messages", b"{}")
    p.pump()
    p.server.send_headers(1, [(":status", "200")])
    p.server.send_data(1, b"data: partial\n\n")
    p.pump()
    # the server had more in flight when the client's RST_STREAM went out
    p.server.send_data(1, b"data: in flight\n\n")
    inflight = p.server.data_to_send()
    p.client.reset_stream(1)
    rst = p.client.data_to_send()
    cap.call(1, OUT, rst)
    p.server.receive_data(rst)
    cap.call(1, IN, inflight)
    p.client.receive_data(inflight)
    finish_with_next(p, 3)
    ex, nxt = run(cap.records)  # and no orphan exchange for the late frame
    assert ex.partial and ex.response_body == b"data: partial\n\n" and ex.status == 200
    assert_next(nxt)


def test_content_length_reached_without_end_stream_is_complete() -> None:
    # curl stops reading once Content-Length bytes are in; the empty
    # END_STREAM DATA frame after them is never captured.
    cap = Cap()
    cap.open(1)
    p = H2Pair(cap, 1)
    p.request(1, "GET", "/cl")
    p.pump()
    p.server.send_headers(1, [(":status", "200"), ("content-length", "2")])
    p.server.send_data(1, b"ok")
    p.pump()
    p.request(3, "GET", "/no-cl")
    p.pump()
    p.server.send_headers(3, [(":status", "200")])
    p.server.send_data(3, b"open")
    p.pump()
    cap.close(1)
    a, b = run(cap.records)
    assert a.response_body == b"ok" and not a.partial and a.response_end_ns is not None
    assert b.response_body == b"open" and b.partial


def test_goaway_closes_unanswered_streams() -> None:
    cap = Cap()
    cap.open(1)
    p = H2Pair(cap, 1)
    p.request(1, "GET", "/a")
    p.request(3, "GET", "/b")
    p.pump()
    p.respond(1, 200, b"ok")
    p.server.close_connection(last_stream_id=1)
    p.pump()
    a, b = run(cap.records)
    assert not a.partial and a.response_body == b"ok"
    assert b.partial and b.parse_error is not None and "GOAWAY" in b.parse_error


def test_settings_header_table_size_is_honoured() -> None:
    cap = Cap()
    cap.open(1)
    p = H2Pair(cap, 1, client_settings={h2.settings.SettingCodes.HEADER_TABLE_SIZE: 65536})
    for sid in (1, 3, 5):
        p.request(sid, "GET", f"/{sid}", headers=[(f"x-h{i}", "y" * 200) for i in range(60)])
        p.pump()
        p.respond(sid, 200, b"k", [(f"x-r{i}", "z" * 200) for i in range(60)])
        p.pump()
    exs = run(cap.records)
    assert [e.path for e in exs] == ["/1", "/3", "/5"]
    for e in exs:
        assert e.parse_error is None and len(e.response_headers) == 60
        assert e.header("x-r59", response=True) == "z" * 200


def test_server_push() -> None:
    cap = Cap()
    cap.open(1)
    p = H2Pair(cap, 1)
    p.request(1, "GET", "/page")
    p.pump()
    p.server.push_stream(
        1,
        2,
        [
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", "api.test"),
            (":path", "/style.css"),
        ],
    )
    p.respond(2, 200, b"css")
    p.respond(1, 200, b"html")
    p.pump()
    exs = run(cap.records)
    assert [(e.stream_id, e.path, e.response_body) for e in exs] == [
        (1, "/page", b"html"),
        (2, "/style.css", b"css"),
    ]


def test_traced_process_is_the_server() -> None:
    cap, _ = conversation()
    # From the server's point of view the directions are swapped.
    swapped = [{**r, "dir": 1 - r["dir"]} if r["k"] == 8 else r for r in cap.records]
    exs = run(swapped)
    assert [e.path for e in exs] == [
        "/v1/chat/completions",
        "/v1/models",
        "/v1/embeddings",
        "/next",
    ]
    assert all(e.parse_error is None for e in exs)


def test_redacted_values_keep_hpack_decodable() -> None:
    """Capture overwrites values with same-length filler; later indexed references still decode."""
    cap = Cap()
    cap.open(1)
    p = H2Pair(cap, 1)
    p.literal_headers()  # the redactor needs literal (non-Huffman) values
    secret = "Bearer sk-proj-0123456789"
    p.request(1, "GET", "/a", headers=[("authorization", secret), ("x-other", "visible")])
    p.request(3, "GET", "/b", headers=[("authorization", secret), ("x-other", "visible")])
    p.pump()
    p.respond(1, 200, b"1")
    p.respond(3, 200, b"3")
    p.pump()
    for r in cap.records:  # what the redactor does
        if r["k"] == 8 and r["dir"] == OUT and secret.encode() in r["data"]:
            i = r["data"].index(secret.encode())
            r["data"] = r["data"].replace(secret.encode(), b"x" * len(secret))
            r["redacted"] = [[i, len(secret)]]
    a, b = run(cap.records, None)
    for e in (a, b):
        assert e.header("authorization") == "[REDACTED]" and e.header("x-other") == "visible"
        assert e.redacted and e.parse_error is None
    raw = list(iter_exchanges(cap.records, mask_sensitive=False))
    assert {e.header("authorization") for e in raw} == {"x" * len(secret)}


def test_gzip_streaming_response_timeline_is_incremental() -> None:
    import zlib

    cap = Cap()
    cap.open(1)
    p = H2Pair(cap, 1)
    p.request(1, "POST", "/v1/stream", b"{}")
    p.pump()
    p.server.send_headers(1, [(":status", "200"), ("content-encoding", "gzip")])
    p.pump()
    c = zlib.compressobj(wbits=31)
    for i in range(3):
        p.server.send_data(1, c.compress(b"data: %d\n\n" % i) + c.flush(zlib.Z_SYNC_FLUSH))
        p.pump()
    p.server.send_data(1, c.flush(), end_stream=True)
    p.pump()
    (ex,) = run(cap.records)
    assert ex.response_body == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
    assert [n for _, n in ex.response_timeline] == [9, 18, 27]
    ts = [t for t, _ in ex.response_timeline]
    assert ts == sorted(ts) and len(set(ts)) == 3


@pytest.mark.parametrize("split", SPLITS)
def test_h2c_upgrade_from_http1(split: int | None) -> None:
    """HTTP/1.1 Upgrade: h2c -> 101 -> HTTP/2; the upgraded request is stream 1."""
    import h2.config
    import h2.connection

    cap = Cap()
    cap.open(1, transport="tcp")
    cl = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    sv = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    settings = cl.initiate_upgrade_connection()
    cap.call(
        1,
        OUT,
        b"GET /models HTTP/1.1\r\nHost: local:8000\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: " + settings + b"\r\n\r\n",
    )
    sv.initiate_upgrade_connection(settings)
    cap.call(
        1,
        IN,
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
        + sv.data_to_send(),
    )
    # (the server's first SETTINGS rode in the same write as the 101)
    out = cl.data_to_send()
    cap.call(1, OUT, out)
    sv.receive_data(out)
    sv.send_headers(1, [(":status", "200"), ("content-type", "application/json")])
    sv.send_data(1, b'{"data": []}', end_stream=True)
    data = sv.data_to_send()
    cap.call(1, IN, data)
    cl.receive_data(data)
    cl.send_headers(
        3,
        [(":method", "GET"), (":scheme", "http"), (":authority", "local:8000"), (":path", "/two")],
        end_stream=True,
    )
    out = cl.data_to_send()
    cap.call(1, OUT, out)
    sv.receive_data(out)
    sv.send_headers(3, [(":status", "204")], end_stream=True)
    cap.call(1, IN, sv.data_to_send())
    cap.close(1)
    one, two = run(cap.records, split)
    assert (one.http_version, one.stream_id, one.method, one.path, one.status) == (
        "2",
        1,
        "GET",
        "/models",
        200,
    )
    assert one.response_body == b'{"data": []}' and one.authority == "local:8000"
    assert not (one.partial or one.gap or one.parse_error)
    assert (two.stream_id, two.path, two.status, two.scheme) == (3, "/two", 204, "http")
    assert not (two.partial or two.gap or two.parse_error)
