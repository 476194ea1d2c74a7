"""OpenAI-style answers: chat completions, responses, legacy completions, embeddings.

Shapes follow the public API closely enough that the real ``openai`` SDK
parses them: streamed chat chunks carry tool-call argument fragments in
``delta.tool_calls`` across several chunks, and with
``stream_options.include_usage`` a final chunk with empty ``choices`` carries
the usage (every earlier chunk has ``"usage": null``).

Examples
--------
>>> from heron.standin.wire import Request
>>> from heron.standin.scenario import Scenario
>>> body = b'{"model":"m","messages":[{"role":"user","content":"hi"}]}'
>>> r = chat(Request("POST", "/v1/chat/completions", [], body), _json(body), Scenario())
>>> import json; json.loads(r.body)["choices"][0]["finish_reason"]
'stop'
"""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import Any

from heron.standin.errors import RequestError
from heron.standin.scenario import Scenario, split_model
from heron.standin.script import (
    Conversation,
    ToolSpec,
    Turn,
    decide,
    split_fragments,
    split_words,
    tokens,
)
from heron.standin.wire import CREATED, Reply, Request, sse

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "server_error",
}


def _json(body: bytes) -> dict[str, Any]:
    import json

    return json.loads(body)  # type: ignore[no-any-return]


def error_reply(status: int, message: str) -> Reply:
    """An OpenAI-format error answer.

    Examples
    --------
    >>> error_reply(429, "slow down").body[:30]
    b'{"error":{"message":"slow down'
    """
    err = {
        "error": {
            "message": message,
            "type": _ERROR_TYPES.get(status, "api_error"),
            "param": None,
            "code": "rate_limit_exceeded" if status == 429 else None,
        }
    }
    return Reply.json(status, err)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p
        )
    return ""


def _chat_tools(body: dict[str, Any]) -> list[ToolSpec]:
    specs = []
    for t in body.get("tools") or []:
        fn = t.get("function") if isinstance(t, dict) else None
        if isinstance(fn, dict) and "name" in fn:
            specs.append(ToolSpec(str(fn["name"]), fn.get("parameters") or {}))
    return specs


def chat_conversation(body: dict[str, Any]) -> Conversation:
    """Reduce a chat-completions (or Ollama chat) body to a Conversation.

    Examples
    --------
    >>> chat_conversation({"messages": [{"role": "user", "content": "x"},
    ...                                 {"role": "tool", "content": "r"}]}).n_results
    1
    """
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise RequestError("chat request: expected a 'messages' list, found none")
    last_user = ""
    n_results = 0
    for m in messages:
        if not isinstance(m, dict):
            continue
        if m.get("role") == "user":
            last_user = _text_of(m.get("content"))
        elif m.get("role") == "tool":
            n_results += 1
    return Conversation(_chat_tools(body), n_results, last_user, len(messages))


def _key(req: Request) -> str:
    return hashlib.sha256(req.body).hexdigest()


