"""Content-Encoding for stand-in replies (scenario ``encoding=gzip|deflate|br|zstd``).

Real providers and gateways compress bodies; the analysis side must undo
``gzip``, ``deflate``, ``br`` and ``zstd``.  A streamed reply is compressed
*incrementally*, flushing after every part, so a client can still decode
each event as it arrives (as gateways that compress SSE do).

Examples
--------
>>> parts = encode_parts([b"data: 1\\n\\n", b"data: 2\\n\\n"], "gzip")
>>> decode_body(b"".join(parts), "gzip")
b'data: 1\\n\\ndata: 2\\n\\n'
>>> decode_body(b"".join(encode_parts([b"x" * 100], "zstd")), "zstd") == b"x" * 100
True
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from heron.standin.errors import StandInError

CODINGS = ("gzip", "deflate", "br", "zstd")


def _compressor(coding: str) -> tuple[Any, Any, Any]:
    """(compress(data), flush_part(), finish()) for one coding."""
    if coding in ("gzip", "deflate"):
        c = zlib.compressobj(6, zlib.DEFLATED, 31 if coding == "gzip" else 15)
        return c.compress, lambda: c.flush(zlib.Z_SYNC_FLUSH), c.flush
    if coding == "br":
        import brotli

        b = brotli.Compressor()
        return b.process, b.flush, b.finish
    if coding == "zstd":
        import zstandard

        z = zstandard.ZstdCompressor(level=3).compressobj()
        return (
            z.compress,
            lambda: z.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK),
            lambda: z.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH),
        )
    raise StandInError(f"content coding: expected one of {CODINGS}, found {coding!r}")


def encode_parts(parts: list[bytes], coding: str) -> list[bytes]:
    """Compress body parts as one stream, flushing after each part.

    The last returned part also carries the end of the compressed stream.

    Examples
    --------
    >>> len(encode_parts([b"a", b"b", b"c"], "br"))
    3
    """
    compress, flush, finish = _compressor(coding)
    out = [compress(p) + flush() for p in parts] or [b""]
    out[-1] += finish()
    return out


def decode_timeline(
    body: bytes, coding: str | None, timeline: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Map ``(t_ns, wire bytes)`` pairs to ``(t_ns, decoded bytes)`` pairs.

    Examples
    --------
    >>> parts = encode_parts([b"a" * 10, b"b" * 5], "deflate")
    >>> wire = b"".join(parts)
    >>> decode_timeline(wire, "deflate", [(1, len(parts[0])), (2, len(wire))])
    [(1, 10), (2, 15)]
    """
    if not coding or coding == "identity":
        return list(timeline)
    step: Callable[[bytes], bytes]
    if coding in ("gzip", "deflate"):
        step = zlib.decompressobj(47 if coding == "gzip" else 15).decompress
    elif coding == "br":
        import brotli

        step = brotli.Decompressor().process
    elif coding == "zstd":
        import zstandard

        step = zstandard.ZstdDecompressor().decompressobj().decompress
    else:
        raise StandInError(f"content coding: expected one of {CODINGS}, found {coding!r}")
    out = []
    done = decoded = 0
    for t, n in timeline:
        decoded += len(step(body[done:n]))
        done = n
        out.append((t, decoded))
    return out


def decode_body(body: bytes, coding: str | None) -> bytes:
    """Undo one content coding (``None``/``identity`` returns ``body``).

    Examples
    --------
    >>> decode_body(b"abc", None)
    b'abc'
    """
    if not coding or coding == "identity":
        return body
    if coding in ("gzip", "deflate"):
        return zlib.decompress(body, 47 if coding == "gzip" else 15)
    if coding == "br":
        import brotli

        return bytes(brotli.decompress(body))
    if coding == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    raise StandInError(f"content coding: expected one of {CODINGS}, found {coding!r}")
