"""HTTP/1 parser events, three ways: all bytes at once, one byte at a time, trailing bytes."""

from __future__ import annotations

from typing import Any

import pytest

from heron.analyze.reassembly.http1 import (
    MAX_HEAD,
    Body,
    BodyGap,
    End,
    Head,
    HTTP1Parser,
    Lost,
    ParseError,
    Trailers,
)


def norm(evs: list[Any]) -> list[tuple[Any, ...]]:
    """Comparable form; consecutive Body events merged (splitting is free)."""
    out: list[tuple[Any, ...]] = []
    for e in evs:
        if isinstance(e, Body):
            if out and out[-1][0] == "body":
                out[-1] = ("body", out[-1][1] + e.data)
            else:
                out.append(("body", e.data))
        elif isinstance(e, Head):
            out.append(("head", e.start, e.end, e.method, e.target, e.status, e.version, e.headers))
        elif isinstance(e, End):
            out.append(("end", e.offset, e.complete))
        elif isinstance(e, Trailers):
            out.append(("trailers", e.headers))
        elif isinstance(e, BodyGap):
            out.append(("gap", e.offset, e.length, e.kind))
        elif isinstance(e, Lost):
            out.append(("lost", e.offset, e.kind, e.paired))
        elif isinstance(e, ParseError):
            out.append(("error", e.offset, e.in_message, e.head))
    return out


def run(role: str, data: bytes, how: str, methods: tuple[str | None, ...] = ()) -> list[Any]:
    p = HTTP1Parser(role)  # type: ignore[arg-type]
    p.methods.extend(methods)
    if how == "all":
        return norm(p.feed(data))
    evs: list[Any] = []
    for i in range(len(data)):
        evs += p.feed(data[i : i + 1])
    return norm(evs)


HOW = ["all", "bytes"]

CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n"
    b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: done\r\nX-U: 2\r\n\r\n"
)


@pytest.mark.parametrize("how", HOW)
def test_chunked_with_trailers(how: str) -> None:
    evs = run("response", CHUNKED, how, ("GET",))
    assert [e[0] for e in evs] == ["head", "body", "trailers", "end"]
    assert evs[1] == ("body", b"hello world")
    assert evs[2] == ("trailers", [(b"X-T", b"done"), (b"X-U", b"2")])
    assert evs[3] == ("end", len(CHUNKED), True)


@pytest.mark.parametrize("how", HOW)
def test_trailing_next_message_after_each(how: str) -> None:
    # The h11 habit: whatever follows a complete message must not leak into it.
    nxt = b"HTTP/1.1 204 No Content\r\n\r\n"
    evs = run("response", CHUNKED + nxt, how, ("GET", "GET"))
    assert [e[0] for e in evs] == ["head", "body", "trailers", "end", "head", "end"]
    assert evs[1] == ("body", b"hello world")
    assert evs[4][1] == len(CHUNKED) and evs[4][5] == 204


@pytest.mark.parametrize("how", HOW)
def test_content_length_request_then_garbage_is_not_body(how: str) -> None:
    req = b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
    evs = run("request", req + b"GET /b HTTP/1.1\r\n\r\n", how)
    assert [e[0] for e in evs] == ["head", "body", "end", "head", "end"]
    assert evs[1] == ("body", b"abc")
    assert evs[3][3:5] == ("GET", "/b")


@pytest.mark.parametrize("how", HOW)
def test_head_and_304_have_no_body_despite_length(how: str) -> None:
    data = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    )
    evs = run("response", data, how, ("HEAD", "GET", "GET"))
    assert [e[0] for e in evs] == ["head", "end", "head", "end", "head", "body", "end"]
    assert evs[5] == ("body", b"ok")


@pytest.mark.parametrize("how", HOW)
def test_interim_100_then_final(how: str) -> None:
    data = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"
    p = HTTP1Parser("response")
    p.methods.append("POST")
    evs = p.feed(data) if how == "all" else [e for b in data for e in p.feed(bytes([b]))]
    heads = [e for e in evs if isinstance(e, Head)]
    assert [h.status for h in heads] == [100, 200]
    assert [h.paired for h in heads] == [False, True]
    assert sum(isinstance(e, End) for e in evs) == 1


