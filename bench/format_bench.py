"""Format benchmark: writer/reader throughput and compression of agent traffic.

Rows (each a ratio measured in this run against a baseline in this run):

* writer throughput on realistic records (the agent corpus as DATA records
  plus process/connection records) vs the floor: msgpack-pack the same
  records and zstd-3 them in chunks of the same size, no dedup, no CRC;
* reader throughput (records/s and MB/s of payload) vs the decode floor:
  zstd-decompress + ``msgpack.unpackb`` of those literal chunks;
* reader throughput on many small records (per-record overhead);
* compression of one 50-turn conversation (~2.5 MB) and of 16 interleaved
  ones, chunks flushed every simulated second (~1 request/s), vs zstd -3 on
  the same payload bytes as one stream and vs gzip -6; also the HTTP/2
  variant (bodies cut into 16 KiB DATA frames, one record per frame).

Goals: >= 50x on the single conversation; reader within 2x of the floor.

Examples
--------
Run it::

    .venv/bin/python -m bench.format_bench --quick
"""

from __future__ import annotations

import gzip
import io
import sys
import time
from collections.abc import Callable
from typing import Any

import msgpack
import zstandard

from bench.corpus_agent import Event, conversation, interleaved
from heron.format import Reader, RecordKind, Writer

try:
    from bench._common import Measure
except ImportError:  # pragma: no cover - standalone use
    Measure = None  # type: ignore[assignment,misc]


def _m(values: list[float], unit: str, digits: int = 1) -> Any:
    if Measure is None:
        return f"{sorted(values)[len(values) // 2]:.{digits}f} {unit}"
    return Measure(values, unit, digits=digits)


def _records(events: list[Event]) -> list[tuple[int, dict[str, Any]]]:
    """(kind, fields) for the corpus, with realistic surrounding records."""
    out: list[tuple[int, dict[str, Any]]] = []
    offsets: dict[tuple[int, int], int] = {}
    seen_conn: set[int] = set()
    for t, conn, pid, d, data in events:
        if conn not in seen_conn:
            seen_conn.add(conn)
            out.append(
                (
                    int(RecordKind.PROCESS),
                    {"t": t, "pid": pid, "ppid": 1, "comm": "python3", "exe": "/usr/bin/python3",
                     "cmdline": ["python3", "agent.py", "--task", str(conn)], "uid": 1000},
                )
            )  # fmt: skip
            out.append(
                (
                    int(RecordKind.CONN_OPEN),
                    {"t": t, "conn": conn, "pid": pid, "transport": "tls", "lib": "openssl",
                     "remote_addr": "127.0.0.1", "remote_port": 8443, "role": "client",
                     "sni": "api.example.com"},
                )
            )  # fmt: skip
        off = offsets.get((conn, d), 0)
        offsets[(conn, d)] = off + len(data)
        out.append(
            (
                int(RecordKind.DATA),
                {"t": t, "conn": conn, "pid": pid, "tid": pid, "dir": d, "offset": off,
                 "len": len(data), "data": data, "fn": "SSL_write_ex" if d == 0 else "SSL_read_ex"},
            )
        )  # fmt: skip
    return out


def _write_heron(recs: list[tuple[int, dict[str, Any]]], *, window: int = 16 << 20) -> bytes:
    """Write with a flush at every simulated-second boundary (plus the defaults)."""
    buf = io.BytesIO()
    w = Writer(buf, flush_interval=1e9, window=window, clock_sync_interval=0)
    sec = None
    for kind, f in recs:
        t = f["t"]
        s = t // 1_000_000_000
        if sec is not None and s != sec:
            w.flush()
        sec = s
        if kind == RecordKind.DATA:
            w.data(t, conn=f["conn"], pid=f["pid"], tid=f["tid"], dir=f["dir"],
                   offset=f["offset"], length=f["len"], data=f["data"], fn=f["fn"])  # fmt: skip
        else:
            fields = {k: v for k, v in f.items() if k != "t"}
            w.append(kind, t, **fields)
    w.close()
    return buf.getvalue()


