"""OpenAI ``responses`` API (``POST .../responses``).

The request carries ``input`` (a string, or items: messages,
``function_call`` echoes and ``function_call_output`` results) plus optional
``instructions`` and ``previous_response_id`` (server-side history: the
conversation links through it instead of repeated messages).

Streams are named SSE events: ``response.output_text.delta``,
``response.function_call_arguments.delta``, ``response.output_item.added``
and, at the end, ``response.completed`` (or ``.failed``/``.incomplete``)
carrying the whole response with its ``usage``.  When the final event is
missing (a cut stream) the deltas are still assembled.

Examples
--------
>>> from heron.analyze.exchange import Exchange
>>> body = (b'event: response.output_text.delta\\ndata: {"type":"response.output_text.delta","delta":"Hi"}\\n\\n'
...         b'event: response.completed\\ndata: {"type":"response.completed","response":{"model":"m",'
...         b'"status":"completed","output":[],"usage":{"input_tokens":3,"output_tokens":1}}}\\n\\n')
>>> c = parse(Exchange(0, 1, 2, "1.1", path="/v1/responses", request_body=b'{"input":"hey","stream":true}',
...                    response_headers=[("content-type", "text/event-stream")], response_body=body))
>>> c.response_text, c.input_tokens, c.output_tokens, c.first_token_offset is not None
('Hi', 3, 1, True)
"""

from __future__ import annotations

from typing import Any

