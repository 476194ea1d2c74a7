"""Every agent runs green against the stand-in, with real clients and real TLS.

Each test checks the agent's exit status and summary line *and* what the
server logged, so a test cannot pass if the agent silently did nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from heron.standin import StandIn
from heron.standin.agents.secret import DEFAULT_SECRET
from heron.standin.log import LogEntry
from tests.standin.conftest import REPO, run_agent


def _ok(proc: subprocess.CompletedProcess[str], name: str) -> str:
    assert proc.returncode == 0, f"{name} failed:\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith(f"{name}: ok "), last
    return last


def _new(standin: StandIn, before: int, n: int) -> list[LogEntry]:
    got = standin.wait_for_entries(before + n)[before:]
    assert len(got) == n, [(e.method, e.path, e.status) for e in got]
    return got


def test_openai_sync(standin: StandIn) -> None:
    before = len(standin.entries())
    line = _ok(run_agent(standin, "openai_sync"), "openai_sync")
    assert "calls=6 tool_calls=2" in line
    got = _new(standin, before, 6)
    assert [e.path for e in got] == ["/v1/chat/completions"] * 5 + ["/v1/embeddings"]
    assert all(e.protocol == "1.1" and e.tls and e.status == 200 for e in got)
    assert got[0].header("user-agent").startswith("OpenAI/Python")
    # The tool loop's final request carries both tool results back.
    msgs = got[4].request_json()["messages"]
    assert [m["role"] for m in msgs].count("tool") == 2


def test_openai_async(standin: StandIn) -> None:
    before = len(standin.entries())
    line = _ok(run_agent(standin, "openai_async"), "openai_async")
    assert "calls=7 tool_calls=1" in line
    got = _new(standin, before, 7)
    assert [e.api for e in got].count("openai.chat") == 4
    assert [e.api for e in got].count("openai.responses") == 2
    assert got[-1].api == "openai.completions"
    assert got[0].header("x-stainless-async").startswith("async")


def test_anthropic_stream(standin: StandIn) -> None:
    before = len(standin.entries())
    line = _ok(run_agent(standin, "anthropic_stream", "--stream-error"), "anthropic_stream")
    assert "calls=5 tool_calls=2" in line and "stream_error=" in line
    got = _new(standin, before, 5)
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


def test_gemini(standin: StandIn) -> None:
    before = len(standin.entries())
    line = _ok(run_agent(standin, "gemini"), "gemini")
    assert "calls=4 tool_calls=2" in line
    got = _new(standin, before, 4)
    assert [e.api for e in got] == ["gemini.generateContent"] * 2 + [
        "gemini.streamGenerateContent"
    ] * 2
    assert got[-1].path.endswith("?alt=sse")


def test_httpx_h2(standin: StandIn) -> None:
    before = len(standin.entries())
    _ok(run_agent(standin, "httpx_h2"), "httpx_h2")
    got = _new(standin, before, 9)
    assert all(e.protocol == "2" and e.alpn == "h2" for e in got)
    seq, conc = got[:3], got[3:]
    assert len({e.client_port for e in seq}) == 1, "sequential requests must share one connection"
    assert len({e.client_port for e in conc}) == 1, "concurrent streams must share one connection"
    assert len({e.stream_id for e in conc}) == 6


def test_node_fetch(standin: StandIn) -> None:
    before = len(standin.entries())
    script = REPO / "heron/standin/agents/node_fetch.mjs"
    proc = subprocess.run(
        ["node", str(script), "--base-url", standin.https_url],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NODE_EXTRA_CA_CERTS": standin.ca_file},
    )
    assert "calls=5 tool_calls=1" in _ok(proc, "node_fetch")
    got = _new(standin, before, 5)
    assert all(e.header("user-agent") == "node" for e in got)


@pytest.mark.parametrize("flag,proto", [((), "2"), (("--http1.1",), "1.1")])
def test_curl(standin: StandIn, flag: tuple[str, ...], proto: str) -> None:
    before = len(standin.entries())
    proc = run_agent(standin, "curl", *flag)
    assert f"http={proto}" in _ok(proc, "curl")
    assert proc.stdout.count("$ curl ") == 3
    got = _new(standin, before, 3)
    assert all(e.protocol == proto and e.header("user-agent").startswith("curl/") for e in got)


def test_ollama_plain(standin: StandIn) -> None:
    before = len(standin.entries())
    assert "calls=4 tool_calls=1" in _ok(
        run_agent(standin, "ollama_plain", plain=True), "ollama_plain"
    )
    got = _new(standin, before, 4)
    assert all(not e.tls and e.server_port == standin.plain_port for e in got)
    assert "stream" not in got[0].request_json()  # relies on Ollama's default


def test_threads(standin: StandIn) -> None:
    before = len(standin.entries())
    proc = run_agent(standin, "threads", "--threads", "4", "--calls", "3")
    _ok(proc, "threads")
    got = _new(standin, before, 12)
    by_port: dict[int, set[str]] = {}
    for e in got:
        content = e.request_json()["messages"][0]["content"]
        by_port.setdefault(e.client_port, set()).add(content.split(" call ")[0])
    assert len(by_port) == 4 and all(len(v) == 1 for v in by_port.values())
    printed = [ln for ln in proc.stdout.splitlines() if ln.startswith("thread index=")]
    assert {int(ln.split("port=")[1]) for ln in printed} == set(by_port)


@pytest.mark.parametrize("h2", [False, True])
def test_big_request(standin: StandIn, h2: bool) -> None:
    before = len(standin.entries())
    _ok(run_agent(standin, "big_request", *(["--http2"] if h2 else [])), "big_request")
    (e,) = _new(standin, before, 1)
    assert len(e.request_body) == 3 * 1024 * 1024 and e.protocol == ("2" if h2 else "1.1")


def test_flood(standin: StandIn) -> None:
    before = len(standin.entries())
    assert "calls=200" in _ok(
        run_agent(standin, "flood", "--calls", "200", "--connections", "2", "--size", "512"),
        "flood",
    )
    got = _new(standin, before, 200)
    assert len({e.client_port for e in got}) == 2


def test_secret(standin: StandIn) -> None:
    before = len(standin.entries())
    _ok(run_agent(standin, "secret"), "secret")
    got = _new(standin, before, 8)
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


def test_demo(standin: StandIn) -> None:
    before = len(standin.entries())
    proc = run_agent(standin, "demo")
    assert "calls=7 tool_calls=5" in _ok(proc, "demo")
    assert "⚙ write_file" in proc.stdout
    got = _new(standin, before, 7)
    assert [e.api for e in got] == ["openai.chat"] * 6 + ["anthropic.messages"]


def test_variants_differ_exactly(standin: StandIn) -> None:
    runs = {}
    for v in ("a", "b"):
        before = len(standin.entries())
        proc = run_agent(standin, "variant", env={"HERON_VARIANT": v})
        _ok(proc, "variant")
        runs[v] = standin.wait_for_entries(before + (3 if v == "a" else 8))[before:]
    a, b = runs["a"], runs["b"]
    assert [e.status for e in a] == [200, 200, 200]
    assert [e.status for e in b] == [200, 200, 429, 200, 200, 200, 200, 200]
    assert b[2].request_body == b[3].request_body  # the SDK's own retry
    assert b[3].header("x-stainless-retry-count") == "1"

    def calls(entries: list[LogEntry]) -> list[tuple[str, str]]:
        final = entries[-1].request_json()["messages"]
        return [
            (tc["function"]["name"], tc["function"]["arguments"])
            for m in final
            for tc in m.get("tool_calls") or []
        ]

    read = ("read_file", '{"path":"src/calc.py"}')
    assert calls(a) == [read, ("write_file", calls(a)[1][1])]
    assert calls(b) == [read] * 4 + [("run_tests", '{"target":"tests/"}'), calls(a)[1]]


def test_bench_agent(standin: StandIn, tmp_path: Path) -> None:
    before = len(standin.entries())
    out = tmp_path / "t.json"
    _ok(run_agent(standin, "bench_agent", "--calls", "20", "--out", str(out)), "bench_agent")
    got = _new(standin, before, 20)
    sizes = [len(e.request_body) for e in got]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]  # history grows
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
