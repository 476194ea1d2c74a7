"""Anthropic-style answers: ``POST /v1/messages``, streamed or not.

A streamed answer is the real event sequence: ``message_start`` (with input
usage and ``output_tokens: 1``), a ``ping``, ``content_block_start`` /
``content_block_delta`` (``text_delta`` or ``input_json_delta`` for
``tool_use``) / ``content_block_stop`` per block, ``message_delta`` with the
*cumulative* ``output_tokens``, and ``message_stop``.  ``error=stream`` sends
an ``error`` event mid-stream instead of the end.

Examples
--------
>>> import json
>>> from heron.standin.wire import Request
>>> from heron.standin.scenario import Scenario
>>> b = b'{"model":"claude","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}'
>>> r = messages(Request("POST", "/v1/messages", [], b), json.loads(b), Scenario())
>>> json.loads(r.body)["stop_reason"]
'end_turn'
"""

from __future__ import annotations

import hashlib
from typing import Any

from heron.standin.errors import RequestError
from heron.standin.scenario import Scenario, split_model
from heron.standin.script import Conversation, ToolSpec, decide, split_fragments, split_words
from heron.standin.wire import Reply, Request, sse

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def error_reply(status: int, message: str) -> Reply:
    """An Anthropic-format error answer.

    Examples
    --------
    >>> error_reply(529, "busy").body
    b'{"type":"error","error":{"type":"overloaded_error","message":"busy"}}'
    """
    obj = {
        "type": "error",
        "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": message},
    }
    return Reply.json(status, obj)


def conversation(body: dict[str, Any]) -> Conversation:
    """Reduce a messages body to a Conversation (tool results are user blocks).

    Examples
    --------
    >>> conversation({"messages": [{"role": "user", "content": [
    ...     {"type": "tool_result", "tool_use_id": "t", "content": "ok"}]}]}).n_results
    1
    """
    msgs = body.get("messages")
    if not isinstance(msgs, list):
        raise RequestError("messages request: expected a 'messages' list, found none")
    tools = [
        ToolSpec(str(t["name"]), t.get("input_schema") or {})
        for t in body.get("tools") or []
        if isinstance(t, dict) and "name" in t
    ]
    last_user = ""
    n_results = 0
    for m in msgs:
        if not isinstance(m, dict) or m.get("role") != "user":
            continue
        c = m.get("content")
        if isinstance(c, str):
            last_user = c
            continue
        if not isinstance(c, list):
            continue
        texts = []
        for block in c:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_result":
                n_results += 1
            elif block.get("type") == "text":
                texts.append(str(block.get("text", "")))
        if texts:
            last_user = " ".join(texts)
    return Conversation(tools, n_results, last_user, len(msgs))


def messages(req: Request, body: dict[str, Any], sc: Scenario) -> Reply:
    """Answer ``POST /v1/messages``.

    Examples
    --------
    >>> import json
    >>> from heron.standin.wire import Request
    >>> b = b'{"model":"c","stream":true,"messages":[{"role":"user","content":"hi"}]}'
    >>> r = messages(Request("POST", "/v1/messages", [], b), json.loads(b), Scenario())
    >>> r.parts[0].split(b"\\n")[0], r.parts[-1].split(b"\\n")[0]
    (b'event: message_start', b'event: message_stop')
    """
    model, _ = split_model(str(body.get("model", "")))
    conv = conversation(body)
    key = hashlib.sha256(req.body).hexdigest()
    turn = decide(conv, sc, body=req.body, call_key=key, id_prefix="toolu_", preamble=True)
    stop = "end_turn" if turn.finished else "tool_use"
    blocks: list[dict[str, Any]] = []
    if turn.text:
        blocks.append({"type": "text", "text": turn.text})
    for c in turn.tool_calls:
        blocks.append({"type": "tool_use", "id": c.id, "name": c.name, "input": c.args})
    usage = {
        "input_tokens": turn.prompt_tokens - turn.cache_read,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": turn.cache_read,
        "output_tokens": turn.output_tokens,
        "service_tier": "standard",
    }
    msg: dict[str, Any] = {
        "id": "msg_" + key[:24],
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage,
    }
    reply: Reply
    if not body.get("stream"):
        reply = Reply.json(200, msg)
    else:
        start = {**msg, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
        parts = [
            sse({"type": "message_start", "message": start}, event="message_start"),
            sse({"type": "ping"}, event="ping"),
        ]
        deltas = 0
        failed = False
        for i, block in enumerate(blocks):
            if block["type"] == "text":
                head: dict[str, Any] = {"type": "text", "text": ""}
                pieces = [{"type": "text_delta", "text": w} for w in split_words(block["text"])]
            else:
                head = {**block, "input": {}}
                args = next(c.args_json for c in turn.tool_calls if c.id == block["id"])
                pieces = [
                    {"type": "input_json_delta", "partial_json": f} for f in split_fragments(args)
                ]
            parts.append(
                sse(
                    {"type": "content_block_start", "index": i, "content_block": head},
                    event="content_block_start",
                )
            )
            for p in pieces:
                if sc.error == "stream" and deltas >= sc.error_after:
                    failed = True
                    break
                parts.append(
                    sse(
                        {"type": "content_block_delta", "index": i, "delta": p},
                        event="content_block_delta",
                    )
                )
                deltas += 1
            if failed:
                break
            parts.append(
                sse({"type": "content_block_stop", "index": i}, event="content_block_stop")
            )
        if sc.error == "stream":
            err = {
                "type": "error",
                "error": {"type": "overloaded_error", "message": "stand-in: Overloaded"},
            }
            parts.append(sse(err, event="error"))
        else:
            parts.append(
                sse(
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": stop, "stop_sequence": None},
                        "usage": {"output_tokens": turn.output_tokens},
                    },
                    event="message_delta",
                )
            )
            parts.append(sse({"type": "message_stop"}, event="message_stop"))
        reply = Reply.stream(parts)
    reply.api = "anthropic.messages"
    reply.scenario = sc.as_dict()
    reply.latency_s = sc.latency_ms / 1000
    reply.ttft_s = sc.ttft_ms / 1000
    reply.chunk_s = sc.chunk_ms / 1000
    reply.headers.append(("request-id", "req_" + key[:24]))
    return reply
