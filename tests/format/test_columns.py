"""Columnar DATA chunks (format-spec.md section 7): every field survives exactly,
implied fields cost nothing, and damage stays inside one connection."""

from __future__ import annotations

import io
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heron.format import InvalidRecord, Reader, RecordKind, Writer
from heron.format import _framing as fr

from ._util import chunk_extents, consume, conversation_payloads, raw_chunks

U64 = (1 << 64) - 1


def _expected(ts: int, seq: int, **f: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"k": 8, "s": seq, "t": ts}
    extra = f.pop("extra", {})
    length = f.pop("length")
    for k, v in f.items():
        if v is not None:
            rec[k] = v
    rec["len"] = length
    if rec.get("trunc") is False:
        del rec["trunc"]
    if not rec.get("redacted"):
        rec.pop("redacted", None)
    rec.update(extra)
    return rec


def _write(records: list[dict[str, Any]], *, flush_every: int = 0, window: int = 1 << 20) -> bytes:
    buf = io.BytesIO()
    with Writer(buf, window=window, flush_interval=1e9) as w:
        for i, f in enumerate(records):
            f = dict(f)
            extra = f.pop("extra", {})
            w.data(f.pop("t"), **f, **extra)
            if flush_every and (i + 1) % flush_every == 0:
                w.flush()
    return buf.getvalue()


EDGE: list[dict[str, Any]] = [
    # contiguous stream, then a gap, then a step back (a retransmit-like overlap)
    {"t": 5_000, "conn": 1, "pid": 10, "dir": 0, "offset": 0, "length": 3, "data": b"abc",
     "fn": "SSL_write_ex"},
    {"t": 5_010, "conn": 1, "pid": 10, "dir": 0, "offset": 3, "length": 2, "data": b"de",
     "fn": "SSL_write_ex", "tid": 11},
    {"t": 5_020, "conn": 1, "pid": 10, "dir": 0, "offset": 100, "length": 1, "data": b"f",
     "fn": "SSL_write_ex"},
    {"t": 5_030, "conn": 1, "pid": 10, "dir": 0, "offset": 50, "length": 1, "data": b"g"},
    # other direction and another connection, interleaved; time goes backwards
    {"t": 4_000, "conn": 1, "pid": 10, "dir": 1, "offset": 7, "length": 4, "data": b"resp",
     "fn": "my_hook"},
    {"t": 5_040, "conn": 2**64 - 1, "pid": -(2**63), "dir": 1, "offset": U64, "length": 1,
     "data": b"z", "tid": 2**63 - 1},
    # the offset wraps past 2**64 - 1 for the next record of that stream
    {"t": 5_050, "conn": 2**64 - 1, "pid": -(2**63), "dir": 1, "offset": 0, "length": 1,
     "data": b"y"},
    # truncated: original length larger than what was captured
    {"t": 5_060, "conn": 3, "pid": 12, "dir": 0, "offset": 0, "length": 1_000_000,
     "data": b"head", "trunc": True},
    # a length smaller than the data (writers do not check) and huge lengths
    {"t": 5_070, "conn": 3, "pid": 12, "dir": 0, "offset": 1_000_000, "length": 1,
     "data": b"longer than one"},
    {"t": 5_080, "conn": 3, "pid": 12, "dir": 1, "offset": 0, "length": U64, "data": b""},
    # empty payloads, redaction spans, unknown extra fields of several types
    {"t": 5_090, "conn": 4, "pid": 13, "dir": 0, "offset": 0, "length": 0, "data": b"",
     "redacted": [[0, 4], [9, 2]]},
    {"t": 5_100, "conn": 4, "pid": 13, "dir": 0, "offset": 0, "length": 6, "data": b"secret",
     "extra": {"future": {"a": [1, b"x"]}, "note": "n"}},
    # time extremes in one chunk: the time column needs 8-byte deltas
    {"t": 0, "conn": 5, "pid": 14, "dir": 0, "offset": 0, "length": 1, "data": b"0"},
    {"t": U64, "conn": 5, "pid": 14, "dir": 0, "offset": 1, "length": 1, "data": b"1"},
    {"t": 1 << 40, "conn": 5, "pid": 14, "dir": 0, "offset": 2, "length": 1, "data": b"2"},
]  # fmt: skip


@pytest.mark.parametrize("flush_every", [0, 1, 4])
def test_edge_values_round_trip_exactly(flush_every: int) -> None:
    data = _write(EDGE, flush_every=flush_every)
    r = Reader(io.BytesIO(data))
    got = list(r)
    want = [
        _expected(f["t"], i, **{k: v for k, v in f.items() if k != "t"}) for i, f in enumerate(EDGE)
    ]
    assert got == want
    assert r.report.intact
    for g in got:  # same key sets: no stray None, no internal fields
        assert "x" not in g and "lost" not in g


def test_small_and_8_byte_time_columns() -> None:
    data = _write(EDGE)
    ((_, _, cols),) = raw_chunks(data)
    assert cols is not None and len(cols[1]) == 8 * len(EDGE)
    data = _write(EDGE[:-1])  # 0 -> 2**64-1 is a delta of -1 modulo 2**64
    ((_, _, cols),) = raw_chunks(data)
    assert cols is not None and len(cols[1]) == 4 * (len(EDGE) - 1)


