"""End to end: real .heron files (written with heron.format.Writer) -> heron.open -> tables."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import heron
from heron.analyze.exchange import Exchange
from heron.analyze.schema import schema
from heron.errors import HeronError
from tests.analyze.heronfile import Proc, write_capture
from tests.analyze.transcripts import load


def chat(
    i: int,
    messages: list[dict[str, Any]],
    reply: dict[str, Any],
    *,
    conn: int = 1,
    status: int = 200,
    usage: dict[str, int] | None = None,
) -> Exchange:
    body = {"model": "m", "choices": [{"message": reply, "finish_reason": "stop"}]}
    if usage is not None:
        body["usage"] = usage
    return Exchange(
        i,
        conn,
        None,
        "1.1",
        method="POST",
        path="/v1/chat/completions",
        authority="api.test",
        status=status,
        request_headers=[("content-type", "application/json")],
        response_headers=[("content-type", "application/json")],
        request_body=json.dumps({"model": "m", "messages": messages}).encode(),
        response_body=json.dumps(body).encode(),
    )


def looping_agent(n: int) -> list[Exchange]:
    """An agent that calls read_file(a.txt) n times, feeding each result back."""
    msgs: list[dict[str, Any]] = [{"role": "user", "content": "read a.txt"}]
    out = []
    for i in range(n):
        tc = {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": "read_file", "arguments": '{"path": "a.txt"}'},
        }
        reply = {"role": "assistant", "content": None, "tool_calls": [tc]}
        out.append(
            chat(i, list(msgs), reply, usage={"prompt_tokens": 10 + i, "completion_tokens": 3})
        )
        msgs += [reply, {"role": "tool", "tool_call_id": f"call_{i}", "content": f"contents {i}"}]
    out.append(chat(n, list(msgs), {"role": "assistant", "content": "done"}))
    return out


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("cap") / "multi.heron"
    write_capture(
        p,
        [
            (Proc(100), load("openai_stream_tools")),
            (
                Proc(200, exe="/usr/bin/node", cmdline=["node", "/opt/x/cli.js"], comm="node"),
                load("anthropic_stream_tools"),
            ),
            (Proc(300, cmdline=["python3", "-m", "pkg.retry"]), load("openai_429")),
            (Proc(400), looping_agent(4)),
        ],
    )
    return p


def test_tables_follow_declared_schemas(multi: Path) -> None:
    cap = heron.open(multi)
    for name in ("calls", "tools", "loops", "processes", "connections", "exchanges", "events"):
        assert cap.table(name).schema == schema(name), name
    assert cap.warnings == []


def test_calls_exact_values(multi: Path) -> None:
    calls = heron.open(multi).calls
    assert calls.height == 15
    assert calls["capture"].unique().to_list() == ["multi.heron"]
    by_pid = {pid: g for (pid,), g in calls.group_by("pid")}
    oa = by_pid[100].sort("call_id")
    assert oa["input_tokens"].to_list() == [176, 249, 328]
    assert oa["output_tokens"].to_list() == [8, 9, 22]
    assert oa["agent"].unique().to_list() == ["agent.py"]
    assert oa["n_tool_calls"].to_list() == [1, 1, 0]
    assert oa["ttft_ms"].is_not_null().all()  # streamed -> TTFT from SSE event offsets
    assert (oa["ttft_ms"] < oa["duration_ms"]).all()
    an = by_pid[200].sort("call_id")
    assert an["agent"].unique().to_list() == ["cli.js"]
    assert an["output_tokens"].to_list() == [13, 14, 22, 1]
    assert an["error"].to_list()[-1] == "overloaded_error: stand-in: Overloaded"
    r = by_pid[300].sort("call_id")
    assert r["agent"].unique().to_list() == ["pkg.retry"]
    assert r["status"].to_list() == [429, 200, 200]
    assert r["error"][0].startswith("HTTP 429")
    assert r["api"].to_list() == ["chat.completions", "chat.completions", "embeddings"]
    assert r["input_tokens"][0] is None
    assert calls["started_at"].dtype == pl.Datetime("ns", "UTC")
    assert str(calls["started_at"].min()).startswith("2025-01-01 00:00:01")


def test_conversation_grouping(multi: Path) -> None:
    calls = heron.open(multi).calls.sort("call_id")
    convs = calls.group_by("pid").agg(pl.col("conversation_id").unique().sort()).sort("pid")
    got = dict(zip(convs["pid"].to_list(), convs["conversation_id"].to_list(), strict=True))
    first = {pid: calls.filter(pl.col("pid") == pid)["call_id"].min() for pid in got}
    assert got[100] == [first[100]]  # 3 turns, one thread
    # 3 turns of the tool loop + the unrelated error-stream call
    assert len(got[200]) == 2
    # the 429 and its retry are the same request -> same conversation; embeddings have none
    assert calls.filter(pl.col("pid") == 300)["conversation_id"].to_list()[:2] == [first[300]] * 2
    assert calls.filter(pl.col("api") == "embeddings")["conversation_id"].to_list() == [None]
    assert got[400] == [first[400]]


def test_tool_pairing(multi: Path) -> None:
    cap = heron.open(multi)
    tools = cap.tools.sort("call_id")
    oa = tools.filter(pl.col("pid") == 100)
    assert oa["name"].to_list() == ["list_files", "read_file"]
    assert oa["arguments"].to_list() == ['{"directory":"."}', '{"path":"src/calc.py"}']
    assert (oa["result_call_id"] - oa["call_id"]).to_list() == [1, 1]
    assert oa["result"][0].startswith("README.md")
    # requested_at is the arrival of the last tool-call delta; three more SSE
    # events (finish, usage, [DONE]) follow 1 ms apart, then a 50 ms gap.
    assert oa["latency_ms"].to_list() == [53.0, 53.0]
    an = tools.filter(pl.col("pid") == 200)
    assert an["tool_call_id"].str.starts_with("toolu_").all()
    assert an["is_error"].to_list() == [False, False]
    lp = tools.filter(pl.col("pid") == 400)
    assert lp.height == 4 and lp["result"].to_list() == [f"contents {i}" for i in range(4)]


def test_loops(multi: Path) -> None:
    loops = heron.open(multi).loops
    rows = loops.filter(pl.col("pid") == 400)
    assert rows["kind"].to_list() == ["repeated_tool_call"]
    assert rows["signature"].to_list() == ['read_file({"path":"a.txt"})']
    assert rows["count"].to_list() == [4]
    assert len(rows["call_ids"][0]) == 4
    assert loops.filter(pl.col("pid") != 400).height == 0  # a single 429 is not a storm


def test_retry_storm_and_repeated_request(tmp_path: Path) -> None:
    msgs = [{"role": "user", "content": "hi"}]
    exs = [chat(i, msgs, {"role": "assistant", "content": "x"}, status=429) for i in range(4)]
    exs += [chat(4 + i, msgs, {"role": "assistant", "content": "ok"}) for i in range(3)]
    p = tmp_path / "storm.heron"
    write_capture(p, [(Proc(1), exs)])
    loops = heron.open(p).loops
    assert sorted(loops["kind"].to_list()) == ["repeated_request", "retry_storm"]
    storm = loops.filter(pl.col("kind") == "retry_storm").row(0, named=True)
    assert storm["count"] == 4 and storm["signature"] == "429 @ api.test/v1/chat/completions"
    rep = loops.filter(pl.col("kind") == "repeated_request").row(0, named=True)
    assert rep["count"] == 3 and rep["call_ids"] == [4, 5, 6]
    assert heron.open(p).find_loops(min_retries=5)["kind"].to_list() == ["repeated_request"]


def test_gemini_and_ollama_pair_by_position_and_name(tmp_path: Path) -> None:
    p = tmp_path / "pos.heron"
    write_capture(p, [(Proc(1), load("gemini_tools")), (Proc(2), load("ollama_chat"))])
    tools = heron.open(p).tools.sort("pid")
    assert tools["name"].to_list() == ["get_weather", "list_files"]
    assert tools["result_call_id"].is_not_null().all()
    assert tools["tool_call_id"].to_list() == ["0:0", "3:0"]


def test_processes_connections_events(multi: Path) -> None:
    cap = heron.open(multi)
    procs = cap.processes.sort("pid")
    assert procs["pid"].to_list() == [100, 200, 300, 400]
    assert procs["agent"].to_list() == ["agent.py", "cli.js", "pkg.retry", "agent.py"]
    assert procs["n_calls"].to_list() == [3, 4, 3, 5]
    conns = cap.connections
    assert conns["n_exchanges"].sum() == 15 and conns["http_version"].unique().to_list() == ["1.1"]
    kinds = set(cap.events["kind"].to_list())
    assert {"CAPTURE_START", "PROCESS", "CONN_OPEN", "CONN_CLOSE", "CAPTURE_STOP"} <= kinds
    assert cap.info["calls"] == 15 and cap.info["started_at"].startswith("2025-01-01")


def test_exchanges_keep_capped_bodies(multi: Path) -> None:
    cap = heron.open(multi, body_cap=100)
    ex = cap.exchanges
    assert ex.height == 15
    assert ex["request_body"].bin.size().max() == 100
    assert ex["request_body_capped"].any()
    assert ex["call_id"].is_not_null().all()
    assert cap.to_arrow("exchanges").num_rows == 15


def test_call_detail(multi: Path) -> None:
    cap = heron.open(multi)
    cid = cap.calls.filter(pl.col("pid") == 100).sort("call_id")["call_id"][2]
    d = cap.call(cid)
    assert [m.role for m in d.parsed.messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
    ]
    assert cap.conversation(cid).height == 3
    with pytest.raises(HeronError, match="no call 999"):
        cap.call(999)


def test_file_object_and_pipe(multi: Path) -> None:
    with open(multi, "rb") as f:
        assert heron.open(f).calls.height == 15
    data = multi.read_bytes()

    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.b = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buf: Any) -> int:
            chunk = self.b.read(len(buf))
            buf[: len(chunk)] = chunk
            return len(chunk)

    assert heron.open(io.BufferedReader(Pipe())).calls.height == 15


def test_read_and_scan(multi: Path, tmp_path: Path) -> None:
    other = tmp_path / "b.heron"
    write_capture(other, [(Proc(1), load("http2_stream"))])
    assert heron.read_calls(other).height == 2
    assert heron.read_tools(multi).height == 8
    assert heron.read_loops(multi).height == 1
    lf = heron.scan_calls([multi, other])
    assert isinstance(lf, pl.LazyFrame)
    got = lf.group_by("capture").len().sort("capture").collect()
    assert got.rows() == [("b.heron", 2), ("multi.heron", 15)]
    (tmp_path / "c.heron").write_bytes(multi.read_bytes())
    tools = heron.scan_tools(str(tmp_path / "*.heron")).collect()  # b.heron has no tools
    assert tools.height == 8 and tools["capture"].unique().to_list() == ["c.heron"]
    assert heron.scan_loops(str(tmp_path / "*.heron")).collect()["capture"].to_list() == ["c.heron"]


def test_damaged_file_is_analysed_as_far_as_readable(multi: Path, tmp_path: Path) -> None:
    data = multi.read_bytes()
    cut = tmp_path / "cut.heron"
    cut.write_bytes(data[: len(data) * 2 // 3])
    cap = heron.open(cut)
    assert 0 < cap.calls.height <= 15
    assert cap.warnings and any("not closed cleanly" in w or "lost" in w for w in cap.warnings)
    bad = bytearray(data)
    mid = len(bad) // 2
    bad[mid : mid + 64] = b"\x00" * 64
    flipped = tmp_path / "flipped.heron"
    flipped.write_bytes(bytes(bad))
    cap2 = heron.open(flipped)
    assert cap2.calls.height < 15 and cap2.warnings


def test_not_a_heron_file(tmp_path: Path) -> None:
    p = tmp_path / "x.heron"
    p.write_bytes(b"hello world, definitely not a capture\n" * 10)
    with pytest.raises(HeronError):
        heron.open(p)
    with pytest.raises(HeronError, match="no such file"):
        heron.open(tmp_path / "missing.heron")


def _cut_response(tmp_path: Path, close_reason: str | None) -> heron.Capture:
    """One call whose 429 response head arrived but its body did not."""
    from heron.format import Direction, RecordKind, Writer

    body = b'{"model":"m","messages":[{"role":"user","content":"hi"}]}'
    req = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: api.test\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    head = b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 121\r\n\r\n"
    path = tmp_path / f"cut-{close_reason}.heron"
    with Writer(str(path)) as w:
        w.append(RecordKind.CLOCK_SYNC, 1, realtime_ns=1_700_000_000 * 10**9)
        w.append(RecordKind.PROCESS, 1, pid=7, comm="python3", exe="/usr/bin/python3")
        w.append(RecordKind.CONN_OPEN, 1, conn=1, pid=7, transport="tls")
        w.data(10, conn=1, pid=7, dir=Direction.OUT, offset=0, length=len(req), data=req)
        w.data(20, conn=1, pid=7, dir=Direction.IN, offset=0, length=len(head), data=head)
        if close_reason is not None:
            w.append(RecordKind.CONN_CLOSE, 30, conn=1, pid=7, reason=close_reason)
    return heron.open(path)


def test_response_cut_by_capture_end_warns(tmp_path: Path) -> None:
    for reason in (None, "capture-end"):
        cap = _cut_response(tmp_path, reason)
        assert cap.calls["status"].to_list() == [429] and cap.calls["partial"].to_list() == [True]
        assert cap.warnings == [
            "1 exchange(s) are incomplete because the capture ended while they were in "
            "flight (exchange_id 0)"
        ]
        assert cap.info["abandoned_exchanges"] == []


def test_response_abandoned_by_client_is_not_a_loss(tmp_path: Path) -> None:
    cap = _cut_response(tmp_path, "ssl_free")  # the SDK closed without reading the body
    assert cap.calls["error"].to_list() == ["HTTP 429"]
    assert cap.calls["partial"].to_list() == [True]
    assert cap.warnings == []
    assert cap.info["abandoned_exchanges"] == [0]
