"""Damaged input never aborts the rest: gaps, truncation, joins, garbage, bad encodings."""

from __future__ import annotations

import gzip
from typing import Any

from heron.analyze.exchange import Exchange
from heron.analyze.reassembly import iter_exchanges

from ._helpers import IN, OUT, Cap, H2Pair

REQ = b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n"
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"


def run(records: list[dict[str, Any]]) -> list[Exchange]:
    return sorted(iter_exchanges(records), key=lambda e: e.exchange_id)


def clean_next(ex: Exchange, path: str = "/next") -> bool:
    return (
        ex.path == path
        and ex.status == 200
        and not (ex.partial or ex.gap or ex.truncated or ex.parse_error)
    )


# -- HTTP/1 ------------------------------------------------------------------


def test_truncated_request_body_keeps_connection_in_sync() -> None:
    cap = Cap()
    cap.open(1)
    body = b'{"messages": "' + b"x" * 30000 + b'"}'
    cap.call(
        1,
        OUT,
        b"POST /v1/messages HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body,
        keep=16384,
    )
    cap.call(1, IN, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    cap.call(1, OUT, REQ)
    cap.call(1, IN, RESP)
    ex, nxt = run(cap.records)
    assert ex.truncated and not ex.gap and ex.status == 200 and ex.response_body == b"{}"
    assert ex.request_body_size == len(body) and len(ex.request_body) < 16384
    assert ex.request_json() is None  # cut JSON is not passed off as whole
    assert clean_next(nxt)


def test_drop_inside_response_body_marks_gap_then_next_exchange_clean() -> None:
    cap = Cap()
    cap.open(1)
    cap.call(1, OUT, b"GET /a HTTP/1.1\r\n\r\n")
    cap.call(1, IN, b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n0123456789")
    cap.call(1, IN, b"ABCDEFGHIJ", skip=10)  # 10 bytes lost in between
    cap.call(1, OUT, REQ)
    cap.call(1, IN, RESP)
    ex, nxt = run(cap.records)
    assert ex.gap and not ex.partial and ex.response_body == b"0123456789ABCDEFGHIJ"
    assert ex.response_body_size == 30
    assert clean_next(nxt)


def test_gzip_body_with_a_hole_stops_decoding_and_flags() -> None:
    cap = Cap()
    cap.open(1)
    blob = gzip.compress(bytes(range(256)) * 200)
    cap.call(1, OUT, b"GET /a HTTP/1.1\r\n\r\n")
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(blob)
    cap.call(1, IN, head + blob[:100])
    cap.call(1, IN, blob[200:], skip=100)
    cap.call(1, OUT, REQ)
    cap.call(1, IN, RESP)
    ex, nxt = run(cap.records)
    assert ex.gap and (bytes(range(256)) * 200).startswith(ex.response_body)
    assert clean_next(nxt)


def test_lost_request_head_gets_a_placeholder_so_pairing_stays_right() -> None:
    cap = Cap()
    cap.open(1)
    cap.call(1, OUT, b"POST /lost HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", skip=0, keep=10)
    cap.call(1, IN, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    cap.call(1, OUT, REQ)
    cap.call(1, IN, RESP)
    lost, nxt = run(cap.records)
    assert lost.method is None and lost.status == 404 and lost.truncated and lost.partial
    assert clean_next(nxt)


def test_whole_pipelined_request_dropped() -> None:
    cap = Cap()
    cap.open(1)
    cap.call(1, OUT, b"GET /a HTTP/1.1\r\n\r\n")
    cap.call(1, OUT, b"GET /b HTTP/1.1\r\n\r\n", skip=19)  # a 19-byte request vanished
    cap.call(1, IN, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA")
    cap.call(1, IN, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n?")
    cap.call(1, IN, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB")
    a, lost, b = run(cap.records)
    assert (a.path, a.response_body) == ("/a", b"A")
    assert (lost.path, lost.gap, lost.response_body) == (None, True, b"?")
    assert (b.path, b.response_body) == ("/b", b"B")


def test_gap_in_chunked_framing_resyncs_at_next_status_line() -> None:
    cap = Cap()
    cap.open(1)
    cap.call(1, OUT, b"GET /s HTTP/1.1\r\n\r\n")
    cap.call(1, IN, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
    cap.call(1, IN, b"0\r\n\r\n", skip=40)  # lost the rest of the stream; resync needs a start line
    cap.call(1, OUT, REQ)
    cap.call(1, IN, RESP)
    ex, nxt = run(cap.records)
    assert ex.gap and ex.partial and ex.response_body == b"hello"
    assert clean_next(nxt)


def test_mid_stream_join_http1() -> None:
    cap = Cap()
    cap.open(1)
    cap.offsets[(1, OUT)] = 5000  # capture attached after 5000 bytes each way
    cap.offsets[(1, IN)] = 9000
    cap.call(1, OUT, b"ing the tail of an old request body")
    cap.call(1, IN, b"tail of an old response\r\n")
    cap.call(1, OUT, REQ)
    cap.call(1, IN, RESP)
    exs = run(cap.records)
    assert len(exs) == 1 and clean_next(exs[0])


def test_mid_stream_join_response_head_visible_is_orphan() -> None:
    cap = Cap()
    cap.open(1)
    cap.offsets[(1, OUT)] = 5000
    cap.offsets[(1, IN)] = 9000
    cap.call(1, IN, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nold")
    cap.call(1, OUT, REQ)
    cap.call(1, IN, RESP)
    orphan, nxt = run(cap.records)
    assert orphan.method is None and orphan.status == 200 and orphan.response_body == b"old"
    assert orphan.mid_stream and orphan.gap
    assert clean_next(nxt)


def test_garbage_connection_flagged_and_others_unaffected() -> None:
    cap = Cap()
    cap.open(1)
    cap.open(2)
    cap.call(1, OUT, b"GET /a HTTP/1.1\r\n\r\n")
    cap.call(2, OUT, b"\xde\xad\xbe\xef not http" + bytes(range(200)))
    cap.call(2, IN, bytes(range(255, 0, -1)))
    cap.call(1, IN, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA")
    cap.close(2)
    cap.call(1, OUT, REQ)
    cap.call(1, IN, RESP)
    exs = run(cap.records)
    bad = [e for e in exs if e.conn == 2]
    good = [e for e in exs if e.conn == 1]
    assert len(bad) == 1 and bad[0].parse_error is not None
    assert "conn 2 out @0" in bad[0].parse_error and "neither HTTP" in bad[0].parse_error
    assert [e.path for e in good] == ["/a", "/next"] and all(e.parse_error is None for e in good)


def test_garbage_inside_an_http1_connection_then_recovery() -> None:
    cap = Cap()
    cap.open(1)
    cap.call(1, OUT, b"GET /a HTTP/1.1\r\n\r\n")
    cap.call(1, IN, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA")
    cap.call(1, OUT, b"\x00\x01garbage that is not a request\r\n\r\n")
    cap.call(1, IN, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    cap.call(1, OUT, REQ)
    cap.call(1, IN, RESP)
    a, bad, nxt = run(cap.records)
    assert a.path == "/a" and a.parse_error is None
    assert bad.status == 400 and bad.parse_error is not None
    assert bad.parse_error.startswith("conn 1 out @19:") and "request line" in bad.parse_error
    assert clean_next(nxt)


def test_bad_content_length_is_parse_error() -> None:
    cap = Cap()
    cap.open(1)
    cap.call(1, OUT, b"GET /a HTTP/1.1\r\n\r\n")
    cap.call(1, IN, b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello")
    cap.call(1, OUT, REQ)
    cap.call(1, IN, RESP)
    a, nxt = run(cap.records)
    assert (
        a.parse_error is not None
        and "content-length" in a.parse_error
        and "conn 1 in @" in a.parse_error
    )
    assert clean_next(nxt)


def test_corrupt_gzip_reported_on_exchange() -> None:
    cap = Cap()
    cap.open(1)
    cap.call(1, OUT, b"GET /a HTTP/1.1\r\n\r\n")
    cap.call(
        1, IN, b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 8\r\n\r\nnotgzip!"
    )
    (a,) = run(cap.records)
    assert a.parse_error is not None and "gzip" in a.parse_error and a.response_body == b""
    assert a.response_body_size == 8


def test_truncated_capture_end_gives_partial() -> None:
    cap = Cap()
    cap.open(1)
    cap.call(1, OUT, b"POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\n01234")
    (a,) = run(cap.records)
    assert a.partial and a.method == "POST" and a.request_body == b"01234" and a.status is None
    cap.call(1, OUT, b"56789")
    cap.call(1, IN, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    cap.close(1)
    (b,) = run(cap.records)
    assert (
        b.partial
        and b.status == 200
        and b.response_body == b"abc"
        and b.request_body == b"0123456789"
    )


def test_duplicate_records_do_not_duplicate_bytes() -> None:
    cap = Cap()
    cap.open(1)
    r = cap.call(1, OUT, b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
    cap.records.append(dict(r))
    cap.call(1, IN, RESP)
    (a,) = run(cap.records)
    assert a.request_body == b"abc" and a.response_body == b"next" and not a.gap


# -- HTTP/2 ------------------------------------------------------------------


def h2_session(n: int = 4) -> Cap:
    cap = Cap()
    cap.open(1)
    p = H2Pair(cap, 1)
    p.literal_headers()
    for i in range(n):
        sid = 1 + 2 * i
        p.request(
            sid, "POST", f"/r{i}", b'{"i": %d}' % i, [("x-req", f"v{i}"), ("x-common", "same")]
        )
        p.pump()
        p.respond(sid, 200, b"resp %d" % i, [("x-resp", f"r{i}")])
        p.pump()
    cap.close(1)
    return cap


def test_h2_mid_stream_join_is_flagged_not_misdecoded() -> None:
    cap = h2_session(6)
    recs = cap.records
    data = [i for i, r in enumerate(recs) if r["k"] == 8]
    # drop everything before the 3rd exchange's request (preface, settings, HPACK history)
    first_out = [i for i in data if recs[i]["dir"] == OUT and b"/r3" not in recs[i]["data"]]
    cut = next(
        i for i in data if recs[i]["dir"] == OUT and recs[i]["offset"] > 0 and i > first_out[3]
    )
    joined = [r for i, r in enumerate(recs) if r["k"] != 8 or i >= cut]
    exs = run(joined)
    assert exs, "mid-stream exchanges are still reported"
    for e in exs:
        assert e.mid_stream and e.http_version == "2" and e.stream_id is not None
        # never guessed headers: either none, or none decoded from a wrong table
        assert e.method is None and e.path is None and e.request_headers == []
    bodies = {e.stream_id: e.response_body for e in exs}
    assert any(b.startswith(b"resp ") for b in bodies.values())


def test_h2_gap_over_headers_marks_later_exchanges_but_keeps_earlier() -> None:
    cap = h2_session(4)
    recs = cap.records
    # lose the OUT record that carries request 2's HEADERS
    idx = next(
        i for i, r in enumerate(recs) if r["k"] == 8 and r["dir"] == OUT and b"v2" in r["data"]
    )
    del recs[idx]
    exs = sorted(iter_exchanges(recs), key=lambda e: e.stream_id or 0)
    byid = {e.stream_id: e for e in exs}
    assert byid[1].path == "/r0" and byid[3].path == "/r1" and byid[1].parse_error is None
    # stream 5's request was lost whole: its response is an orphan with a gap
    assert byid[5].gap and byid[5].partial and byid[5].path is None
    # stream 7's request was sent after the loss: its HPACK context is gone
    assert byid[7].path is None and byid[7].parse_error is not None
    for sid in (5, 7):
        e = byid[sid]
        # the response side is unaffected and still decodes
        assert e.status == 200 and e.header("x-resp", response=True) == f"r{(sid - 1) // 2}"
    assert "HPACK" in byid[7].parse_error or "missing" in byid[7].parse_error


def test_h2_truncated_data_frame_keeps_sync() -> None:
    cap = Cap()
    cap.open(1)
    p = H2Pair(cap, 1)
    big = b"y" * 12000
    p.request(1, "POST", "/big", big)
    out = p.client.data_to_send()
    cap.call(1, OUT, out, keep=len(out) - 6000)  # body cap hit inside the DATA frame
    p.server.receive_data(out)
    p.pump()
    p.respond(1, 200, b"ok")
    p.pump()
    t_before = cap.t
    p.request(3, "GET", "/after")
    p.pump()  # the client's HEADERS go out first, as the next record
    p.respond(3, 200, b"fine")
    p.pump()
    a, b = sorted(run(cap.records), key=lambda e: e.stream_id or 0)
    assert b.request_start_ns == t_before + 1000  # offsets stayed right after the hole
    assert (
        a.truncated
        and a.path == "/big"
        and a.request_body == big[:6000]
        and a.response_body == b"ok"
    )
    assert a.request_body_size == 12000
    assert b.path == "/after" and b.response_body == b"fine" and b.parse_error is None


def test_h2_garbage_after_preface_does_not_break_other_connections() -> None:
    cap = h2_session(1)
    cap.open(2)
    cap.call(2, OUT, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\xff" * 30)
    cap.call(2, IN, b"\x00" * 3)
    cap.close(2)
    exs = run(cap.records)
    assert [e.path for e in exs if e.conn == 1] == ["/r0"]
    assert all(e.conn == 1 for e in exs)  # a connection with no exchanges yields none


def test_encrypted_tls_on_a_plain_socket_is_skipped_quietly() -> None:
    from heron.analyze.reassembly import Reassembler

    cap = Cap()
    cap.open(1, transport="tcp")
    cap.call(1, OUT, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(100))
    cap.call(1, IN, b"\x16\x03\x03\x00\x7a\x02" + bytes(50))
    cap.call(1, OUT, b"\x17\x03\x03\x00\x20" + bytes(32))
    cap.close(1)
    r = Reassembler()
    out = [e for rec in cap.records for e in r.feed(rec)] + r.finish()
    assert out == [] and r.stats["opaque_connections"] == 1


def test_h2_mid_stream_compressed_bodies_are_sniffed() -> None:
    import zstandard

    cap = Cap()
    cap.open(1)
    p = H2Pair(cap, 1)
    p.request(1, "GET", "/warmup")
    p.pump()
    p.respond(1, 200, b"w")
    p.pump()
    joined_at = len(cap.records)
    p.request(3, "POST", "/v1/chat/completions", b"{}")
    p.pump()
    p.respond(3, 200, gzip.compress(b'{"gz": 1}'), [("content-encoding", "gzip")])
    p.pump()
    p.request(5, "POST", "/v1/chat/completions", b"{}")
    p.pump()
    zst = zstandard.ZstdCompressor().compress(b'{"zstd": 1}')
    p.respond(5, 200, zst, [("content-encoding", "zstd")])
    p.pump()
    recs = [r for i, r in enumerate(cap.records) if r["k"] != 8 or i >= joined_at]
    exs = sorted(run(recs), key=lambda e: e.stream_id or 0)
    assert [(e.stream_id, e.mid_stream, e.response_json()) for e in exs] == [
        (3, True, {"gz": 1}),
        (5, True, {"zstd": 1}),
    ]


def test_records_with_odd_time_or_pid_types_are_unknown_not_fatal() -> None:
    # A buggy writer's strings where the format says integers: the time and
    # process are unknown (0 and None), and the tables built from them work.
    recs: list[dict[str, Any]] = [
        {
            "k": 8,
            "s": 0,
            "t": "9",
            "conn": 1,
            "pid": "7",
            "tid": 1.5,
            "dir": 0,
            "offset": 0,
            "len": len(REQ),
            "data": REQ,
        },
        {
            "k": 8,
            "s": 1,
            "t": 10,
            "conn": 1,
            "pid": 7,
            "dir": 1,
            "offset": 0,
            "len": len(RESP),
            "data": RESP,
        },
    ]
    (ex,) = run(recs)
    assert ex.pid is None and ex.request_start_ns == 0 and ex.response_start_ns == 10
    assert clean_next(ex)
