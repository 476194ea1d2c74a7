"""The per-record HTTP/1 shortcut gives exactly the exchanges of the general path.

:meth:`Reassembler._h1_fast` (with :meth:`HTTP1Parser.take_head` and
:meth:`HTTP1Parser.take_body`) handles the common record without parser
events.  Every scenario here runs with the shortcut on and off, with each
call whole, one byte per record, and split at every offset, and all runs
must give identical exchanges (all fields, times included: the pieces of one
call share its timestamp).  The scenarios are the inputs the shortcut must
refuse or get exactly right: bodies across records, pipelining, interim and
bodiless responses, chunked and close-delimited bodies, odd line ends, bad or
repeated Content-Length, upgrades, gaps, truncation, redaction spans,
content codings and the body cap.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, fields
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heron.analyze.exchange import Exchange
from heron.analyze.reassembly import builder
from heron.analyze.reassembly.builder import Reassembler
from heron.analyze.reassembly.http1 import HTTP1Parser

OUT, IN = 0, 1


@dataclass
class Call:
    """One write/read: ``dir``, its bytes, redacted spans, bytes lost before it, bytes kept."""

    dir: int
    data: bytes
    spans: list[tuple[int, int]] | None = None
    skip: int = 0
    keep: int | None = None


def _records(calls: list[Call], cut: int | None, *, start: int = 0) -> list[dict[str, Any]]:
    """Records for *calls* on conn 1; each call cut into *cut*-byte pieces (None: whole)."""
    recs: list[dict[str, Any]] = [
        {"k": 7, "s": 0, "t": 1000, "conn": 1, "pid": 100, "transport": "tls", "sni": "api.test"}
    ]
    offs = [start, start]
    t = 1000
    for call in calls:
        t += 1000
        off = offs[call.dir] + call.skip
        offs[call.dir] = off + len(call.data)
        kept = call.data if call.keep is None else call.data[: call.keep]
        size = cut or max(len(call.data), 1)
        for i in range(0, max(len(call.data), 1), size):
            piece_len = min(size, len(call.data) - i)
            piece = kept[i : i + piece_len]
            rec: dict[str, Any] = {
                "k": 8,
                "s": len(recs),
                "t": t,
                "conn": 1,
                "pid": 100,
                "tid": 101 + call.dir,
                "dir": call.dir,
                "offset": off + i,
                "len": piece_len,
                "data": piece,
            }
            if len(piece) < piece_len:
                rec["trunc"] = True
            spans = [
                [max(s, i) - i, min(s + n, i + piece_len) - max(s, i)]
                for s, n in call.spans or []
                if s < i + piece_len and i < s + n
            ]
            if spans:
                rec["redacted"] = spans
            recs.append(rec)
    recs.append({"k": 9, "s": len(recs), "t": t + 1000, "conn": 1, "reason": "close"})
    return recs


def _run(
    recs: list[dict[str, Any]], *, fast: bool, max_body: int = 1 << 20
) -> list[tuple[Any, ...]]:
    r = Reassembler(max_body_bytes=max_body)
    r._fast = fast
    out: list[Exchange] = []
    for rec in recs:
        out += r.feed(rec)
    out += r.finish()
    return [tuple(getattr(e, f.name) for f in fields(e)) for e in out]


def _check(
    calls: list[Call], *, start: int = 0, max_body: int = 1 << 20, same_cuts: bool = True
) -> list[tuple[Any, ...]]:
    """Every way of feeding *calls* gives the same exchanges with and without the shortcut.

    With *same_cuts*, they are also those of whole calls (False where the
    general path itself depends on record boundaries: a resynchronising
    parser looks for start lines at record boundaries).
    """
    if not start:
        # The first record of each direction goes the general way (protocol
        # detection): a plain turn first lets every call reach the shortcut.
        calls = [*_sdk_turn(), *calls]
    want = _run(_records(calls, None, start=start), fast=False, max_body=max_body)
    longest = max(len(c.data) for c in calls)
    for cut in [None, 1, *range(2, longest)]:
        recs = _records(calls, cut, start=start)
        general = _run(recs, fast=False, max_body=max_body)
        assert _run(recs, fast=True, max_body=max_body) == general, f"cut={cut}"
        if same_cuts:
            assert general == want, f"cut={cut}"
    return want


AUTH = b"authorization: Bearer sk-redacted-000000\r\n"
REQ_HEAD = (
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: api.test\r\n"
    + AUTH
    + b"content-type: application/json\r\nContent-Length: 11\r\n\r\n"
)
SPAN = [(REQ_HEAD.index(b"sk-"), 20)]
RESP = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 7\r\n\r\n"


def _sdk_turn() -> list[Call]:
    return [
        Call(OUT, REQ_HEAD, SPAN),
        Call(OUT, b'{"a": "b"}\n'),
        Call(IN, RESP),
        Call(IN, b'{"x":1}'),
    ]


def test_sdk_traffic_takes_the_shortcut(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = {"head": 0, "known": 0, "body": 0}

    # The parser may be an extension type (heron.accel): its methods are
    # counted through a subclass the reassembler is made to use.
    class Counting(HTTP1Parser):
        def take_head(self, data: bytes, offset: int) -> Any:
            h = super().take_head(data, offset)
            taken["head"] += h is not None
            return h

        def take_known_head(self, data: bytes, *args: Any) -> int:
            n: int = super().take_known_head(data, *args)
            taken["known"] += n >= 0
            return n

        def take_body(self, data: bytes, offset: int) -> int:
            left: int = super().take_body(data, offset)
            taken["body"] += left >= 0
            return left

    monkeypatch.setattr(builder, "HTTP1Parser", Counting)
    exs = _run(_records(_sdk_turn() * 3, None), fast=True)
    # the first record of each direction goes the general way (protocol
    # detection), the second fills the head cache, the third comes from it
    assert taken == {"head": 2, "known": 2, "body": 6}
    assert len(exs) == 3
    monkeypatch.undo()
    got = _check(_sdk_turn() * 3)
    names = [f.name for f in fields(Exchange)]
    first = dict(zip(names, got[0], strict=True))
    assert first["request_body"] == b'{"a": "b"}\n' and first["response_body"] == b'{"x":1}'
    assert ("authorization", "[REDACTED]") in first["request_headers"]
    assert first["authority"] == "api.test" and first["redacted"]
    assert first["request_start_ns"] == 2000 and first["request_end_ns"] == 3000
    assert first["response_start_ns"] == 4000 and first["response_end_ns"] == 5000
    assert first["response_timeline"] == [(5000, 7)]


def test_head_and_body_in_one_record_and_bodiless_messages() -> None:
    _check(
        [
            Call(OUT, REQ_HEAD + b'{"a": "b"}\n', SPAN),
            Call(IN, RESP + b'{"x":1}'),
            Call(OUT, b"GET /m HTTP/1.1\r\nHost: h\r\n\r\n"),
            Call(IN, b"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n"),
            Call(OUT, b"HEAD /m HTTP/1.1\r\n\r\n"),
            Call(IN, b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n"),
            Call(OUT, b"GET /n HTTP/1.0\r\nContent-Length: 0\r\n\r\n"),
            Call(IN, b"HTTP/1.0 304 Not Modified\r\n\r\n"),
            *_sdk_turn(),
        ]
    )


def test_pipelined_messages_and_bodies_across_records() -> None:
    two = b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 4\r\n\r\nab"
    _check(
        [
            Call(OUT, two),
            Call(OUT, b"cd"),
            Call(IN, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n"),
            Call(IN, b"Content-Length: 6\r\n\r\nab"),
            Call(IN, b"cd"),
            Call(IN, b"ef" + RESP[:5]),  # body end and the start of an orphan head
            Call(IN, RESP[5:] + b'{"x":1}'),
            *_sdk_turn(),
        ]
    )


def test_interim_chunked_and_close_delimited_responses() -> None:
    _check(
        [
            Call(OUT, b"POST /c HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"),
            Call(IN, b"HTTP/1.1 100 Continue\r\n\r\n"),
            Call(OUT, b"hi"),
            Call(IN, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Call(IN, b"5\r\nhello\r\n0\r\n\r\n"),
            Call(
                OUT, b"POST /t HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"
            ),
            Call(IN, RESP + b'{"x":1}'),
            *_sdk_turn(),
            Call(OUT, b"GET /close HTTP/1.1\r\n\r\n"),
            Call(IN, b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\n"),
            Call(IN, b"until close"),
        ]
    )


@pytest.mark.parametrize(
    "head",
    [
        b"POST /lf HTTP/1.1\nHost: h\nContent-Length: 2\n\n",  # bare LF line ends
        b"POST /fold HTTP/1.1\r\nX-A: a\r\n  folded\r\nContent-Length: 2\r\n\r\n",
        b"\r\nPOST /lead HTTP/1.1\r\nContent-Length: 2\r\n\r\n",  # empty line first
        b"POST /early HTTP/1.1\r\nA: b\n\r\nContent-Length: 2\r\n\r\n",  # LF CRLF ends it
        b"POST /cr HTTP/1.1\r\nA: b\r\r\nContent-Length: 2\r\n\r\n",
        b"POST /mixed HTTP/1.1\r\nA: b\nContent-Length: 2\r\n\r\n",
        b"POST /bad HTTP/1.1\r\nContent-Length: x2\r\n\r\n",
        b"POST /two HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\n",
        b"POST /list HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\n",
        b"POST /space HTTP/1.1\r\nContent-Length:   2  \r\n\r\n",
        b"POST /conflict HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
        b"POST /big HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n",
        b"POST /bad-field HTTP/1.1\r\nno colon here\r\nContent-Length: 2\r\n\r\n",
        b"BROKEN\r\nContent-Length: 2\r\n\r\n",
        b"POST /ver HTTP/2.0\r\nContent-Length: 2\r\n\r\n",
        b"POST /id HTTP/1.1\r\nContent-Encoding: identity\r\nContent-Length: 2\r\n\r\n",
        b"POST /unk HTTP/1.1\r\nContent-Encoding: foo\r\nContent-Length: 2\r\n\r\n",
    ],
)
def test_odd_request_heads(head: bytes) -> None:
    _check([Call(OUT, head), Call(OUT, b"ok"), Call(IN, RESP + b'{"x":1}'), *_sdk_turn()])


@pytest.mark.parametrize(
    "resp",
    [
        b"HTTP/1.1 200 OK\nContent-Length: 7\n\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: seven\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + RESP,
        b"HTTP/1.1 100 Continue\r\nContent-Length: 0\r\n\r\n",  # interim, oddly framed
        b"HTTP/1.1 101 Switching Protocols\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200\r\nContent-Length: 7\r\n\r\n",
        b"HTTP/1.1 999 Odd\r\nContent-Length: 7\r\n\r\n",
        b"NOT HTTP\r\n\r\n",
    ],
)
def test_odd_response_heads(resp: bytes) -> None:
    _check([*_sdk_turn()[:2], Call(IN, resp), Call(IN, b'{"x":1}'), *_sdk_turn()])


def test_upgrades_connect_and_refused_h2c() -> None:
    _check(
        [
            Call(OUT, b"GET /up HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"),
            Call(IN, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno"),
            *_sdk_turn(),
            Call(OUT, b"CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n\r\n"),
            Call(IN, b"HTTP/1.1 200 Connection established\r\n\r\n"),
            Call(OUT, b"\x16\x03\x01tunnelled"),
            Call(IN, b"\x16\x03\x03tunnelled"),
        ]
    )


def test_gaps_truncation_and_duplicates() -> None:
    turn = _sdk_turn()
    _check(
        [
            *turn,
            Call(OUT, REQ_HEAD, SPAN),
            Call(OUT, b'{"a": "b"}\n', keep=4),  # body cut by the capture's cap
            Call(IN, RESP),
            Call(IN, b'{"x":1}', skip=0, keep=0),
            Call(OUT, REQ_HEAD, SPAN, skip=11),  # a lost request body
            Call(OUT, b'{"a": "b"}\n'),
            Call(IN, RESP, skip=3),  # lost bytes before a response head
            Call(IN, b'{"x":1}'),
            Call(IN, RESP + b'{"x":1}'),  # a response nobody asked for
            Call(OUT, REQ_HEAD + b'{"a": "b"}\n', SPAN, skip=200),  # a whole request lost
            Call(IN, RESP + b'{"x":1}'),
            *turn,
        ]
    )


def test_joined_mid_stream() -> None:
    _check([Call(OUT, b'"b"}\n'), Call(IN, b"1}"), *_sdk_turn(), *_sdk_turn()], start=500)


def test_redaction_spans_over_values_lines_and_bodies() -> None:
    host_at = REQ_HEAD.index(b"api.test")
    ce = b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 7\r\n\r\n"
    _check(
        [
            Call(OUT, REQ_HEAD, [(host_at, 3), (host_at + 20, 40)]),  # across two lines
            Call(OUT, b'{"a": "b"}\n', [(2, 3)]),  # inside a body
            Call(IN, ce, [(ce.index(b"gzip"), 4)]),  # the coding itself redacted
            Call(IN, b'{"x":1}'),
            Call(OUT, REQ_HEAD + b'{"a": "b"}\n', [(len(REQ_HEAD) - 2, 5)]),  # head end into body
            Call(IN, RESP + b'{"x":1}', [(0, 4)]),  # the status line
            *_sdk_turn(),
        ]
    )


def test_content_codings_and_the_body_cap() -> None:
    gz = gzip.compress(b'{"x": "' + b"y" * 40 + b'"}')
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(gz)
    calls = [
        *_sdk_turn()[:2],
        Call(IN, head),
        Call(IN, gz[:10]),
        Call(IN, gz[10:]),
        *_sdk_turn(),
        Call(OUT, REQ_HEAD + b'{"a": "b"}\n'),
        Call(IN, b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n" + b"z" * 12),
        Call(IN, b"z" * 18),
        *_sdk_turn(),
    ]
    _check(calls)
    for cap in (0, 5, 7, 11, 20):
        _check(calls, max_body=cap)


def test_head_cache_reads_the_last_line_and_refuses_what_differs() -> None:
    # Heads that repeat REQ_HEAD / RESP up to their last line, so the cache
    # answers or must refuse; each turn also goes through every cut.
    prefix = REQ_HEAD[: REQ_HEAD.index(b"Content-Length")]
    rprefix = RESP[: RESP.index(b"content-length")]
    cl_span = [(len(prefix) + 3, 5)]
    bad = [
        prefix + b"Content-Length: 1x\r\n\r\n",
        prefix + b"Content-Length: 2, 2\r\n\r\nhi",
        prefix + b"Content-Length: 12345678901234567890\r\n\r\n",
    ]
    calls = [
        *_sdk_turn(),
        *_sdk_turn(),  # now cached
        Call(OUT, prefix + b"Content-Length: \t 3 \t\r\n\r\n", SPAN),
        Call(OUT, b"abc"),
        Call(IN, rprefix + b"content-length:2\r\n\r\nok"),
        Call(OUT, prefix + b"content-length: 3\r\n\r\n", SPAN),  # another name case
        Call(OUT, b"abc"),
        Call(IN, rprefix + b"content-length: 0\r\n\r\n"),
        Call(OUT, prefix + b"X-Trace: 7\r\n\r\n", SPAN),  # no body
        Call(IN, rprefix + b"X-Trace: 7\r\n\r\nclose-delimited? no: a new head"),
        *_sdk_turn(),
        Call(OUT, REQ_HEAD, None),  # no spans this time
        Call(OUT, b'{"a": "b"}\n'),
        Call(IN, RESP + b'{"x":1}'),
        Call(OUT, REQ_HEAD, cl_span),  # a span over the last line
        Call(OUT, b'{"a": "b"}\n'),
        Call(IN, RESP + b'{"x":1}'),
        Call(OUT, REQ_HEAD, [(3, 4)]),  # a span elsewhere (the start line)
        Call(OUT, b'{"a": "b"}\n'),
        Call(IN, RESP, [(2, 3)]),
        Call(IN, b'{"x":1}'),
        Call(OUT, REQ_HEAD + b'{"a": "b"}\nGET / HTTP/1.1\r\n\r\n', SPAN),  # more after the body
        Call(IN, RESP + b'{"x":1}'),
        Call(IN, b"HTTP/1.1 204 No Content\r\n\r\n"),
        *_sdk_turn(),
        Call(OUT, prefix + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", SPAN),
        Call(IN, RESP + b'{"x":1}'),
        *_sdk_turn(),
        Call(OUT, b"HEAD" + REQ_HEAD[4:], None),
        Call(OUT, b'{"a": "b"}\n'),
        Call(IN, RESP),  # answers a HEAD: no body despite its Content-Length
        *_sdk_turn(),
        Call(OUT, b"POST /x HTTP/1.1\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n"),
        Call(IN, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        *_sdk_turn(),
    ]
    for b in bad:
        _check([*calls, Call(OUT, b, SPAN), Call(IN, RESP + b'{"x":1}')])
    got = _check(calls)
    assert len(got) == 18


SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)


def _chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _sse(n: int) -> list[bytes]:
    return [_chunk(b'data: {"i": %d}\n\n' % i) for i in range(n)]


def test_chunked_records_of_whole_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = {"chunks": 0}

    class Counting(HTTP1Parser):  # see test_sdk_traffic_takes_the_shortcut
        def take_chunks(self, data: bytes, offset: int) -> Any:
            got = super().take_chunks(data, offset)
            taken["chunks"] += got is not None
            return got

    monkeypatch.setattr(builder, "HTTP1Parser", Counting)
    ev = _sse(3)
    calls = [*_sdk_turn(), *_sdk_turn()[:2], Call(IN, SSE_HEAD), *(Call(IN, e) for e in ev)]
    calls.append(Call(IN, b"0\r\n\r\n"))
    exs = _run(_records(calls, None), fast=True)
    assert taken["chunks"] == 4
    monkeypatch.undo()
    assert exs == _run(_records(calls, None), fast=False)
    got = _check(calls)
    assert got[-1][[f.name for f in fields(Exchange)].index("response_body")] == b"".join(
        b'data: {"i": %d}\n\n' % i for i in range(3)
    )


def test_chunked_shapes_the_shortcut_must_get_right_or_refuse() -> None:
    ev = _sse(4)
    gz = gzip.compress(b"data: zipped\n\n" * 5)
    req_chunked = b"POST /up HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: chunked\r\n\r\n"
    calls = [
        *_sdk_turn(),
        *_sdk_turn()[:2],
        Call(IN, SSE_HEAD),
        Call(IN, ev[0] + ev[1]),  # two chunks in one record
        Call(IN, ev[2][:5]),  # a chunk cut across records
        Call(IN, ev[2][5:] + ev[3]),
        Call(IN, b"0\r\n\r\n"),
        *_sdk_turn()[:2],
        Call(IN, SSE_HEAD + ev[0]),  # head and a chunk together
        Call(IN, b"3;ext=1\r\nabc\r\n"),  # an extension
        Call(IN, b"A\r\n0123456789\r\n" + b"0\r\n\r\n"),  # upper-case hex, last chunk
        Call(OUT, REQ_HEAD.replace(AUTH, b"")),  # nothing to mask: redacted only if ...
        Call(OUT, b'{"a": "b"}\n'),
        Call(IN, SSE_HEAD),
        Call(IN, ev[0], [(1, 2)]),  # ... a span over the size line counted: it is not
        Call(IN, b"0\r\n\r\n"),
        *_sdk_turn()[:2],
        Call(IN, SSE_HEAD, [(20, 4)]),
        Call(IN, ev[1], [(6, 3)]),  # span over the data
        Call(IN, b"0\r\n\r\n"),
        *_sdk_turn()[:2],
        Call(IN, SSE_HEAD),
        Call(IN, ev[0]),
        Call(IN, b"0\r\nx-trailer: 1\r\n\r\n"),  # trailers
        *_sdk_turn()[:2],
        Call(IN, SSE_HEAD),
        Call(IN, ev[0] + b"0\r\n\r\n" + RESP[:20]),  # the next response follows
        Call(IN, RESP[20:] + b'{"x":1}'),
        Call(OUT, req_chunked),
        Call(OUT, _chunk(b"part1")),
        Call(OUT, _chunk(b"part2") + b"0\r\n\r\n"),
        Call(IN, RESP + b'{"x":1}'),
        *_sdk_turn()[:2],
        Call(IN, SSE_HEAD.replace(b"\r\n\r\n", b"\r\nContent-Encoding: gzip\r\n\r\n")),
        Call(IN, _chunk(gz[:9])),
        Call(IN, _chunk(gz[9:])),
        Call(IN, b"0\r\n\r\n"),
        Call(OUT, b"HEAD" + REQ_HEAD[4:]),
        Call(OUT, b'{"a": "b"}\n'),
        Call(IN, SSE_HEAD),  # answers a HEAD: no body
        *_sdk_turn(),
        Call(IN, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
        Call(IN, _chunk(b"abc") + b"0\r\n\r\n"),
        *_sdk_turn()[:2],
        Call(IN, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
        Call(IN, _chunk(b"abc") + b"0\r\n\r\n"),
        *_sdk_turn(),
    ]
    _check(calls)
    for cap in (0, 10, 30):
        _check(calls, max_body=cap)
    bad = [Call(IN, SSE_HEAD), Call(IN, b"5\r\nabcdeX\n"), *_sdk_turn()]  # no CRLF after the data
    # (where the general path resynchronises depends on the cuts)
    _check([*_sdk_turn()[:2], *bad], same_cuts=False)
    # A stream the client stops reading after its last event (no last
    # chunk): complete at a clean close, partial at the capture's end.
    for reason in ("closed", "capture-end"):
        tail = [*_sdk_turn(), *_sdk_turn()[:2], Call(IN, SSE_HEAD), Call(IN, ev[0])]
        for cut in (None, 3):
            recs = _records(tail, cut)
            recs[-1]["reason"] = reason
            assert _run(recs, fast=True) == _run(recs, fast=False)


# -- random conversations ---------------------------------------------------

_REQS = [
    REQ_HEAD + b'{"a": "b"}\n',
    b"GET /g HTTP/1.1\r\nHost: h\r\n\r\n",
    b"HEAD /h HTTP/1.1\r\n\r\n",
    b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
    b"POST /lf HTTP/1.1\nContent-Length: 1\n\nz",
]
_RESPS = [
    RESP + b'{"x":1}',
    b"HTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
    SSE_HEAD + b"".join(_sse(3)) + b"0\r\n\r\n",
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([OUT, IN]),
            st.integers(0, len(_RESPS) - 1),
            st.integers(0, 3),  # 0: whole, else cut the message after that many eighths
            st.integers(0, 2),  # bytes lost before it (0 mostly)
        ),
        min_size=1,
        max_size=10,
    ),
    st.booleans(),
)
def test_random_conversations_agree(plan: list[tuple[int, int, int, int]], spans: bool) -> None:
    calls: list[Call] = []
    for d, i, cut, skip in plan:
        msg = _REQS[i % len(_REQS)] if d == OUT else _RESPS[i]
        sp = [(len(msg) // 3, 4)] if spans and d == OUT else None
        lost = skip if skip == 2 else 0
        if cut:
            at = len(msg) * cut // 8
            calls += [Call(d, msg[:at], sp, lost), Call(d, msg[at:])]
        else:
            calls.append(Call(d, msg, sp, lost))
    recs = _records(calls, None)
    assert _run(recs, fast=True) == _run(recs, fast=False)
    recs = _records(calls, 5)
    assert _run(recs, fast=True) == _run(recs, fast=False)
