"""Shared builders for the format tests: small real files made with the Writer."""

from __future__ import annotations

import io
from typing import Any

from heron.format import RECORD_FIELDS, Field, IndexedReader, RecordKind, Writer
from heron.format import _framing as fr

#: One sample value per field type used in RECORD_FIELDS.
SAMPLES: dict[str, Any] = {
    "uint": 7,
    "int": -3,
    "str": "text ✓",
    "bool": True,
    "bin": b"\x00\x01binary\xff",
    "map": {"nested": {"a": [1, 2]}, "flag": False},
    "map[str,uint]": {"ringbuf": 3, "perf": 0},
    "array[str]": ["python3", "-c", "print(1)"],
    "array[array[uint,uint]]": [[0, 4], [10, 2]],
}


def sample_value(f: Field) -> Any:
    if f.name == "dir":
        return 1
    return SAMPLES[f.type]


def sample_fields(kind: RecordKind) -> dict[str, Any]:
    return {f.name: sample_value(f) for f in RECORD_FIELDS[kind]}


def conversation_payloads(turns: int = 12, seed: int = 0) -> list[bytes]:
    """Growing chat requests (history re-sent each time), like an agent's traffic."""
    import random

    rnd = random.Random(seed)
    words = [b"alpha", b"beta", b"gamma", b"tool", b"file", b"read", b"result", b"json"]
    msgs: list[bytes] = []
    out = []
    for i in range(turns):
        text = b" ".join(rnd.choice(words) for _ in range(rnd.randrange(5, 60)))
        msgs.append(b'{"role":"user","content":"%d %s"}' % (i, text))
        body = b'{"model":"m","messages":[' + b",".join(msgs) + b'],"tools":[' + b"T" * 300 + b"]}"
        out.append(b"POST /v1/chat HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    return out


def build_file(
    *,
    chunks: int = 4,
    per_chunk: int = 3,
    dedup: bool = True,
    extra: bool = True,
    streams: bool = False,
) -> tuple[bytes, list[dict[str, Any]]]:
    """A small multi-chunk file and the records (as a reader should return them).

    With ``streams``, each request is answered on the same connection by two
    small streamed events (contiguous offsets) and a second connection sends
    a small request per chunk, so chunks hold several literal groups.
    """
    buf = io.BytesIO()
    expected: list[dict[str, Any]] = []
    payloads = conversation_payloads(chunks * per_chunk)
    w = Writer(buf, window=(1 << 20) if dedup else 0, flush_interval=1e9)
    t = 1_000
    p = 0
    offs: dict[tuple[int, int], int] = {}

    def add(conn: int, dir_: int, data: bytes, fn: str, offset: int | None = None) -> None:
        off = offs.get((conn, dir_), 0) if offset is None else offset
        offs[conn, dir_] = off + len(data)
        s = w.data(t, conn=conn, pid=42, dir=dir_, offset=off, length=len(data), data=data, fn=fn)
        expected.append(
            {"k": 8, "s": s, "t": t, "conn": conn, "pid": 42, "dir": dir_, "offset": off,
             "len": len(data), "data": data, "fn": fn}
        )  # fmt: skip

    for c in range(chunks):
        for _ in range(per_chunk):
            data = payloads[p]
            p += 1
            t += 10
            add(1, 0, data, "SSL_write", offset=0)
            if streams:
                for j in range(2):
                    t += 3
                    add(1, 1, b'data: {"delta":"word%d %d"}\n\n' % (p, j), "SSL_read_ex")
        if streams:
            t += 1
            add(2, 0, b"GET /health/%d HTTP/1.1\r\n\r\n" % c, "custom_send")
        if extra:
            t += 1
            s = w.append(RecordKind.ANNOTATION, t, text=f"chunk {c}")
            expected.append({"k": 12, "s": s, "t": t, "text": f"chunk {c}"})
        w.flush()
    w.close()
    return buf.getvalue(), expected


def chunk_extents(data: bytes) -> list[tuple[int, int, int, int]]:
    """(offset, end, first_seq, count) for every chunk, from the footer index."""
    ir = IndexedReader(io.BytesIO(data))
    assert ir.from_footer
    return [(c.offset, c.offset + c.size, c.first_seq, c.count) for c in ir.chunks]


def rewrite_header(
    data: bytes, *, compat: int | None = None, incompat: int | None = None, major: int | None = None
) -> bytes:
    """Return ``data`` with header flags/version changed and the block CRCs fixed."""
    start = len(fr.MAGIC)
    parsed = fr.parse_block_header(data[start : start + 16])
    assert parsed is not None
    _t, length = parsed
    payload = bytearray(data[start + 16 : start + 16 + length])
    maj, minor, c, i, uid = fr.FILE_HEADER.unpack_from(payload)
    fr.FILE_HEADER.pack_into(
        payload,
        0,
        maj if major is None else major,
        minor,
        c if compat is None else compat,
        i if incompat is None else incompat,
        uid,
    )
    block = fr.encode_block(fr.BlockType.HEADER, bytes(payload))
    return data[:start] + block + data[start + 16 + length + 4 :]


COLUMN_NAMES = ("dt", "conn", "pid", "tid", "dir", "od", "x", "xl", "fn", "ex")


def raw_chunks(data: bytes) -> list[tuple[dict[str, Any], list[Any], list[Any] | None]]:
    """Per chunk: (header fields, records array as stored, column block or None)."""
    import msgpack
    import zstandard

    from heron.format._blocks import Block, BlockScanner

    out: list[tuple[dict[str, Any], list[Any], list[Any] | None]] = []
    for ev in BlockScanner(io.BytesIO(data), len(fr.MAGIC)):
        if isinstance(ev, Block) and ev.type == fr.BlockType.CHUNK:
            h = fr.CHUNK_HEADER.unpack_from(ev.payload)
            head = dict(zip(("codec", "flags", "_", "count", "first_seq", "min_t", "max_t",
                             "raw_len", "window_kib"), h, strict=True))  # fmt: skip
            body = ev.payload[fr.CHUNK_HEADER.size :]
            if h[1] & fr.CHUNK_FLAG_COLUMNS:
                a = int.from_bytes(body[:4], "little")
                head["frames"] = body[4 + a :]
                body = body[4 : 4 + a]
            if h[0] == fr.Codec.ZSTD:
                body = zstandard.ZstdDecompressor().decompress(body)
            try:
                recs, cols = msgpack.unpackb(body, raw=False), None
            except msgpack.ExtraData as e:
                recs, cols = e.unpacked, msgpack.unpackb(e.extra, raw=False)
            out.append((head, recs, cols))
    return out


def raw_records(data: bytes) -> list[dict[str, Any]]:
    """Records exactly as stored: a columnar DATA record becomes a dict of its
    column values (``dt``, ``od``, ``x``, ``xl`` as stored; constant columns
    expanded) with ``k`` = 8."""
    out: list[dict[str, Any]] = []
    for _head, recs, cols in raw_chunks(data):
        j = 0
        for r in recs:
            if r is not None:
                out.append(r)
                continue
            assert cols is not None
            row: dict[str, Any] = {"k": 8}
            for name, col in zip(COLUMN_NAMES, cols[1:], strict=False):
                if name == "dt":
                    width = len(col) // sum(1 for x in recs if x is None)
                    row[name] = int.from_bytes(
                        col[j * width : (j + 1) * width], "little", signed=True
                    )
                else:
                    row[name] = col[j] if isinstance(col, list) else col
            out.append(row)
            j += 1
    return out


def consume(data: bytes) -> None:
    """Read ``data`` every way there is; only HeronError may escape."""
    import contextlib

    from heron.errors import HeronError
    from heron.format import Reader, file_info, verify

    try:
        r = Reader(io.BytesIO(data))
        for rec in r:
            assert isinstance(rec, dict)
    except HeronError:
        pass
    v = verify(io.BytesIO(data))
    assert v.exit_code in (0, 1, 2)
    v.lines()
    with contextlib.suppress(HeronError):
        file_info(io.BytesIO(data))
    try:
        ir = IndexedReader(io.BytesIO(data))
        list(ir.records())
    except HeronError:
        pass
