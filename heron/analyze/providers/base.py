"""What every provider parser returns: :class:`ParsedCall`, and shared helpers.

A provider module is a set of pure functions ``Exchange -> ParsedCall``.  It
never raises on bad input: a body that is cut, not JSON or of an unexpected
shape yields a call with ``parse_error`` set and whatever could be read.

Streamed bodies are split into events by reassembly's incremental parsers
(:class:`~heron.analyze.reassembly.sse.SSEParser`,
:class:`~heron.analyze.reassembly.ndjson.NDJSONParser`: one implementation
of each format, tested byte-by-byte there); each event carries the byte
offset just past it in the decoded response body, so the time a delta
arrived is ``Exchange.time_at(end_offset)``.

Examples
--------
>>> [(e.event, e.data, e.end) for e in sse_events(b"event: a\\ndata: 1\\n\\ndata: 2\\n\\n")]
[('a', '1', 18), (None, '2', 27)]
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from heron.analyze.exchange import Exchange
from heron.analyze.providers.history import (
    _LONG_INT,
    _ZEROS,
    RequestHistory,
    RequestView,
)
from heron.analyze.reassembly.sse import SSEEvent, parse_events


@dataclass(slots=True)
class ToolRequest:
    """A tool call the model asked for (in a response, or echoed in history).

    Examples
    --------
    >>> ToolRequest("call_1", "read_file", '{"path":"a.py"}')
    ToolRequest(id='call_1', name='read_file', arguments='{"path":"a.py"}', index=0, end=None)
    """

    id: str | None
    name: str
    arguments: str  # JSON text as the model produced it
    index: int = 0
    # Streams: response body offset just past the last event that carried
    # part of this call (when the agent could act on it); None otherwise.
    end: int | None = None


@dataclass(slots=True)
class ToolResult:
    """A tool result the agent sent back (in a request).

    Examples
    --------
    >>> ToolResult("toolu_1", None, "1 failed", is_error=True).is_error
    True
    """

    id: str | None
    name: str | None
    content: str
    is_error: bool | None = None


@dataclass(slots=True)
class Message:
    """One normalised message of a request's history (or of a response).

    Examples
    --------
    >>> m = Message("assistant", tool_calls=[ToolRequest("c1", "ls", "{}")])
    >>> m.role, [t.name for t in m.tool_calls]
    ('assistant', ['ls'])
    """

    role: str
    text: str = ""
    tool_calls: list[ToolRequest] = field(default_factory=list)
    tool_results: list[ToolResult] = field(default_factory=list)
    _digests: tuple[bytes, bytes] | None = field(default=None, repr=False, compare=False)
    _exact: int | None = field(default=None, repr=False, compare=False)  # hash(key())
    _loose: bytes | None = field(default=None, repr=False, compare=False)  # digests()[1]
    # (previous exact link, this exact link, previous loose link, this loose link)
    _chain: tuple[int, int, bytes, bytes] | None = field(default=None, repr=False, compare=False)

    def key(self, *, ids: bool = True) -> str:
        """Canonical text used for hashing: role, content text and tool ids.

        With ``ids=False`` tool ids are replaced by tool names, so requests
        that differ only in freshly generated ids compare equal.

        Examples
        --------
        >>> Message("user", "hi").key()
        'user\\x1fhi\\x1f\\x1f'
        """
        if not self.tool_calls and not self.tool_results:
            return f"{self.role}\x1f{self.text}\x1f\x1f"
        if ids:
            calls = ",".join(t.id or t.name for t in self.tool_calls)
            results = ",".join(r.id or r.name or "" for r in self.tool_results)
        else:
            calls = ",".join(t.name + t.arguments for t in self.tool_calls)
            results = ",".join((r.name or "") + r.content for r in self.tool_results)
        return f"{self.role}\x1f{self.text}\x1f{calls}\x1f{results}"

    def loose_digest(self) -> bytes:
        """16-byte digest of ``key(ids=False)`` with runs of whitespace collapsed
        field by field (near-identical requests, see :mod:`heron.analyze.loops`).

        Computed once: a Message is immutable once parsed, and parsers share
        one object between the requests that re-send it.

        Examples
        --------
        >>> Message("user", "hi  there").loose_digest() == Message("user", "hi there ").loose_digest()
        True
        """
        d = self._loose
        if d is None:
            role, text = self.role, self.text
            if self.tool_calls or self.tool_results:
                calls = ",".join(t.name + t.arguments for t in self.tool_calls)
                results = ",".join((r.name or "") + r.content for r in self.tool_results)
                if self.tool_results and text == "\n".join(r.content for r in self.tool_results):
                    results = ",".join(r.name or "" for r in self.tool_results)  # text says it
                src = "\x1f".join(f.strip() for f in (role, text, calls, results))
            else:  # the same string, built without the empty joins
                src = f"{role.strip()}\x1f{text.strip()}\x1f\x1f"
            # bytes.split() collapses ASCII whitespace runs faster than str.split()
            # or a regex, and does not split on the \x1f field separator.
            loose = b" ".join(src.encode("utf-8", "replace").split())
            d = self._loose = _blake2b(loose, digest_size=16).digest()
        return d

    def digests(self) -> tuple[bytes, bytes]:
        """``(exact, loose)`` 16-byte digests of this message, computed once.

        ``exact`` hashes :meth:`key` (ids kept); ``loose`` is
        :meth:`loose_digest`.

        Examples
        --------
        >>> a, b = Message("user", "hi  there"), Message("user", "hi there ")
        >>> a.digests()[0] == b.digests()[0], a.digests()[1] == b.digests()[1]
        (False, True)
        """
        d = self._digests
        if d is None:
            exact = _blake2b(self.key().encode("utf-8", "replace"), digest_size=16).digest()
            d = self._digests = (exact, self.loose_digest())
        return d


_blake2b = hashlib.blake2b
#: An empty 16-byte blake2b: ``copy()`` then ``update(x)`` gives the digest of
#: ``blake2b(x, digest_size=16)`` in about half the time (no keyword parsing,
#: no parameter block set-up), which matters once per message and prefix.
_B16 = hashlib.blake2b(digest_size=16)


def history_chains(
    messages: Sequence[Message], *, reused: int = 0, memo: dict[str, Any] | None = None
) -> tuple[list[int], bytes]:
    """Chained hashes of every prefix of ``messages``: ``(exact, loose)``.

    ``exact`` lists ``h[i] = hash((h[i-1], hash(key(m[i]))))``, one 64-bit
    link per prefix (conversation grouping: only compared with other links
    of the same analysis, so Python's own string hash, far cheaper than a
    digest, is enough); ``loose`` is the last link of the chain
    ``f[i] = blake2b(f[i-1] || loose_digest(m[i]))`` (16 bytes: request
    fingerprints, which are compared across captures).

    With ``memo`` (a parser slot's state, see
    :mod:`heron.analyze.providers.history`), the links of the first
    ``reused`` messages -- the same messages the slot's previous request
    sent -- are taken from the previous call's chains, so a long re-sent
    history costs nothing per message; each link is also memoised on its
    message.

    Examples
    --------
    >>> ms = [Message("user", "a"), Message("assistant", "b")]
    >>> exact, loose = history_chains(ms)
    >>> len(exact), len(loose), history_chains(ms[:1])[0] == exact[:1]
    (2, 16, True)
    >>> memo = {}
    >>> _ = history_chains(ms, memo=memo)
    >>> history_chains(ms + [Message("user", "c")], reused=2, memo=memo)[0][:2] == exact
    True
    """
    prev: tuple[list[int], list[bytes]] | None = memo.get("chains") if memo is not None else None
    k = min(reused, len(prev[1])) if prev is not None else 0
    if prev is not None and k:
        if k == len(prev[1]):
            # The slot's previous request is re-sent whole: its chains grow in
            # place (appends never change what any other holder has read).
            exact, looses = prev
        else:  # a shorter history (a fork): copies, the old thread keeps its own
            exact, looses = prev[0][:k], prev[1][:k]
        h, f = exact[-1], looses[-1]
    else:
        exact, looses, h, f = [], [], 0, b""
    b16 = _B16.copy
    for i in range(k, len(messages)):
        m = messages[i]
        link = m._chain
        if link is not None and link[0] == h and link[2] == f:
            h, f = link[1], link[3]
        else:
            e, lo = m._exact, m._loose
            if e is None or lo is None:
                if m.tool_calls or m.tool_results:
                    e = m._exact = hash(m.key())
                    lo = m.loose_digest()
                else:  # key() and loose_digest(), inline for the commonest (text-only) message
                    role, text = m.role, m.text
                    e = m._exact = hash(f"{role}\x1f{text}\x1f\x1f")
                    src = f"{role.strip()}\x1f{text.strip()}\x1f\x1f"
                    hl = b16()
                    hl.update(b" ".join(src.encode("utf-8", "replace").split()))
                    lo = m._loose = hl.digest()
            nh = hash((h, e))
            hf = b16()
            hf.update(f + lo)
            nf = hf.digest()
            m._chain = (h, nh, f, nf)
            h, f = nh, nf
        exact.append(h)
        looses.append(f)
    if memo is not None:
        memo["chains"] = (exact, looses)
    return exact, f


def system_message(
    view: RequestView | None, raw: Any, make: Callable[[], Message]
) -> tuple[Message, bool]:
    """The request's system message, and whether it is the slot's previous one.

    ``raw`` is the body value it is made from; while the slot's next
    requests carry the very same value object (their top-level keys were
    reused, :mod:`heron.analyze.providers.history`), the same Message is
    returned and its digests are not recomputed.

    Examples
    --------
    >>> raw = "be brief"
    >>> system_message(None, raw, lambda: Message("system", raw))
    (Message(role='system', text='be brief', tool_calls=[], tool_results=[]), False)
    """
    st = view.state if view is not None else None
    if st is not None and "system" in st and st["system"][0] is raw:
        return st["system"][1], True
    m = make()
    if st is not None:
        st["system"] = (raw, m)
    return m, False


def set_history(
    call: ParsedCall,
    view: RequestView | None,
    items: list[Message],
    shared: int,
    system: tuple[Message, bool] | None = None,
) -> None:
    """Fill ``call.messages`` (system first) and what it shares with the slot's last call.

    Examples
    --------
    >>> c = ParsedCall("anthropic", "messages")
    >>> set_history(c, None, [Message("user", "hi")], 0, (Message("system", "s"), False))
    >>> [m.role for m in c.messages], c.reused
    (['system', 'user'], 0)
    """
    msgs = [system[0], *items] if system is not None else list(items)
    call.messages = msgs
    if view is None:
        return
    st = view.state
    had = st.get("has_system")
    st["has_system"] = system is not None
    call.memo = st
    if had is None or had != (system is not None):
        call.reused = 0  # the layout changed: positions do not line up
    elif system is None:
        call.reused = shared
    else:
        call.reused = shared + 1 if system[1] else 0


@dataclass(slots=True)
class ParsedCall:
    """Everything the LLM layer learns from one exchange.

    Examples
    --------
    >>> c = ParsedCall("openai", "chat.completions", model="gpt-4o", input_tokens=12)
    >>> c.provider, c.model, c.input_tokens, c.output_tokens
    ('openai', 'gpt-4o', 12, None)
    """

    provider: str
    api: str
    model: str | None = None
    streamed: bool = False
    error: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    finish_reason: str | None = None
    messages: list[Message] = field(default_factory=list)  # request history, system first
    n_tools_offered: int | None = None
    tool_requests: list[ToolRequest] = field(default_factory=list)  # from the response
    response_text: str = ""
    first_token_offset: int | None = None  # response body offset past the first delta
    response_id: str | None = None
    previous_response_id: str | None = None  # OpenAI responses API chaining
    parse_error: str | None = None
    chat: bool = True  # False for embeddings
    n_inputs: int | None = None  # embeddings: inputs embedded (chat: len(messages))

    new_from: int = 0  # messages[new_from:] follow the last assistant turn: new here
    reused: int = 0  # leading messages shared with the slot's previous request
    memo: dict[str, Any] | None = None  # that slot's state (history_chains)

    @property
    def tool_results(self) -> list[ToolResult]:
        """Every tool result carried in the request, in order.

        Examples
        --------
        >>> ParsedCall("x", "y", messages=[Message("tool", tool_results=[ToolResult("a", None, "r")])]).tool_results
        [ToolResult(id='a', name=None, content='r', is_error=None)]
        """
        return [r for m in self.messages for r in m.tool_results]

    @property
    def new_tool_results(self) -> list[ToolResult]:
        """The results sent back after the last assistant turn (new in this request).

        Older results are history re-sent.

        Examples
        --------
        >>> old, new = ToolResult("a", None, "1"), ToolResult("b", None, "2")
        >>> c = ParsedCall("x", "y", messages=[Message("tool", tool_results=[old]),
        ...     Message("assistant"), Message("tool", tool_results=[new])])
        >>> mark_trailing(c, ("assistant",)); [r.id for r in c.new_tool_results]
        ['b']
        """
        return [r for m in self.messages[self.new_from :] for r in m.tool_results]

    def note(self, problem: str) -> None:
        """Record a parse problem (the first few are kept).

        Examples
        --------
        >>> c = ParsedCall("x", "y"); c.note("a"); c.note("b"); c.parse_error
        'a; b'
        """
        if self.parse_error is None:
            self.parse_error = problem
        elif len(self.parse_error) < 300:
            self.parse_error += "; " + problem


#: One SSE event, with the body offsets of its first byte (``start``) and
#: just past it (``end``); see :class:`~heron.analyze.reassembly.sse.SSEEvent`.
StreamEvent = SSEEvent


def sse_events(body: bytes) -> list[SSEEvent]:
    """Split a complete ``text/event-stream`` body into events that carry data.

    A thin adapter over :func:`~heron.analyze.reassembly.sse.parse_events`
    (WHATWG rules: ``data`` lines joined with newlines, ``event`` names the
    event, ``:`` lines are comments, CRLF/LF/CR end lines); a final event
    cut before its blank line is still yielded, and events with no data
    (nothing to parse) are skipped.

    Examples
    --------
    >>> [e.data for e in sse_events(b": ping\\r\\ndata: a\\r\\ndata: b\\r\\n\\r\\nevent: x\\n\\ndata: c")]
    ['a\\nb', 'c']
    """
    return [ev for ev in parse_events(body) if ev.data]


def request_body(
    ex: Exchange, history: RequestHistory | None, key: str, api: str
) -> tuple[Any, RequestView | None]:
    """The request body as JSON (None if it is not), parsed incrementally when
    ``history`` is given: the history array at ``key`` then reuses the items
    the same process sent in its previous ``api`` request (see
    :mod:`heron.analyze.providers.history`).

    Examples
    --------
    >>> from heron.analyze.exchange import Exchange
    >>> request_body(Exchange(0, 1, 2, "1.1", request_body=b'{"messages":[]}'), None, "messages", "x")
    ({'messages': []}, None)
    """
    if history is None or not ex.request_body:
        return loads(ex.request_body), None
    view = history.request((ex.pid, api), ex.request_body, key)
    return view.body, view


def history_items(
    req: dict[str, Any],
    key: str,
    view: RequestView | None,
    convert: Callable[[Any], Message | None],
) -> tuple[list[Message], int]:
    """``convert`` over the history array ``req[key]`` (Nones dropped), and how many
    leading results are shared with the slot's previous request.

    Examples
    --------
    >>> history_items({"messages": ["a", 1, "b"]}, "messages", None,
    ...               lambda x: Message("user", x) if isinstance(x, str) else None)
    ([Message(role='user', text='a', tool_calls=[], tool_results=[]), Message(role='user', text='b', tool_calls=[], tool_results=[])], 0)
    """
    if view is not None:
        return view.items(convert)
    items = req.get(key)
    if not isinstance(items, list):
        return [], 0
    return [m for m in map(convert, items) if m is not None], 0


def as_dict(v: Any) -> dict[str, Any]:
    """``v`` if it is a dict, else an empty dict (for defensive ``.get`` chains).

    Examples
    --------
    >>> as_dict({"a": 1}), as_dict([1])
    ({'a': 1}, {})
    """
    return v if isinstance(v, dict) else {}


def loads(text: str | bytes) -> Any | None:
    """JSON or None: what ``json.loads`` returns (through orjson where that is
    the same, see :func:`~heron.analyze.providers.history.json_loads`).

    Examples
    --------
    >>> loads(b'{"a": 1}'), loads("{cut"), loads("[1e400]")
    ({'a': 1}, None, [inf])
    """
    try:
        if isinstance(text, bytes):  # json_loads(text), inline
            if _LONG_INT not in text.translate(_ZEROS):
                try:
                    return orjson.loads(text)
                except orjson.JSONDecodeError:
                    pass
            return json.loads(text)
        data = text.encode("utf-8", "surrogatepass")
        if _LONG_INT not in data.translate(_ZEROS):
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                pass
        return json.loads(text)
    except ValueError:
        return None


def as_int(v: Any) -> int | None:
    """An int token count, or None for anything else (never invent one).

    Examples
    --------
    >>> as_int(3), as_int(None), as_int("x"), as_int(True)
    (3, None, None, None)
    """
    if type(v) is int:
        return v
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return int(v)


def text_of(content: Any) -> str:
    """Plain text of a message content: a string or a list of text parts.

    Examples
    --------
    >>> text_of([{"type": "text", "text": "a"}, {"type": "image_url"}, {"text": "b"}])
    'a\\nb'
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for p in content:
            if isinstance(p, str):
                out.append(p)
            elif isinstance(p, dict):
                t = p.get("text")
                if isinstance(t, str):
                    out.append(t)
                elif isinstance(p.get("content"), str | list):
                    out.append(text_of(p.get("content")))
        return "\n".join(out)
    if isinstance(content, dict):
        return text_of([content])
    return json.dumps(content, sort_keys=True)


