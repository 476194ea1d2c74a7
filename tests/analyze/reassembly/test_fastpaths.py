"""Fast paths (HTTP/1 heads, whole SSE bodies) agree with the plain definitions they replace."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from heron.analyze.reassembly import http1
from heron.analyze.reassembly.http1 import HTTP1Parser
from heron.analyze.reassembly.sse import SSEParser, _fast_events, parse_events

_HEAD_END = re.compile(rb"\r?\n\r?\n")
_FIELD_LINES = re.compile(rb"^(" + http1._TOKEN + rb"):[ \t]*([^\r\n]*?)[ \t]*\r?$", re.MULTILINE)

_bytes = st.lists(st.sampled_from([b"\r", b"\n", b"a", b" ", b":"]), max_size=14).map(b"".join)


@given(_bytes, st.integers(0, 16), st.integers(0, 20))
def test_head_end_is_first_blank_line(buf: bytes, pos: int, scan: int) -> None:
    p = HTTP1Parser("request")
    p._buf = bytearray(buf)
    p._pos = min(pos, len(buf))
    p._scan = scan
    m = _HEAD_END.search(buf, max(p._pos, scan - 3))
    assert p._find_head_end() == (None if m is None else (m.start(), m.end()))


@given(st.lists(st.sampled_from([b"Host: a", b"X-A:  b c \r", b"bad line", b"k:v\r", b" fold"])))
def test_cached_field_lines_match_the_regex(lines: list[bytes]) -> None:
    rest = b"\n".join(lines)
    for _ in range(2):  # second pass is served from the line cache
        got = http1._fast_fields(rest)
        found = _FIELD_LINES.findall(rest)
        if not rest:
            assert got == []
        elif len(found) == rest.count(b"\n") + 1:
            assert got == found
        else:
            assert got is None


# -- parse_events: the one-pass split agrees with the incremental parser -----

_FRAGS = [b"data: ", b"data:", b"event: ", b"id: 1", b": c", b"\n", b"\n", b"\r\n", b"\r"]
_FRAGS += [b"x", b'{"a":1}', b"\xef\xbb\xbf", b"retry: 5", b"data", b"\xff"]


@given(st.lists(st.sampled_from(_FRAGS), max_size=24).map(b"".join))
def test_parse_events_is_feed_then_flush(body: bytes) -> None:
    p = SSEParser()
    assert parse_events(body) == p.feed(body) + p.flush()


@given(
    st.lists(st.sampled_from([b"data: ", b"event:", b"\n", b"x", b"\xff", b"[DONE]"])).map(b"".join)
)
def test_parse_events_fast_shape_is_feed_then_flush(body: bytes) -> None:
    p = SSEParser()
    assert parse_events(body) == p.feed(body) + p.flush()


def test_parse_events_fast_path_covers_plain_streams() -> None:
    body = b'event: a\ndata: {"x":1}\ndata: 2\n\n\ndata: [DONE]\n\ndata: tail\n'
    fast = _fast_events(body)
    assert fast is not None
    p = SSEParser()
    assert fast == p.feed(body) + p.flush()
    assert [(e.data, e.terminated) for e in fast] == [
        ('{"x":1}\n2', True),
        ("[DONE]", True),
        ("tail", False),
    ]
