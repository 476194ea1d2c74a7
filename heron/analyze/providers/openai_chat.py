"""OpenAI ``chat.completions`` (and every server that speaks it).

Recognised by path ``.../chat/completions`` (OpenAI, Azure
``/openai/deployments/{d}/chat/completions?api-version=``, vLLM, LiteLLM,
OpenRouter, Ollama's ``/v1``) or by a body with ``messages`` and no other
provider's marks.

Streams: ``delta.tool_calls`` fragments are joined by ``index`` (the id and
name come in the first fragment, arguments in pieces); usage arrives only
with ``stream_options.include_usage``, in a final chunk whose ``choices``
is empty; some servers (vLLM) repeat usage in every chunk, so the last one
wins.  Reasoning tokens come from ``completion_tokens_details``, cached
prompt tokens from ``prompt_tokens_details``.

Examples
--------
>>> from heron.analyze.exchange import Exchange
>>> ex = Exchange(0, 1, 2, "1.1", method="POST", path="/v1/chat/completions",
...     request_body=b'{"model":"m","messages":[{"role":"user","content":"hi"}]}',
...     response_body=b'{"model":"m-1","choices":[{"message":{"content":"yo"},'
...                   b'"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1}}')
>>> c = parse(ex)
>>> c.model, c.input_tokens, c.output_tokens, c.finish_reason, c.response_text
('m-1', 5, 1, 'stop', 'yo')
"""

from __future__ import annotations

import re
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
    set_history,
    sse_events,
    text_of,
)
from heron.analyze.providers.history import RequestHistory, RequestView

_AZURE = re.compile(r"/openai/deployments/([^/]+)/")
# response Content-Type -> 1: event stream, 2: JSON, 3: neither (look at the body)
_CTYPES: dict[str, int] = {}


def parse(ex: Exchange, history: RequestHistory | None = None) -> ParsedCall:
    """Parse one chat.completions exchange (never raises).

    With ``history``, the messages the process already sent are reused, not
    re-parsed (:mod:`heron.analyze.providers.history`).

    Examples
    --------
    >>> from heron.analyze.exchange import Exchange
    >>> parse(Exchange(0, 1, 2, "1.1", path="/openai/deployments/gpt4o/chat/completions?api-version=1",
    ...                request_body=b'{"messages":[]}')).model
    'gpt4o'
    """
    call = ParsedCall(provider="openai", api="chat.completions")
    body = ex.request_body
    if history is None or not body:
        req, view = loads(body), None
    else:
        view = history.request((ex.pid, "openai.chat"), body, "messages")
        req = view.body
    if isinstance(req, dict):
        parse_request(req, call, view)
    elif ex.request_body:
        call.note("request body is not JSON")
    if call.model is None and ex.path:
        m = _AZURE.search(ex.path)
        if m:
            call.model = m.group(1)
    if _is_stream(ex, req):
        call.streamed = True
        _parse_stream(ex, call)
    else:
        resp = loads(ex.response_body)
        if isinstance(resp, dict):
            _parse_response(resp, call)
        elif ex.response_body and (ex.status or 0) < 400:
            call.note("response body is not JSON")
    return call


def _is_stream(ex: Exchange, req: Any) -> bool:
    ctype = ex.header("content-type", response=True)
    verdict = _CTYPES.get(ctype) if ctype is not None else None
    if verdict is None:
        low = (ctype or "").lower()
        verdict = 1 if "event-stream" in low else (2 if "json" in low else 3)
        if ctype is not None and len(_CTYPES) < 256:
            _CTYPES[ctype] = verdict
    if verdict == 1:
        return True
    if verdict == 2:
        return False
    if isinstance(req, dict) and req.get("stream") is True:
        return ex.response_body[:6] == b"data: " or ex.response_body[:5] == b"data:"
    return ex.response_body.lstrip()[:5] == b"data:"


def parse_request(req: dict[str, Any], call: ParsedCall, view: RequestView | None = None) -> None:
    """Fill model, messages and tools offered from a request body.

    Examples
    --------
    >>> c = ParsedCall("openai", "chat.completions")
    >>> parse_request({"model": "m", "tools": [{}], "messages": [{"role": "user", "content": "hi"},
    ...     {"role": "assistant", "tool_calls": [{"id": "c1", "function": {"name": "ls", "arguments": "{}"}}]},
    ...     {"role": "tool", "tool_call_id": "c1", "content": "a.txt"}]}, c)
    >>> c.n_tools_offered, [m.role for m in c.messages], [r.content for r in c.new_tool_results]
    (1, ['user', 'assistant', 'tool'], ['a.txt'])
    """
    model = req.get("model")
    call.model = model if isinstance(model, str) else None
    tools = req.get("tools")
    funcs = req.get("functions")
    if isinstance(tools, list):
        call.n_tools_offered = len(tools)
    elif isinstance(funcs, list):
        call.n_tools_offered = len(funcs)
    else:
        call.n_tools_offered = 0
    msgs = req.get("messages")
    if not isinstance(msgs, list):
        call.note("request has no messages list")
        return
    if view is not None:
        items, shared = view.items(_message_of)
    else:
        items, shared = history_items(req, "messages", None, _message_of)
    set_history(call, view, items, shared)
    # mark_trailing(call, ("assistant",)), inline
    msgs = call.messages
    i = len(msgs)
    while i > 0 and msgs[i - 1].role != "assistant":
        i -= 1
    call.new_from = i


