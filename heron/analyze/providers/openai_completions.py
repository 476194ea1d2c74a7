"""OpenAI legacy ``completions`` (``POST .../completions`` with a ``prompt``).

Examples
--------
>>> from heron.analyze.exchange import Exchange
>>> c = parse(Exchange(0, 1, 2, "1.1", path="/v1/completions",
...     request_body=b'{"model":"m","prompt":"Say"}',
...     response_body=b'{"choices":[{"text":" hi","finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}'))
>>> c.api, c.response_text, c.input_tokens
('completions', ' hi', 1)
"""

from __future__ import annotations

from typing import Any

from heron.analyze.exchange import Exchange
from heron.analyze.providers.base import (
    Message,
    ParsedCall,
    as_int,
    error_text,
    loads,
    sse_events,
)


def parse(ex: Exchange, history: object = None) -> ParsedCall:
    """Parse one legacy completions exchange (never raises; ``history`` is unused).

    Examples
    --------
    >>> c = parse(heron.open("tests/fixtures/openai_async.heron").call(6).exchange)
    >>> c.model, c.messages[0].text, c.output_tokens
    ('gpt-3.5-turbo-instruct', 'def add(a, b):', 23)
    """
    call = ParsedCall(provider="openai", api="completions", n_tools_offered=0)
    req = loads(ex.request_body)
    if isinstance(req, dict):
        if isinstance(req.get("model"), str):
            call.model = req["model"]
        p = req.get("prompt")
        prompts = p if isinstance(p, list) else [p]
        for x in prompts:
            if isinstance(x, str):
                call.messages.append(Message("user", x))
    elif ex.request_body:
        call.note("request body is not JSON")
    ctype = (ex.header("content-type", response=True) or "").lower()
    if "event-stream" in ctype or ex.response_body.lstrip()[:5] == b"data:":
        call.streamed = True
        texts: list[str] = []
        for ev in sse_events(ex.response_body):
            if ev.data.strip() == "[DONE]":
                continue
            obj = loads(ev.data)
            if not isinstance(obj, dict):
                call.note("stream event not JSON")
                continue
            if not _chunk(obj, call, texts) or call.first_token_offset is not None:
                continue
            call.first_token_offset = ev.end
        call.response_text = "".join(texts)
    else:
        resp = loads(ex.response_body)
        if isinstance(resp, dict):
            texts = []
            _chunk(resp, call, texts)
            call.response_text = "".join(texts)
        elif ex.response_body and (ex.status or 0) < 400:
            call.note("response body is not JSON")
    return call


def _chunk(obj: dict[str, Any], call: ParsedCall, texts: list[str]) -> bool:
    err = error_text(obj)
    if err:
        call.error = err
    if isinstance(obj.get("model"), str):
        call.model = obj["model"]
    u = obj.get("usage")
    if isinstance(u, dict):
        call.input_tokens = as_int(u.get("prompt_tokens"))
        call.output_tokens = as_int(u.get("completion_tokens"))
    got = False
    ch = obj.get("choices")
    if isinstance(ch, list) and ch and isinstance(ch[0], dict):
        t = ch[0].get("text")
        if isinstance(t, str) and t:
            texts.append(t)
            got = True
        if ch[0].get("finish_reason"):
            call.finish_reason = str(ch[0]["finish_reason"])
    return got
