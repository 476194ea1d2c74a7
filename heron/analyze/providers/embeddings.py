"""Embedding requests: recorded as calls with ``api='embeddings'``, not chat.

Covers OpenAI-style ``.../embeddings``, Ollama ``/api/embed`` and
``/api/embeddings``, and Gemini ``:embedContent`` / ``:batchEmbedContents``.
Only the model, input count and token usage are kept.

Examples
--------
>>> from heron.analyze.exchange import Exchange
>>> c = parse(Exchange(0, 1, 2, "1.1", path="/v1/embeddings",
...     request_body=b'{"model":"e","input":["a","b"]}',
...     response_body=b'{"model":"e-3","data":[],"usage":{"prompt_tokens":2,"total_tokens":2}}'))
>>> c.api, c.chat, c.model, c.input_tokens, c.n_inputs
('embeddings', False, 'e-3', 2, 2)
"""

from __future__ import annotations

import re

from heron.analyze.exchange import Exchange
from heron.analyze.providers.base import ParsedCall, as_int, error_text, loads

_GEMINI_MODEL = re.compile(r"models/([^/:?]+):")


def parse(ex: Exchange, history: object = None) -> ParsedCall:
    """Parse one embeddings exchange (never raises; ``history`` is unused: no history).

    Examples
    --------
    >>> c = parse(heron.open("tests/fixtures/openai_tools.heron").call(5).exchange)
    >>> c.api, c.chat, c.n_inputs, c.input_tokens
    ('embeddings', False, 2, 24)
    """
    path = (ex.path or "").split("?")[0]
    if ":embedContent" in path or ":batchEmbedContents" in path:
        provider = "gemini"
    elif "/api/embed" in path:
        provider = "ollama"
    else:
        provider = "openai"
    call = ParsedCall(provider=provider, api="embeddings", chat=False, n_tools_offered=0)
    m = _GEMINI_MODEL.search(path)
    if m:
        call.model = m.group(1)
    req = loads(ex.request_body)
    if isinstance(req, dict):
        if isinstance(req.get("model"), str):
            call.model = req["model"]
        inp = req.get("input", req.get("prompt", req.get("requests", req.get("content"))))
        call.n_inputs = len(inp) if isinstance(inp, list) else (1 if inp is not None else 0)
    elif ex.request_body:
        call.note("request body is not JSON")
    resp = loads(ex.response_body)
    if isinstance(resp, dict):
        call.error = error_text(resp)
        if isinstance(resp.get("model"), str):
            call.model = resp["model"]
        u = resp.get("usage")
        if isinstance(u, dict):
            call.input_tokens = as_int(u.get("prompt_tokens"))
        elif "prompt_eval_count" in resp:
            call.input_tokens = as_int(resp.get("prompt_eval_count"))
    elif ex.response_body and (ex.status or 0) < 400:
        call.note("response body is not JSON")
    return call
