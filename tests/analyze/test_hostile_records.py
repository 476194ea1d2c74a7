"""CRC-valid records of the wrong shape (a buggy or hostile writer) never crash the analysis.

The format fuzz tests (tests/format/test_fuzz.py) show the reader survives
such records; this goes on through reassembly, call building and every
table, where a string time or a list for a pid used to raise TypeError.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heron.analyze.capture import Capture
from heron.errors import HeronError
from heron.format import _framing as fr
from tests.analyze.heronfile import Proc, write_capture
from tests.analyze.transcripts import load

REQ = b"POST /v1/chat/completions HTTP/1.1\r\nHost: api.test\r\nContent-Length: 2\r\n\r\n{}"
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"

#: One ordinary record of each kind the analysis reads (DATA as map records).
BASE: list[dict[str, Any]] = [
    {"k": 8, "t": 1, "conn": 1, "pid": 7, "dir": 0, "offset": 0, "len": len(REQ), "data": REQ},
    {"k": 8, "t": 2, "conn": 1, "pid": 7, "dir": 1, "offset": 0, "len": len(RESP), "data": RESP},
    {"k": 7, "t": 0, "conn": 1, "pid": 7, "sni": "api.test", "remote_port": 443},
    {"k": 3, "t": 0, "pid": 7, "comm": "a", "exe": "/x", "cmdline": ["x"]},
    {"k": 9, "t": 3, "conn": 1, "reason": "close"},
    {"k": 11, "t": 0, "realtime_ns": 5},
    {"k": 10, "t": 4, "lost": {"ringbuf": 1}},
    {"k": 4, "t": 1, "pid": 8, "ppid": 7, "comm": "b"},
    {"k": 5, "t": 1, "pid": 8, "filename": "/y", "argv": ["y"]},
    {"k": 6, "t": 9, "pid": 8, "exit_code": 0},
    {"k": 1, "t": 0, "tool": "heron-capture", "version": "1"},
    {"k": 2, "t": 10, "reason": "done"},
    {"k": 12, "t": 5, "text": "note"},
]
KEYS = sorted({k for r in BASE for k in r} | {"tid", "trunc", "redacted", "fn", "uid", "cwd"})
ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=True),
    st.text(max_size=4),
    st.binary(max_size=4),
    st.lists(st.integers(-2, 5) | st.text(max_size=2), max_size=3),
    st.dictionaries(
        st.text(max_size=3), st.integers(-5, 2**64 - 1) | st.text(max_size=2), max_size=2
    ),
)


@st.composite
def hostile(draw: st.DrawFn) -> dict[str, Any]:
    rec = dict(draw(st.sampled_from(BASE)))
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=3, unique=True)):
        rec[key] = draw(ODD)
    return rec


def _base_file() -> bytes:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "base.heron"
        write_capture(path, [(Proc(7), load("openai_nonstream_tools")[:2])])
        return path.read_bytes()


BASE_FILE = _base_file()


def _with_chunk(recs: list[dict[str, Any]]) -> bytes:
    """BASE_FILE with one more CRC-valid chunk of ``recs`` after its header block."""
    for i, r in enumerate(recs):
        r["s"] = 10_000 + i
    hdr = fr.parse_block_header(BASE_FILE[8:24])
    assert hdr
    end = 8 + fr.BLOCK_OVERHEAD + hdr[1]
    body = msgpack.packb(recs, use_bin_type=True)
    head = fr.CHUNK_HEADER.pack(0, 0, 0, len(recs), 10_000, 0, 0, len(body), 1)
    return BASE_FILE[:end] + fr.encode_block(fr.BlockType.CHUNK, head + body) + BASE_FILE[end:]


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(hostile(), min_size=1, max_size=8))
def test_hostile_records_give_tables_or_a_heron_error(recs: list[dict[str, Any]]) -> None:
    try:
        cap = Capture(io.BytesIO(_with_chunk(recs)), jobs=1)
        for name in ("calls", "tools", "loops", "processes", "connections", "events"):
            cap.table(name)
        assert cap.exchanges is not None
        assert cap.info is not None
    except HeronError:
        pass


def test_integers_past_64_bits_become_nulls() -> None:
    # valid msgpack uint64 values no Int64 column can hold: a time past 2**63
    # in a CONN_OPEN (found by the test above) and a DATA record's offset
    recs = [
        {"k": 7, "t": 7_487_682_436_854_775_808, "conn": 99, "pid": 7, "sni": "api.test"},
        {
            "k": 8,
            "t": 2**64 - 1,
            "conn": 2**63 + 1,
            "pid": 7,
            "dir": 0,
            "offset": 2**64 - 9,
            "len": 4,
            "data": b"GET ",
        },
    ]
    cap = Capture(io.BytesIO(_with_chunk(recs)), jobs=1)
    conns = cap.connections
    assert conns.filter(conns["conn"] == 99)["opened_at"].to_list() == [None]
    assert cap.info["records"] > 0