def _usage(turn: Turn) -> dict[str, Any]:
    return {
        "prompt_tokens": turn.prompt_tokens,
        "completion_tokens": turn.output_tokens,
        "total_tokens": turn.prompt_tokens + turn.output_tokens,
        "prompt_tokens_details": {"cached_tokens": turn.cache_read, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": turn.reasoning, "audio_tokens": 0},
    }


def _finish(reply: Reply, sc: Scenario, api: str) -> Reply:
    reply.api = api
    reply.scenario = sc.as_dict()
    reply.latency_s = sc.latency_ms / 1000
    reply.ttft_s = sc.ttft_ms / 1000
    reply.chunk_s = sc.chunk_ms / 1000
    return reply


def _stream_error_event() -> bytes:
    return sse(
        {
            "error": {
                "message": "stand-in: stream interrupted",
                "type": "server_error",
                "param": None,
                "code": None,
            }
        }
    )


def chat(req: Request, body: dict[str, Any], sc: Scenario) -> Reply:
    """Answer ``POST /v1/chat/completions`` (streamed or not).

    Examples
    --------
    >>> from heron.standin.wire import Request
    >>> b = b'{"model":"m","stream":true,"messages":[{"role":"user","content":"q"}]}'
    >>> r = chat(Request("POST", "/v1/chat/completions", [], b), _json(b), Scenario())
    >>> r.parts[-1]
    b'data: [DONE]\\n\\n'
    """
    model, _ = split_model(str(body.get("model", "")))
    conv = chat_conversation(body)
    key = _key(req)
    turn = decide(conv, sc, body=req.body, call_key=key)
    cid = "chatcmpl-" + key[:24]
    finish = "stop" if turn.finished else "tool_calls"
    tool_calls = [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.args_json}}
        for c in turn.tool_calls
    ]
    if not body.get("stream"):
        message: dict[str, Any] = {
            "role": "assistant",
            "content": turn.text or None,
            "refusal": None,
            "annotations": [],
        }
        if tool_calls:
            message["tool_calls"] = tool_calls
        obj = {
            "id": cid,
            "object": "chat.completion",
            "created": CREATED,
            "model": model,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
            "usage": _usage(turn),
            "service_tier": "default",
            "system_fingerprint": "fp_standin",
        }
        return _finish(Reply.json(200, obj), sc, "openai.chat")

    opts = body.get("stream_options") or {}
    include_usage = bool(isinstance(opts, dict) and opts.get("include_usage"))

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        obj: dict[str, Any] = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": "fp_standin",
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if include_usage:
            obj["usage"] = None
        return sse(obj)

    parts = [chunk({"role": "assistant", "content": "", "refusal": None})]
    for w in split_words(turn.text):
        parts.append(chunk({"content": w}))
    for i, c in enumerate(turn.tool_calls):
        parts.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": i,
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": ""},
                        }
                    ]
                }
            )
        )
        for frag in split_fragments(c.args_json):
            parts.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": frag}}]}))
    if sc.error == "stream":
        parts = [*parts[: 1 + sc.error_after], _stream_error_event()]
        return _finish(Reply.stream(parts), sc, "openai.chat")
    parts.append(chunk({}, finish))
    if include_usage:
        parts.append(
            sse(
                {
                    "id": cid,
                    "object": "chat.completion.chunk",
                    "created": CREATED,
                    "model": model,
                    "system_fingerprint": "fp_standin",
                    "choices": [],
                    "usage": _usage(turn),
                }
            )
        )
    parts.append(b"data: [DONE]\n\n")
    return _finish(Reply.stream(parts), sc, "openai.chat")


# --------------------------------------------------------------------- responses


def responses_conversation(body: dict[str, Any]) -> Conversation:
    """Reduce a Responses API body to a Conversation.

    Examples
    --------
    >>> responses_conversation({"input": "hello"}).last_user
    'hello'
    """
    inp = body.get("input")
    tools = [
        ToolSpec(str(t["name"]), t.get("parameters") or {})
        for t in body.get("tools") or []
        if isinstance(t, dict) and t.get("type", "function") == "function" and "name" in t
    ]
    if isinstance(inp, str):
        return Conversation(tools, 0, inp, 1)
    if not isinstance(inp, list):
        raise RequestError("responses request: expected 'input' as a string or a list, found none")
    last_user = ""
    n_results = 0
    for item in inp:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "function_call_output":
            n_results += 1
        elif item.get("role") == "user":
            c = item.get("content")
            if isinstance(c, list):
                last_user = " ".join(
                    str(p.get("text", "")) for p in c if isinstance(p, dict) and "text" in p
                )
            else:
                last_user = _text_of(c)
    return Conversation(tools, n_results, last_user, len(inp))


