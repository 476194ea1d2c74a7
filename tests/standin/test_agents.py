"""Every agent runs green against the stand-in, with real clients and real TLS.

Each test checks the agent's exit status and summary line *and* what the
server logged, so a test cannot pass if the agent silently did nothing.

The agents are slow to start (importing the SDKs takes seconds), so they all
run up front, three at a time, each worker thread with its own stand-in
server; the tests then check one run each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from heron.standin import StandIn
from heron.standin.agents.secret import DEFAULT_SECRET
from heron.standin.catalog import CATALOG, AgentRun
from heron.standin.log import LogEntry
from tests.standin.conftest import REPO


@dataclass
class Run:
    proc: AgentRun
    entries: list[LogEntry]
    plain_port: int | None
    ca_file: str


def _run(key: str, tmp: Path, servers: dict[int, StandIn]) -> Run:
    # One server per worker thread: agents on a thread run one after the
    # other, so the log lines after ``before`` are this agent's alone.
    tid = threading.get_ident()
    if tid not in servers:
        servers[tid] = StandIn(
            log_path=tmp / f"log-{tid}.jsonl", cert_dir=tmp / "certs", client_pids=True
        ).start()
    s = servers[tid]
    spec = CATALOG[key]
    extra = ("--out", str(tmp / "bench.json")) if key == "bench" else ()
    before = len(s.entries())
    proc = spec.run(s, args=extra)
    n = spec.exchanges if proc.returncode == 0 else 0
    entries = s.wait_for_entries(before + n)[before:]
    return Run(proc, entries, s.plain_port, s.ca_file)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    tmp = tmp_path_factory.mktemp("agents")
    servers: dict[int, StandIn] = {}
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            futures = {k: pool.submit(_run, k, tmp, servers) for k in CATALOG}
            results = {k: f.result() for k, f in futures.items()}
    finally:
        for s in servers.values():
            s.close()
    results["_tmp"] = tmp  # type: ignore[assignment]
    yield results


def _ok(run: Run, name: str) -> str:
    proc = run.proc
    assert proc.returncode == 0, f"{name} failed:\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith(f"{name}: ok "), last
    return last


def _new(run: Run, key: str) -> list[LogEntry]:
    got = run.entries
    assert len(got) == CATALOG[key].exchanges, [(e.method, e.path, e.status) for e in got]
    return got


def test_openai_sync(runs: dict[str, Run]) -> None:
    r = runs["openai_sync"]
    assert "calls=6 tool_calls=2" in _ok(r, "openai_sync")
    got = _new(r, "openai_sync")
    assert [e.path for e in got] == ["/v1/chat/completions"] * 5 + ["/v1/embeddings"]
    assert all(e.protocol == "1.1" and e.tls and e.status == 200 for e in got)
    assert (got[0].header("user-agent") or "").startswith("OpenAI/Python")
    # The tool loop's final request carries both tool results back.
    msgs = got[4].request_json()["messages"]
    assert [m["role"] for m in msgs].count("tool") == 2


def test_openai_async(runs: dict[str, Run]) -> None:
    r = runs["openai_async"]
    assert "calls=7 tool_calls=1" in _ok(r, "openai_async")
    got = _new(r, "openai_async")
    apis = [e.api for e in got]
    assert apis.count("openai.chat") == 4 and apis.count("openai.responses") == 2
    assert apis[-1] == "openai.completions"
    assert (got[0].header("x-stainless-async") or "").startswith("async")


def test_anthropic_stream(runs: dict[str, Run]) -> None:
    r = runs["anthropic_stream"]
    line = _ok(r, "anthropic_stream")
    assert "calls=5 tool_calls=2" in line and "stream_error=" in line
    got = _new(r, "anthropic_stream")
    assert all(e.path == "/v1/messages" for e in got)
    assert b"event: error" in got[-1].response_body
    results = [
        b
        for m in got[2].request_json()["messages"]
        if isinstance(m["content"], list)
        for b in m["content"]
        if b["type"] == "tool_result"
    ]
    assert len(results) == 2


def test_gemini(runs: dict[str, Run]) -> None:
    r = runs["gemini"]
    assert "calls=4 tool_calls=2" in _ok(r, "gemini")
    got = _new(r, "gemini")
    assert [e.api for e in got] == ["gemini.generateContent"] * 2 + [
        "gemini.streamGenerateContent"
    ] * 2
    assert got[-1].path.endswith("?alt=sse")


def test_gemini_gzip(runs: dict[str, Run]) -> None:
    r = runs["gemini_gzip"]
    assert "calls=4 tool_calls=2" in _ok(r, "gemini")
    for e in _new(r, "gemini_gzip"):
        assert e.header("content-encoding", response=True) == "gzip"
        assert e.response_body[:2] == b"\x1f\x8b" and e.to_exchange().response_body.startswith(
            (b"{", b"data: ")
        )


def test_httpx_h2(runs: dict[str, Run]) -> None:
    r = runs["httpx_h2"]
    _ok(r, "httpx_h2")
    got = _new(r, "httpx_h2")
    assert all(e.protocol == "2" and e.alpn == "h2" for e in got)
    seq, conc = got[:3], got[3:]
    assert len({e.client_port for e in seq}) == 1, "sequential requests must share one connection"
    assert len({e.client_port for e in conc}) == 1, "concurrent streams must share one connection"
    assert len({e.stream_id for e in conc}) == 6


def test_node_fetch(runs: dict[str, Run]) -> None:
    r = runs["node_fetch"]
    assert "calls=5 tool_calls=1" in _ok(r, "node_fetch")
    assert all(e.header("user-agent") == "node" for e in _new(r, "node_fetch"))


@pytest.mark.parametrize("key,proto", [("curl_h2", "2"), ("curl_h1", "1.1")])
def test_curl(runs: dict[str, Run], key: str, proto: str) -> None:
    r = runs[key]
    assert f"http={proto}" in _ok(r, "curl")
    assert r.proc.stdout.count("$ curl ") == 3
    got = _new(r, key)
    assert all(
        e.protocol == proto and (e.header("user-agent") or "").startswith("curl/") for e in got
    )


def test_ollama_plain(runs: dict[str, Run]) -> None:
    r = runs["ollama_plain"]
    assert "calls=4 tool_calls=1" in _ok(r, "ollama_plain")
    got = _new(r, "ollama_plain")
    assert all(not e.tls and e.server_port == r.plain_port for e in got)
    assert "stream" not in got[0].request_json()  # relies on Ollama's default


def test_threads(runs: dict[str, Run]) -> None:
    r = runs["threads"]
    _ok(r, "threads")
    by_port: dict[int, set[str]] = {}
    for e in _new(r, "threads"):
        content = e.request_json()["messages"][0]["content"]
        by_port.setdefault(e.client_port, set()).add(content.split(" call ")[0])
    assert len(by_port) == 4 and all(len(v) == 1 for v in by_port.values())
    printed = [ln for ln in r.proc.stdout.splitlines() if ln.startswith("thread index=")]
    assert {int(ln.split("port=")[1]) for ln in printed} == set(by_port)


@pytest.mark.parametrize("key,proto", [("big_h1", "1.1"), ("big_h2", "2")])
def test_big_request(runs: dict[str, Run], key: str, proto: str) -> None:
    r = runs[key]
    _ok(r, "big_request")
    (e,) = _new(r, key)
    assert len(e.request_body) == 3 * 1024 * 1024 and e.protocol == proto


def test_flood(runs: dict[str, Run]) -> None:
    r = runs["flood"]
    assert "calls=200" in _ok(r, "flood")
    assert len({e.client_port for e in _new(r, "flood")}) == 2


def test_secret(runs: dict[str, Run]) -> None:
    r = runs["secret"]
    _ok(r, "secret")
    got = _new(r, "secret")
    for e in got:
        assert DEFAULT_SECRET.encode() not in e.request_body + e.response_body
        assert DEFAULT_SECRET not in json.dumps(e.response_headers)
    h2 = [e for e in got if e.protocol == "2"]
    h1 = [e for e in got if e.protocol == "1.1"]
    assert h2 and h1
    for group in (h1, h2):
        assert any(e.header("x-api-key") == DEFAULT_SECRET for e in group)
        assert any(e.header("authorization") == f"Bearer {DEFAULT_SECRET}" for e in group)
        assert any(f"key={DEFAULT_SECRET}" in e.path for e in group)


def test_demo(runs: dict[str, Run]) -> None:
    r = runs["demo"]
    assert "calls=8 tool_calls=5" in _ok(r, "demo")
    assert "⚙ write_file" in r.proc.stdout
    got = _new(r, "demo")
    assert [e.api for e in got] == ["anthropic.messages"] + ["openai.chat"] * 6 + [
        "anthropic.messages"
    ]
    assert "title" in got[0].request_json()["system"] and not got[0].streamed
    assert got[1].scenario is not None and got[1].scenario["ttft_ms"] == 40


def test_variants_differ_exactly(runs: dict[str, Run]) -> None:
    a_run, b_run = runs["variant_a"], runs["variant_b"]
    assert "variant=a http_429=0" in _ok(a_run, "variant")
    assert "variant=b http_429=1" in _ok(b_run, "variant")
    a, b = _new(a_run, "variant_a"), _new(b_run, "variant_b")
    assert [e.status for e in a] == [200, 200, 200]
    assert [e.status for e in b] == [200, 200, 429, 200, 200, 200, 200, 200]
    assert b[2].request_body == b[3].request_body  # the SDK's own retry
    assert b[3].header("x-stainless-retry-count") == "1"
    assert a_run.proc.args[1:3] == b_run.proc.args[1:3] == ["-m", "heron.standin.agents.variant"]

    def calls(entries: list[LogEntry]) -> list[tuple[str, str]]:
        final = entries[-1].request_json()["messages"]
        return [
            (tc["function"]["name"], tc["function"]["arguments"])
            for m in final
            for tc in m.get("tool_calls") or []
        ]

    read = ("read_file", '{"path":"src/calc.py"}')
    write = calls(a)[1]
    assert write[0] == "write_file"
    assert calls(a) == [read, write]
    assert calls(b) == [read] * 4 + [("run_tests", '{"target":"tests/"}'), write]


def test_bench_agent(runs: dict[str, Run]) -> None:
    r = runs["bench"]
    _ok(r, "bench_agent")
    sizes = [len(e.request_body) for e in _new(r, "bench")]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]  # history grows
    out = Path(runs["_tmp"]) / "bench.json"  # type: ignore[arg-type]
    assert len(json.loads(out.read_text())["per_call_ms"]) == 20


def test_agent_fails_clearly_without_server(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "heron.standin.agents.openai_sync",
            "--base-url",
            "https://127.0.0.1:9",
            "--ca",
            str(tmp_path / "none.pem"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("openai_sync: FAILED: ")


def test_record_transcripts(tmp_path: Path) -> None:
    from heron.standin import read_log
    from heron.standin.catalog import record_transcripts

    paths = record_transcripts(tmp_path, ("gemini",), jobs=1)
    entries = read_log(paths["gemini"])
    assert len(entries) == CATALOG["gemini"].exchanges
    ex = entries[-1].to_exchange(0)
    assert ex.path is not None and ex.path.endswith(":streamGenerateContent?alt=sse")
    assert ex.response_timeline and ex.response_timeline[-1][1] == len(ex.response_body)
    assert not (tmp_path / ".certs").exists()


@pytest.mark.parametrize("key", sorted(CATALOG))
def test_client_pid_is_the_agent(runs: dict[str, Run], key: str) -> None:
    r = runs[key]
    _ok(r, CATALOG[key].agent)
    pids = {e.client_pid for e in _new(r, key)}
    if CATALOG[key].agent == "curl":  # one curl child process per call
        assert len(pids) == 3 and r.proc.pid not in pids and None not in pids
    else:
        assert pids == {r.proc.pid}