from heron.analyze.exchange import Exchange
from heron.analyze.providers.base import (
    Message,
    ParsedCall,
    ToolRequest,
    ToolResult,
    as_dict,
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
    """Parse one responses-API exchange (never raises; ``history``: see openai_chat).

    Examples
    --------
    >>> c = parse(heron.open("tests/fixtures/openai_async.heron").call(5).exchange)
    >>> [m.role for m in c.messages], c.finish_reason, c.output_tokens
    (['user', 'assistant', 'tool'], 'completed', 22)
    """
    call = ParsedCall(provider="openai", api="responses")
    req, view = request_body(ex, history, "input", "openai.responses")
    if isinstance(req, dict):
        _request(req, call, view)
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


def _request(req: dict[str, Any], call: ParsedCall, view: RequestView | None) -> None:
    if isinstance(req.get("model"), str):
        call.model = req["model"]
    tools = req.get("tools")
    call.n_tools_offered = len(tools) if isinstance(tools, list) else 0
    if isinstance(req.get("previous_response_id"), str):
        call.previous_response_id = req["previous_response_id"]
    raw = req.get("instructions")
    system = (
        system_message(view, raw, lambda: Message("system", raw)) if isinstance(raw, str) else None
    )
    inp = req.get("input")
    if isinstance(inp, list):
        items, shared = history_items(req, "input", view, _item)
    else:
        items, shared = ([Message("user", inp)] if isinstance(inp, str) else []), 0
    set_history(call, view, items, shared, system)
    mark_trailing(call, ("assistant",))


def _item(item: Any) -> Message | None:
    """One input item as a message (None: reasoning or unknown items)."""
    if not isinstance(item, dict):
        return None
    typ = item.get("type")
    if typ == "function_call":
        m = Message("assistant")
        m.tool_calls.append(
            ToolRequest(
                _s(item.get("call_id")),
                str(item.get("name") or ""),
                json_text(item.get("arguments")),
            )
        )
        return m
    if typ == "function_call_output":
        m = Message("tool")
        out = item.get("output")
        m.tool_results.append(
            ToolResult(
                _s(item.get("call_id")), None, out if isinstance(out, str) else json_text(out)
            )
        )
        return m
    if "role" in item or typ == "message":
        return Message(str(item.get("role") or "user"), text_of(item.get("content")))
    return None


def _s(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _response(resp: dict[str, Any], call: ParsedCall) -> None:
    err = error_text(resp)
    if err:
        call.error = err
    if isinstance(resp.get("model"), str):
        call.model = resp["model"]
    if isinstance(resp.get("id"), str):
        call.response_id = resp["id"]
    status = resp.get("status")
    inc = resp.get("incomplete_details")
    if isinstance(inc, dict) and inc.get("reason"):
        call.finish_reason = str(inc["reason"])
    elif isinstance(status, str):
        call.finish_reason = status
    u = resp.get("usage")
    if isinstance(u, dict):
        call.input_tokens = as_int(u.get("input_tokens"))
        call.output_tokens = as_int(u.get("output_tokens"))
        itd = u.get("input_tokens_details")
        if isinstance(itd, dict):
            call.cache_read_tokens = as_int(itd.get("cached_tokens"))
        otd = u.get("output_tokens_details")
        if isinstance(otd, dict):
            call.reasoning_tokens = as_int(otd.get("reasoning_tokens"))
    out = resp.get("output")
    if isinstance(out, list):
        texts: list[str] = []
        tools: list[ToolRequest] = []
        for item in out:
            if not isinstance(item, dict):
                continue
            if item.get("type") == "message":
                texts.append(text_of(item.get("content")))
            elif item.get("type") == "function_call":
                tools.append(
                    ToolRequest(
                        _s(item.get("call_id")),
                        str(item.get("name") or ""),
                        json_text(item.get("arguments")),
                        len(tools),
                    )
                )
        call.response_text = "".join(texts)
        call.tool_requests = tools


def _stream(ex: Exchange, call: ParsedCall) -> None:
    texts: list[str] = []
    tools: dict[str, ToolRequest] = {}  # item id -> request
    args: dict[str, list[str]] = {}
    final = None
    bad = 0
    for ev in sse_events(ex.response_body):
        obj = loads(ev.data)
        if not isinstance(obj, dict):
            bad += 1
            continue
        typ = obj.get("type") or ev.event
        got = False
        if typ == "response.output_text.delta" or typ == "response.reasoning_summary_text.delta":
            d = obj.get("delta")
            if isinstance(d, str) and d:
                if typ == "response.output_text.delta":
                    texts.append(d)
                got = True
        elif typ == "response.output_item.added":
            item = obj.get("item")
            if isinstance(item, dict) and item.get("type") == "function_call":
                key = str(item.get("id") or obj.get("output_index"))
                tools[key] = ToolRequest(
                    _s(item.get("call_id")), str(item.get("name") or ""), "", len(tools), ev.end
                )
                args[key] = []
                got = True
        elif typ == "response.function_call_arguments.delta":
            key = str(obj.get("item_id") or obj.get("output_index"))
            if key in args and isinstance(obj.get("delta"), str):
                args[key].append(obj["delta"])
                tools[key].end = ev.end
            got = True
        elif typ in ("response.function_call_arguments.done", "response.output_item.done"):
            key = str(
                obj.get("item_id") or as_dict(obj.get("item")).get("id") or obj.get("output_index")
            )
            if key in tools:
                tools[key].end = ev.end
        elif typ in ("response.completed", "response.failed", "response.incomplete"):
            if isinstance(obj.get("response"), dict):
                final = obj["response"]
        elif typ == "response.created":
            r = obj.get("response")
            if isinstance(r, dict) and isinstance(r.get("model"), str):
                call.model = r["model"]
        elif typ == "error":
            call.error = error_text({"error": obj}) or "error event"
        if got and call.first_token_offset is None:
            call.first_token_offset = ev.end
    if bad:
        call.note(f"{bad} stream event(s) not JSON")
    if final is not None:
        _response(final, call)
        if not call.response_text:
            call.response_text = "".join(texts)
        if not call.tool_requests and tools:
            for k, t in tools.items():
                t.arguments = "".join(args[k])
            call.tool_requests = list(tools.values())
        else:  # the final response's copies: time them by the streamed events
            ends = {t.id: t.end for t in tools.values() if t.id}
            for t in call.tool_requests:
                t.end = ends.get(t.id) if t.id else None
    else:
        call.response_text = "".join(texts)
        for k, t in tools.items():
            t.arguments = "".join(args[k])
            call.tool_requests.append(t)
