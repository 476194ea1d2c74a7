"""Micro-benchmark of :class:`~heron.capture.redact.Redactor` (not a test).

Each throughput scenario is one LLM-style request whose JSON body is ``size``
bytes, delivered in 16 KiB payloads as ``SSL_write`` would hand them over,
with its response headers; figures are MB/s of payload through ``feed``.
``h1_headers_us`` / ``h2_headers_us`` are microseconds of header work per
request (HTTP/1.1 request and response; HTTP/2 request on a warm connection,
with a Huffman-coded never-indexed ``authorization``, the same on every
request as clients send it).  ``h2_headers_fresh_us`` is the same with a
different key on every request, so each is decoded and re-encoded whole.
"""

from __future__ import annotations

import json
import time

_PIECE = 16 * 1024


def _body(size: int) -> bytes:
    msg = {"role": "user", "content": "Summarise the following log. " * 8}
    body = json.dumps({"model": "gpt-4o", "messages": [msg] * (size // 300 + 1)}).encode()
    return body[:size]


def _pieces(data: bytes) -> list[bytes]:
    return [data[i : i + _PIECE] for i in range(0, len(data), _PIECE)]


def _h1(body: bytes, chunked: bool) -> list[tuple[int, bytes]]:
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
        b"Authorization: Bearer sk-proj-0123456789abcdef\r\nContent-Type: application/json\r\n"
    )
    if chunked:
        payload = head + b"Transfer-Encoding: chunked\r\n\r\n"
        for piece in _pieces(body):
            payload += b"%x\r\n" % len(piece) + piece + b"\r\n"
        payload += b"0\r\n\r\n"
    else:
        payload = head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: a=b\r\n\r\n{}"
    return [(0, p) for p in _pieces(payload)] + [(1, resp)]


def _h2(body: bytes) -> list[tuple[int, bytes]]:
    from hpack import Encoder

    block = Encoder().encode(
        [
            (b":method", b"POST"),
            (b":path", b"/v1/chat/completions"),
            (b":scheme", b"https"),
            (b":authority", b"api.openai.com"),
            (b"authorization", b"Bearer sk-proj-0123456789abcdef"),
        ]
    )
    frames = len(block).to_bytes(3, "big") + b"\x01\x04\x00\x00\x00\x01" + block
    for piece in _pieces(body):
        frames += len(piece).to_bytes(3, "big") + b"\x00\x00\x00\x00\x00\x01" + piece
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    return [(0, preface)] + [(0, p) for p in _pieces(frames)]


def run(size: int, rounds: int) -> dict[str, float]:
    """Throughput in MB/s per scenario (best of ``rounds``)."""
    from . import Redactor

    body = _body(size)
    scenarios = {
        "h1_content_length": _h1(body, chunked=False),
        "h1_chunked": _h1(body, chunked=True),
        "h2_data": _h2(body),
        "text_fallback": [(1, p) for p in _pieces(b"\x17\x03\x03" + body)],
    }
    result: dict[str, float] = {}
    for name, feeds in scenarios.items():
        total = sum(len(d) for _, d in feeds)
        best = float("inf")
        for i in range(rounds):
            r = Redactor()
            t0 = time.perf_counter()
            for direction, data in feeds:
                r.feed(i, direction, data)
            best = min(best, time.perf_counter() - t0)
        result[name] = total / max(best, 1e-9) / 1e6
    result.update(_per_request(rounds))
    return result


def _per_request(rounds: int) -> dict[str, float]:
    """Microseconds of header work per request+response (bodies excluded)."""
    from hpack import Encoder, NeverIndexedHeaderTuple

    from . import Redactor

    h1 = _h1(b"{}", chunked=False)
    enc = Encoder()
    req = [
        (b":method", b"POST"),
        (b":path", b"/v1/messages?beta=true"),
        (b":scheme", b"https"),
        (b":authority", b"api.anthropic.com"),
        # never indexed (as h2 and nghttp2 send it): rewritten on every request
        NeverIndexedHeaderTuple(
            b"authorization", b"Bearer sk-proj-0123456789abcdefghijklmnopqrstuvwxyz"
        ),
        (b"anthropic-version", b"2023-06-01"),
        (b"content-type", b"application/json"),
        (b"user-agent", b"Anthropic/Python 0.40.0"),
    ]
    h2, fresh = [], []
    for sid in range(1, 201, 2):  # 100 requests on one connection, table warm
        block = enc.encode(req)
        h2.append(len(block).to_bytes(3, "big") + b"\x01\x05" + sid.to_bytes(4, "big") + block)
    enc = Encoder()
    for sid in range(1, 201, 2):
        key = b"Bearer sk-proj-%04d456789abcdefghijklmnopqrstuvwxyz" % sid
        block = enc.encode([*req[:4], NeverIndexedHeaderTuple(b"authorization", key), *req[5:]])
        fresh.append(len(block).to_bytes(3, "big") + b"\x01\x05" + sid.to_bytes(4, "big") + block)
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    best_h1 = best_h2 = best_fresh = float("inf")
    for _ in range(rounds):
        r = Redactor()
        t0 = time.perf_counter()
        for _ in range(100):  # keep-alive: 100 exchanges on one connection
            for direction, data in h1:
                r.feed(0, direction, data)
        best_h1 = min(best_h1, (time.perf_counter() - t0) / 100)
        r = Redactor()
        r.feed(0, 0, preface)
        t0 = time.perf_counter()
        for frame in h2:
            r.feed(0, 0, frame)
        best_h2 = min(best_h2, (time.perf_counter() - t0) / len(h2))
        r = Redactor()
        r.feed(0, 0, preface)
        t0 = time.perf_counter()
        for frame in fresh:
            r.feed(0, 0, frame)
        best_fresh = min(best_fresh, (time.perf_counter() - t0) / len(fresh))
    return {
        "h1_headers_us": best_h1 * 1e6,
        "h2_headers_us": best_h2 * 1e6,
        "h2_headers_fresh_us": best_fresh * 1e6,
    }


if __name__ == "__main__":
    for scenario, value in run(1 << 20, 20).items():
        unit = "us/request" if scenario.endswith("_us") else "MB/s"
        print(f"{scenario:20s} {value:12.1f} {unit}")
