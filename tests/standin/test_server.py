"""The stand-in server over real sockets: HTTP/1.1, HTTP/2 (ALPN), plain; exact-bytes log."""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from heron.standin import StandIn, StandInError, tokens
from heron.standin.log import LogEntry
from tests.standin.conftest import REPO

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}]}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string", "default": "a.py"}},
            },
        },
    }
]


def _last(standin: StandIn, before: int, n: int = 1) -> list[LogEntry]:
    got = standin.wait_for_entries(before + n)[before:]
    assert len(got) == n, got
    return got


def _client(
    standin: StandIn, ctx: ssl.SSLContext, *, http2: bool = False, plain: bool = False
) -> httpx.Client:
    base = standin.http_url if plain else standin.https_url
    return httpx.Client(base_url=base, verify=ctx, http2=http2, timeout=30)


def _sse_data(body: bytes) -> list[dict]:  # type: ignore[type-arg]
    out = []
    for block in body.decode().split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data: ") and line != "data: [DONE]":
                out.append(json.loads(line[6:]))
    return out


@pytest.mark.parametrize("alpn,want", [(["h2", "http/1.1"], "h2"), (["http/1.1"], "http/1.1")])
def test_alpn_selects_protocol(
    standin: StandIn, client_ctx: ssl.SSLContext, alpn: list[str], want: str
) -> None:
    ctx = ssl.create_default_context(cafile=standin.ca_file)
    ctx.set_alpn_protocols(alpn)
    with (
        socket.create_connection(("127.0.0.1", standin.tls_port)) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.selected_alpn_protocol() == want


@pytest.mark.parametrize("mode", ["h1", "h2", "plain"])
def test_chat_exact_bytes_logged(standin: StandIn, client_ctx: ssl.SSLContext, mode: str) -> None:
    body = json.dumps({**CHAT, "stream": True, "stream_options": {"include_usage": True}}).encode()
    before = len(standin.entries())
    with _client(standin, client_ctx, http2=mode == "h2", plain=mode == "plain") as c:
        r = c.post(
            "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
        )
    assert r.status_code == 200
    assert r.http_version == ("HTTP/2" if mode == "h2" else "HTTP/1.1")
    (e,) = _last(standin, before)
    assert e.request_body == body
    assert e.response_body == r.content
    assert e.protocol == ("2" if mode == "h2" else "1.1")
    assert e.tls is (mode != "plain")
    assert e.alpn == {"h1": "http/1.1", "h2": "h2", "plain": None}[mode]
    assert e.api == "openai.chat" and e.streamed and e.status == 200
    assert e.client_port > 0 and e.server_port in (standin.tls_port, standin.plain_port)
    if mode == "h2":
        assert e.stream_id == 1 and (":method", "POST") in e.request_headers
    chunks = _sse_data(r.content)
    usage = chunks[-1]["usage"]
    assert chunks[-1]["choices"] == [] and all(c["usage"] is None for c in chunks[:-1])
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1])
    assert usage["prompt_tokens"] == tokens(body)
    assert usage["completion_tokens"] == tokens(text)
    assert (
        e.t_start_ns
        <= e.t_request_end_ns
        <= e.t_response_start_ns
        <= e.t_first_byte_ns
        <= e.t_end_ns
    )
    tl = e.response_timeline
    assert len(tl) == len(chunks) + 1  # one write per SSE event, [DONE] included
    assert tl == sorted(tl) and tl[0][0] == e.t_first_byte_ns and tl[-1][1] == len(e.response_body)
    ex = e.to_exchange(3, pid=42)
    assert (ex.exchange_id, ex.pid, ex.method, ex.path, ex.status) == (
        3,
        42,
        "POST",
        "/v1/chat/completions",
        200,
    )
    assert ex.http_version == e.protocol and ex.response_body == r.content
    assert ex.header("content-type", response=True) == "text/event-stream"
    assert not any(k.startswith(":") for k, _ in ex.request_headers + ex.response_headers)
    assert ex.time_at(len(r.content)) == tl[-1][0]