def test_implied_fields_are_stored_as_constants() -> None:
    """A steady stream stores its conn/pid/tid/dir/fn/len-excess once per chunk."""
    recs = []
    off = 0
    for i in range(40):
        d = b'data: {"delta": "%d"}\n\n' % i
        recs.append({"t": 1_000 + 7_919 * i, "conn": 9, "pid": 77, "tid": 78, "dir": 1,
                     "offset": off, "length": len(d), "data": d, "fn": "SSL_read_ex"})  # fmt: skip
        off += len(d)
    data = _write(recs)
    ((_, stored, cols),) = raw_chunks(data)
    assert stored == [None] * 40
    assert cols is not None
    _groups, _dt, conn, pid, tid, dir_, od, x, xl, fn, ex = cols[:11]
    assert (conn, pid, tid, dir_, od, xl, ex) == (9, 77, 78, 1, 0, 0, None)
    assert fn == fr.FN_TABLE.index("SSL_read_ex")
    assert x[0] == len(recs[0]["data"]) and all(-5 < v < 5 for v in x[1:])  # length deltas
    assert [r["data"] for r in Reader(io.BytesIO(data))] == [r["data"] for r in recs]


def test_non_data_records_keep_their_place_between_columnar_ones() -> None:
    buf = io.BytesIO()
    with Writer(buf) as w:
        w.data(1, conn=1, pid=1, dir=0, offset=0, data=b"a")
        w.append(RecordKind.ANNOTATION, 2, text="between")
        w.data(3, conn=1, pid=1, dir=0, offset=1, data=b"b")
        w.append(RecordKind.EXIT, 4, pid=1, exit_code=0)
    got = list(Reader(io.BytesIO(buf.getvalue())))
    assert [(r["k"], r["s"], r["t"]) for r in got] == [(8, 0, 1), (12, 1, 2), (8, 2, 3), (6, 3, 4)]
    assert got[2]["offset"] == 1 and got[2]["data"] == b"b"


@pytest.mark.parametrize(
    "bad",
    [
        {"offset": -1},
        {"offset": "0"},
        {"conn": -2},
        {"pid": 2**63},
        {"tid": 1.5},
        {"length": 2**64},
        {"fn": 3},
        {"extra": {"k": 5}},
        {"extra": {"lost": 1}},
        {"extra": {"x": [1]}},
        {"extra": {"weird": object()}},
    ],
)
def test_invalid_data_fields_are_refused_before_touching_history(bad: dict[str, Any]) -> None:
    p = conversation_payloads(3)
    buf = io.BytesIO()
    w = Writer(buf)
    w.data(1, conn=1, pid=1, dir=0, offset=0, data=p[0])
    f: dict[str, Any] = {"conn": 1, "pid": 1, "dir": 0, "offset": 0, "data": p[1]}
    bad = dict(bad)
    extra = bad.pop("extra", {})
    f.update(bad)
    with pytest.raises(InvalidRecord):
        w.data(2, **f, **extra)
    w.data(3, conn=1, pid=1, dir=0, offset=0, data=p[2])
    w.close()
    got = list(Reader(io.BytesIO(buf.getvalue())))
    assert [r["data"] for r in got] == [p[0], p[2]] and [r["s"] for r in got] == [0, 1]


def test_lost_history_only_affects_the_connection_that_used_it() -> None:
    """Chunk 1 holds conn 1's first response; chunk 2's literals for conn 1 use it
    as dictionary.  Losing chunk 1 loses conn 1's literals in chunk 2 (reported
    precisely), never conn 2's, which share the chunk but not the dictionary."""
    buf = io.BytesIO()
    with Writer(buf, flush_interval=1e9) as w:
        w.data(1, conn=1, pid=1, dir=0, offset=0, data=b"POST /v1/chat first question")
        w.data(2, conn=2, pid=2, dir=0, offset=0, data=b"GET /other/one")
        w.flush()
        w.data(3, conn=1, pid=1, dir=1, offset=0, data=b"data: the first answer\n\n")
        w.flush()
        w.data(4, conn=1, pid=1, dir=0, offset=29, data=b"POST /v1/chat the first answer?")
        w.data(5, conn=2, pid=2, dir=0, offset=14, data=b"GET /other/two")
    data = buf.getvalue()
    ext = chunk_extents(data)
    m = bytearray(data)
    m[ext[1][0] + 50] ^= 0x10
    r = Reader(io.BytesIO(bytes(m)))
    got = {x["s"]: x for x in r}
    assert 2 not in got
    assert got[3]["lost"] == 31 and got[3]["data"] == b"" and got[3]["len"] == 31
    assert got[4]["data"] == b"GET /other/two" and "lost" not in got[4]
    (ref,) = [x for x in r.report.losses if x.kind == "missing-ref"]
    assert (ref.first_seq, ref.base_seq, ref.bytes_unavailable) == (3, 2, 31)