def json_text(v: Any) -> str:
    """Arguments as JSON text: a string stays as is, anything else is dumped.

    Examples
    --------
    >>> json_text('{"a": 1}'), json_text({"a": 1}), json_text(None)
    ('{"a": 1}', '{"a":1}', '{}')
    """
    if isinstance(v, str):
        return v
    if v is None:
        return "{}"
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def error_text(obj: Any) -> str | None:
    """Readable ``type: message`` from a provider error object, if it is one.

    Examples
    --------
    >>> error_text({"error": {"type": "rate_limit_error", "message": "slow down"}})
    'rate_limit_error: slow down'
    """
    if not isinstance(obj, dict):
        return None
    err = obj.get("error")
    if err is None:
        return None
    if isinstance(err, str):
        return err
    if isinstance(err, dict):
        typ = err.get("type") or err.get("code") or err.get("status")
        msg = err.get("message")
        parts = [str(x) for x in (typ, msg) if x not in (None, "")]
        return ": ".join(parts) if parts else json.dumps(err)[:300]
    return str(err)[:300]


def mark_trailing(call: ParsedCall, assistant_roles: tuple[str, ...]) -> None:
    """Set ``call.new_from`` past the last assistant message (what is new in this request).

    Examples
    --------
    >>> c = ParsedCall("openai", "chat.completions", messages=[
    ...     Message("user", "q"), Message("assistant", "a"), Message("tool", "r")])
    >>> mark_trailing(c, ("assistant",)); c.new_from
    2
    """
    msgs = call.messages
    i = len(msgs)
    while i > 0 and msgs[i - 1].role not in assistant_roles:
        i -= 1
    call.new_from = i
