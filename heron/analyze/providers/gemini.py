"""Google Gemini ``generateContent`` / ``streamGenerateContent``.

Recognised by the ``:generateContent`` / ``:streamGenerateContent`` path
suffix (``/v1beta/models/{model}:...``, Vertex ``.../publishers/google/models/
{model}:...``) or a request body with ``contents``.  Streams are SSE
(``?alt=sse``) or a JSON array sent piece by piece; each chunk is a whole
``GenerateContentResponse``.  ``usageMetadata`` is repeated in chunks and
the last one is the total, so the last wins.

Function calls have no id in older API versions: tool results are matched
by position and name (see :mod:`heron.analyze.tools`).

Examples
--------
>>> from heron.analyze.exchange import Exchange
>>> c = parse(Exchange(0, 1, 2, "2", path="/v1beta/models/gemini-2.0-flash:generateContent",
...     request_body=b'{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}',
...     response_body=b'{"candidates":[{"content":{"role":"model","parts":[{"functionCall":'
...         b'{"name":"f","args":{"x":1}}}]},"finishReason":"STOP"}],'
...         b'"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":2}}'))
>>> c.model, c.input_tokens, c.output_tokens, [(t.name, t.arguments) for t in c.tool_requests]
('gemini-2.0-flash', 4, 2, [('f', '{"x":1}')])
"""

from __future__ import annotations

import json
import re
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
)
from heron.analyze.providers.history import RequestHistory, RequestView

_MODEL = re.compile(r"models/([^/:?]+):")


def parse(ex: Exchange, history: RequestHistory | None = None) -> ParsedCall:
    """Parse one Gemini exchange (never raises; ``history``: see openai_chat).

    Examples
    --------
    >>> c = parse(heron.open("tests/fixtures/gemini.heron").call(2).exchange)
    >>> c.model, c.streamed, c.input_tokens, c.output_tokens
    ('gemini-2.0-flash', True, 76, 7)
    >>> [(t.id, t.name, t.arguments) for t in c.tool_requests]   # Gemini has no call ids
    [(None, 'get_weather', '{"city":"Paris"}')]
    """
    call = ParsedCall(provider="gemini", api="generateContent")
    path = ex.path or ""
    m = _MODEL.search(path)
    if m:
        call.model = m.group(1)
    req, view = request_body(ex, history, "contents", "gemini")
    if isinstance(req, dict):
        _request(req, call, view)
    elif ex.request_body:
        call.note("request body is not JSON")
    body = ex.response_body
    ctype = (ex.header("content-type", response=True) or "").lower()
    texts: list[str] = []
    if "event-stream" in ctype or body.lstrip()[:5] == b"data:":
        call.streamed = True
        for ev in sse_events(body):
            obj = loads(ev.data)
            if not isinstance(obj, dict):
                call.note("stream event not JSON")
                continue
            _streamed_chunk(obj, call, texts, ev.end)
    elif ":streamGenerateContent" in path or body.lstrip()[:1] == b"[":
        call.streamed = True
        for obj, end in _json_array(body, call):
            _streamed_chunk(obj, call, texts, end)
    else:
        resp = loads(ex.response_body)
        if isinstance(resp, dict):
            _chunk(resp, call, texts)
        elif body and (ex.status or 0) < 400:
            call.note("response body is not JSON")
    call.response_text = "".join(texts)
    return call


def _streamed_chunk(obj: dict[str, Any], call: ParsedCall, texts: list[str], end: int) -> None:
    n_tools = len(call.tool_requests)
    if _chunk(obj, call, texts) and call.first_token_offset is None:
        call.first_token_offset = end
    for t in call.tool_requests[n_tools:]:
        t.end = end


def _json_array(body: bytes, call: ParsedCall) -> list[tuple[dict[str, Any], int]]:
    """Objects of a (possibly cut) JSON array with the offset just past each."""
    text = body.decode("utf-8", "replace")
    dec = json.JSONDecoder()
    out: list[tuple[dict[str, Any], int]] = []
    i = text.find("[")
    if i < 0:
        call.note("stream body is not a JSON array")
        return out
    i += 1
    n = len(text)
    while i < n:
        while i < n and text[i] in " \r\n\t,":
            i += 1
        if i >= n or text[i] == "]":
            break
        try:
            obj, j = dec.raw_decode(text, i)
        except ValueError:
            call.note("stream array cut or not JSON")
            break
        if isinstance(obj, dict):
            out.append((obj, len(text[:j].encode())))
        i = j
    return out