def test_chat_tool_call_fragments(standin: StandIn, client_ctx: ssl.SSLContext) -> None:
    body = {**CHAT, "stream": True, "tools": TOOLS}
    with _client(standin, client_ctx, http2=True) as c:
        r = c.post("/v1/chat/completions", json=body)
    chunks = _sse_data(r.content)
    frags = [
        tc["function"].get("arguments", "")
        for ch in chunks
        for tc in ch["choices"][0]["delta"].get("tool_calls", [])
    ]
    assert len([f for f in frags if f]) >= 2, "arguments must be split over several chunks"
    assert json.loads("".join(frags)) == {"path": "a.py"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_chat_nonstream_final_after_tool_result(
    standin: StandIn, client_ctx: ssl.SSLContext
) -> None:
    msgs = [
        *CHAT["messages"],
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "x"},
    ]
    with _client(standin, client_ctx) as c:
        r = c.post("/v1/chat/completions", json={"model": "m", "messages": msgs, "tools": TOOLS})
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["message"]["content"].startswith(
        "Done after 1 tool results"
    )


def test_responses_stream_and_not(standin: StandIn, client_ctx: ssl.SSLContext) -> None:
    tools = [
        {
            "type": "function",
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        }
    ]
    with _client(standin, client_ctx, http2=True) as c:
        r = c.post(
            "/v1/responses", json={"model": "gpt-4o", "input": "hi", "tools": tools, "stream": True}
        )
        events = [line[7:] for line in r.text.splitlines() if line.startswith("event: ")]
        r2 = c.post("/v1/responses", json={"model": "gpt-4o", "input": "hi"})
    assert events[0] == "response.created" and events[-1] == "response.completed"
    assert "response.function_call_arguments.delta" in events
    out = r2.json()
    assert out["output"][0]["type"] == "message" and out["usage"]["input_tokens"] > 0


def test_legacy_completions_and_embeddings(standin: StandIn, client_ctx: ssl.SSLContext) -> None:
    with _client(standin, client_ctx) as c:
        r = c.post("/v1/completions", json={"model": "m", "prompt": "x", "stream": True})
        e = c.post(
            "/v1/embeddings",
            json={"model": "e", "input": "abc", "encoding_format": "base64", "dimensions": 4},
        )
    assert r.text.rstrip().endswith("data: [DONE]")
    vec = struct.unpack("<4f", base64.b64decode(e.json()["data"][0]["embedding"]))
    assert len(vec) == 4 and all(-1.0 <= v <= 1.0 for v in vec)


