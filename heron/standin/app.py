"""Routing: one :class:`Request` in, one :class:`Reply` out (pure, no I/O).

:class:`App` holds the only state the stand-in keeps between requests: which
request bodies already got their ``error=NNN-once`` answer, so the retry of
the same body succeeds.

Examples
--------
>>> app = App()
>>> body = b'{"model":"m~error=429-once","messages":[{"role":"user","content":"x"}]}'
>>> req = Request("POST", "/v1/chat/completions", [], body)
>>> app.handle(req).status, app.handle(req).status
(429, 200)
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections.abc import Callable
from typing import Any

from heron.standin.encoding import encode_parts
from heron.standin.errors import RequestError, ScenarioError
from heron.standin.providers import anthropic, gemini, ollama, openai
from heron.standin.scenario import SCENARIO_HEADER, Scenario, parse_scenario
from heron.standin.wire import Reply, Request

Handler = Callable[[Request, dict[str, Any], Scenario], Reply]
ErrorFn = Callable[[int, str], Reply]

_GEMINI = re.compile(
    r"^/v1(?:beta|alpha)?/models/(?P<model>[^/:]+):(?P<verb>generateContent|streamGenerateContent)$"
)

_ROUTES: dict[str, tuple[Handler, ErrorFn, str]] = {
    "/v1/chat/completions": (openai.chat, openai.error_reply, "openai.chat"),
    "/chat/completions": (openai.chat, openai.error_reply, "openai.chat"),
    "/v1/responses": (openai.responses, openai.error_reply, "openai.responses"),
    "/v1/completions": (openai.completions, openai.error_reply, "openai.completions"),
    "/v1/embeddings": (openai.embeddings, openai.error_reply, "openai.embeddings"),
    "/v1/messages": (anthropic.messages, anthropic.error_reply, "anthropic.messages"),
    "/api/chat": (ollama.chat, ollama.error_reply, "ollama.chat"),
    "/api/generate": (ollama.generate, ollama.error_reply, "ollama.generate"),
}


def _retry_headers(status: int, sc: Scenario) -> list[tuple[str, str]]:
    if status not in (429, 503):
        return []
    secs = max(1, math.ceil(sc.retry_after_ms / 1000))
    return [("retry-after-ms", str(sc.retry_after_ms)), ("retry-after", str(secs))]


class App:
    """The scripted provider: routes requests and applies scenarios.

    Parameters
    ----------
    default:
        Scenario defaults for every request (the CLI's ``--latency-ms``
        and ``--ttft-ms`` land here).

    Examples
    --------
    >>> App().handle(Request("GET", "/nope")).status
    404
    """

    def __init__(self, default: Scenario | None = None) -> None:
        self.default = default or Scenario()
        self._seen_errors: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def _first_attempt(self, req: Request) -> bool:
        """Is this the first attempt of this request (not an SDK retry)?

        The openai and anthropic SDKs number their attempts in
        ``x-stainless-retry-count``, which makes this stateless (and right
        even when the same agent runs twice against one server).  Other
        clients: the first time this path + body is seen.
        """
        count = req.header("x-stainless-retry-count")
        if count is not None:
            return count.strip() == "0"
        key = (req.path, hashlib.sha256(req.body).hexdigest())
        with self._lock:
            if key in self._seen_errors:
                return False
            self._seen_errors.add(key)
            return True

    def handle(self, req: Request) -> Reply:
        """Answer one request.

        Examples
        --------
        >>> App().handle(Request("GET", "/healthz")).body
        b'{"status":"ok"}'
        """
        path = req.path
        if req.method == "GET":
            if path in ("/healthz", "/"):
                return Reply.json(200, {"status": "ok"})
            if path == "/v1/models":
                return openai.models()
            if path == "/api/tags":
                return ollama.tags()
        route = _ROUTES.get(path)
        gem = _GEMINI.match(path)
        model = ""
        if route is None and gem is not None:
            model = gem["model"]
            verb = gem["verb"]
            route = (
                gemini.stream_generate if verb == "streamGenerateContent" else gemini.generate,
                gemini.error_reply,
                "gemini." + verb,
            )
        if route is None:
            return Reply.json(
                404, {"error": {"message": f"stand-in: no route for {req.method} {path}"}}
            )
        handler, err, api = route
        if req.method != "POST":
            return self._tag(
                err(405, f"stand-in: {path} expects POST, found {req.method}"), api, None
            )
        try:
            body = json.loads(req.body) if req.body else {}
        except (ValueError, UnicodeDecodeError) as e:
            return self._tag(err(400, f"stand-in: request body is not JSON ({e})"), api, None)
        if not isinstance(body, dict):
            return self._tag(err(400, "stand-in: expected a JSON object body"), api, None)
        if gem is None:
            model = str(body.get("model", ""))
        try:
            sc = parse_scenario(req.header(SCENARIO_HEADER), model=model, default=self.default)
        except ScenarioError as e:
            return self._tag(err(400, f"stand-in: {e}"), api, None)
        if isinstance(sc.error, int) and (not sc.error_once or self._first_attempt(req)):
            reply = err(sc.error, f"stand-in: scripted {sc.error} answer")
            reply.headers.extend(_retry_headers(sc.error, sc))
            reply.latency_s = sc.latency_ms / 1000
            return self._tag(reply, api, sc)
        try:
            reply = handler(req, body, sc)
        except (RequestError, ScenarioError) as e:
            return self._tag(err(400, f"stand-in: {e}"), api, sc)
        if sc.encoding:
            reply.parts = encode_parts(reply.parts, sc.encoding)
            reply.headers.append(("content-encoding", sc.encoding))
        return reply

    @staticmethod
    def _tag(reply: Reply, api: str, sc: Scenario | None) -> Reply:
        reply.api = api
        reply.scenario = sc.as_dict() if sc else None
        return reply