def _parts(parts: Any, role: str) -> Message:
    msg = Message(role)
    texts: list[str] = []
    if not isinstance(parts, list):
        return msg
    for p in parts:
        if not isinstance(p, dict):
            continue
        if isinstance(p.get("text"), str) and not p.get("thought"):
            texts.append(p["text"])
        fc = p.get("functionCall")
        if isinstance(fc, dict):
            msg.tool_calls.append(
                ToolRequest(
                    fc.get("id") if isinstance(fc.get("id"), str) else None,
                    str(fc.get("name") or ""),
                    json_text(fc.get("args") if fc.get("args") is not None else {}),
                    len(msg.tool_calls),
                )
            )
        fr = p.get("functionResponse")
        if isinstance(fr, dict):
            resp = fr.get("response")
            is_err = isinstance(resp, dict) and "error" in resp and "output" not in resp
            msg.tool_results.append(
                ToolResult(
                    fr.get("id") if isinstance(fr.get("id"), str) else None,
                    str(fr.get("name") or ""),
                    json_text(resp),
                    is_err,
                )
            )
    msg.text = "".join(texts)
    return msg


def _request(req: dict[str, Any], call: ParsedCall, view: RequestView | None) -> None:
    n = 0
    tools = req.get("tools")
    if isinstance(tools, list):
        for t in tools:
            if isinstance(t, dict):
                decls = t.get("functionDeclarations") or t.get("function_declarations")
                n += len(decls) if isinstance(decls, list) else 1
    call.n_tools_offered = n
    si = req.get("systemInstruction") or req.get("system_instruction")
    system = None
    if isinstance(si, dict):
        system = system_message(
            view, si, lambda: Message("system", _parts(si.get("parts"), "system").text)
        )
    if not isinstance(req.get("contents"), list):
        call.note("request has no contents list")
        set_history(call, view, [], 0, system)
        return
    items, shared = history_items(req, "contents", view, _content_of)
    set_history(call, view, items, shared, system)
    mark_trailing(call, ("model",))


def _content_of(c: Any) -> Message | None:
    return _parts(c.get("parts"), str(c.get("role") or "user")) if isinstance(c, dict) else None


def _chunk(obj: dict[str, Any], call: ParsedCall, texts: list[str]) -> bool:
    err = error_text(obj)
    if err:
        call.error = err
    if isinstance(obj.get("modelVersion"), str):
        call.model = obj["modelVersion"]
    if isinstance(obj.get("responseId"), str):
        call.response_id = obj["responseId"]
    u = obj.get("usageMetadata")
    if isinstance(u, dict):
        call.input_tokens = as_int(u.get("promptTokenCount"))
        call.output_tokens = as_int(u.get("candidatesTokenCount"))
        call.cache_read_tokens = as_int(u.get("cachedContentTokenCount"))
        call.reasoning_tokens = as_int(u.get("thoughtsTokenCount"))
    got = False
    cands = obj.get("candidates")
    if isinstance(cands, list) and cands and isinstance(cands[0], dict):
        cand = cands[0]
        if isinstance(cand.get("finishReason"), str):
            call.finish_reason = cand["finishReason"]
        content = cand.get("content")
        if isinstance(content, dict):
            m = _parts(content.get("parts"), "model")
            if m.text:
                texts.append(m.text)
                got = True
            for t in m.tool_calls:
                t.index = len(call.tool_requests)
                call.tool_requests.append(t)
                got = True
            if isinstance(content.get("parts"), list) and any(
                isinstance(p, dict) and p.get("thought") for p in content["parts"]
            ):
                got = True
    pf = obj.get("promptFeedback")
    if isinstance(pf, dict) and pf.get("blockReason") and not call.error:
        call.error = f"blocked: {pf['blockReason']}"
    return got
