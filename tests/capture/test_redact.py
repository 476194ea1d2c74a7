"""Tests for heron.capture.redact: streaming credential redaction.

Every scenario is checked three ways (all bytes at once, one byte per feed,
random split points) and must give byte-identical output and identical
redacted stream offsets.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heron.capture.redact import RedactionError, Redactor

SECRETS = [b"sk-SECRET0001", b"AIzaSECRET0002", b"sess=SECRET0003", b"SECRET0004", b"SECRET0005"]


def run_stream(
    segments: list[tuple[int, bytes]], splitter=None, redactor: Redactor | None = None, conn=1
) -> tuple[list[bytes], list[set[int]]]:
    """Feed (direction, bytes) segments in order; return per-direction output and redacted offsets.

    ``splitter(data) -> list[int]`` gives cut points inside each segment.
    """
    r = redactor or Redactor()
    outs = [bytearray(), bytearray()]
    red: list[set[int]] = [set(), set()]
    for direction, data in segments:
        cuts = sorted(set(splitter(data))) if splitter else []
        pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        for piece in pieces:
            if not piece:
                continue
            base = len(outs[direction])
            out, spans = r.feed(conn, direction, piece)
            assert len(out) == len(piece)
            changed = {i for i in range(len(piece)) if out[i] != piece[i]}
            covered = {s + i for s, n in spans for i in range(n)}
            assert changed <= covered, "a byte changed outside the reported spans"
            assert all(n > 0 and s >= 0 and s + n <= len(piece) for s, n in spans)
            assert spans == sorted(spans)
            red[direction] |= {base + i for i in covered}
            outs[direction] += out
    return [bytes(o) for o in outs], red


def one_byte(data: bytes) -> list[int]:
    return list(range(1, len(data)))


def three_ways(segments, seed: int = 0):
    """Run all-at-once, byte-by-byte and random splits; assert identical results."""
    whole = run_stream(segments)
    assert run_stream(segments, one_byte) == whole
    rng = random.Random(seed)
    for _ in range(5):
        got = run_stream(
            segments,
            lambda d: (
                [rng.randrange(1, len(d)) for _ in range(rng.randrange(0, 6))] if len(d) > 1 else []
            ),
        )
        assert got == whole
    return whole


def assert_no_secret(blob: bytes, secrets=SECRETS) -> None:
    for s in secrets:
        assert s not in blob, s


# -- HTTP/1.1 -------------------------------------------------------------------

BODY = b'{"messages": [{"role": "user", "content": "hi\\r\\nAuthorization: Bearer body"}]}\r\nCookie: inbody\r\n'

REQ1 = (
    b"POST /v1/models/gemini:generate?alt=sse&key=AIzaSECRET0002&x=1 HTTP/1.1\r\n"
    b"Host: api.example\r\n"
    b"Authorization: Bearer sk-SECRET0001\r\n"
    b"content-length: " + str(len(BODY)).encode() + b"\r\n"
    b"Cookie: sess=SECRET0003\r\n"
    b"\r\n" + BODY
)
REQ2 = (
    b"POST /v1/messages HTTP/1.1\r\nX-API-KEY:SECRET0004\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"10\r\n" + b"Cookie: chunk!!\r\n" + b"\r\n0\r\napi-key: SECRET0005\r\n\r\n"
)
RESP1 = b"HTTP/1.1 200 OK\r\nSet-Cookie: sess=SECRET0003; Path=/\r\nContent-Length: 16\r\n\r\nSet-Cookie: body"
RESP2 = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
H1_STREAM = [(0, REQ1), (1, RESP1), (0, REQ2), (1, RESP2)]


def test_http1_redacts_headers_query_and_trailers_not_bodies() -> None:
    (out, inn), red = three_ways(H1_STREAM)
    assert_no_secret(out + inn)
    assert len(out) == len(REQ1 + REQ2) and len(inn) == len(RESP1 + RESP2)
    assert out.startswith(
        b"POST /v1/models/gemini:generate?alt=sse&key=**************&x=1 HTTP/1.1\r\n"
    )
    assert b"Authorization: Bearer *************\r\n" in out
    assert b"Cookie: ***************\r\n" in out
    assert b"X-API-KEY:**********\r\n" in out
    assert b"api-key: **********\r\n" in out
    assert BODY in out and b"Cookie: chunk!!\r\n" in out  # bodies untouched
    assert inn == RESP1.replace(b"sess=SECRET0003; Path=/", b"*" * 23) + RESP2
    # spans are exactly the secret bytes (plus the rest of the Set-Cookie value)
    expect = set()
    for s in [
        b"AIzaSECRET0002",
        b"sk-SECRET0001",
        b"sess=SECRET0003",
        b"SECRET0004",
        b"SECRET0005",
    ]:
        i = (REQ1 + REQ2).index(s)
        expect |= set(range(i, i + len(s)))
    assert red[0] == expect
    i = RESP1.index(b"sess=")
    assert red[1] == set(range(i, i + 23))


def test_http1_head_and_204_have_no_body() -> None:
    stream = [
        (0, b"HEAD / HTTP/1.1\r\n\r\n"),
        (1, b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"),
        (0, b"GET / HTTP/1.1\r\n\r\n"),
        (
            1,
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nSet-Cookie: SECRET0004\r\n\r\n",
        ),
        (1, b"HTTP/1.1 304 Not Modified\r\nSet-Cookie: SECRET0005\r\n\r\n"),
    ]
    (_, inn), _ = three_ways(stream)
    assert_no_secret(inn)


def test_http1_unknown_framing_overredacts() -> None:
    # close-delimited response: body lines that look like credentials are blanked
    resp = b"HTTP/1.1 200 OK\r\n\r\ndata: x\nx-api-key: SECRET0004\nok"
    (_, inn), _ = three_ways([(0, b"GET / HTTP/1.1\r\n\r\n"), (1, resp)])
    assert inn == resp.replace(b"SECRET0004", b"*" * 10)


def test_http1_bad_content_length_falls_back_to_scan() -> None:
    req = b"POST / HTTP/1.1\r\nContent-Length: 5, 7\r\n\r\nhello\r\nAuthorization: SECRET0004\r\n"
    (out, _), _ = three_ways([(0, req)])
    assert_no_secret(out)


def test_unknown_protocol_passes_through_but_blanks_header_lines() -> None:
    data = b"\x16\x03\x01 some binary\nAuthorization: Bearer SECRET0004\r\nnothing else: here\n"
    (out, _), red = three_ways([(0, data)])
    assert out == data.replace(b"SECRET0004", b"*" * 10)
    other = b"\x00\x01\x02\x03plain binary payload without credentials"
    (_, out), red = three_ways([(1, other)])
    assert out == other and red == [set(), set()]


def test_disabled_passes_everything() -> None:
    r = Redactor(enabled=False)
    for d, data in H1_STREAM:
        out, spans = r.feed(1, d, data)
        assert out == data and spans == []


def test_bad_direction_is_an_error() -> None:
    with pytest.raises(RedactionError, match="direction"):
        Redactor().feed(1, 2, b"x")


def test_close_forgets_state() -> None:
    r = Redactor()
    r.feed(1, 0, b"GET / HTTP/1.1\r\nAuthorization: ")
    r.close(1)
    out, _ = r.feed(1, 0, b"abc")  # a new connection: unknown protocol, nothing to redact
    assert out == b"abc"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(REQ1 + REQ2) - 1), max_size=12))
def test_http1_any_split_is_identical(cuts: list[int]) -> None:
    data = REQ1 + REQ2
    assert run_stream([(0, data)], lambda d: cuts) == run_stream([(0, data)])
