"""Gemini-style answers: ``models/{model}:generateContent`` and ``:streamGenerateContent``.

With ``?alt=sse`` the stream is server-sent events (``data: {...}\\r\\n\\r\\n``);
without it, a JSON array streamed element by element, as the real API does.
Every chunk repeats ``usageMetadata``: ``promptTokenCount`` is constant and
``candidatesTokenCount`` is the running total, so the *last* chunk holds the
answer's usage (summing chunks over-counts).  Tool calls are
``functionCall`` parts; results come back as ``functionResponse`` parts.

Examples
--------
>>> import json
>>> from heron.standin.wire import Request
>>> from heron.standin.scenario import Scenario
>>> b = b'{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}'
>>> r = generate(Request("POST", "/v1beta/models/g:generateContent", [], b), json.loads(b), Scenario())
>>> json.loads(r.body)["candidates"][0]["finishReason"]
'STOP'
"""

from __future__ import annotations

import hashlib
from typing import Any

from heron.standin.errors import RequestError
from heron.standin.scenario import Scenario, split_model
from heron.standin.script import Conversation, ToolSpec, Turn, decide, split_words, tokens
from heron.standin.wire import Reply, Request, dumps

_STATUS = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def error_reply(status: int, message: str) -> Reply:
    """A Google-API-format error answer.

    Examples
    --------
    >>> error_reply(429, "quota").body
    b'{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}'
    """
    return Reply.json(
        status,
        {"error": {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}},
    )


def conversation(body: dict[str, Any]) -> Conversation:
    """Reduce a generateContent body to a Conversation.

    Examples
    --------
    >>> conversation({"contents": [{"role": "user", "parts": [
    ...     {"functionResponse": {"name": "f", "response": {}}}]}]}).n_results
    1
    """
    contents = body.get("contents")
    if not isinstance(contents, list):
        raise RequestError("generateContent request: expected a 'contents' list, found none")
    tools = []
    for t in body.get("tools") or []:
        for fd in (
            (t.get("functionDeclarations") or t.get("function_declarations") or [])
            if isinstance(t, dict)
            else []
        ):
            if isinstance(fd, dict) and "name" in fd:
                tools.append(ToolSpec(str(fd["name"]), fd.get("parameters") or {}))
    last_user = ""
    n_results = 0
    for c in contents:
        if not isinstance(c, dict):
            continue
        texts = []
        for p in c.get("parts") or []:
            if not isinstance(p, dict):
                continue
            if "functionResponse" in p or "function_response" in p:
                n_results += 1
            elif "text" in p and c.get("role", "user") == "user":
                texts.append(str(p["text"]))
        if texts:
            last_user = " ".join(texts)
    return Conversation(tools, n_results, last_user, len(contents))


def _usage(turn: Turn, candidates: int) -> dict[str, Any]:
    u: dict[str, Any] = {
        "promptTokenCount": turn.prompt_tokens,
        "candidatesTokenCount": candidates,
        "totalTokenCount": turn.prompt_tokens + candidates,
    }
    if turn.cache_read:
        u["cachedContentTokenCount"] = turn.cache_read
    if turn.reasoning:
        u["thoughtsTokenCount"] = turn.reasoning
    return u


def _turn(req: Request, body: dict[str, Any], sc: Scenario) -> tuple[str, Turn, str]:
    model, _ = split_model(req.path.rsplit("/", 1)[-1].split(":", 1)[0])
    key = hashlib.sha256(req.body).hexdigest()
    return model, decide(conversation(body), sc, body=req.body, call_key=key), key


def _candidate(parts: list[dict[str, Any]], finish: str | None) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    return cand


def _done(reply: Reply, sc: Scenario, api: str) -> Reply:
    reply.api = api
    reply.scenario = sc.as_dict()
    reply.latency_s = sc.latency_ms / 1000
    reply.ttft_s = sc.ttft_ms / 1000
    reply.chunk_s = sc.chunk_ms / 1000
    return reply


def generate(req: Request, body: dict[str, Any], sc: Scenario) -> Reply:
    """Answer ``:generateContent`` with one JSON object.

    Examples
    --------
    >>> import json
    >>> from heron.standin.wire import Request
    >>> b = (b'{"contents":[{"role":"user","parts":[{"text":"q"}]}],'
    ...      b'"tools":[{"functionDeclarations":[{"name":"f"}]}]}')
    >>> r = generate(Request("POST", "/v1beta/models/g:generateContent", [], b), json.loads(b), Scenario())
    >>> json.loads(r.body)["candidates"][0]["content"]["parts"][0]["functionCall"]["name"]
    'f'
    """
    model, turn, key = _turn(req, body, sc)
    parts: list[dict[str, Any]] = [{"text": turn.text}] if turn.text else []
    parts += [{"functionCall": {"name": c.name, "args": c.args}} for c in turn.tool_calls]
    obj = {
        "candidates": [_candidate(parts, "STOP")],
        "usageMetadata": _usage(turn, turn.output_tokens),
        "modelVersion": model,
        "responseId": key[:24],
    }
    return _done(Reply.json(200, obj), sc, "gemini.generateContent")


def stream_generate(req: Request, body: dict[str, Any], sc: Scenario) -> Reply:
    """Answer ``:streamGenerateContent`` (SSE with ``alt=sse``, else a JSON array).

    Examples
    --------
    >>> import json
    >>> from heron.standin.wire import Request
    >>> b = b'{"contents":[{"role":"user","parts":[{"text":"q"}]}]}'
    >>> r = stream_generate(Request("POST", "/v1beta/models/g:streamGenerateContent?alt=sse", [], b),
    ...                     json.loads(b), Scenario())
    >>> r.parts[0][:6], r.headers[0][1]
    (b'data: ', 'text/event-stream')
    """
    model, turn, key = _turn(req, body, sc)
    objs: list[Any] = []
    so_far = ""
    words = split_words(turn.text)
    for i, w in enumerate(words):
        so_far += w
        last = i == len(words) - 1 and not turn.tool_calls
        objs.append(
            {
                "candidates": [_candidate([{"text": w}], "STOP" if last else None)],
                "usageMetadata": _usage(turn, turn.output_tokens if last else tokens(so_far)),
                "modelVersion": model,
                "responseId": key[:24],
            }
        )
    if turn.tool_calls:
        objs.append(
            {
                "candidates": [
                    _candidate(
                        [
                            {"functionCall": {"name": c.name, "args": c.args}}
                            for c in turn.tool_calls
                        ],
                        "STOP",
                    )
                ],
                "usageMetadata": _usage(turn, turn.output_tokens),
                "modelVersion": model,
                "responseId": key[:24],
            }
        )
    err = {"error": {"code": 500, "message": "stand-in: stream interrupted", "status": "INTERNAL"}}
    if sc.error == "stream":
        objs = [*objs[: sc.error_after], err]
    sse_mode = "sse" in req.query.get("alt", [])
    if sse_mode:
        parts = [b"data: " + dumps(o) + b"\r\n\r\n" for o in objs]
        reply = Reply.stream(parts)
    else:
        parts = [(b"[" if i == 0 else b"\r\n,") + dumps(o) for i, o in enumerate(objs)] + [b"]"]
        reply = Reply.stream(parts, content_type="application/json; charset=UTF-8")
    return _done(reply, sc, "gemini.streamGenerateContent")
