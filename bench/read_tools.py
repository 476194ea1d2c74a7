"""Readers timed by scenarios 5 and 6, each run as its own process (wall time, peak RSS).

* ``python -m bench.read_tools floor FLOORFILE`` -- the **decode floor**:
  zstd-decompress and msgpack-decode the same records the capture holds, and
  nothing else.  ``FLOORFILE`` is made once by :func:`make_floor_file`: every
  record of the capture, fully rebuilt (DATA payloads whole), re-encoded as
  one msgpack array per chunk of the capture and compressed with plain zstd
  level 3 (no dedup, no CRC, no framing beyond two lengths).  So the floor is
  what any reader that hands out these records must at least do, and it does
  not depend on how the ``.heron`` format stores them.  Streams chunk by
  chunk: its memory is one chunk.  Runs without the cyclic garbage
  collector, as the ``heron`` command does.
* ``python -m bench.read_tools iterate FILE`` -- ``for rec in
  heron.format.Reader(FILE)``: the public record iteration, DATA payloads
  fully reconstructed.

Both print ``{"records": N, "data_bytes": B}`` as JSON (``make-floor SRC
DEST`` builds a floor file).

Examples
--------
::

    .venv/bin/python -m bench.read_tools make-floor big.heron big.floor
    .venv/bin/python -m bench.read_tools floor big.floor
"""

from __future__ import annotations

import gc
import json
import struct
import sys
from pathlib import Path

import msgpack
import zstandard

_LEN = struct.Struct("<II")  # compressed length, raw length


def make_floor_file(src: Path, dest: Path) -> dict[str, int]:
    """Re-encode ``src``'s records as plain zstd-3 msgpack chunks (same chunking) into ``dest``."""
    from heron.format import Reader

    cctx = zstandard.ZstdCompressor(level=3)
    chunks = records = 0
    with open(dest, "wb") as f:
        for recs in Reader(src).chunks():
            raw = msgpack.packb(recs, use_bin_type=True)
            comp = cctx.compress(raw)
            f.write(_LEN.pack(len(comp), len(raw)))
            f.write(comp)
            chunks += 1
            records += len(recs)
    return {"chunks": chunks, "records": records, "bytes": dest.stat().st_size}


def decode_floor(path: Path) -> dict[str, int]:
    """zstd + msgpack over every chunk of a floor file; count records and DATA bytes."""
    dctx = zstandard.ZstdDecompressor()
    records = data = 0
    with open(path, "rb", buffering=1 << 20) as f:
        while True:
            h = f.read(_LEN.size)
            if len(h) < _LEN.size:
                break
            clen, rlen = _LEN.unpack(h)
            recs = msgpack.unpackb(dctx.decompress(f.read(clen), max_output_size=rlen), raw=False)
            records += len(recs)
            for r in recs:
                d = r.get("data")
                if d is not None:
                    data += len(d)
    return {"records": records, "data_bytes": data}


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
    """``floor FLOORFILE``, ``iterate FILE`` or ``make-floor SRC DEST``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 3 and args[0] == "make-floor":
        print(json.dumps(make_floor_file(Path(args[1]), Path(args[2]))))
        return 0
    if len(args) != 2 or args[0] not in ("floor", "iterate"):
        print(
            "usage: python -m bench.read_tools {floor FLOORFILE | iterate FILE"
            " | make-floor SRC DEST}",
            file=sys.stderr,
        )
        return 2
    if args[0] == "floor":
        # The `heron` command runs without the cyclic collector (heron.cli.run);
        # so does the floor, or part of the ratio would be the collector.
        gc.disable()
    fn = decode_floor if args[0] == "floor" else iterate
    print(json.dumps(fn(Path(args[1]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
