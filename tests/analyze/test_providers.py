"""Provider parsing on transcripts recorded from the real SDKs (see tests/fixtures/transcripts)."""

from __future__ import annotations

import json

import pytest

from heron.analyze.exchange import Exchange
from heron.analyze.providers import parse_exchange, recognise
from heron.analyze.providers.base import ParsedCall
from tests.analyze.transcripts import load


def parsed(name: str) -> list[ParsedCall]:
    out = []
    for ex in load(name):
        c = parse_exchange(ex)
        assert c is not None, ex.path
        out.append(c)
    return out


def test_openai_nonstream_tool_round() -> None:
    first, second = parsed("openai_nonstream_tools")
    assert (first.api, first.model, first.streamed) == ("chat.completions", "gpt-4o-mini", False)
    assert (first.input_tokens, first.output_tokens, first.finish_reason) == (103, 8, "tool_calls")
    assert first.cache_read_tokens == 0 and first.reasoning_tokens == 0
    assert [(t.name, t.arguments) for t in first.tool_requests] == [
        ("list_files", '{"directory":"."}')
    ]
    assert first.n_tools_offered == 1 and [m.role for m in first.messages] == ["system", "user"]
    tid = first.tool_requests[0].id
    assert tid and tid.startswith("call_")
    results = second.tool_results
    assert [r.id for r in results] == [tid]
    assert [r.id for r in second.new_tool_results] == [tid]
    assert (second.input_tokens, second.output_tokens, second.finish_reason) == (177, 23, "stop")
    assert second.response_text.startswith("Done after 1 tool results")
    assert first.first_token_offset is None  # not streamed: no TTFT


def test_openai_stream_joins_tool_fragments_and_reads_final_usage_chunk() -> None:
    calls = parsed("openai_stream_tools")
    assert [c.streamed for c in calls] == [True, True, True]
    assert [(c.input_tokens, c.output_tokens) for c in calls] == [(176, 8), (249, 9), (328, 22)]
    assert [[(t.name, t.arguments) for t in c.tool_requests] for c in calls] == [
        [("list_files", '{"directory":"."}')],
        [("read_file", '{"path":"src/calc.py"}')],
        [],
    ]
    assert all(c.first_token_offset for c in calls)
    # history re-sends old results; only the new one is trailing
    _old, new = calls[2].tool_results
    assert calls[2].new_tool_results == [new]


def test_openai_stream_fragments_by_index_with_parallel_calls() -> None:
    chunks = [
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {"index": 0, "id": "c1", "function": {"name": "a", "arguments": ""}},
                            {
                                "index": 1,
                                "id": "c2",
                                "function": {"name": "b", "arguments": '{"x"'},
                            },
                        ]
                    },
                }
            ]
        },
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]},
                }
            ]
        },
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 1, "function": {"arguments": ": 1}"}}]},
                }
            ]
        },
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {
            "choices": [],
            "usage": {
                "prompt_tokens": 9,
                "completion_tokens": 4,
                "completion_tokens_details": {"reasoning_tokens": 2},
                "prompt_tokens_details": {"cached_tokens": 5},
            },
        },
    ]
    body = (
        b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    )
    ex = Exchange(
        0,
        1,
        2,
        "1.1",
        method="POST",
        path="/v1/chat/completions",
        request_body=b'{"model":"m","messages":[],"stream":true}',
        response_headers=[("content-type", "text/event-stream")],
        response_body=body,
    )
    c = parse_exchange(ex)
    assert c is not None
    assert [(t.id, t.name, t.arguments) for t in c.tool_requests] == [
        ("c1", "a", "{}"),
        ("c2", "b", '{"x": 1}'),
    ]
    assert (c.input_tokens, c.output_tokens, c.reasoning_tokens, c.cache_read_tokens) == (
        9,
        4,
        2,
        5,
    )
    assert c.finish_reason == "tool_calls"


def test_openai_stream_without_include_usage_has_null_tokens() -> None:
    body = b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n'
    c = parse_exchange(
        Exchange(
            0,
            1,
            2,
            "1.1",
            method="POST",
            path="/v1/chat/completions",
            request_body=b'{"model":"m","messages":[],"stream":true}',
            response_headers=[("content-type", "text/event-stream")],
            response_body=body,
        )
    )
    assert c is not None and c.response_text == "hi"
    assert (c.input_tokens, c.output_tokens) == (None, None)