def responses(req: Request, body: dict[str, Any], sc: Scenario) -> Reply:
    """Answer ``POST /v1/responses`` (streamed events or one JSON object).

    Examples
    --------
    >>> from heron.standin.wire import Request
    >>> b = b'{"model":"m","input":"hi"}'
    >>> r = responses(Request("POST", "/v1/responses", [], b), _json(b), Scenario())
    >>> _json(r.body)["output"][0]["content"][0]["type"]
    'output_text'
    """
    model, _ = split_model(str(body.get("model", "")))
    conv = responses_conversation(body)
    key = _key(req)
    turn = decide(conv, sc, body=req.body, call_key=key)
    rid = "resp_" + key[:32]
    usage = {
        "input_tokens": turn.prompt_tokens,
        "input_tokens_details": {"cached_tokens": turn.cache_read},
        "output_tokens": turn.output_tokens,
        "output_tokens_details": {"reasoning_tokens": turn.reasoning},
        "total_tokens": turn.prompt_tokens + turn.output_tokens,
    }
    items: list[dict[str, Any]] = []
    if turn.text:
        items.append(
            {
                "type": "message",
                "id": "msg_" + key[:32],
                "status": "completed",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": turn.text, "annotations": [], "logprobs": []}
                ],
            }
        )
    for i, c in enumerate(turn.tool_calls):
        items.append(
            {
                "type": "function_call",
                "id": f"fc_{key[:30]}{i:02d}",
                "call_id": c.id,
                "name": c.name,
                "arguments": c.args_json,
                "status": "completed",
            }
        )

    def response_obj(status: str, output: list[dict[str, Any]], with_usage: bool) -> dict[str, Any]:
        return {
            "id": rid,
            "object": "response",
            "created_at": CREATED,
            "status": status,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": model,
            "output": output,
            "parallel_tool_calls": True,
            "previous_response_id": body.get("previous_response_id"),
            "temperature": 1.0,
            "tool_choice": "auto",
            "tools": body.get("tools") or [],
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": usage if with_usage else None,
            "metadata": {},
        }

    if not body.get("stream"):
        return _finish(
            Reply.json(200, response_obj("completed", items, True)), sc, "openai.responses"
        )

    seq = 0
    parts: list[bytes] = []

    def ev(kind: str, **fields: Any) -> None:
        nonlocal seq
        parts.append(sse({"type": kind, "sequence_number": seq, **fields}, event=kind))
        seq += 1

    ev("response.created", response=response_obj("in_progress", [], False))
    ev("response.in_progress", response=response_obj("in_progress", [], False))
    content_events = 0
    for oi, item in enumerate(items):
        if item["type"] == "message":
            start = {**item, "status": "in_progress", "content": []}
            ev("response.output_item.added", output_index=oi, item=start)
            part0 = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            ev(
                "response.content_part.added",
                item_id=item["id"],
                output_index=oi,
                content_index=0,
                part=part0,
            )
            for w in split_words(turn.text):
                ev(
                    "response.output_text.delta",
                    item_id=item["id"],
                    output_index=oi,
                    content_index=0,
                    delta=w,
                    logprobs=[],
                )
                content_events += 1
                if sc.error == "stream" and content_events >= sc.error_after:
                    break
            if sc.error == "stream":
                break
            ev(
                "response.output_text.done",
                item_id=item["id"],
                output_index=oi,
                content_index=0,
                text=turn.text,
                logprobs=[],
            )
            ev(
                "response.content_part.done",
                item_id=item["id"],
                output_index=oi,
                content_index=0,
                part=item["content"][0],
            )
        else:
            ev(
                "response.output_item.added",
                output_index=oi,
                item={**item, "arguments": "", "status": "in_progress"},
            )
            for frag in split_fragments(item["arguments"]):
                ev(
                    "response.function_call_arguments.delta",
                    item_id=item["id"],
                    output_index=oi,
                    delta=frag,
                )
                content_events += 1
            if sc.error == "stream":
                break
            ev(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=oi,
                arguments=item["arguments"],
            )
        ev("response.output_item.done", output_index=oi, item=item)
    if sc.error == "stream":
        ev("error", code="server_error", message="stand-in: stream interrupted", param=None)
    else:
        ev("response.completed", response=response_obj("completed", items, True))
    return _finish(Reply.stream(parts), sc, "openai.responses")


# ------------------------------------------------------------------ completions


