"""Anthropic ``messages`` (``POST .../v1/messages``).

Request content is a string or blocks: ``text``, ``tool_use`` (echoed
assistant tool calls, with ``id``) and ``tool_result`` (``tool_use_id``,
``content``, ``is_error``).  ``system`` is a string or text blocks.

Streams: ``message_start`` carries the model and the input/cache token
usage; ``content_block_start`` opens a text, thinking or ``tool_use`` block;
``content_block_delta`` adds ``text_delta``/``thinking_delta`` or
``input_json_delta`` argument fragments; ``message_delta`` carries the stop
reason and usage whose ``output_tokens`` is CUMULATIVE (it replaces
``message_start``'s count, never adds to it); ``error`` events carry
in-stream failures such as ``overloaded_error``.

Examples
--------
>>> from heron.analyze.exchange import Exchange
>>> body = (b'event: message_start\\ndata: {"type":"message_start","message":{"model":"claude-x",'
...         b'"usage":{"input_tokens":10,"cache_read_input_tokens":4,"output_tokens":1}}}\\n\\n'
...         b'event: content_block_start\\ndata: {"type":"content_block_start","index":0,'
...         b'"content_block":{"type":"tool_use","id":"toolu_1","name":"ls","input":{}}}\\n\\n'
...         b'event: content_block_delta\\ndata: {"type":"content_block_delta","index":0,'
...         b'"delta":{"type":"input_json_delta","partial_json":"{\\\\"p\\\\": 1}"}}\\n\\n'
...         b'event: message_delta\\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use"},'
...         b'"usage":{"output_tokens":7}}\\n\\n')
>>> c = parse(Exchange(0, 1, 2, "1.1", path="/v1/messages", request_body=b'{"stream":true,"messages":[]}',
...                    response_headers=[("content-type", "text/event-stream")], response_body=body))
>>> c.input_tokens, c.output_tokens, c.cache_read_tokens, c.finish_reason
(10, 7, 4, 'tool_use')
>>> [(t.id, t.name, t.arguments) for t in c.tool_requests]
[('toolu_1', 'ls', '{"p": 1}')]
"""

from __future__ import annotations

from typing import Any

from heron.analyze.exchange import Exchange
from heron.analyze.providers.base import (
    Message,
    ParsedCall,
    ToolRequest,
    ToolResult,
    as_int,
    error_text,
    history_items,
    json_text,
    loads,
    mark_trailing,
    request_body,
    set_history,
    sse_events,
    system_message,
    text_of,
)
from heron.analyze.providers.history import RequestHistory, RequestView


def parse(ex: Exchange, history: RequestHistory | None = None) -> ParsedCall:
    """Parse one Anthropic messages exchange (never raises; ``history``: see openai_chat).

    Examples
    --------
    >>> ex = heron.open("tests/fixtures/anthropic_stream.heron").call(0).exchange
    >>> c = parse(ex)
    >>> c.model, c.streamed, c.finish_reason, [(t.name, t.arguments) for t in c.tool_requests]
    ('claude-sonnet-4-6', True, 'tool_use', [('read_file', '{"path":"src/calc.py"}')])
    """
    call = ParsedCall(provider="anthropic", api="messages")
    req, view = request_body(ex, history, "messages", "anthropic.messages")
    if isinstance(req, dict):
        parse_request(req, call, view)
    elif ex.request_body:
        call.note("request body is not JSON")
    ctype = (ex.header("content-type", response=True) or "").lower()
    if "event-stream" in ctype or ex.response_body.lstrip()[:6] in (b"event:", b"data: "):
        call.streamed = True
        _stream(ex, call)
    else:
        resp = loads(ex.response_body)
        if isinstance(resp, dict):
            _response(resp, call)
        elif ex.response_body and (ex.status or 0) < 400:
            call.note("response body is not JSON")
    return call


def parse_request(req: dict[str, Any], call: ParsedCall, view: RequestView | None = None) -> None:
    """Fill model, messages (system first) and tools offered from a request.

    Examples
    --------
    >>> c = ParsedCall("anthropic", "messages")
    >>> parse_request({"model": "claude", "system": "be brief", "messages": [
    ...     {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}]}, c)
    >>> [m.role for m in c.messages], c.messages[1].tool_results[0].id
    (['system', 'user'], 't1')
    """
    if isinstance(req.get("model"), str):
        call.model = req["model"]
    tools = req.get("tools")
    call.n_tools_offered = len(tools) if isinstance(tools, list) else 0
    raw = req.get("system")
    system = system_message(view, raw, lambda: Message("system", text_of(raw))) if raw else None
    if not isinstance(req.get("messages"), list):
        call.note("request has no messages list")
        set_history(call, view, [], 0, system)
        return
    items, shared = history_items(req, "messages", view, _message_of)
    set_history(call, view, items, shared, system)
    mark_trailing(call, ("assistant",))


def _message_of(m: Any) -> Message | None:
    return _message(str(m.get("role") or "?"), m.get("content")) if isinstance(m, dict) else None


