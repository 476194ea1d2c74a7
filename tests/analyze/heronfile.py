"""Write small real ``.heron`` files (heron.format.Writer) from Exchanges.

Each exchange is serialised as HTTP/1.1 bytes in DATA records on its
connection (keep-alive: later exchanges continue the stream offsets), with
streamed response bodies split into one DATA record per SSE event / NDJSON
line 1 ms apart, so TTFT is measurable.  Times are synthetic monotonic ns;
one CLOCK_SYNC maps them to 2025-01-01T00:00:00Z + t.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from heron.analyze.exchange import Exchange
from heron.format import Direction, RecordKind, Writer

EPOCH_2025 = 1_735_689_600 * 10**9
MS = 1_000_000
_DROP = {"content-length", "transfer-encoding", "host", "connection", "content-encoding"}


@dataclass
class Proc:
    pid: int
    exe: str = "/usr/bin/python3"
    cmdline: list[str] = field(default_factory=lambda: ["python3", "agent.py"])
    comm: str = "python3"


def _head(first: str, headers: Sequence[tuple[str, str]], body: bytes, host: str | None) -> bytes:
    lines = [first]
    if host:
        lines.append(f"Host: {host}")
    lines += [f"{k}: {v}" for k, v in headers if k.lower() not in _DROP]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _pieces(body: bytes) -> list[bytes]:
    parts = re.split(rb"(?<=\n\n)|(?<=\n)(?=\{)", body)
    return [p for p in parts if p] or [b""]


def write_capture(
    path: str | Path,
    items: Sequence[tuple[Proc, Sequence[Exchange]]],
    *,
    close: bool = True,
    gap_ms: int = 50,
    flush_each: bool = True,
    exit_each: bool = False,
) -> None:
    """Write processes and their exchanges (in order) into a .heron file.

    ``flush_each`` ends a chunk after every exchange (as a live capture's
    periodic flush would), so a damaged file still has earlier chunks.
    ``exit_each`` closes a process's connections and records its exit once
    its exchanges are written (as a real agent run ends).
    """
    t = 1_000 * MS
    with Writer(str(path)) as w:
        w.append(RecordKind.CAPTURE_START, t, tool="test", version="0", realtime_ns=EPOCH_2025 + t)
        w.append(RecordKind.CLOCK_SYNC, t, realtime_ns=EPOCH_2025 + t)
        conn_ids: dict[tuple[int, int], int] = {}
        offsets: dict[int, list[int]] = {}
        for proc, exchanges in items:
            w.append(
                RecordKind.PROCESS,
                t,
                pid=proc.pid,
                comm=proc.comm,
                exe=proc.exe,
                cmdline=proc.cmdline,
            )
            for ex in exchanges:
                key = (proc.pid, ex.conn)
                if key not in conn_ids:
                    conn = conn_ids[key] = len(conn_ids) + 1
                    offsets[conn] = [0, 0]
                    w.append(
                        RecordKind.CONN_OPEN,
                        t,
                        conn=conn,
                        pid=proc.pid,
                        transport="tls",
                        lib="openssl",
                        remote_addr="127.0.0.1",
                        remote_port=8443,
                        sni="api.test",
                    )
                conn = conn_ids[key]
                t += gap_ms * MS
                req = _head(
                    f"{ex.method} {ex.path} HTTP/1.1",
                    ex.request_headers,
                    ex.request_body,
                    ex.authority,
                )
                req += ex.request_body
                _data(w, t, conn, proc.pid, Direction.OUT, offsets, req)
                t += 5 * MS
                status = ex.status or 200
                resp_head = _head(
                    f"HTTP/1.1 {status} X", ex.response_headers, ex.response_body, None
                )
                _data(w, t, conn, proc.pid, Direction.IN, offsets, resp_head)
                for piece in _pieces(ex.response_body):
                    t += 1 * MS
                    _data(w, t, conn, proc.pid, Direction.IN, offsets, piece)
                if flush_each:  # one chunk per exchange, so damage tests lose little
                    w.flush()
            if exit_each:
                for (pid, _), conn in list(conn_ids.items()):
                    if pid == proc.pid and conn in offsets:
                        w.append(RecordKind.CONN_CLOSE, t, conn=conn, pid=pid, reason="ssl_free")
                        del offsets[conn]
                w.append(RecordKind.EXIT, t, pid=proc.pid, exit_code=0)
        if close:
            for conn in offsets:
                w.append(RecordKind.CONN_CLOSE, t, conn=conn, reason="close")
            w.append(RecordKind.CAPTURE_STOP, t, reason="signal")


def _data(
    w: Writer, t: int, conn: int, pid: int, d: Direction, offsets: dict[int, list[int]], data: bytes
) -> None:
    if not data:
        return
    off = offsets[conn][int(d)]
    w.data(t, conn=conn, pid=pid, dir=d, offset=off, length=len(data), data=data)
    offsets[conn][int(d)] = off + len(data)


def growing_conversation(pid: int, turns: int, result_bytes: int) -> list[Exchange]:
    """A streamed OpenAI tool loop whose history grows every turn (bench corpus).

    Turn ``i`` re-sends the whole history (system, task, then per earlier turn
    an assistant tool call and a ``result_bytes`` tool result) and gets an SSE
    answer asking for the next tool; the last turn answers in text.
    """
    import json

    msgs: list[dict[str, object]] = [
        {"role": "system", "content": "You are a coding agent. " * 20},
        {"role": "user", "content": f"Task {pid}: fix the failing tests."},
    ]
    out: list[Exchange] = []
    import random

    rnd = random.Random(pid)  # tool output: varied text, compressible like real output
    words = [
        f"{w}{n}" for w in ("def", "self", "return", "test", "value", "path") for n in range(50)
    ]
    for i in range(turns):
        req = json.dumps(
            {"model": "gpt-4o-mini", "stream": True, "messages": msgs, "tools": _BENCH_TOOLS}
        ).encode()
        tid = f"call_{pid}_{i}"
        args = json.dumps({"path": f"src/file_{i}.py"})
        if i < turns - 1:
            events = [
                {
                    "choices": [
                        {
                            "index": 0,
                            "delta": {
                                "tool_calls": [
                                    {
                                        "index": 0,
                                        "id": tid,
                                        "function": {"name": "read_file", "arguments": ""},
                                    }
                                ]
                            },
                        }
                    ]
                },
                {
                    "choices": [
                        {
                            "index": 0,
                            "delta": {
                                "tool_calls": [{"index": 0, "function": {"arguments": args}}]
                            },
                        }
                    ]
                },
                {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
            ]
        else:
            events = [
                {"choices": [{"index": 0, "delta": {"content": w + " "}}]}
                for w in ["all", "tests", "pass", "now"]
            ] + [{"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
        events.append(
            {"choices": [], "usage": {"prompt_tokens": len(req) // 4, "completion_tokens": 9}}
        )
        body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
        out.append(
            Exchange(
                i,
                1,
                pid,
                "1.1",
                method="POST",
                path="/v1/chat/completions",
                authority="api.test",
                status=200,
                response_headers=[("content-type", "text/event-stream")],
                request_body=req,
                response_body=body + b"data: [DONE]\n\n",
            )
        )
        msgs.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": tid,
                        "type": "function",
                        "function": {"name": "read_file", "arguments": args},
                    }
                ],
            }
        )
        result = " ".join(rnd.choice(words) for _ in range(result_bytes // 7))[:result_bytes]
        msgs.append({"role": "tool", "tool_call_id": tid, "content": f"{i}: {result}"})
    return out


_BENCH_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": n,
            "description": f"{n} tool",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
        },
    }
    for n in ("read_file", "write_file", "run_tests", "list_files")
]


def bench_capture(
    path: str | Path, *, procs: int, turns: int = 40, result_bytes: int = 2000
) -> None:
    """A large realistic capture: ``procs`` processes, each one growing conversation."""
    write_capture(
        path,
        [
            (Proc(1000 + p), growing_conversation(1000 + p, turns, result_bytes))
            for p in range(procs)
        ],
        flush_each=False,
        exit_each=True,
    )
