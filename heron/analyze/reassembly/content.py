"""Incremental Content-Encoding decoding (gzip, deflate, br, zstd).

Bodies are decoded as they arrive, chunk by chunk, so a streamed response's
timeline (how many decoded bytes had arrived by each record) stays right even
when the server compresses an SSE stream.  Decoders never raise: a corrupt
stream stops decoding, keeps what was decoded so far and sets :attr:`error`.
A bomb guard stops producing output past ``max_output`` bytes and sets
:attr:`truncated`.

Examples
--------
>>> import gzip
>>> d = BodyDecoder("gzip", max_output=1 << 20)
>>> blob = gzip.compress(b"hello world")
>>> d.feed(blob[:7]) + d.feed(blob[7:]) + d.flush()
b'hello world'
>>> d.error is None
True
"""

from __future__ import annotations

import zlib
from typing import Protocol

import brotli
import zstandard


class _Stage(Protocol):
    def decompress(self, data: bytes) -> bytes: ...
    def flush(self) -> bytes: ...


class _Gzip:
    """gzip (and zlib, auto-detected); restarts for multi-member gzip bodies."""

    def __init__(self) -> None:
        self._d = zlib.decompressobj(32 + zlib.MAX_WBITS)

    def decompress(self, data: bytes) -> bytes:
        out = [self._d.decompress(data)]
        while self._d.eof and self._d.unused_data:
            rest = self._d.unused_data
            self._d = zlib.decompressobj(32 + zlib.MAX_WBITS)
            out.append(self._d.decompress(rest))
        return b"".join(out)

    def flush(self) -> bytes:
        return self._d.flush()


class _Deflate:
    """ "deflate" is zlib-wrapped by the RFC, but servers also send raw deflate."""

    def __init__(self) -> None:
        self._d: zlib._Decompress | None = None
        self._head = b""

    def decompress(self, data: bytes) -> bytes:
        if self._d is None:
            self._head += data
            if len(self._head) < 2:
                return b""
            b0, b1 = self._head[0], self._head[1]
            zlib_header = (b0 & 0x0F) == 8 and ((b0 << 8) | b1) % 31 == 0
            self._d = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
            data, self._head = self._head, b""
        return self._d.decompress(data)

    def flush(self) -> bytes:
        if self._d is None:
            if self._head:
                raise zlib.error("deflate body shorter than 2 bytes")
            return b""
        return self._d.flush()


class _Brotli:
    def __init__(self) -> None:
        self._d = brotli.Decompressor()

    def decompress(self, data: bytes) -> bytes:
        return bytes(self._d.process(data))

    def flush(self) -> bytes:
        return b""


class _Zstd:
    def __init__(self) -> None:
        self._d = zstandard.ZstdDecompressor().decompressobj(read_across_frames=True)

    def decompress(self, data: bytes) -> bytes:
        return bytes(self._d.decompress(data))

    def flush(self) -> bytes:
        return b""


_STAGES: dict[str, type[_Gzip] | type[_Deflate] | type[_Brotli] | type[_Zstd]] = {
    "gzip": _Gzip,
    "x-gzip": _Gzip,
    "deflate": _Deflate,
    "br": _Brotli,
    "zstd": _Zstd,
}
_DECODE_ERRORS = (zlib.error, brotli.error, zstandard.ZstdError, ValueError)


def parse_codings(header: str | None) -> list[str]:
    """Content codings listed in a Content-Encoding value, in applied order.

    Examples
    --------
    >>> parse_codings("gzip, Identity, br")
    ['gzip', 'br']
    """
    if not header:
        return []
    return [c for c in (p.strip().lower() for p in header.split(",")) if c and c != "identity"]


class BodyDecoder:
    """Decode one body's content codings incrementally.

    Parameters
    ----------
    content_encoding
        The Content-Encoding header value (None or "identity" for none).
    max_output
        Stop producing decoded bytes past this many (decompression-bomb guard).

    Examples
    --------
    >>> d = BodyDecoder(None, max_output=4)
    >>> d.feed(b"abcdef"), d.truncated
    (b'abcd', True)
    """

    __slots__ = ("_stages", "codings", "error", "max_output", "output_size", "stopped", "truncated")

    def __init__(self, content_encoding: str | None, *, max_output: int) -> None:
        self.codings = parse_codings(content_encoding)
        self.error: str | None = None
        self.truncated = False
        self.stopped = False
        self.output_size = 0
        self.max_output = max_output
        self._stages: list[_Stage] = []
        for c in reversed(self.codings):  # last applied is first removed
            stage = _STAGES.get(c)
            if stage is None:
                self.error = f"unsupported content-encoding {c!r}; body kept encoded"
                self._stages = []
                break
            self._stages.append(stage())

    def _limit(self, out: bytes) -> bytes:
        room = self.max_output - self.output_size
        if len(out) > room:
            out = out[: max(room, 0)]
            self.truncated = True
            self.stopped = True
        self.output_size += len(out)
        return out

    def feed(self, data: bytes) -> bytes:
        """Decode more body bytes; returns the newly decoded bytes (maybe empty).

        Examples
        --------
        >>> import zlib
        >>> BodyDecoder("deflate", max_output=100).feed(zlib.compress(b"abc"))
        b'abc'
        """
        if self.stopped or not data:
            return b""
        if not self._stages and self.output_size + len(data) <= self.max_output:
            self.output_size += len(data)
            return data
        try:
            for st in self._stages:
                data = st.decompress(data)
        except _DECODE_ERRORS as e:
            self.error = f"{'+'.join(self.codings)} decoding failed: {e}"
            self.stopped = True
            return b""
        return self._limit(data)

    def flush(self) -> bytes:
        """Signal end of body; returns any bytes the decoders still held.

        Examples
        --------
        >>> d = BodyDecoder("gzip", max_output=100)
        >>> d.flush(), d.error is None
        (b'', True)
        """
        if self.stopped:
            return b""
        out = b""
        try:
            for st in self._stages:
                out = st.flush() if not out else st.decompress(out) + st.flush()
        except _DECODE_ERRORS as e:
            self.error = f"{'+'.join(self.codings)} decoding failed at end: {e}"
            self.stopped = True
            return b""
        self.stopped = True
        return self._limit(out)

    def interrupt(self) -> None:
        """Bytes were lost mid-body: an encoded stream cannot continue after a hole.

        Examples
        --------
        >>> d = BodyDecoder("zstd", max_output=100); d.interrupt(); d.stopped
        True
        """
        if self._stages:
            self.stopped = True