def _breakdown(data: bytes) -> str:
    """Where a file's bytes go: literal frames, records sections, headers."""
    from heron.format import _framing as fr
    from heron.format._blocks import Block, BlockScanner

    lit = meta = heads = other = 0
    for ev in BlockScanner(io.BytesIO(data), len(fr.MAGIC)):
        if not isinstance(ev, Block):
            continue
        if ev.type != fr.BlockType.CHUNK:
            other += len(ev.payload) + fr.BLOCK_OVERHEAD
            continue
        heads += fr.BLOCK_OVERHEAD + fr.CHUNK_HEADER.size
        body = ev.payload[fr.CHUNK_HEADER.size :]
        if ev.payload[1] & fr.CHUNK_FLAG_COLUMNS:
            a = int.from_bytes(body[:4], "little")
            meta += 4 + a
            lit += len(body) - 4 - a
        else:
            meta += len(body)
    return (
        f"literal frames {lit} B, records sections {meta} B, block+chunk headers {heads} B, "
        f"file header+index+footer {other + 2 * len(fr.MAGIC)} B"
    )


def _floor_chunks(recs: list[tuple[int, dict[str, Any]]]) -> list[bytes]:
    """The no-dedup floor: msgpack + zstd-3 of the same records, 1 s chunks."""
    cctx = zstandard.ZstdCompressor(level=3)
    chunks: list[bytes] = []
    cur: list[dict[str, Any]] = []
    sec = None
    for i, (kind, f) in enumerate(recs):
        s = f["t"] // 1_000_000_000
        if sec is not None and s != sec and cur:
            chunks.append(cctx.compress(msgpack.packb(cur, use_bin_type=True)))
            cur = []
        sec = s
        cur.append({"k": kind, "s": i, **f})
    if cur:
        chunks.append(cctx.compress(msgpack.packb(cur, use_bin_type=True)))
    return chunks


def _decode_floor(chunks: list[bytes]) -> int:
    dctx = zstandard.ZstdDecompressor()
    n = 0
    for c in chunks:
        n += len(msgpack.unpackb(dctx.decompress(c), raw=False))
    return n


def _read_heron(data: bytes) -> int:
    n = 0
    for recs in Reader(io.BytesIO(data)).chunks():
        n += len(recs)
    return n