def test_openai_429_is_an_error_row_and_embeddings_are_not_chat() -> None:
    err, ok, emb = parsed("openai_429")
    assert err.error is not None and err.error.startswith("HTTP 429: rate_limit_error")
    assert (err.input_tokens, err.output_tokens) == (None, None)
    assert ok.error is None and (ok.input_tokens, ok.output_tokens) == (26, 24)
    assert (emb.api, emb.chat, emb.model, emb.input_tokens, emb.n_inputs) == (
        "embeddings",
        False,
        "text-embedding-3-small",
        20,
        2,
    )


def test_openai_responses_stream() -> None:
    first, second = parsed("openai_responses")
    assert (first.api, first.streamed, first.model) == ("responses", True, "gpt-4o-mini")
    assert (first.input_tokens, first.output_tokens) == (79, 7)
    assert [(t.name, t.arguments) for t in first.tool_requests] == [
        ("get_weather", '{"city":"Paris"}')
    ]
    tid = first.tool_requests[0].id
    assert [r.id for r in second.new_tool_results] == [tid]
    assert (second.input_tokens, second.output_tokens) == (146, 24)
    assert first.first_token_offset is not None


def test_anthropic_stream_usage_is_cumulative_not_added() -> None:
    calls = parsed("anthropic_stream_tools")
    assert [c.model for c in calls] == ["claude-sonnet-4-5"] * 4
    # message_delta output_tokens replaces message_start's (which was 1)
    assert [(c.input_tokens, c.output_tokens) for c in calls] == [
        (152, 13),
        (249, 14),
        (350, 22),
        (29, 1),
    ]
    assert [c.finish_reason for c in calls[:3]] == ["tool_use", "tool_use", "end_turn"]
    assert [[(t.name, t.arguments) for t in c.tool_requests] for c in calls[:3]] == [
        [("list_files", '{"directory":"."}')],
        [("read_file", '{"path":"src/calc.py"}')],
        [],
    ]
    assert calls[0].tool_requests[0].id.startswith("toolu_")  # type: ignore[union-attr]
    assert calls[0].messages[0].role == "system"
    assert calls[1].tool_results[0].id == calls[0].tool_requests[0].id
    assert calls[1].tool_results[0].is_error is False
    # an error event inside a 200 stream
    assert calls[3].error == "overloaded_error: stand-in: Overloaded"


def test_gemini_function_call_and_sse_stream_over_h2() -> None:
    exs = load("gemini_tools")
    assert {e.http_version for e in exs} == {"2"}
    first, second, streamed = parsed("gemini_tools")
    assert (first.provider, first.model, first.streamed) == ("gemini", "gemini-2.0-flash", False)
    assert [(t.id, t.name, t.arguments) for t in first.tool_requests] == [
        (None, "get_weather", '{"city":"Paris"}')
    ]
    assert (first.input_tokens, first.output_tokens) == (93, 7)
    assert [r.name for r in second.new_tool_results] == ["get_weather"]
    assert (streamed.streamed, streamed.input_tokens, streamed.output_tokens) == (True, 16, 23)
    assert streamed.first_token_offset is not None


def test_gemini_usage_metadata_repeated_takes_last() -> None:
    body = (
        b'data: {"candidates":[{"content":{"parts":[{"text":"a"}]}}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":1}}\n\n'
        b'data: {"candidates":[{"content":{"parts":[{"text":"b"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":2}}\n\n'
    )
    c = parse_exchange(
        Exchange(
            0,
            1,
            2,
            "1.1",
            method="POST",
            path="/v1beta/models/gemini-x:streamGenerateContent?alt=sse",
            request_body=b'{"contents":[]}',
            response_body=body,
        )
    )
    assert c is not None and (c.input_tokens, c.output_tokens, c.response_text) == (5, 2, "ab")


def test_gemini_stream_as_json_array() -> None:
    body = b'[{"candidates":[{"content":{"parts":[{"text":"a"}]}}]}\r\n,\r\n{"candidates":[{"content":{"parts":[{"text":"b"}]}}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2}}]'
    c = parse_exchange(
        Exchange(
            0,
            1,
            2,
            "1.1",
            method="POST",
            path="/v1beta/models/g:streamGenerateContent",
            request_body=b'{"contents":[]}',
            response_body=body,
        )
    )
    assert c is not None and (c.streamed, c.response_text, c.output_tokens) == (True, "ab", 2)