@pytest.mark.parametrize("how", HOW)
def test_obs_fold_bare_lf_and_leading_empty_lines(how: str) -> None:
    data = b"\r\n\nGET /x HTTP/1.0\nA: 1\n  2\nB:3\n\n"
    evs = run("request", data, how)
    assert evs[0][3:] == ("GET", "/x", None, "1.0", [(b"A", b"1 2"), (b"B", b"3")])
    assert evs[0][1] == 3


def test_close_delimited_ends_only_at_eof() -> None:
    p = HTTP1Parser("response")
    evs = p.feed(b"HTTP/1.0 200 OK\r\n\r\nabc") + p.feed(b"def")
    assert [type(e).__name__ for e in evs] == ["Head", "Body", "Body"]
    assert norm(p.eof(clean=True)) == [("end", 25, True)]
    p2 = HTTP1Parser("response")
    p2.feed(b"HTTP/1.1 200 OK\r\n\r\nabc")
    assert norm(p2.eof(clean=False))[0][2] is False


def test_gap_inside_known_length_body_keeps_framing() -> None:
    p = HTTP1Parser("request")
    evs = p.feed(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nab")
    evs += p.gap(5, "trunc")
    evs += p.feed(b"hij") + p.feed(b"GET /next HTTP/1.1\r\n\r\n")
    n = norm(evs)
    assert ("gap", 41, 5, "trunc") in n
    assert [e[0] for e in n] == ["head", "body", "gap", "body", "end", "head", "end"]
    assert n[5][4] == "/next"


def test_gap_past_body_end_resyncs_and_reports_lost_next_message() -> None:
    p = HTTP1Parser("request")
    p.feed(b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab")
    n = norm(p.gap(30, "drop"))
    assert n == [("gap", 40, 2, "drop"), ("end", 42, True), ("lost", 42, "drop", False)]
    # resync: junk tail of the lost message, then a real request line
    n2 = norm(p.feed(b"tail of lost body\r\nGET /again HTTP/1.1\r\n\r\n"))
    assert [e[0] for e in n2] == ["head", "end"] and n2[0][4] == "/again"


def test_resync_at_record_boundary() -> None:
    p = HTTP1Parser("response", resync=True)
    n = norm(p.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    assert n[0][5] == 200 and n[0][1] == 0


def test_gap_in_chunk_framing_cuts_message() -> None:
    p = HTTP1Parser("response")
    p.methods.append("GET")
    p.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
    n = norm(p.gap(10, "drop"))
    assert n == [("end", 57, False)]
    assert p.state == "RESYNC"


@pytest.mark.parametrize(
    "data, what",
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n", "content-length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "status line"),
        (b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n", "header field"),
    ],
)
def test_malformed_input_is_a_parse_error_with_offset(data: bytes, what: str) -> None:
    p = HTTP1Parser("response")
    p.methods.append("GET")
    errs = [e for e in p.feed(data) if isinstance(e, ParseError)]
    assert len(errs) == 1 and what in errs[0].what
    assert p.state == "RESYNC"


def test_head_size_limit() -> None:
    p = HTTP1Parser("request")
    errs = [
        e
        for e in p.feed(b"GET / HTTP/1.1\r\nX: " + b"a" * (MAX_HEAD + 10))
        if isinstance(e, ParseError)
    ]
    assert errs and errs[0].head and "no end of head" in errs[0].what


def test_upgrade_request_waits_for_answer() -> None:
    p = HTTP1Parser("request")
    evs = p.feed(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x05hello")
    assert [type(e).__name__ for e in evs] == ["Head", "End"] and p.state == "WAIT"
    p.tunnel()
    assert p.feed(b"more frames") == [] and p.state == "TUNNEL"
    q = HTTP1Parser("request")
    q.feed(b"GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\nGET /2 HTTP/1.1\r\n\r\n")
    assert [getattr(e, "target", None) for e in q.resume()] == ["/2", None]
