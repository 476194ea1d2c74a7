"""Ollama-style answers: ``POST /api/chat`` and ``/api/generate`` (NDJSON).

``stream`` defaults to **true**, as in Ollama: each line is one JSON object,
and the final ``"done": true`` line carries ``prompt_eval_count`` and
``eval_count``.  Durations are deterministic (1 ms per token), not measured.
Tool calls come in one line as ``message.tool_calls`` with arguments as a JSON
object, as Ollama sends them.

Examples
--------
>>> import json
>>> from heron.standin.wire import Request
>>> from heron.standin.scenario import Scenario
>>> b = b'{"model":"llama3","messages":[{"role":"user","content":"hi"}]}'
>>> r = chat(Request("POST", "/api/chat", [], b), json.loads(b), Scenario())
>>> json.loads(r.parts[-1])["done"], r.headers[0][1]
(True, 'application/x-ndjson')
"""

from __future__ import annotations

import hashlib
from typing import Any

from heron.standin.providers.openai import chat_conversation
from heron.standin.scenario import Scenario, split_model
from heron.standin.script import Conversation, Turn, decide, split_words
from heron.standin.wire import CREATED_ISO, Reply, Request, dumps

_NS_PER_TOKEN = 1_000_000


def error_reply(status: int, message: str) -> Reply:
    """An Ollama-format error answer.

    Examples
    --------
    >>> error_reply(500, "boom").body
    b'{"error":"boom"}'
    """
    return Reply.json(status, {"error": message})


def _final(model: str, turn: Turn, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": model,
        "created_at": CREATED_ISO,
        **extra,
        "done_reason": "stop",
        "done": True,
        "total_duration": (turn.prompt_tokens + turn.output_tokens) * _NS_PER_TOKEN + 1_000_000,
        "load_duration": 1_000_000,
        "prompt_eval_count": turn.prompt_tokens,
        "prompt_eval_duration": turn.prompt_tokens * _NS_PER_TOKEN,
        "eval_count": turn.output_tokens,
        "eval_duration": turn.output_tokens * _NS_PER_TOKEN,
    }


def _lines(objs: list[dict[str, Any]]) -> list[bytes]:
    return [dumps(o) + b"\n" for o in objs]


def _done(reply: Reply, sc: Scenario, api: str) -> Reply:
    reply.api = api
    reply.scenario = sc.as_dict()
    reply.latency_s = sc.latency_ms / 1000
    reply.ttft_s = sc.ttft_ms / 1000
    reply.chunk_s = sc.chunk_ms / 1000
    return reply


def _respond(
    objs: list[dict[str, Any]], final: dict[str, Any], sc: Scenario, stream: bool, api: str
) -> Reply:
    if not stream:
        return _done(Reply.json(200, final), sc, api)
    if sc.error == "stream":
        objs = [*objs[: sc.error_after], {"error": "stand-in: stream interrupted"}]
    else:
        objs = [*objs, final]
    return _done(Reply.stream(_lines(objs), content_type="application/x-ndjson"), sc, api)


def chat(req: Request, body: dict[str, Any], sc: Scenario) -> Reply:
    """Answer ``POST /api/chat``.

    Examples
    --------
    >>> import json
    >>> from heron.standin.wire import Request
    >>> b = b'{"model":"m","stream":false,"messages":[{"role":"user","content":"q"}]}'
    >>> json.loads(chat(Request("POST", "/api/chat", [], b), json.loads(b), Scenario()).body)["eval_count"] > 0
    True
    """
    model, _ = split_model(str(body.get("model", "")))
    key = hashlib.sha256(req.body).hexdigest()
    turn = decide(chat_conversation(body), sc, body=req.body, call_key=key)
    calls = [{"function": {"name": c.name, "arguments": c.args}} for c in turn.tool_calls]
    stream = body.get("stream", True) is not False
    if not stream:
        msg: dict[str, Any] = {"role": "assistant", "content": turn.text}
        if calls:
            msg["tool_calls"] = calls
        return _respond([], _final(model, turn, {"message": msg}), sc, False, "ollama.chat")
    objs = [
        {
            "model": model,
            "created_at": CREATED_ISO,
            "message": {"role": "assistant", "content": w},
            "done": False,
        }
        for w in split_words(turn.text)
    ]
    if calls:
        objs.append(
            {
                "model": model,
                "created_at": CREATED_ISO,
                "message": {"role": "assistant", "content": "", "tool_calls": calls},
                "done": False,
            }
        )
    final = _final(model, turn, {"message": {"role": "assistant", "content": ""}})
    return _respond(objs, final, sc, True, "ollama.chat")


def generate(req: Request, body: dict[str, Any], sc: Scenario) -> Reply:
    """Answer ``POST /api/generate``.

    Examples
    --------
    >>> import json
    >>> from heron.standin.wire import Request
    >>> b = b'{"model":"m","prompt":"q"}'
    >>> r = generate(Request("POST", "/api/generate", [], b), json.loads(b), Scenario())
    >>> json.loads(r.parts[0])["done"]
    False
    """
    model, _ = split_model(str(body.get("model", "")))
    key = hashlib.sha256(req.body).hexdigest()
    turn = decide(
        Conversation([], 0, str(body.get("prompt", "")), 1), sc, body=req.body, call_key=key
    )
    stream = body.get("stream", True) is not False
    if not stream:
        return _respond(
            [], _final(model, turn, {"response": turn.text}), sc, False, "ollama.generate"
        )
    objs = [
        {"model": model, "created_at": CREATED_ISO, "response": w, "done": False}
        for w in split_words(turn.text)
    ]
    return _respond(objs, _final(model, turn, {"response": ""}), sc, True, "ollama.generate")


def tags() -> Reply:
    """Answer ``GET /api/tags`` (the installed-models list).

    Examples
    --------
    >>> json_body = tags().body
    >>> b'llama3.2' in json_body
    True
    """
    return Reply.json(
        200, {"models": [{"name": "llama3.2:latest", "model": "llama3.2:latest", "size": 0}]}
    )