def test_ollama_ndjson_defaults_to_stream_and_reads_done_line() -> None:
    first, second, gen = parsed("ollama_chat")
    assert (first.api, first.streamed, first.model) == ("ollama.chat", True, "llama3.2")
    assert (first.input_tokens, first.output_tokens) == (86, 8)
    assert [(t.name, t.arguments) for t in first.tool_requests] == [
        ("list_files", '{"directory":"."}')
    ]
    assert [r.name for r in second.new_tool_results] == ["list_files"]
    assert (gen.api, gen.streamed, gen.input_tokens, gen.output_tokens) == (
        "ollama.generate",
        False,
        14,
        23,
    )


def test_http2_stream_transcript() -> None:
    calls = parsed("http2_stream")
    assert [(c.streamed, c.input_tokens, c.output_tokens) for c in calls] == [
        (True, 32, 23),
        (True, 32, 23),
    ]


@pytest.mark.parametrize(
    ("path", "module"),
    [
        ("/openai/deployments/gpt4/chat/completions?api-version=2024-06-01", "openai_chat"),
        ("/api/v1/chat/completions", "openai_chat"),  # OpenRouter
        ("/v1/responses", "openai_responses"),
        ("/v1/completions", "openai_completions"),
        ("/v1/messages", "anthropic"),
        ("/v1beta/models/g:generateContent", "gemini"),
        ("/api/chat", "ollama"),
        ("/api/generate", "ollama"),
        ("/v1/embeddings", "embeddings"),
        ("/api/embed", "embeddings"),
    ],
)
def test_recognised_by_path(path: str, module: str) -> None:
    p = recognise(Exchange(0, 1, 2, "1.1", method="POST", path=path))
    assert p is not None and p.__module__.endswith(module)


def test_recognised_by_shape_on_unknown_gateway_path() -> None:
    ex = Exchange(
        0,
        1,
        2,
        "1.1",
        method="POST",
        path="/gateway/llm",
        request_headers=[("anthropic-version", "2023-06-01")],
        request_body=b'{"model":"c","max_tokens":5,"messages":[]}',
    )
    assert recognise(ex).__module__.endswith("anthropic")  # type: ignore[union-attr]
    ex2 = Exchange(
        0, 1, 2, "1.1", method="POST", path="/proxy", request_body=b'{"model":"m","messages":[]}'
    )
    assert recognise(ex2).__module__.endswith("openai_chat")  # type: ignore[union-attr]
    assert (
        recognise(Exchange(0, 1, 2, "1.1", method="POST", path="/x", request_body=b'{"a":1}'))
        is None
    )
    assert recognise(Exchange(0, 1, 2, "1.1", method="GET", path="/v1/models")) is None


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x00\xff garbage",
        b'data: {"choices":[{"index":0,"delta":{"content":"a"',  # cut mid-event
        b"data: not json\n\ndata: [DONE]\n\n",
        b'{"choices": 5}',
        b"[1, 2, 3]",
    ],
)
@pytest.mark.parametrize(
    "path",
    [
        "/v1/chat/completions",
        "/v1/responses",
        "/v1/completions",
        "/v1/messages",
        "/v1beta/models/g:streamGenerateContent",
        "/api/chat",
        "/v1/embeddings",
    ],
)
def test_malformed_bodies_never_raise(path: str, body: bytes) -> None:
    for req in (
        b'{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true}',
        b'{"model": "cut',
        b"\xff",
    ):
        c = parse_exchange(
            Exchange(
                0,
                1,
                2,
                "1.1",
                method="POST",
                path=path,
                status=200,
                request_body=req,
                response_body=body,
            )
        )
        assert c is not None
        assert c.input_tokens is None or isinstance(c.input_tokens, int)


def test_truncated_json_request_is_flagged() -> None:
    c = parse_exchange(
        Exchange(
            0,
            1,
            2,
            "1.1",
            method="POST",
            path="/v1/chat/completions",
            request_body=b'{"model":"m","messages":[{"role":',
            response_body=b"{}",
        )
    )
    assert c is not None and c.parse_error and "request body is not JSON" in c.parse_error