def _timeit(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def _compression_rows(name: str, events: list[Event]) -> list[dict[str, Any]]:
    raw = b"".join(e[4] for e in events)
    recs = _records(events)
    heron = _write_heron(recs)
    no_dedup = _write_heron(recs, window=0)
    zstd_one = zstandard.ZstdCompressor(level=3).compress(raw)
    gz = gzip.compress(raw, 6)
    same = msgpack.packb([{"k": k, "s": i, **f} for i, (k, f) in enumerate(recs)])
    e = len(raw) / len(zstandard.ZstdCompressor(level=3).compress(same))
    h = len(raw) / len(heron)
    z = len(raw) / len(zstd_one)
    g = len(raw) / len(gz)
    goal_50 = name.startswith("1 conversation (HTTP/1.1")
    rows: list[dict[str, Any]] = [
        {
            "scenario": f"ratio, {name}, 1 s chunks vs zstd -3 one stream",
            "heron": _m([h], "x"),
            "baseline": _m([z], "x"),
            "ratio": h / z,
            "goal": ">= 50x" if goal_50 else "",
            "ok": (h >= 50) if goal_50 else None,
            "note": f"{len(raw)} B payload -> {len(heron)} B file "
            f"(no dedup: {len(raw) / len(no_dedup):.1f}x): {_breakdown(heron)}",
        },
        {
            "scenario": f"ratio, {name}, 1 s chunks vs zstd -3 one stream of the same records",
            "heron": _m([h], "x"),
            "baseline": _m([e], "x"),
            "ratio": h / e,
            "goal": "",
            "ok": None,
            "note": "baseline keeps timestamps/offsets too but has no crash safety",
        },
        {
            "scenario": f"ratio, {name}, 1 s chunks vs gzip -6",
            "heron": _m([h], "x"),
            "baseline": _m([g], "x"),
            "ratio": h / g,
            "goal": "",
            "ok": None,
        },
    ]
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Run every format scenario; return result rows.

    Examples
    --------
    >>> rows = run(quick=True)  # doctest: +SKIP
    """
    repeat = 3 if quick else 7
    rows: list[dict[str, Any]] = []
    one = conversation(turns=50)
    rows += _compression_rows("1 conversation (HTTP/1.1, 50 turns)", one)
    rows += _compression_rows("1 conversation (HTTP/2 frames)", conversation(turns=50, http2=True))
    many = interleaved(16, turns=20 if quick else 50)
    rows += _compression_rows(
        f"16 interleaved conversations ({'20' if quick else '50'} turns)", many
    )

    # Writer throughput on realistic records.
    recs = _records(one if quick else many)
    payload = sum(len(f["data"]) for k, f in recs if k == RecordKind.DATA)
    wt: list[float] = []
    ft: list[float] = []
    for _ in range(repeat):  # interleave heron and floor runs: the machine is noisy
        wt += _timeit(lambda: _write_heron(recs), 1)
        ft += _timeit(lambda: _floor_chunks(recs), 1)
    rows.append(
        {
            "scenario": "writer throughput, agent records (payload MB/s)",
            "heron": _m([payload / t / 1e6 for t in wt], "MB/s"),
            "baseline": _m([payload / t / 1e6 for t in ft], "MB/s"),
            "ratio": sorted(wt)[len(wt) // 2] / sorted(ft)[len(ft) // 2],
            "goal": "",
            "ok": None,
            "note": "ratio = heron time / floor time (msgpack + zstd-3, no dedup)",
        }
    )

    # Reader throughput on the same records.
    data = _write_heron(recs)
    floor = _floor_chunks(recs)
    n = len(recs)
    rt: list[float] = []
    dt: list[float] = []
    for _ in range(repeat):
        rt += _timeit(lambda: _read_heron(data), 1)
        dt += _timeit(lambda: _decode_floor(floor), 1)
    r_med, d_med = sorted(rt)[len(rt) // 2], sorted(dt)[len(dt) // 2]
    rows.append(
        {
            "scenario": f"reader throughput, agent records ({n} records)",
            "heron": _m([n / t / 1e3 for t in rt], "k rec/s"),
            "baseline": _m([n / t / 1e3 for t in dt], "k rec/s"),
            "ratio": r_med / d_med,
            "goal": "<= 2x floor time",
            "ok": r_med / d_med <= 2.0,
            "note": f"heron {payload / r_med / 1e6:.0f} MB/s vs floor {payload / d_med / 1e6:.0f} MB/s",
        }
    )

    # Many small records: the per-record cost of the reader.
    small: list[tuple[int, dict[str, Any]]] = []
    t = 10**9
    for i in range(50_000 if quick else 200_000):
        t += 1000
        if i % 3 == 0:
            small.append((int(RecordKind.EXEC), {"t": t, "pid": i, "ppid": 1, "comm": "sh",
                                                  "filename": "/bin/sh", "argv": ["sh", "-c", "true"]}))  # fmt: skip
        else:
            d = b"GET /x HTTP/1.1\r\n\r\n%d" % i
            small.append((int(RecordKind.DATA), {"t": t, "conn": i % 7, "pid": 5, "tid": 5,
                                                  "dir": i % 2, "offset": i, "len": len(d),
                                                  "data": d, "fn": "write"}))  # fmt: skip
    sdata = _write_heron(small)
    sfloor = _floor_chunks(small)
    rt, dt = [], []
    for _ in range(repeat):
        rt += _timeit(lambda: _read_heron(sdata), 1)
        dt += _timeit(lambda: _decode_floor(sfloor), 1)
    r_med, d_med = sorted(rt)[len(rt) // 2], sorted(dt)[len(dt) // 2]
    rows.append(
        {
            "scenario": f"reader throughput, small records ({len(small)})",
            "heron": _m([len(small) / t / 1e3 for t in rt], "k rec/s"),
            "baseline": _m([len(small) / t / 1e3 for t in dt], "k rec/s"),
            "ratio": r_med / d_med,
            "goal": "<= 2x floor time",
            "ok": r_med / d_med <= 2.0,
        }
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the rows as a plain table."""
    quick = "--quick" in (argv if argv is not None else sys.argv[1:])
    for r in run(quick):
        ok = {True: "pass", False: "MISS", None: "info"}[r.get("ok")]
        print(
            f"{r['scenario']:<66} heron {r['heron']!s:<28} base {r['baseline']!s:<28} "
            f"ratio {r['ratio']:.2f} {r.get('goal', '')} [{ok}] {r.get('note', '')}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
