"""Reassembly over real ``heron-capture`` recordings (tests/fixtures/*.heron).

The recordings are of the stand-in provider driven by real client libraries
(see tests/fixtures/README.md), so paths, statuses, models and the shape of
every body are deterministic even though ids, times and pids are not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from heron.analyze.exchange import Exchange
from heron.analyze.reassembly import NDJSONParser, SSEParser, iter_exchanges
from heron.format import Reader

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

CHAT = "/v1/chat/completions"
MSGS = "/v1/messages"
GEM = "/v1beta/models/gemini-2.0-flash:"

# (http version, method, path, status, request "model", request "stream") per
# exchange, in request order.
EXPECTED: dict[str, list[tuple[str, str, str, int, str | None, bool | None]]] = {
    "anthropic_stream": [("1.1", "POST", MSGS, 200, "claude-sonnet-4-6", True)] * 3
    + [("1.1", "POST", MSGS, 200, "claude-sonnet-4-6", None)],
    "curl_h2": [
        ("2", "POST", CHAT, 200, "gpt-4o-mini", None),
        ("2", "POST", CHAT, 200, "gpt-4o-mini", True),
        ("2", "POST", MSGS, 200, "claude-haiku-4-5", True),
    ],
    "gemini": [
        ("1.1", "POST", GEM + "generateContent", 200, None, None),
        ("1.1", "POST", GEM + "generateContent", 200, None, None),
        ("1.1", "POST", GEM + "streamGenerateContent?alt=sse", 200, None, None),
        ("1.1", "POST", GEM + "streamGenerateContent?alt=sse", 200, None, None),
    ],
    "httpx_h2": [
        ("2", "POST", CHAT, 200, "gpt-4o-mini", None),
        ("2", "POST", MSGS, 200, "claude-haiku-4-5", True),
        ("2", "POST", "/api/chat", 200, "llama3.2", False),
        ("2", "GET", "/v1/models", 200, None, None),
    ]
    + [("2", "POST", CHAT, 200, "gpt-4o-mini", True)] * 5,
    "node_fetch": [
        ("1.1", "POST", CHAT, 200, "gpt-4o-mini", None),
        ("1.1", "POST", CHAT, 200, "gpt-4o-mini", True),
        ("1.1", "POST", CHAT, 200, "gpt-4o-mini", True),
        ("1.1", "POST", CHAT, 200, "gpt-4o-mini", True),
        ("1.1", "POST", MSGS, 200, "claude-haiku-4-5", True),
    ],
    "ollama_plain": [
        ("1.1", "POST", "/api/chat", 200, "llama3.2", None),
        ("1.1", "POST", "/api/chat", 200, "llama3.2", None),
        ("1.1", "POST", "/api/chat", 200, "llama3.2", False),
        ("1.1", "POST", "/api/generate", 200, "llama3.2", None),
    ],
    "openai_async": [("1.1", "POST", CHAT, 200, "gpt-4o-mini", True)] * 4
    + [("1.1", "POST", "/v1/responses", 200, "gpt-4o-mini", True)] * 2
    + [("1.1", "POST", "/v1/completions", 200, "gpt-3.5-turbo-instruct", None)],
    "openai_tools": [("1.1", "POST", CHAT, 200, "gpt-4o-mini", None)]
    + [("1.1", "POST", CHAT, 200, "gpt-4o-mini", True)] * 4
    + [("1.1", "POST", "/v1/embeddings", 200, "text-embedding-3-small", None)],
    "variant_a": [("1.1", "POST", CHAT, 200, "gpt-4o-mini", True)] * 3,
    "variant_b": [("1.1", "POST", CHAT, 200, "gpt-4o-mini", True)] * 2
    + [("1.1", "POST", CHAT, 429, "gpt-4o-mini", True)]
    + [("1.1", "POST", CHAT, 200, "gpt-4o-mini", True)] * 5,
    "demo": [("1.1", "POST", MSGS, 200, "claude-haiku-4-5", None)]
    + [("1.1", "POST", CHAT, 200, "gpt-4o-mini", True)] * 6
    + [("1.1", "POST", MSGS, 200, "claude-sonnet-4-6", True)],
}


def load(name: str) -> list[Exchange]:
    path = FIXTURES / f"{name}.heron"
    if not path.exists():  # pragma: no cover - fixtures are committed
        pytest.skip(f"{path} not recorded")
    return sorted(iter_exchanges(Reader(path)), key=lambda e: e.request_start_ns or 0)


def shape(e: Exchange) -> tuple[str, str | None, str | None, int | None, str | None, bool | None]:
    req = e.request_json()
    model = req.get("model") if isinstance(req, dict) else None
    stream = req.get("stream") if isinstance(req, dict) else None
    return (e.http_version, e.method, e.path, e.status, model, stream)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_exchanges_paths_statuses_models(name: str) -> None:
    exs = load(name)
    assert [shape(e) for e in exs] == EXPECTED[name]
    for e in exs:
        assert e.parse_error is None and not (e.gap or e.mid_stream or e.truncated)
        assert e.authority is not None and e.authority.startswith("127.0.0.1:")
        # times are ordered, and the response timeline ends at the body size
        assert e.request_start_ns is not None and e.response_start_ns is not None
        assert e.request_end_ns is not None and e.response_end_ns is not None
        assert e.request_start_ns <= e.request_end_ns <= e.response_start_ns <= e.response_end_ns
        if e.response_body:
            assert e.response_timeline[-1][1] == len(e.response_body)
            ts = [t for t, _ in e.response_timeline]
            assert ts == sorted(ts) and ts[0] >= e.response_start_ns
        assert e.request_body_size == len(e.request_body)  # no request was compressed


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_credentials_are_masked(name: str) -> None:
    for e in load(name):
        for key in ("authorization", "x-api-key", "x-goog-api-key"):
            v = e.header(key)
            assert v is None or v == "[REDACTED]"
        if name != "ollama_plain":  # the only one without a key
            assert e.redacted


def test_only_the_unread_429_body_is_partial() -> None:
    exs = load("variant_b")
    assert [e.partial for e in exs] == [e.status == 429 for e in exs]
    rate = next(e for e in exs if e.status == 429)
    assert rate.header("retry-after-ms", response=True) == "20" and rate.response_body == b""
    assert all(not e.partial for name in EXPECTED if name != "variant_b" for e in load(name))


def _sse(body: bytes) -> list[str]:
    p = SSEParser()
    return [e.data for e in p.feed(body) + p.flush()]


@pytest.mark.parametrize(
    "name", ["openai_tools", "openai_async", "node_fetch", "httpx_h2", "curl_h2", "demo"]
)
def test_openai_streams_end_with_done_and_time_each_event(name: str) -> None:
    streamed = [e for e in load(name) if e.path == CHAT and shape(e)[5] is True]
    assert streamed
    for e in streamed:
        assert e.header("content-type", response=True) == "text/event-stream"
        data = _sse(e.response_body)
        assert data[-1] == "[DONE]" and len(data) >= 3
        # every event can be timed from the timeline
        p = SSEParser()
        times = [e.time_at(ev.end) for ev in p.feed(e.response_body)]
        assert all(t is not None for t in times) and times == sorted(times)  # type: ignore[type-var]


@pytest.mark.parametrize("name", ["anthropic_stream", "httpx_h2", "curl_h2", "node_fetch", "demo"])
def test_anthropic_streams_have_named_events(name: str) -> None:
    streamed = [e for e in load(name) if e.path == MSGS and shape(e)[5] is True]
    assert streamed
    for e in streamed:
        p = SSEParser()
        names = [ev.event for ev in p.feed(e.response_body)]
        assert names[0] == "message_start" and names[-1] == "message_stop"
        assert "content_block_delta" in names


def test_ollama_ndjson_over_plain_tcp() -> None:
    exs = load("ollama_plain")
    assert all(e.scheme == "http" for e in exs)
    for e in exs:
        p = NDJSONParser()
        lines = p.feed(e.response_body) + p.flush()
        assert lines and all(x.error is None for x in lines)
        assert lines[-1].value["done"] is True


def test_http2_streams_and_connections() -> None:
    exs = load("httpx_h2")
    by_conn: dict[int, list[int | None]] = {}
    for e in exs:
        by_conn.setdefault(e.conn, []).append(e.stream_id)
    assert sorted(by_conn.values()) == [[1, 3, 5], [1, 3, 5, 7, 9, 11]]


def test_gemini_stream_is_sse() -> None:
    streamed = [e for e in load("gemini") if "stream" in (e.path or "")]
    assert len(streamed) == 2
    for e in streamed:
        data = _sse(e.response_body)
        assert data and all(d.startswith("{") for d in data)
