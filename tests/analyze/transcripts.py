"""Load stand-in transcripts (tests/fixtures/transcripts/*.jsonl) as Exchanges."""

from __future__ import annotations

from pathlib import Path

from heron.analyze.exchange import Exchange
from heron.standin.log import read_log

DIR = Path(__file__).resolve().parents[1] / "fixtures" / "transcripts"


def load(name: str, *, pid: int = 100) -> list[Exchange]:
    """Exchanges of one transcript, as reassembly would hand them over.

    The log has no per-chunk times, so the response timeline is (first body
    byte, 1 byte) then (end, all bytes).
    """
    out = []
    for i, e in enumerate(read_log(DIR / f"{name}.jsonl")):
        req_h = [(k, v) for k, v in e.request_headers if not k.startswith(":")]
        authority = e.header(":authority") or e.header("host")
        out.append(
            Exchange(
                exchange_id=i,
                conn=e.conn_id,
                pid=pid,
                http_version=e.protocol,
                stream_id=e.stream_id,
                method=e.method,
                scheme="https" if e.tls else "http",
                authority=authority,
                path=e.path,
                status=e.status or None,
                request_headers=req_h,
                response_headers=[(k, v) for k, v in e.response_headers if not k.startswith(":")],
                request_body=e.request_body,
                response_body=e.response_body,
                request_body_size=len(e.request_body),
                response_body_size=len(e.response_body),
                request_start_ns=e.t_start_ns,
                request_end_ns=e.t_request_end_ns,
                response_start_ns=e.t_response_start_ns,
                response_end_ns=e.t_end_ns,
                response_timeline=[(e.t_first_byte_ns, 1), (e.t_end_ns, len(e.response_body))],
            )
        )
    return out