def completions(req: Request, body: dict[str, Any], sc: Scenario) -> Reply:
    """Answer the legacy ``POST /v1/completions``.

    Examples
    --------
    >>> from heron.standin.wire import Request
    >>> b = b'{"model":"m","prompt":"say"}'
    >>> _json(completions(Request("POST", "/v1/completions", [], b), _json(b), Scenario()).body)["object"]
    'text_completion'
    """
    model, _ = split_model(str(body.get("model", "")))
    prompt = body.get("prompt", "")
    if isinstance(prompt, list):
        prompt = " ".join(str(p) for p in prompt)
    key = _key(req)
    turn = decide(Conversation([], 0, str(prompt), 1), sc, body=req.body, call_key=key)
    cid = "cmpl-" + key[:24]
    usage = {
        "prompt_tokens": turn.prompt_tokens,
        "completion_tokens": turn.output_tokens,
        "total_tokens": turn.prompt_tokens + turn.output_tokens,
    }
    if not body.get("stream"):
        obj = {
            "id": cid,
            "object": "text_completion",
            "created": CREATED,
            "model": model,
            "choices": [{"text": turn.text, "index": 0, "logprobs": None, "finish_reason": "stop"}],
            "usage": usage,
        }
        return _finish(Reply.json(200, obj), sc, "openai.completions")
    opts = body.get("stream_options") or {}
    include_usage = bool(isinstance(opts, dict) and opts.get("include_usage"))

    def chunk(text: str, finish: str | None) -> bytes:
        obj: dict[str, Any] = {
            "id": cid,
            "object": "text_completion",
            "created": CREATED,
            "model": model,
            "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            obj["usage"] = None
        return sse(obj)

    parts = [chunk(w, None) for w in split_words(turn.text)]
    if sc.error == "stream":
        parts = [*parts[: sc.error_after], _stream_error_event()]
        return _finish(Reply.stream(parts), sc, "openai.completions")
    parts.append(chunk("", "stop"))
    if include_usage:
        parts.append(
            sse(
                {
                    "id": cid,
                    "object": "text_completion",
                    "created": CREATED,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
            )
        )
    parts.append(b"data: [DONE]\n\n")
    return _finish(Reply.stream(parts), sc, "openai.completions")


# ------------------------------------------------------------------- embeddings


def _vector(text: str, dims: int) -> list[float]:
    digest = b""
    i = 0
    while len(digest) < dims:
        digest += hashlib.sha256(f"{i}:{text}".encode()).digest()
        i += 1
    return [round((b - 127.5) / 127.5, 4) for b in digest[:dims]]


def embeddings(req: Request, body: dict[str, Any], sc: Scenario) -> Reply:
    """Answer ``POST /v1/embeddings`` (float or base64 encoding).

    Vectors are a hash of the input text, ``dimensions`` long (default 8).

    Examples
    --------
    >>> from heron.standin.wire import Request
    >>> b = b'{"model":"e","input":["a","b"],"encoding_format":"float"}'
    >>> d = _json(embeddings(Request("POST", "/v1/embeddings", [], b), _json(b), Scenario()).body)
    >>> len(d["data"]), len(d["data"][0]["embedding"])
    (2, 8)
    """
    model, _ = split_model(str(body.get("model", "")))
    inp = body.get("input")
    texts = [inp] if isinstance(inp, str) else list(inp) if isinstance(inp, list) else None
    if texts is None:
        raise RequestError("embeddings request: expected 'input' as a string or a list, found none")
    dims = body.get("dimensions") or 8
    if not isinstance(dims, int) or not 1 <= dims <= 4096:
        raise RequestError(
            f"embeddings request: expected 'dimensions' in [1, 4096], found {dims!r}"
        )
    b64 = body.get("encoding_format") == "base64"
    data = []
    for i, t in enumerate(texts):
        vec = _vector(str(t), dims)
        emb: Any = base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode() if b64 else vec
        data.append({"object": "embedding", "index": i, "embedding": emb})
    n = tokens(req.body)
    obj = {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": n, "total_tokens": n},
    }
    return _finish(Reply.json(200, obj), sc, "openai.embeddings")


def models() -> Reply:
    """Answer ``GET /v1/models``.

    Examples
    --------
    >>> _json(models().body)["object"]
    'list'
    """
    names = ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small"]
    return Reply.json(
        200,
        {
            "object": "list",
            "data": [
                {"id": n, "object": "model", "created": CREATED, "owned_by": "heron-standin"}
                for n in names
            ],
        },
    )
