"""Recovery: truncation at every byte, bit flips, lost dedup bases, kill -9."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from heron.errors import HeronError
from heron.format import (
    CorruptBlock,
    Reader,
    TruncatedFile,
    Writer,
    verify,
)
from heron.format import _framing as fr

from ._util import build_file, chunk_extents, conversation_payloads


def _header_end(data: bytes) -> int:
    parsed = fr.parse_block_header(data[8:24])
    assert parsed is not None
    return 8 + fr.BLOCK_OVERHEAD + parsed[1]


def test_truncation_at_every_byte_yields_exactly_the_complete_chunks() -> None:
    data, expected = build_file(chunks=4, per_chunk=2, streams=True)
    ext = chunk_extents(data)
    hdr_end = _header_end(data)
    by_seq = {r["s"]: r for r in expected}
    for cut in range(len(data) + 1):
        part = data[:cut]
        if cut < hdr_end:
            with pytest.raises(TruncatedFile):
                list(Reader(io.BytesIO(part)))
            assert verify(io.BytesIO(part)).exit_code == 2
            continue
        r = Reader(io.BytesIO(part))
        got = list(r)
        complete = [e for e in ext if e[1] <= cut]
        want = [by_seq[s] for e in complete for s in range(e[2], e[2] + e[3])]
        assert got == want, cut
        rep = r.report
        if cut == len(data):
            assert rep.intact
            continue
        assert not rep.intact
        v = verify(io.BytesIO(part))
        assert v.exit_code == 1, (cut, v.lines())
        inside = [e for e in ext if e[0] < cut < e[1]]
        if inside:
            ((off, _end, first, _n),) = inside
            (loss,) = rep.losses
            assert loss.kind == "truncated" and loss.offset == off and loss.end == cut
            assert loss.first_seq == first and loss.last_seq is None
            assert f"bytes {off}..{cut}" in loss.describe()
        elif cut <= ext[-1][1]:
            assert rep.losses == [] and not rep.closed  # clean cut between chunks


def test_every_single_bit_flip_is_detected() -> None:
    data, expected = build_file(chunks=3, per_chunk=2, streams=True)
    by_seq = {r["s"]: r for r in expected}
    for i in range(len(data)):
        for bit in (i % 8, (i * 5 + 3) % 8):
            m = bytearray(data)
            m[i] ^= 1 << bit
            v = verify(io.BytesIO(bytes(m)))
            assert v.status != "intact", (i, bit)
            try:
                recs = list(Reader(io.BytesIO(bytes(m))))
            except HeronError:
                continue
            for r in recs:  # nothing corrupt is ever returned as good
                if "lost" in r:  # its dedup base was in the damaged chunk
                    assert r["data"] == b"" and r["lost"] == len(by_seq[r["s"]]["data"])
                    r = {**r, "data": by_seq[r["s"]]["data"]}
                    del r["lost"]
                assert r == by_seq[r["s"]], (i, bit)


def test_corrupt_chunk_is_reported_with_offset_index_crc_and_seqs() -> None:
    data, expected = build_file(chunks=4, per_chunk=2)
    ext = chunk_extents(data)
    off, end, first, n = ext[1]
    m = bytearray(data)
    m[off + 16 + 45] ^= 0x10  # inside chunk #1's compressed body
    r = Reader(io.BytesIO(bytes(m)))
    got = list(r)
    lost = set(range(first, first + n))
    assert [g["s"] for g in got if g["k"] != 8 or "lost" not in g] == [
        e["s"] for e in expected if e["s"] not in lost and not _refs_into(e, lost, got)
    ]
    loss = r.report.losses[0]
    assert loss.kind == "corrupt-block" and loss.offset == off and loss.end == end
    assert loss.chunk_index == 1 and (loss.first_seq, loss.last_seq) == (first, first + n - 1)
    assert loss.expected_crc is not None and loss.expected_crc != loss.actual_crc
    with pytest.raises(CorruptBlock) as ei:
        list(Reader(io.BytesIO(bytes(m)), strict=True))
    assert ei.value.offset == off and ei.value.chunk_index == 1


def _refs_into(e: dict, lost: set[int], got: list[dict]) -> bool:
    g = [x for x in got if x["s"] == e["s"]]
    return bool(g) and "lost" in g[0]


def test_damaged_header_length_never_trusted_resync_finds_next_chunk() -> None:
    data, expected = build_file(chunks=4, per_chunk=2, dedup=False)
    ext = chunk_extents(data)
    off, _end, first, n = ext[1]
    m = bytearray(data)
    m[off + 9] ^= 0xFF  # length field: header CRC now fails
    r = Reader(io.BytesIO(bytes(m)))
    got = [x["s"] for x in r]
    assert got == [e["s"] for e in expected if not first <= e["s"] < first + n]
    (loss,) = r.report.losses
    assert loss.kind == "damaged-bytes" and loss.offset == off and loss.end == ext[2][0]
    assert (loss.first_seq, loss.last_seq) == (first, first + n - 1)


def test_lost_dedup_base_is_reported_precisely() -> None:
    buf = io.BytesIO()
    payloads = conversation_payloads(6)
    with Writer(buf, flush_interval=1e9) as w:
        for i, p in enumerate(payloads):
            w.data(i, conn=1, pid=1, dir=0, offset=0, length=len(p), data=p)
            w.flush()
    data = buf.getvalue()
    ext = chunk_extents(data)
    m = bytearray(data)
    m[ext[2][0] + 60] ^= 1  # lose record seq 2 (chunk #2)
    r = Reader(io.BytesIO(bytes(m)))
    got = {x["s"]: x for x in r}
    assert got[0]["data"] == payloads[0] and got[1]["data"] == payloads[1]
    assert 2 not in got
    # seq 3 references seq 2 (its previous request); seq 4 then references 3...
    assert got[3]["data"] == b"" and got[3]["lost"] > 0
    refs = [x for x in r.report.losses if x.kind == "missing-ref"]
    assert refs[0].first_seq == 3 and refs[0].base_seq == 2
    assert refs[0].bytes_unavailable == got[3]["lost"]
    assert "record seq 3 references seq 2" in refs[0].describe()
    assert verify(io.BytesIO(bytes(m))).exit_code == 1


def test_garbage_appended_after_end_is_reported() -> None:
    data, expected = build_file()
    r = Reader(io.BytesIO(data + b"trailing junk"))
    assert list(r) == expected
    assert not r.report.intact and r.report.losses[0].kind == "damaged-bytes"


def test_header_block_damage_still_recovers_chunks() -> None:
    data, expected = build_file(dedup=False)
    m = bytearray(data)
    m[30] ^= 4  # inside the header block payload
    r = Reader(io.BytesIO(bytes(m)))
    assert r.header == {} and list(r) == expected
    assert r.report.losses[0].kind == "bad-header"
    assert verify(io.BytesIO(bytes(m))).exit_code == 1


_KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from heron.format import Writer, RecordKind
    w = Writer(sys.argv[1], flush_interval=0.02)
    i = 0
    while True:
        body = b"request %d " % i + b"history " * (i % 500)
        w.data(time.monotonic_ns(), conn=i % 3, pid=7, dir=0, offset=0,
               length=len(body), data=body)
        w.append(RecordKind.ANNOTATION, time.monotonic_ns(), text="n%d" % i)
        i += 1
        if i % 25 == 0:
            w.flush()
            print(w.next_seq, flush=True)
    """
)


def test_sigkill_mid_stream_recovers_everything_up_to_last_flush(tmp_path: Path) -> None:
    out = tmp_path / "killed.heron"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILL_SCRIPT, str(out)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert proc.stdout is not None
    flushed = 0
    for _ in range(40):
        line = proc.stdout.readline()
        assert line, "writer died early"
        flushed = int(line)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    r = Reader(out)
    seqs = [x["s"] for x in r]
    assert seqs[:flushed] == list(range(flushed))
    assert seqs == list(range(len(seqs)))
    assert not r.report.closed
    assert all(x.kind == "truncated" for x in r.report.losses)
    v = verify(out)
    assert v.exit_code == 1 and "not closed cleanly" in "\n".join(v.lines())
