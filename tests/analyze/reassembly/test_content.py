"""Incremental content decoding, all codings, fed whole and byte by byte."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest
import zstandard

from heron.analyze.reassembly.content import BodyDecoder, parse_codings

PLAIN = b"".join(b'data: {"i": %d, "text": "hello world"}\n\n' % i for i in range(300))


def _deflate_raw(b: bytes) -> bytes:
    c = zlib.compressobj(wbits=-15)
    return c.compress(b) + c.flush()


ENCODED = {
    "gzip": gzip.compress(PLAIN),
    "x-gzip": gzip.compress(PLAIN),
    "deflate": zlib.compress(PLAIN),
    "deflate-raw": _deflate_raw(PLAIN),
    "br": brotli.compress(PLAIN),
    "zstd": zstandard.ZstdCompressor().compress(PLAIN),
    "gzip, br": brotli.compress(gzip.compress(PLAIN)),
    "identity": PLAIN,
}


@pytest.mark.parametrize("coding", sorted(ENCODED))
@pytest.mark.parametrize("step", [None, 1, 97])
def test_decodes_incrementally(coding: str, step: int | None) -> None:
    blob = ENCODED[coding]
    d = BodyDecoder("deflate" if coding == "deflate-raw" else coding, max_output=1 << 30)
    if step is None:
        out = d.feed(blob)
    else:
        out = b"".join(d.feed(blob[i : i + step]) for i in range(0, len(blob), step))
    out += d.flush()
    assert out == PLAIN
    assert d.error is None and not d.truncated


def test_streaming_output_arrives_before_the_end() -> None:
    # A compressed SSE stream flushed per event must decode per event (TTFT).
    c = zlib.compressobj(wbits=31)
    pieces = [c.compress(b"data: %d\n\n" % i) + c.flush(zlib.Z_SYNC_FLUSH) for i in range(3)]
    pieces[-1] += c.flush()
    d = BodyDecoder("gzip", max_output=1 << 20)
    assert [d.feed(p) for p in pieces] == [b"data: 0\n\n", b"data: 1\n\n", b"data: 2\n\n"]


def test_multi_member_gzip() -> None:
    d = BodyDecoder("gzip", max_output=1 << 20)
    assert d.feed(gzip.compress(b"ab") + gzip.compress(b"cd")) + d.flush() == b"abcd"


def test_corrupt_body_sets_error_without_raising() -> None:
    d = BodyDecoder("gzip", max_output=1 << 20)
    blob = gzip.compress(PLAIN)
    head = d.feed(blob[:100])
    assert d.feed(b"\x00garbage" * 10) == b""
    assert d.error is not None and "gzip" in d.error
    assert PLAIN.startswith(head)


def test_unknown_coding_keeps_bytes_and_reports() -> None:
    d = BodyDecoder("compress", max_output=100)
    assert d.feed(b"raw") == b"raw"
    assert d.error is not None and "compress" in d.error


def test_bomb_guard_truncates() -> None:
    d = BodyDecoder("gzip", max_output=1000)
    out = d.feed(gzip.compress(b"\0" * 1_000_000)) + d.flush()
    assert len(out) == 1000 and d.truncated


def test_interrupt_stops_encoded_but_not_identity() -> None:
    d = BodyDecoder("br", max_output=100)
    d.interrupt()
    assert d.feed(brotli.compress(b"x")) == b""
    i = BodyDecoder(None, max_output=100)
    i.interrupt()
    assert i.feed(b"x") == b"x"


def test_parse_codings() -> None:
    assert parse_codings(None) == [] and parse_codings("GZIP , identity") == ["gzip"]
