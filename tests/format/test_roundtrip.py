"""Round trips: every record kind, dedup, unknown kinds/blocks/flags, outputs."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from heron.format import (
    RECORD_FIELDS,
    IncompatibleFeature,
    IndexedReader,
    InvalidRecord,
    OutputError,
    Reader,
    RecordKind,
    UnsupportedVersion,
    Writer,
    verify,
)
from heron.format import _framing as fr

from ._util import (
    SAMPLES,
    build_file,
    conversation_payloads,
    raw_records,
    rewrite_header,
    sample_fields,
)


def _read_all(data: bytes, **kw: object) -> tuple[list[dict], Reader]:
    r = Reader(io.BytesIO(data), **kw)  # type: ignore[arg-type]
    return list(r), r


def test_sample_types_cover_every_field_type() -> None:
    types = {f.type for fields in RECORD_FIELDS.values() for f in fields}
    assert types <= set(SAMPLES), f"add samples for {types - set(SAMPLES)}"


@pytest.mark.parametrize("kind", list(RecordKind))
def test_every_record_kind_round_trips(kind: RecordKind) -> None:
    fields = sample_fields(kind)
    buf = io.BytesIO()
    with Writer(buf) as w:
        seq = w.append(RecordKind.ANNOTATION, 1, text="before")
        seq = w.append(kind, 123_456_789, **fields)
    recs, r = _read_all(buf.getvalue())
    assert r.report.intact
    got = recs[1]
    assert got["k"] == int(kind) and got["s"] == seq == 1 and got["t"] == 123_456_789
    for name, value in fields.items():
        assert got[name] == value, name
    if kind != RecordKind.DATA:
        assert set(got) == {"k", "s", "t", *fields}


def test_none_fields_are_omitted_and_kinds_counted() -> None:
    buf = io.BytesIO()
    with Writer(buf) as w:
        w.append(RecordKind.EXIT, 5, pid=3, exit_code=None, signal=9)
    (rec,), r = _read_all(buf.getvalue())
    assert rec == {"k": 6, "s": 0, "t": 5, "pid": 3, "signal": 9}
    assert r.report.kinds == {6: 1}


def test_multi_chunk_file_reads_back_exactly() -> None:
    data, expected = build_file(chunks=5, per_chunk=4)
    recs, r = _read_all(data)
    assert recs == expected
    assert r.report.chunks == 5 and r.report.intact and r.report.total_records == len(expected)


def test_dedup_stores_history_as_references_and_rebuilds_it() -> None:
    deduped, expected = build_file(chunks=10, per_chunk=3, dedup=True)
    literal, expected2 = build_file(chunks=10, per_chunk=3, dedup=False)
    assert expected == expected2
    assert _read_all(deduped)[0] == expected
    assert _read_all(literal)[0] == expected
    assert len(deduped) < len(literal) * 0.55
    stored = [r for r in raw_records(deduped) if r["k"] == 8]
    sent = [e for e in expected if e["k"] == 8]
    # nothing to copy from: all literal (an int: the length, as a delta from 0)
    assert stored[0]["x"] == len(sent[0]["data"])
    assert all(any(isinstance(op, list) for op in r["x"]) for r in stored[1:])
    assert not any("data" in r for r in stored)
    for r, full in zip(stored[1:], sent[1:], strict=True):
        literal_bytes = sum(op for op in r["x"] if isinstance(op, int))
        assert literal_bytes < len(full["data"]) // 3
    # implied metadata: same stream offsets (0 here) and full lengths cost nothing
    assert all(r["xl"] == 0 and r["fn"] == fr.FN_TABLE.index("SSL_write") for r in stored)
    hdr_d = Reader(io.BytesIO(deduped)).header
    hdr_l = Reader(io.BytesIO(literal)).header
    assert hdr_d["incompat_flags"] & fr.INCOMPAT_DATA_REF
    assert not hdr_l["incompat_flags"] & fr.INCOMPAT_DATA_REF


def test_http2_frames_dedup_against_previous_request_frames() -> None:
    """Each body is cut into 16 KiB frames; history grows in the middle."""
    import random

    rnd = random.Random(3)
    hist = b""
    tail = bytes(rnd.randrange(256) for _ in range(20_000))  # "tools", after the messages
    buf_d, buf_l = io.BytesIO(), io.BytesIO()
    wd, wl = Writer(buf_d), Writer(buf_l, window=0)
    sent = []
    for i in range(30):
        hist += bytes(rnd.randrange(256) for _ in range(rnd.randrange(200, 2000)))
        body = b'{"messages":' + hist + b',"tools":' + tail + b"}"
        for j in range(0, len(body), 16384):
            frame = len(body[j : j + 16384]).to_bytes(3, "big") + b"\x00\x00"
            frame += (2 * i + 1).to_bytes(4, "big") + body[j : j + 16384]
            for w in (wd, wl):
                w.data(i, conn=3, pid=9, dir=0, offset=0, length=len(frame), data=frame)
            sent.append(frame)
        wd.flush()
        wl.flush()
    wd.close()
    wl.close()
    assert [r["data"] for r in Reader(io.BytesIO(buf_d.getvalue()))] == sent
    # random bytes do not compress: everything below the literal size is dedup
    ratio = len(buf_l.getvalue()) / len(buf_d.getvalue())
    assert ratio > 8, ratio


def test_unknown_record_kind_is_skipped_and_counted() -> None:
    buf = io.BytesIO()
    with Writer(buf) as w:
        w.append(RecordKind.ANNOTATION, 1, text="a")
        w.append(200, 2, future_field=1)
        w.append(RecordKind.ANNOTATION, 3, text="b")
    recs, r = _read_all(buf.getvalue())
    assert [x["s"] for x in recs] == [0, 2]
    assert r.report.unknown_kinds == {200: 1} and not r.report.losses
    recs, r = _read_all(buf.getvalue(), skip_unknown=False)
    assert [x["k"] for x in recs] == [12, 200, 12]


def test_unknown_fields_pass_through() -> None:
    buf = io.BytesIO()
    with Writer(buf) as w:
        w.append(RecordKind.PROCESS, 1, pid=1, brand_new={"x": 1})
    assert _read_all(buf.getvalue())[0][0]["brand_new"] == {"x": 1}


def test_unknown_block_type_is_skipped() -> None:
    data, expected = build_file(chunks=3, per_chunk=1)
    ext = chunk_end = None
    from ._util import chunk_extents

    ext = chunk_extents(data)
    chunk_end = ext[0][1]
    junk = fr.encode_block(77, b"from the future")
    # the footer index offsets move, so the footer is no longer trusted for
    # seeking, but a streaming read must skip the block and get everything
    mutated = data[:chunk_end] + junk + data[chunk_end:]
    recs, r = _read_all(mutated)
    assert recs == expected
    assert r.report.unknown_blocks == {77: 1}
    assert not r.report.losses


def test_unknown_compatible_flag_is_ignored() -> None:
    data, expected = build_file()
    mutated = rewrite_header(data, compat=1 << 40 | fr.COMPAT_SYNC_POINTS)
    recs, r = _read_all(mutated)
    assert recs == expected and r.report.intact
    assert r.header["compat_flags"] & (1 << 40)


def test_unknown_incompatible_flag_is_refused() -> None:
    data, _ = build_file()
    mutated = rewrite_header(data, incompat=(1 << 33) | fr.INCOMPAT_DATA_REF)
    with pytest.raises(IncompatibleFeature, match=r"0x200000000") as ei:
        Reader(io.BytesIO(mutated))
    assert ei.value.unknown_flags == 1 << 33
    v = verify(io.BytesIO(mutated))
    assert v.exit_code == 2 and "incompatible feature" in v.reason


def test_other_major_version_is_refused() -> None:
    data, _ = build_file()
    with pytest.raises(UnsupportedVersion, match=r"version 2\.0"):
        Reader(io.BytesIO(rewrite_header(data, major=2)))


def test_file_is_created_0600_and_never_overwritten(tmp_path: Path) -> None:
    p = tmp_path / "a.heron"
    with Writer(p) as w:
        w.append(RecordKind.ANNOTATION, 1, text="x")
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    with pytest.raises(OutputError, match="already exists"):
        Writer(p)
    assert verify(p).status == "intact"  # the refused writer did not touch it
    with Writer(p, overwrite=True) as w:
        w.append(RecordKind.ANNOTATION, 1, text="y")
    assert [r["text"] for r in Reader(p)] == ["y"]


def test_writer_refuses_to_follow_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"precious")
    link = tmp_path / "link.heron"
    link.symlink_to(target)
    for overwrite in (False, True):
        with pytest.raises(OutputError):
            Writer(link, overwrite=overwrite)
    assert target.read_bytes() == b"precious"


def test_write_to_a_pipe_and_read_from_a_pipe() -> None:
    rfd, wfd = os.pipe()
    payloads = conversation_payloads(8)

    def produce() -> None:
        with os.fdopen(wfd, "wb") as out, Writer(out) as w:
            for i, p in enumerate(payloads):
                w.data(i, conn=1, pid=1, dir=0, offset=0, length=len(p), data=p)
                w.flush()

    th = threading.Thread(target=produce)
    th.start()
    with os.fdopen(rfd, "rb") as inp:
        r = Reader(inp)
        got = [x["data"] for x in r]
    th.join()
    assert got == payloads and r.report.intact


def test_writer_dash_writes_stdout(tmp_path: Path) -> None:
    code = (
        "from heron.format import Writer, RecordKind\n"
        "with Writer('-') as w:\n"
        "    w.append(RecordKind.ANNOTATION, 1, text='via stdout')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout
    recs, r = _read_all(out)
    assert recs[0]["text"] == "via stdout" and r.report.intact


def test_invalid_records_raise_heron_errors_and_do_not_poison_the_file() -> None:
    buf = io.BytesIO()
    w = Writer(buf)
    p = conversation_payloads(3)
    w.data(1, conn=1, pid=1, dir=0, offset=0, length=len(p[0]), data=p[0])
    with pytest.raises(InvalidRecord):
        w.data(2, conn=1, pid=1, dir=0, offset=0, length=1, data=p[1], fn=object())  # type: ignore[arg-type]
    with pytest.raises(InvalidRecord):
        w.append(RecordKind.ANNOTATION, -1, text="negative time")
    with pytest.raises(InvalidRecord):
        w.data(2, conn=1, pid=1, dir=0, offset=0, length=1, data="not bytes")  # type: ignore[arg-type]
    w.data(3, conn=1, pid=1, dir=0, offset=0, length=len(p[2]), data=p[2])
    w.close()
    recs, r = _read_all(buf.getvalue())
    assert [x["data"] for x in recs] == [p[0], p[2]] and [x["s"] for x in recs] == [0, 1]
    assert r.report.intact


def test_flush_interval_writes_chunks_while_data_flows() -> None:
    buf = io.BytesIO()
    w = Writer(buf, flush_interval=0.0)
    for i in range(5):
        w.append(RecordKind.ANNOTATION, i, text=str(i))
    assert len(buf.getvalue()) > 0
    n_before_close = len(buf.getvalue())
    w.close()
    ir = IndexedReader(io.BytesIO(buf.getvalue()))
    assert len(ir.chunks) == 5 and n_before_close < len(buf.getvalue())


def test_chunk_size_limit_flushes() -> None:
    buf = io.BytesIO()
    with Writer(buf, chunk_bytes=4096, flush_interval=1e9, window=0) as w:
        for i in range(40):
            w.append(RecordKind.ANNOTATION, i, text="x" * 500)
    ir = IndexedReader(io.BytesIO(buf.getvalue()))
    assert len(ir.chunks) >= 4


def test_indexed_reader_seeks_by_time_and_falls_back_to_scan() -> None:
    data, expected = build_file(chunks=6, per_chunk=2)
    ts = [r["t"] for r in expected]
    lo, hi = ts[5], ts[9]
    want = [r for r in expected if lo <= r["t"] <= hi]
    ir = IndexedReader(io.BytesIO(data))
    assert ir.from_footer and list(ir.records(start_ns=lo, end_ns=hi)) == want
    cut = data[: chunk_extents_end(data)]
    ir2 = IndexedReader(io.BytesIO(cut))
    assert not ir2.from_footer and len(ir2.chunks) == 6
    assert list(ir2.records(start_ns=lo, end_ns=hi)) == want
    only = list(ir.records(kinds=[RecordKind.ANNOTATION]))
    assert [r["k"] for r in only] == [12] * 6


def chunk_extents_end(data: bytes) -> int:
    from ._util import chunk_extents

    return chunk_extents(data)[-1][1]


def test_sync_points_let_seeking_start_mid_file() -> None:
    buf = io.BytesIO()
    payloads = conversation_payloads(30)
    with Writer(buf, sync_interval=8_000, flush_interval=1e9) as w:
        for i, p in enumerate(payloads):
            w.data(i * 100, conn=1, pid=1, dir=0, offset=0, length=len(p), data=p)
            w.flush()
    ir = IndexedReader(io.BytesIO(buf.getvalue()))
    indep = [i for i, c in enumerate(ir.chunks) if c.independent]
    assert indep[0] == 0 and len(indep) > 2
    assert [r["data"] for r in ir.records(start_ns=2500)] == payloads[25:]
    assert [r["data"] for r in Reader(io.BytesIO(buf.getvalue()))] == payloads


@pytest.mark.timeout(30)
def test_reader_streams_a_live_pipe_without_waiting_for_more_data() -> None:
    rfd, wfd = os.pipe()
    out = os.fdopen(wfd, "wb")
    w = Writer(out)
    w.append(RecordKind.ANNOTATION, 1, text="first")
    w.flush()
    with os.fdopen(rfd, "rb") as inp:
        it = iter(Reader(inp))
        assert next(it)["text"] == "first"  # must not block waiting for a full buffer
        w.append(RecordKind.ANNOTATION, 2, text="second")
        w.close()
        out.close()
        assert [x["text"] for x in it] == ["second"]


def test_path_dash_means_stdout(tmp_path: Path) -> None:
    code = (
        "from pathlib import Path\n"
        "from heron.format import Writer, RecordKind\n"
        "with Writer(Path('-')) as w:\n"
        "    w.append(RecordKind.ANNOTATION, 1, text='x')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=True, cwd=tmp_path
    ).stdout
    assert _read_all(out)[0][0]["text"] == "x"
    assert not (tmp_path / "-").exists()