def _message_of(m: Any) -> Message | None:
    if type(m) is dict and len(m) == 2:
        # the commonest shape, {"role": ..., "content": "..."}: as _message makes it
        content = m.get("content")
        role = m.get("role")
        if type(content) is str and type(role) is str and role and role not in _RESULT_ROLES:
            return Message(role, content)
    return _message(m) if isinstance(m, dict) else None


_RESULT_ROLES = ("tool", "function")


def _message(m: dict[str, Any]) -> Message:
    role = str(m.get("role") or "?")
    content = m.get("content")
    msg = Message(role, content if type(content) is str else text_of(content))
    tcs = m.get("tool_calls")
    if isinstance(tcs, list):
        for i, tc in enumerate(tcs):
            if not isinstance(tc, dict):
                continue
            fn = as_dict(tc.get("function"))
            msg.tool_calls.append(
                ToolRequest(
                    _str(tc.get("id")), str(fn.get("name") or ""), json_text(fn.get("arguments")), i
                )
            )
    fc = m.get("function_call")
    if isinstance(fc, dict):
        msg.tool_calls.append(
            ToolRequest(None, str(fc.get("name") or ""), json_text(fc.get("arguments")))
        )
    if role == "tool":
        msg.tool_results.append(
            ToolResult(_str(m.get("tool_call_id")), _str(m.get("name")), msg.text)
        )
    elif role == "function":
        msg.tool_results.append(ToolResult(None, _str(m.get("name")), msg.text))
    return msg


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _usage(u: Any, call: ParsedCall) -> None:
    if not isinstance(u, dict):
        return
    v = u.get("prompt_tokens")
    call.input_tokens = v if type(v) is int else as_int(v)
    v = u.get("completion_tokens")
    call.output_tokens = v if type(v) is int else as_int(v)
    ptd = u.get("prompt_tokens_details")
    if isinstance(ptd, dict):
        v = ptd.get("cached_tokens")
        call.cache_read_tokens = v if type(v) is int else as_int(v)
    ctd = u.get("completion_tokens_details")
    if isinstance(ctd, dict):
        v = ctd.get("reasoning_tokens")
        call.reasoning_tokens = v if type(v) is int else as_int(v)


def _parse_response(resp: dict[str, Any], call: ParsedCall) -> None:
    if "error" in resp:
        err = error_text(resp)
        if err:
            call.error = err
    model = resp.get("model")
    if isinstance(model, str):
        call.model = model
    rid = resp.get("id")
    if isinstance(rid, str):
        call.response_id = rid
    u = resp.get("usage")
    if isinstance(u, dict):
        _usage(u, call)
    choices = resp.get("choices")
    if not isinstance(choices, list) or not choices:
        return
    ch = choices[0] if isinstance(choices[0], dict) else {}
    call.finish_reason = _str(ch.get("finish_reason"))
    msg = ch.get("message")
    if isinstance(msg, dict):
        content = msg.get("content")
        if type(content) is str and msg.get("tool_calls") is None and "function_call" not in msg:
            call.response_text = content  # what _message(msg).text is, without the Message
        else:
            m = _message(msg)
            call.response_text = m.text
            call.tool_requests = m.tool_calls


def _parse_stream(ex: Exchange, call: ParsedCall) -> None:
    texts: list[str] = []
    tools: dict[int, ToolRequest] = {}
    args: dict[int, list[str]] = {}
    bad = 0
    for ev in sse_events(ex.response_body):
        if ev.data.strip() == "[DONE]":
            continue
        obj = loads(ev.data)
        if not isinstance(obj, dict):
            bad += 1
            continue
        err = error_text(obj)
        if err:
            call.error = err
            continue
        if isinstance(obj.get("model"), str):
            call.model = obj["model"]
        if isinstance(obj.get("id"), str):
            call.response_id = obj["id"]
        if obj.get("usage"):
            _usage(obj["usage"], call)
        choices = obj.get("choices")
        if not isinstance(choices, list):
            continue
        for ch in choices:
            if not isinstance(ch, dict) or ch.get("index", 0) != 0:
                continue
            if ch.get("finish_reason"):
                call.finish_reason = str(ch["finish_reason"])
            d = ch.get("delta")
            if not isinstance(d, dict):
                continue
            content = d.get("content")
            got = False
            if isinstance(content, str) and content:
                texts.append(content)
                got = True
            for k in ("reasoning_content", "reasoning"):
                if isinstance(d.get(k), str) and d[k]:
                    got = True
            tcs = d.get("tool_calls")
            if isinstance(tcs, list):
                for pos, tc in enumerate(tcs):
                    if not isinstance(tc, dict):
                        continue
                    idx = tc.get("index")
                    i = idx if isinstance(idx, int) else pos
                    fn = as_dict(tc.get("function"))
                    t = tools.get(i)
                    if t is None:
                        t = tools[i] = ToolRequest(None, "", "", i)
                        args[i] = []
                    if isinstance(tc.get("id"), str) and tc["id"]:
                        t.id = tc["id"]
                    if isinstance(fn.get("name"), str) and fn["name"]:
                        t.name += fn["name"] if not t.name else ""
                    a = fn.get("arguments")
                    if isinstance(a, str):
                        args[i].append(a)
                    t.end = ev.end
                    got = True
            if got and call.first_token_offset is None:
                call.first_token_offset = ev.end
    if bad:
        call.note(f"{bad} stream event(s) not JSON")
    call.response_text = "".join(texts)
    for i in sorted(tools):
        tools[i].arguments = "".join(args[i])
        call.tool_requests.append(tools[i])
