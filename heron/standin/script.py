"""The scripted "model": decides what one turn answers, independent of API.

Every provider module reduces its request to a :class:`Conversation` (tools
offered, tool results already in the history, the last user text) and renders
the :class:`Turn` that :func:`decide` returns.  Everything is a pure function
of the request body and the scenario, so two runs of the same agent get the
same bytes back.

Token formula (exact, so tests can assert it)::

    tokens(b) = (len(b) + 3) // 4          # b: UTF-8 bytes
    prompt    = tokens(raw request body)
    output    = tokens(answer text) + sum(tokens(name) + tokens(args_json))
                + scenario.reasoning

``args_json`` is ``json.dumps(args, separators=(",", ":"))``, the exact
argument string the stand-in sends.  ``cache_read`` is reported as cached
prompt tokens (OpenAI ``cached_tokens``, Gemini ``cachedContentTokenCount``);
Anthropic reports ``input_tokens = prompt - cache_read`` plus
``cache_read_input_tokens = cache_read``, as the real API splits them.

Examples
--------
>>> conv = Conversation(tools=[ToolSpec("ls", {})], n_results=0, last_user="hi")
>>> t = decide(conv, Scenario(), body=b"{}", call_key="k")
>>> [c.name for c in t.tool_calls], t.text
(['ls'], '')
>>> tokens(b"hello")
2
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from heron.standin.errors import ScenarioError
from heron.standin.scenario import Scenario

_FILLER = [
    "the",
    "change",
    "keeps",
    "the",
    "public",
    "interface",
    "stable",
    "while",
    "the",
    "tests",
    "cover",
    "the",
    "edge",
    "cases",
    "that",
    "failed",
    "before",
    "and",
    "the",
    "log",
    "now",
    "says",
    "what",
    "happened",
]


def tokens(data: bytes | str) -> int:
    """Deterministic token count: one token per started 4 bytes of UTF-8.

    Examples
    --------
    >>> tokens(""), tokens("abcd"), tokens("abcde")
    (0, 1, 2)
    """
    if isinstance(data, str):
        data = data.encode()
    return (len(data) + 3) // 4


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the request offered: its name and JSON-schema parameters."""

    name: str
    schema: dict[str, Any]


@dataclass(slots=True)
class Conversation:
    """What the script needs to know about a request, whatever its API."""

    tools: list[ToolSpec]
    n_results: int  # tool results already in the history
    last_user: str = ""
    n_messages: int = 0


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call the model asks for."""

    id: str
    name: str
    args: dict[str, Any]

    @property
    def args_json(self) -> str:
        """The arguments exactly as sent on the wire (compact JSON)."""
        return json.dumps(self.args, separators=(",", ":"))


@dataclass(slots=True)
class Turn:
    """The model's answer: text and/or tool calls, with token usage."""

    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int = 0
    output_tokens: int = 0
    cache_read: int = 0
    reasoning: int = 0

    @property
    def finished(self) -> bool:
        """True when this is a final answer (no tool calls)."""
        return not self.tool_calls


def _value_for(prop: str, schema: dict[str, Any], k: int) -> Any:
    """A deterministic argument value; ``k`` = earlier calls of the same tool."""
    for key in ("enum", "examples"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return options[k % len(options)]
    if "default" in schema:
        return schema["default"]
    typ = schema.get("type", "string")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), "string")
    typ = str(typ).lower()  # Gemini spells types in capitals
    if typ == "integer":
        return k + 1
    if typ == "number":
        return float(k) + 0.5
    if typ == "boolean":
        return k % 2 == 0
    if typ == "array":
        return []
    if typ == "object":
        return make_args(schema, k)
    return f"{prop}-{k + 1}"


def make_args(schema: dict[str, Any], k: int) -> dict[str, Any]:
    """Arguments for a tool from its JSON schema (properties in schema order).

    Values come from ``enum``/``examples`` (rotated by ``k``), then
    ``default``, then the type (``"<prop>-<k+1>"`` for strings, ``k+1`` for
    integers).

    Examples
    --------
    >>> make_args({"properties": {"path": {"type": "string", "default": "a.py"},
    ...                           "n": {"type": "integer"}}}, 0)
    {'path': 'a.py', 'n': 1}
    """
    props = schema.get("properties") or {}
    if not isinstance(props, dict):
        return {}
    return {
        name: _value_for(name, sub if isinstance(sub, dict) else {}, k)
        for name, sub in props.items()
    }