def _message(role: str, content: Any) -> Message:
    if not isinstance(content, list):
        return Message(role, text_of(content))
    msg = Message(role)
    texts: list[str] = []
    for b in content:
        if not isinstance(b, dict):
            continue
        typ = b.get("type")
        if typ == "text" and isinstance(b.get("text"), str):
            texts.append(b["text"])
        elif typ in ("tool_use", "server_tool_use"):
            msg.tool_calls.append(
                ToolRequest(
                    _s(b.get("id")),
                    str(b.get("name") or ""),
                    json_text(b.get("input")),
                    len(msg.tool_calls),
                )
            )
        elif typ == "tool_result":
            err = b.get("is_error")
            msg.tool_results.append(
                ToolResult(
                    _s(b.get("tool_use_id")),
                    None,
                    text_of(b.get("content")),
                    err if isinstance(err, bool) else False,
                )
            )
    msg.text = "\n".join(texts)
    return msg


def _s(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _usage(u: Any, call: ParsedCall) -> None:
    """Apply a usage object; every field present is cumulative, so it replaces."""
    if not isinstance(u, dict):
        return
    for key, attr in (
        ("input_tokens", "input_tokens"),
        ("output_tokens", "output_tokens"),
        ("cache_read_input_tokens", "cache_read_tokens"),
        ("cache_creation_input_tokens", "cache_write_tokens"),
    ):
        v = as_int(u.get(key))
        if v is not None:
            setattr(call, attr, v)


def _response(resp: dict[str, Any], call: ParsedCall) -> None:
    err = error_text(resp)
    if err:
        call.error = err
    if isinstance(resp.get("model"), str):
        call.model = resp["model"]
    if isinstance(resp.get("id"), str):
        call.response_id = resp["id"]
    if isinstance(resp.get("stop_reason"), str):
        call.finish_reason = resp["stop_reason"]
    _usage(resp.get("usage"), call)
    m = _message("assistant", resp.get("content"))
    call.response_text = m.text
    call.tool_requests = m.tool_calls


def _stream(ex: Exchange, call: ParsedCall) -> None:
    blocks: dict[int, ToolRequest] = {}
    args: dict[int, list[str]] = {}
    texts: list[str] = []
    bad = 0
    for ev in sse_events(ex.response_body):
        obj = loads(ev.data)
        if not isinstance(obj, dict):
            bad += 1
            continue
        typ = obj.get("type") or ev.event
        got = False
        if typ == "message_start":
            msg = obj.get("message")
            if isinstance(msg, dict):
                if isinstance(msg.get("model"), str):
                    call.model = msg["model"]
                if isinstance(msg.get("id"), str):
                    call.response_id = msg["id"]
                _usage(msg.get("usage"), call)
        elif typ == "content_block_start":
            cb = obj.get("content_block")
            idx = obj.get("index")
            if (
                isinstance(cb, dict)
                and isinstance(idx, int)
                and cb.get("type") in ("tool_use", "server_tool_use")
            ):
                blocks[idx] = ToolRequest(
                    _s(cb.get("id")), str(cb.get("name") or ""), "", len(blocks)
                )
                args[idx] = []
                inp = cb.get("input")
                if isinstance(inp, dict) and inp:
                    args[idx].append(json_text(inp))
                blocks[idx].end = ev.end
                got = True
            elif isinstance(cb, dict) and isinstance(cb.get("text"), str) and cb["text"]:
                texts.append(cb["text"])
                got = True
        elif typ == "content_block_delta":
            d = obj.get("delta")
            idx = obj.get("index")
            if isinstance(d, dict):
                dt = d.get("type")
                if dt == "text_delta" and isinstance(d.get("text"), str):
                    texts.append(d["text"])
                    got = bool(d["text"])
                elif dt == "input_json_delta" and isinstance(idx, int):
                    if idx in args and isinstance(d.get("partial_json"), str):
                        args[idx].append(d["partial_json"])
                        blocks[idx].end = ev.end
                    got = True
                elif dt in ("thinking_delta", "signature_delta"):
                    got = dt == "thinking_delta"
        elif typ == "content_block_stop":
            idx = obj.get("index")
            if isinstance(idx, int) and idx in blocks:
                blocks[idx].end = ev.end  # the arguments are complete here
        elif typ == "message_delta":
            d = obj.get("delta")
            if isinstance(d, dict) and isinstance(d.get("stop_reason"), str):
                call.finish_reason = d["stop_reason"]
            _usage(obj.get("usage"), call)
        elif typ == "error":
            call.error = error_text(obj) or "error event"
        if got and call.first_token_offset is None:
            call.first_token_offset = ev.end
    if bad:
        call.note(f"{bad} stream event(s) not JSON")
    call.response_text = "".join(texts)
    for i in sorted(blocks):
        t = blocks[i]
        t.arguments = "".join(args[i]) or "{}"
        call.tool_requests.append(t)