def test_anthropic_stream_shape(standin: StandIn, client_ctx: ssl.SSLContext) -> None:
    tools = [
        {
            "name": "run_tests",
            "input_schema": {"type": "object", "properties": {"k": {"type": "integer"}}},
        }
    ]
    body = {
        "model": "claude-x",
        "max_tokens": 9,
        "stream": True,
        "messages": [{"role": "user", "content": "go"}],
        "tools": tools,
    }
    with _client(standin, client_ctx, http2=True) as c:
        r = c.post("/v1/messages", json=body)
    events = [
        (b.split("\n")[0][7:], json.loads(b.split("\n")[1][6:]))
        for b in r.text.strip().split("\n\n")
    ]
    kinds = [k for k, _ in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    start = events[0][1]["message"]["usage"]
    delta = events[-2][1]
    assert start["output_tokens"] == 1 and start["input_tokens"] == tokens(r.request.content)
    blocks = [d["content_block"]["type"] for k, d in events if k == "content_block_start"]
    assert blocks == ["text", "tool_use"]
    partial = "".join(
        d["delta"]["partial_json"]
        for k, d in events
        if k == "content_block_delta" and d["delta"]["type"] == "input_json_delta"
    )
    assert json.loads(partial) == {"k": 1}
    text = "".join(
        d["delta"]["text"]
        for k, d in events
        if k == "content_block_delta" and d["delta"]["type"] == "text_delta"
    )
    assert delta["delta"]["stop_reason"] == "tool_use"
    assert delta["usage"]["output_tokens"] == tokens(text) + tokens("run_tests") + tokens(partial)


def test_gemini_sse_and_json_array(standin: StandIn, client_ctx: ssl.SSLContext) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    with _client(standin, client_ctx) as c:
        r = c.post("/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", json=body)
        arr = c.post("/v1beta/models/gemini-2.0-flash:streamGenerateContent", json=body)
    chunks = [
        json.loads(line[6:]) for line in r.text.split("\r\n\r\n") if line.startswith("data: ")
    ]
    assert len(chunks) > 2 and all("usageMetadata" in ch for ch in chunks)
    counts = [ch["usageMetadata"]["candidatesTokenCount"] for ch in chunks]
    assert (
        counts == sorted(counts) and sum(counts) > counts[-1]
    )  # running total: summing over-counts
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert json.loads(arr.text) == chunks


def test_ollama_ndjson_defaults_to_stream(standin: StandIn, client_ctx: ssl.SSLContext) -> None:
    with _client(standin, client_ctx, plain=True) as c:
        r = c.post(
            "/api/chat", json={"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}
        )
        g = c.post("/api/generate", json={"model": "llama3.2", "prompt": "hi", "stream": False})
    lines = [json.loads(x) for x in r.text.splitlines()]
    assert r.headers["content-type"] == "application/x-ndjson" and len(lines) > 2
    assert [ln["done"] for ln in lines] == [False] * (len(lines) - 1) + [True]
    assert (
        lines[-1]["prompt_eval_count"] == tokens(r.request.content) and lines[-1]["eval_count"] > 0
    )
    assert g.json()["done"] is True and g.json()["response"]


def test_error_429_once_then_success(standin: StandIn, client_ctx: ssl.SSLContext) -> None:
    body = {**CHAT, "messages": [{"role": "user", "content": "retry me (unique 1)"}]}
    hdr = {"x-standin-scenario": "error=429-once;retry_after_ms=1500"}
    with _client(standin, client_ctx) as c:
        first = c.post("/v1/chat/completions", json=body, headers=hdr)
        second = c.post("/v1/chat/completions", json=body, headers=hdr)
        sdk0 = c.post(
            "/v1/chat/completions", json=body, headers={**hdr, "x-stainless-retry-count": "0"}
        )
        sdk1 = c.post(
            "/v1/chat/completions", json=body, headers={**hdr, "x-stainless-retry-count": "1"}
        )
    assert first.status_code == 429 and first.json()["error"]["type"] == "rate_limit_error"
    assert first.headers["retry-after-ms"] == "1500" and first.headers["retry-after"] == "2"
    assert second.status_code == 200
    assert sdk0.status_code == 429 and sdk1.status_code == 200  # stateless for the SDKs


@pytest.mark.parametrize(
    "path,body,status_key",
    [
        ("/v1/chat/completions", CHAT, "error"),
        ("/v1/messages", {"model": "c", "messages": [{"role": "user", "content": "x"}]}, "type"),
        ("/v1beta/models/g:generateContent", {"contents": [{"parts": [{"text": "x"}]}]}, "error"),
        ("/api/chat", {"model": "l", "messages": [{"role": "user", "content": "x"}]}, "error"),
    ],
)
def test_error_500_in_provider_format(
    standin: StandIn, client_ctx: ssl.SSLContext, path: str, body: dict, status_key: str
) -> None:  # type: ignore[type-arg]
    with _client(standin, client_ctx) as c:
        r = c.post(path, json=body, headers={"x-standin-scenario": "error=500"})
    assert r.status_code == 500 and status_key in r.json()


def test_in_stream_errors(standin: StandIn, client_ctx: ssl.SSLContext) -> None:
    hdr = {"x-standin-scenario": "error=stream;error_after=1"}
    with _client(standin, client_ctx, http2=True) as c:
        oa = c.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=hdr)
        an = c.post(
            "/v1/messages",
            json={"model": "c", "stream": True, "messages": [{"role": "user", "content": "x"}]},
            headers=hdr,
        )
        ol = c.post(
            "/api/chat",
            json={"model": "l", "messages": [{"role": "user", "content": "x"}]},
            headers=hdr,
        )
    assert (
        oa.status_code == 200 and "error" in _sse_data(oa.content)[-1] and "[DONE]" not in oa.text
    )
    assert an.text.strip().split("\n\n")[-1].startswith("event: error")
    assert json.loads(ol.text.splitlines()[-1]) == {"error": "stand-in: stream interrupted"}


def test_openai_sdk_raises_on_in_stream_error(standin: StandIn, client_ctx: ssl.SSLContext) -> None:
    import openai

    client = openai.OpenAI(
        base_url=standin.https_url + "/v1",
        api_key="fake",
        http_client=openai.DefaultHttpxClient(verify=client_ctx),
    )
    stream = client.chat.completions.create(
        model="gpt-4o-mini~error=stream", messages=CHAT["messages"], stream=True
    )  # type: ignore[arg-type]
    with pytest.raises(openai.APIError, match="stream interrupted"):
        for _ in stream:
            pass


def test_scenario_errors_are_400(standin: StandIn, client_ctx: ssl.SSLContext) -> None:
    with _client(standin, client_ctx) as c:
        bad = c.post("/v1/chat/completions", json=CHAT, headers={"x-standin-scenario": "tolls=2"})
        plan = c.post(
            "/v1/chat/completions",
            json={**CHAT, "tools": TOOLS},
            headers={"x-standin-scenario": "plan=nope"},
        )
        notjson = c.post("/v1/chat/completions", content=b"{not json")
        missing = c.post("/v1/nothing", json={})
    assert (
        bad.status_code == 400
        and "unknown scenario option 'tolls'" in bad.json()["error"]["message"]
    )
    assert plan.status_code == 400 and "does not offer" in plan.json()["error"]["message"]
    assert notjson.status_code == 400
    assert missing.status_code == 404


def test_latency_and_ttft_are_applied(standin: StandIn, client_ctx: ssl.SSLContext) -> None:
    before = len(standin.entries())
    with _client(standin, client_ctx, http2=True) as c:
        c.post(
            "/v1/chat/completions",
            json={**CHAT, "stream": True},
            headers={"x-standin-scenario": "latency_ms=30;ttft_ms=40"},
        )
    (e,) = _last(standin, before)
    # Lower bounds only: sleeps never end early.
    assert e.t_response_start_ns - e.t_request_end_ns >= 30_000_000
    assert e.t_first_byte_ns - e.t_response_start_ns >= 40_000_000


def test_big_response_over_h2_flow_control(standin: StandIn, client_ctx: ssl.SSLContext) -> None:
    before = len(standin.entries())
    with _client(standin, client_ctx, http2=True) as c:
        r = c.post("/v1/chat/completions", json=CHAT, headers={"x-standin-scenario": "big_kb=2048"})
    assert r.status_code == 200 and len(r.content) > 2 * 1024 * 1024
    (e,) = _last(standin, before)
    assert e.response_body == r.content and not e.aborted


def test_h2_concurrent_streams_one_connection(standin: StandIn, client_ctx: ssl.SSLContext) -> None:
    import asyncio

    async def go() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=standin.https_url, verify=client_ctx, http2=True
        ) as c:
            await c.get("/healthz")
            return await asyncio.gather(
                *(
                    c.post(
                        "/v1/chat/completions",
                        json={
                            **CHAT,
                            "stream": True,
                            "messages": [{"role": "user", "content": f"s{i}"}],
                        },
                        headers={"x-standin-scenario": "chunk_ms=5"},
                    )
                    for i in range(4)
                )
            )

    before = len(standin.entries())
    rs = asyncio.run(go())
    got = _last(standin, before, 5)
    assert {e.client_port for e in got} == {got[0].client_port}
    assert sorted(e.stream_id for e in got) == [1, 3, 5, 7, 9]
    by_body = {e.request_body: e.response_body for e in got}
    for r in rs:
        assert by_body[r.request.content] == r.content


