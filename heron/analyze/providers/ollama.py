"""Ollama native API: ``/api/chat`` and ``/api/generate``.

Bodies are NDJSON and ``stream`` defaults to TRUE when the request omits
it.  Each line is a chunk (``message.content`` or ``response``); the final
line has ``done: true`` with ``done_reason``, ``prompt_eval_count`` (input
tokens) and ``eval_count`` (output tokens).  Tool calls carry no ids, so
results are matched by position and name.

Examples
--------
>>> from heron.analyze.exchange import Exchange
>>> body = (b'{"model":"llama3","message":{"role":"assistant","content":"Hi"},"done":false}\\n'
...         b'{"model":"llama3","message":{"role":"assistant","content":""},"done":true,'
...         b'"done_reason":"stop","prompt_eval_count":12,"eval_count":3}\\n')
>>> c = parse(Exchange(0, 1, 2, "1.1", path="/api/chat",
...     request_body=b'{"model":"llama3","messages":[{"role":"user","content":"hey"}]}', response_body=body))
>>> c.streamed, c.response_text, c.input_tokens, c.output_tokens, c.finish_reason
(True, 'Hi', 12, 3, 'stop')
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
    mark_trailing,
    request_body,
    set_history,
    text_of,
)
from heron.analyze.providers.history import RequestHistory
from heron.analyze.reassembly.ndjson import NDJSONParser


def parse(ex: Exchange, history: RequestHistory | None = None) -> ParsedCall:
    """Parse one Ollama /api/chat or /api/generate exchange (never raises).

    ``history``: see :func:`heron.analyze.providers.openai_chat.parse`.

    Examples
    --------
    >>> c = parse(heron.open("tests/fixtures/ollama_plain.heron").call(3).exchange)
    >>> c.api, c.streamed, c.input_tokens, c.output_tokens    # counts from the final done line
    ('ollama.generate', True, 13, 22)
    """
    path = (ex.path or "").split("?")[0]
    generate = path.rstrip("/").endswith("/api/generate")
    call = ParsedCall(provider="ollama", api="ollama.generate" if generate else "ollama.chat")
    req, view = request_body(ex, None if generate else history, "messages", "ollama.chat")
    stream = True
    if isinstance(req, dict):
        stream = req.get("stream", True) is not False
        if isinstance(req.get("model"), str):
            call.model = req["model"]
        tools = req.get("tools")
        call.n_tools_offered = len(tools) if isinstance(tools, list) else 0
        if generate:
            if isinstance(req.get("system"), str):
                call.messages.append(Message("system", req["system"]))
            if isinstance(req.get("prompt"), str):
                call.messages.append(Message("user", req["prompt"]))
        else:
            items, shared = history_items(req, "messages", view, _message_of)
            set_history(call, view, items, shared)
            mark_trailing(call, ("assistant",))
    elif ex.request_body:
        call.note("request body is not JSON")
    call.streamed = stream
    texts: list[str] = []
    parser = NDJSONParser()
    lines = parser.feed(ex.response_body) + parser.flush()
    if not stream and len(lines) > 1:
        call.streamed = True
    for ln in lines:
        obj = ln.value
        if not isinstance(obj, dict):
            call.note("NDJSON line not JSON")
            continue
        n_tools = len(call.tool_requests)
        if _chunk(obj, call, texts) and call.streamed and call.first_token_offset is None:
            call.first_token_offset = ln.end
        if call.streamed:
            for t in call.tool_requests[n_tools:]:
                t.end = ln.end
    call.response_text = "".join(texts)
    return call


def _message_of(m: Any) -> Message | None:
    return _message(m) if isinstance(m, dict) else None


def _message(m: dict[str, Any]) -> Message:
    role = str(m.get("role") or "?")
    msg = Message(role, text_of(m.get("content")))
    tcs = m.get("tool_calls")
    if isinstance(tcs, list):
        for i, tc in enumerate(tcs):
            fn = tc.get("function") if isinstance(tc, dict) else None
            if isinstance(fn, dict):
                msg.tool_calls.append(
                    ToolRequest(
                        tc.get("id") if isinstance(tc.get("id"), str) else None,
                        str(fn.get("name") or ""),
                        json_text(fn.get("arguments")),
                        i,
                    )
                )
    if role == "tool":
        name = m.get("tool_name") or m.get("name")
        msg.tool_results.append(
            ToolResult(
                m.get("tool_call_id") if isinstance(m.get("tool_call_id"), str) else None,
                name if isinstance(name, str) else None,
                msg.text,
            )
        )
    return msg


def _chunk(obj: dict[str, Any], call: ParsedCall, texts: list[str]) -> bool:
    err = error_text(obj)
    if err:
        call.error = err
    if isinstance(obj.get("model"), str):
        call.model = obj["model"]
    got = False
    msg = obj.get("message")
    if isinstance(msg, dict):
        m = _message(msg)
        if m.text:
            texts.append(m.text)
            got = True
        if isinstance(msg.get("thinking"), str) and msg["thinking"]:
            got = True
        for t in m.tool_calls:
            t.index = len(call.tool_requests)
            call.tool_requests.append(t)
            got = True
    resp = obj.get("response")
    if isinstance(resp, str) and resp:
        texts.append(resp)
        got = True
    if obj.get("done") is True:
        if isinstance(obj.get("done_reason"), str):
            call.finish_reason = obj["done_reason"]
        call.input_tokens = as_int(obj.get("prompt_eval_count"))
        call.output_tokens = as_int(obj.get("eval_count"))
    return got