_fields = st.fixed_dictionaries(
    {
        "conn": st.integers(0, 3),
        "pid": st.integers(-5, 5) | st.integers(-(2**63), 2**63 - 1),
        "dir": st.integers(0, 1),
        "offset": st.integers(0, 300) | st.integers(0, U64),
        "length": st.none() | st.integers(0, 400) | st.integers(0, U64),
        "data": st.binary(max_size=40) | st.sampled_from(conversation_payloads(4)),
        "tid": st.none() | st.integers(-3, 3),
        "fn": st.none() | st.sampled_from([*fr.FN_TABLE[:3], "other_fn", ""]),
        "trunc": st.booleans(),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(0, U64), _fields, st.booleans()), min_size=1, max_size=25),
    st.sampled_from([0, 64, 1 << 20]),
)
def test_random_data_records_round_trip(
    items: list[tuple[int, dict[str, Any], bool]], window: int
) -> None:
    buf = io.BytesIO()
    want = []
    with Writer(buf, window=window, flush_interval=1e9) as w:
        for t, f, flush in items:
            seq = w.data(t, **f)
            length = len(f["data"]) if f["length"] is None else f["length"]
            want.append(_expected(t, seq, **{**f, "length": length}))
            if flush:
                w.flush()
    r = Reader(io.BytesIO(buf.getvalue()))
    assert list(r) == want
    assert r.report.intact


_col = st.recursive(
    st.none() | st.integers(-(2**63), 2**64 - 1) | st.binary(max_size=16) | st.text(max_size=4),
    lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=3), c, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, 4),
    st.lists(st.none() | st.just({"k": 12, "text": "a"}), max_size=5),
    st.lists(_col, max_size=13),
    st.binary(max_size=64),
    st.booleans(),
)
def test_crc_valid_columnar_chunks_with_hostile_columns(
    n_nil: int, recs: list[Any], cols: list[Any], frames: bytes, keep_shape: bool
) -> None:
    """A buggy or hostile writer's columns give a bad-chunk or lost records, never a crash."""
    recs = [None] * n_nil + recs
    n = recs.count(None)
    if keep_shape:  # plausible shape (valid defaults padded in), hostile values
        defaults = [1, 1, None, 0, 0, 0, 0, None, None]
        vals = (cols + defaults[len(cols) :])[:9]
        group = [1, [1], len(frames)]
        cols = [[group], b"\0" * 4 * n] + [[v] * n if i % 2 else v for i, v in enumerate(vals)]
    body = msgpack.packb(recs, use_bin_type=True) + msgpack.packb(cols, use_bin_type=True)
    head = fr.CHUNK_HEADER.pack(0, fr.CHUNK_FLAG_COLUMNS, 0, len(recs), 0, 0, 0, len(body), 1)
    payload = head + len(body).to_bytes(4, "little") + body + frames
    base = _write(EDGE[:2])
    hdr = fr.parse_block_header(base[8:24])
    assert hdr
    end = 8 + fr.BLOCK_OVERHEAD + hdr[1]
    consume(base[:end] + fr.encode_block(fr.BlockType.CHUNK, payload) + base[end:])


def test_literal_dictionary_is_the_last_128_kib_of_its_payloads() -> None:
    """A 300 KB request as base: the writer references only the last 128 KiB of it
    (a reader that loads exactly that tail decodes the frame)."""
    import random

    rnd = random.Random(5)
    words = [bytes(rnd.choices(b"abcdefghij", k=rnd.randrange(2, 9))) for _ in range(2000)]
    first = b" ".join(rnd.choices(words, k=60_000))
    assert len(first) > 2 * fr.DICT_BYTES
    second = first + b" " + b" ".join(rnd.choices(words, k=400))
    buf = io.BytesIO()
    with Writer(buf, flush_interval=1e9) as w:
        w.data(1, conn=1, pid=1, dir=0, offset=0, data=first)
        w.flush()
        w.data(2, conn=1, pid=1, dir=0, offset=len(first), data=second)
    data = buf.getvalue()
    _, (_, _, cols) = raw_chunks(data)
    assert cols is not None
    ((conn, dict_list, _flen),) = cols[0]
    assert conn == 1 and dict_list == [1]  # the 300 KB payload, seq 0
    r = Reader(io.BytesIO(data))
    assert [x["data"] for x in r] == [first, second] and r.report.intact


def test_unknown_kinds_between_columnar_records_are_skipped() -> None:
    buf = io.BytesIO()
    with Writer(buf) as w:
        w.data(1, conn=1, pid=1, dir=1, offset=0, data=b"data: a\n\n")
        w.append(200, 2, future=True)
        w.data(3, conn=1, pid=1, dir=1, offset=9, data=b"data: b\n\n")
    ((_, stored, _),) = raw_chunks(buf.getvalue())
    assert stored[0] is None and stored[1]["k"] == 200 and stored[2] is None
    r = Reader(io.BytesIO(buf.getvalue()))
    got = list(r)
    assert [(x["s"], x["offset"], x["data"]) for x in got] == [
        (0, 0, b"data: a\n\n"),
        (2, 9, b"data: b\n\n"),
    ]
    assert r.report.unknown_kinds == {200: 1} and r.report.intact
