"""Readers timed by scenarios 5 and 6, each run as its own process (wall time, peak RSS).

* ``python -m bench.read_tools floor FILE`` -- the **decode floor**: walk the
  blocks of a ``.heron`` file, zstd-decompress each chunk body and
  msgpack-decode it, and nothing else (no CRC checks, no dedup
  reconstruction, no record objects).  No reader of the same bytes can do
  less work.  Streams block by block, so its memory is one chunk.
* ``python -m bench.read_tools iterate FILE`` -- ``for rec in
  heron.format.Reader(FILE)``: the public record iteration, DATA payloads
  fully reconstructed.

Both print ``{"records": N, "data_bytes": B}`` as JSON.

Examples
--------
::

    .venv/bin/python -m bench.read_tools floor bench/out/corpus/big-512M.heron
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import msgpack
import zstandard

from heron.format import _framing as fr


def decode_floor(path: Path) -> dict[str, int]:
    """zstd + msgpack over every chunk of ``path``; count records."""
    dctx = zstandard.ZstdDecompressor()
    records = raw_bytes = 0
    hsize, tsize = fr.BLOCK_HEADER_SIZE, fr.BLOCK_TRAILER_SIZE
    with open(path, "rb", buffering=1 << 20) as f:
        if f.read(len(fr.MAGIC)) != fr.MAGIC:
            raise SystemExit(f"{path}: not a .heron file")
        while True:
            h = f.read(hsize)
            if len(h) < hsize:
                break
            btype, length = h[4], int.from_bytes(h[8:12], "little")
            payload = f.read(length + tsize)
            if btype == fr.BlockType.CHUNK:
                codec, _fl, _r, _n, _s, _a, _b, raw_len, _w = fr.CHUNK_HEADER.unpack_from(payload)
                body = payload[fr.CHUNK_HEADER.size : length]
                raw = dctx.decompress(body, max_output_size=raw_len) if codec else body
                records += len(msgpack.unpackb(raw, raw=False))
                raw_bytes += len(raw)
            elif btype == fr.BlockType.FOOTER:
                break
    return {"records": records, "data_bytes": raw_bytes}


def iterate(path: Path) -> dict[str, int]:
    """The public streaming Reader over ``path``; count records and DATA bytes."""
    from heron.format import Reader

    records = data = 0
    for rec in Reader(path):
        records += 1
        d = rec.get("data")
        if d is not None:
            data += len(d)
    return {"records": records, "data_bytes": data}


def main(argv: list[str] | None = None) -> int:
    """``floor FILE`` or ``iterate FILE``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in ("floor", "iterate"):
        print("usage: python -m bench.read_tools {floor,iterate} FILE", file=sys.stderr)
        return 2
    fn = decode_floor if args[0] == "floor" else iterate
    print(json.dumps(fn(Path(args[1]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