def _plan(conv: Conversation, sc: Scenario) -> list[str]:
    offered = [t.name for t in conv.tools]
    if sc.plan:
        missing = sorted(set(sc.plan) - set(offered))
        if missing:
            raise ScenarioError(
                f"scenario plan names tools {missing} that the request does not offer "
                f"(offered: {offered})"
            )
        return list(sc.plan)
    return [offered[i % len(offered)] for i in range(sc.tools)]


def _answer_text(conv: Conversation, sc: Scenario) -> str:
    topic = " ".join(conv.last_user.split())[:48]
    head = f"Done after {conv.n_results} tool results: {topic}".rstrip(": ") + "."
    words = head.split()
    i = 0
    while len(words) < sc.words:
        words.append(_FILLER[i % len(_FILLER)])
        i += 1
    text = " ".join(words[: sc.words])
    if sc.big_kb:
        pad = " ".join(_FILLER) + " "
        need = sc.big_kb * 1024 - len(text)
        if need > 0:
            text += " " + (pad * (need // len(pad) + 1))[:need].rstrip()
    return text


def call_id(call_key: str, index: int, prefix: str) -> str:
    """A deterministic tool-call id: prefix + 24 hex digits.

    Examples
    --------
    >>> cid = call_id("k", 0, "call_")
    >>> cid.startswith("call_"), len(cid), cid == call_id("k", 0, "call_")
    (True, 29, True)
    """
    return prefix + hashlib.sha256(f"{call_key}:{index}".encode()).hexdigest()[:24]


def decide(
    conv: Conversation,
    sc: Scenario,
    *,
    body: bytes,
    call_key: str,
    id_prefix: str = "call_",
    preamble: bool = False,
) -> Turn:
    """Decide the model's turn for one request.

    When tools are offered and fewer tool results are in the history than the
    plan has calls, the turn asks for the next ``parallel`` planned calls;
    otherwise it is a final text answer.  ``preamble`` adds a short text
    before tool calls (as Claude does).

    Examples
    --------
    >>> conv = Conversation(tools=[ToolSpec("a", {}), ToolSpec("b", {})], n_results=1)
    >>> t = decide(conv, Scenario(tools=2), body=b"x" * 10, call_key="c")
    >>> t.tool_calls[0].name, t.prompt_tokens
    ('b', 3)
    >>> decide(conv, Scenario(tools=1), body=b"", call_key="c").finished
    True
    """
    calls: list[ToolCall] = []
    text = ""
    if conv.tools:
        plan = _plan(conv, sc)
        if conv.n_results < len(plan):
            start = conv.n_results
            for idx in range(start, min(start + sc.parallel, len(plan))):
                name = plan[idx]
                k = plan[:idx].count(name)
                spec = next(t for t in conv.tools if t.name == name)
                calls.append(
                    ToolCall(call_id(call_key, idx, id_prefix), name, make_args(spec.schema, k))
                )
            if preamble:
                text = "I'll use " + ", ".join(c.name for c in calls) + "."
    if not calls:
        text = _answer_text(conv, sc)
    out = tokens(text) + sum(tokens(c.name) + tokens(c.args_json) for c in calls) + sc.reasoning
    prompt = tokens(body)
    return Turn(
        text=text,
        tool_calls=calls,
        prompt_tokens=prompt,
        output_tokens=out,
        cache_read=min(sc.cache_read, prompt),
        reasoning=sc.reasoning,
    )


def split_words(text: str) -> list[str]:
    """Split text into stream deltas of one word each (spaces kept).

    Examples
    --------
    >>> split_words("a bc d")
    ['a', ' bc', ' d']
    """
    if not text:
        return []
    parts = text.split(" ")
    return [parts[0]] + [" " + p for p in parts[1:]]


def split_fragments(s: str, size: int = 8) -> list[str]:
    """Split a string into fragments of ``size`` characters (tool-call args).

    Examples
    --------
    >>> split_fragments('{"a":12345}', 4)
    ['{"a"', ':123', '45}']
    """
    return [s[i : i + size] for i in range(0, len(s), size)] or [""]