def test_h2_prior_knowledge_on_plain_port(standin: StandIn) -> None:
    before = len(standin.entries())
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "--http2-prior-knowledge",
            "-w",
            "\\n%{http_version}",
            "--data-binary",
            json.dumps(CHAT),
            standin.http_url + "/v1/chat/completions",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert out.stdout.endswith("\n2")
    (e,) = _last(standin, before)
    assert e.protocol == "2" and not e.tls


def test_http11_expect_100_continue(standin: StandIn) -> None:
    body = json.dumps({**CHAT, "pad": "x" * 2_000_000})
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "--http1.1",
            "--cacert",
            standin.ca_file,
            "-H",
            "Expect: 100-continue",
            "-H",
            "content-type: application/json",
            "--data-binary",
            "@-",
            standin.https_url + "/v1/chat/completions",
        ],
        input=body,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(out.stdout)["usage"]["prompt_tokens"] == tokens(body)


def test_cli_env_file_and_clean_shutdown(tmp_path: Path) -> None:
    env_file = tmp_path / "standin.env"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "heron.standin",
            "serve",
            "--cert-dir",
            str(tmp_path / "c"),
            "--env-file",
            str(env_file),
            "--no-plain",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        for _ in range(500):
            if env_file.exists() or proc.poll() is not None:
                break
            time.sleep(0.02)
        env = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
        out = subprocess.run(
            ["curl", "-sS", "--cacert", env["SSL_CERT_FILE"], env["STANDIN_BASE_URL"] + "/healthz"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert json.loads(out.stdout) == {"status": "ok"}
        assert env["STANDIN_HTTP_URL"] == "" and env["NODE_EXTRA_CA_CERTS"] == env["SSL_CERT_FILE"]
    finally:
        proc.terminate()
        stdout, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "stand-in https: https://127.0.0.1:" in stdout


def test_reason_phrase_and_port_in_use(standin: StandIn) -> None:
    out = subprocess.run(
        ["curl", "-sSi", "--http1.1", standin.http_url + "/healthz"],
        capture_output=True,
        timeout=30,
        check=True,
    )
    assert out.stdout.startswith(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(StandInError, match="cannot listen"):
        StandIn(port=standin.tls_port).start()


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_content_encoding_streams(
    standin: StandIn, client_ctx: ssl.SSLContext, coding: str
) -> None:
    before = len(standin.entries())
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    with _client(standin, client_ctx, http2=True) as c:
        r = c.post(
            "/v1/chat/completions", json=body, headers={"x-standin-scenario": f"encoding={coding}"}
        )
    assert r.headers["content-encoding"] == coding
    assert r.text.rstrip().endswith("data: [DONE]")  # httpx decoded it
    (e,) = _last(standin, before)
    assert e.response_body != r.content and len(e.response_body) == int(
        r.headers.get("content-length", len(e.response_body))
    )
    ex = e.to_exchange()
    assert ex.response_body == r.content and ex.response_body_size == len(e.response_body)
    assert ex.response_timeline[-1][1] == len(r.content)
    assert all(
        b - a >= 0
        for (_, a), (_, b) in zip(ex.response_timeline, ex.response_timeline[1:], strict=False)
    )


def test_openai_sdk_decodes_gzip(standin: StandIn, client_ctx: ssl.SSLContext) -> None:
    import openai

    client = openai.OpenAI(
        base_url=standin.https_url + "/v1",
        api_key="fake",
        http_client=openai.DefaultHttpxClient(verify=client_ctx),
    )
    for coding in ("gzip", "br"):
        r = client.chat.completions.create(
            model=f"gpt-4o-mini~encoding={coding}", messages=CHAT["messages"]
        )  # type: ignore[arg-type]
        assert r.choices[0].message.content


def test_client_pids(tmp_path: Path) -> None:
    with StandIn(client_pids=True, cert_dir=tmp_path) as s:
        ctx = ssl.create_default_context(cafile=s.ca_file)
        with httpx.Client(verify=ctx, http2=True) as c:
            c.get(s.https_url + "/healthz")
        proc = subprocess.Popen(
            ["curl", "-sS", "--cacert", s.ca_file, s.https_url + "/healthz"],
            stdout=subprocess.DEVNULL,
        )
        assert proc.wait(30) == 0
        mine, curls = s.wait_for_entries(2)
    assert mine.client_pid == os.getpid() and mine.to_exchange().pid == os.getpid()
    assert curls.client_pid == proc.pid


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_server_exits_with_its_parent(tmp_path: Path) -> None:
    code = f"from heron.standin import StandIn\nimport time\ns = StandIn(cert_dir={str(tmp_path)!r}).start()\nprint(s.pid, flush=True)\ntime.sleep(60)\n"
    parent = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert parent.stdout is not None
    server = int(parent.stdout.readline())
    assert _alive(server)
    parent.kill()
    parent.wait()
    for _ in range(100):
        if not _alive(server):
            break
        time.sleep(0.05)
    assert not _alive(server), "the stand-in outlived the process that started it"
