"""LLM providers: recognise an exchange as a model call and parse it.

Recognition is by request PATH first and BODY SHAPE second, never by host
name, so gateways and compatible servers (vLLM, LiteLLM, OpenRouter, Azure
OpenAI, Ollama's OpenAI endpoint) are understood like the originals:

==============================================  =========================
path (query ignored)                            parser
==============================================  =========================
``.../chat/completions``                        :mod:`.openai_chat`
``.../responses``                               :mod:`.openai_responses`
``.../completions``                             :mod:`.openai_completions`
``.../embeddings``, ``/api/embed[dings]``,
``:embedContent``, ``:batchEmbedContents``      :mod:`.embeddings`
``.../messages`` (not ``count_tokens``)         :mod:`.anthropic`
``:generateContent``, ``:streamGenerateContent`` :mod:`.gemini`
``/api/chat``, ``/api/generate``                :mod:`.ollama`
==============================================  =========================

Any other POST whose JSON body has a ``model`` is tried by shape:
``contents`` -> Gemini; ``messages`` with an ``anthropic-version`` header or
a ``system``/``max_tokens`` Anthropic layout -> Anthropic; ``messages`` ->
OpenAI chat; ``input`` -> responses; ``prompt`` -> completions.

HTTP errors (status >= 400) fill ``error`` with the status and the
provider's error text; the call keeps its row.

Examples
--------
>>> from heron.analyze.exchange import Exchange
>>> ex = Exchange(0, 1, 2, "1.1", method="POST", path="/v1/chat/completions", status=429,
...               request_body=b'{"model":"gpt-4o","messages":[]}',
...               response_body=b'{"error":{"type":"rate_limit","message":"slow"}}')
>>> c = parse_exchange(ex)
>>> c.provider, c.api, c.model, c.error
('openai', 'chat.completions', 'gpt-4o', 'HTTP 429: rate_limit: slow')
>>> parse_exchange(Exchange(1, 1, 2, "1.1", method="GET", path="/index.html")) is None
True
"""

from __future__ import annotations

from collections.abc import Callable

from heron.analyze.exchange import Exchange
from heron.analyze.providers import (
    anthropic,
    embeddings,
    gemini,
    ollama,
    openai_chat,
    openai_completions,
    openai_responses,
)
from heron.analyze.providers.base import (
    Message,
    ParsedCall,
    StreamEvent,
    ToolRequest,
    ToolResult,
    error_text,
    loads,
)
from heron.analyze.providers.history import RequestHistory

__all__ = [
    "Message",
    "ParsedCall",
    "StreamEvent",
    "ToolRequest",
    "ToolResult",
    "parse_exchange",
    "recognise",
]

Parser = Callable[..., ParsedCall]  # (Exchange, history=None) -> ParsedCall


def recognise(ex: Exchange) -> Parser | None:
    """The parser for ``ex``, or None when it is not an LLM call.

    Examples
    --------
    >>> from heron.analyze.exchange import Exchange
    >>> recognise(Exchange(0, 1, 2, "2", method="POST", path="/v1beta/models/g:streamGenerateContent?alt=sse")).__module__
    'heron.analyze.providers.gemini'
    """
    if ex.method not in (None, "POST"):
        return None
    parser = _PATHS.get(ex.path, _UNKNOWN)
    if parser is _UNKNOWN:
        if len(_PATHS) >= 4096:
            _PATHS.clear()
        parser = _PATHS[ex.path] = _by_path(ex.path)
    return parser if parser is not None else _by_shape(ex)


_UNKNOWN: Parser = lambda ex, history=None: ParsedCall("?", "?")  # noqa: E731
_PATHS: dict[str | None, Parser | None] = {}  # path -> its parser (None: by body shape)


def _by_path(raw: str | None) -> Parser | None:
    path = (raw or "").split("?", 1)[0].rstrip("/")
    if path.endswith("/chat/completions"):
        return openai_chat.parse
    if path.endswith("/responses"):
        return openai_responses.parse
    if path.endswith("/completions"):
        return openai_completions.parse
    if (
        path.endswith("/embeddings")
        or path.endswith("/api/embed")
        or ":embedContent" in path
        or ":batchEmbedContents" in path
    ):
        return embeddings.parse
    if path.endswith("/messages"):
        return anthropic.parse
    if ":generateContent" in path or ":streamGenerateContent" in path:
        return gemini.parse
    if path.endswith("/api/chat") or path.endswith("/api/generate"):
        return ollama.parse
    return None


def _by_shape(ex: Exchange) -> Parser | None:
    head = ex.request_body[:1]
    if head not in (b"{",):
        return None
    req = loads(ex.request_body)
    if not isinstance(req, dict) or not isinstance(req.get("model"), str | type(None)):
        return None
    if isinstance(req.get("contents"), list):
        return gemini.parse
    if isinstance(req.get("messages"), list):
        if ex.header("anthropic-version") or (
            "max_tokens" in req and ("system" in req or _has_blocks(req["messages"]))
        ):
            return anthropic.parse
        if "model" in req:
            return openai_chat.parse
        return None
    if "model" not in req:
        return None
    if "input" in req and ("instructions" in req or isinstance(req["input"], str | list)):
        return openai_responses.parse
    if "prompt" in req:
        return openai_completions.parse
    return None


def _has_blocks(msgs: list[object]) -> bool:
    for m in msgs:
        if isinstance(m, dict) and isinstance(m.get("content"), list):
            for b in m["content"]:
                if isinstance(b, dict) and b.get("type") in ("tool_use", "tool_result"):
                    return True
    return False


def parse_exchange(ex: Exchange, *, history: RequestHistory | None = None) -> ParsedCall | None:
    """Recognise and parse ``ex``; None when it is not an LLM call.

    Never raises on malformed input: the result carries ``parse_error``.
    ``history`` (one per capture, exchanges fed in any order) lets chat
    parsers reuse the history items a process already sent instead of
    parsing them again (:mod:`heron.analyze.providers.history`); results
    are the same with or without it.

    Examples
    --------
    >>> from heron.analyze.exchange import Exchange
    >>> c = parse_exchange(Exchange(0, 1, 2, "1.1", method="POST", path="/v1/messages",
    ...                             request_body=b'{"model": "claude', response_body=b'garbage'))
    >>> c.provider, c.parse_error
    ('anthropic', 'request body is not JSON; response body is not JSON')
    """
    parser = _PATHS.get(ex.path) if ex.method == "POST" else None
    if parser is None:  # not a known path: the general rules
        parser = recognise(ex)
        if parser is None:
            return None
    try:
        call = parser(ex, history) if history is not None else parser(ex)
    except Exception as e:  # a parser bug must not abort the analysis of the rest
        call = ParsedCall(provider="unknown", api="unknown", parse_error=f"parser failed: {e!r}")
    if ex.status is not None and ex.status >= 400:
        detail = error_text(loads(ex.response_body)) if ex.response_body else None
        if detail is None and ex.response_body:
            detail = ex.response_body[:200].decode("utf-8", "replace").strip()
        call.error = f"HTTP {ex.status}" + (f": {detail}" if detail else "")
    return call
