"""Minimal, strict HTTP/1.1 and HTTP/2 readers for checking captured streams.

Deliberately independent of ``heron.analyze`` (these tests check capture,
not reassembly): HTTP/1 requests/responses with Content-Length or chunked
bodies, HTTP/2 DATA payloads per stream via hyperframe.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hyperframe.frame import DataFrame, Frame

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def streams(records: list[dict[str, Any]]) -> dict[int, dict[int, bytes]]:
    """conn -> dir -> bytes, joined by stream offset; raises on a gap/overlap."""
    parts: dict[int, dict[int, list[tuple[int, bytes]]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r["k"] == 8:
            assert not r.get("trunc"), f"DATA seq {r['s']} truncated"
            assert len(r["data"]) == r["len"], (
                f"DATA seq {r['s']} holds {len(r['data'])} of {r['len']}"
            )
            parts[r["conn"]][r["dir"]].append((r["offset"], r["data"]))
    out: dict[int, dict[int, bytes]] = {}
    for conn, dirs in parts.items():
        out[conn] = {}
        for d, pieces in dirs.items():
            pieces.sort()
            pos, buf = 0, []
            for off, data in pieces:
                assert off == pos, (
                    f"conn {conn} dir {d}: gap or overlap at {pos} (next piece at {off})"
                )
                buf.append(data)
                pos += len(data)
            out[conn][d] = b"".join(buf)
    return out


def _headers(block: bytes) -> tuple[str, dict[str, str]]:
    lines = block.decode("latin-1").split("\r\n")
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return lines[0], hdrs


def h1_messages(stream: bytes, *, response: bool) -> list[tuple[str, bytes]]:
    """(start line, body) of each message; chunked bodies are de-chunked."""
    out = []
    pos = 0
    while pos < len(stream):
        end = stream.index(b"\r\n\r\n", pos)
        start, hdrs = _headers(stream[pos:end])
        pos = end + 4
        if response and start.split()[1] in ("204", "304"):
            out.append((start, b""))
            continue
        if "chunked" in hdrs.get("transfer-encoding", "").lower():
            body = []
            while True:
                if pos >= len(stream):
                    # The client stopped reading after the last data chunk (SDKs
                    # stop at "data: [DONE]"): the final 0-chunk never passed
                    # through SSL_read, so it is rightly not in the capture.
                    break
                eol = stream.index(b"\r\n", pos)
                size = int(stream[pos:eol].split(b";")[0], 16)
                pos = eol + 2
                if size == 0:
                    pos = stream.index(b"\r\n", pos) + 2  # no trailers in our traffic
                    break
                body.append(stream[pos : pos + size])
                pos += size + 2
            out.append((start, b"".join(body)))
        else:
            n = int(hdrs.get("content-length", "0"))
            out.append((start, stream[pos : pos + n]))
            pos += n
    return out


def h2_data(stream: bytes, *, client_side: bool) -> dict[int, bytes]:
    """stream id -> concatenated DATA payloads (padding removed)."""
    if client_side:
        assert stream.startswith(H2_PREFACE), "client stream lacks the HTTP/2 preface"
        stream = stream[len(H2_PREFACE) :]
    out: dict[int, bytes] = defaultdict(bytes)
    pos = 0
    while pos + 9 <= len(stream):
        frame, length = Frame.parse_frame_header(memoryview(stream[pos : pos + 9]))
        body = stream[pos + 9 : pos + 9 + length]
        assert len(body) == length, "truncated HTTP/2 frame"
        frame.parse_body(memoryview(body))
        if isinstance(frame, DataFrame):
            out[frame.stream_id] += frame.data
        pos += 9 + length
    assert pos == len(stream), "trailing bytes after the last HTTP/2 frame"
    return dict(out)
