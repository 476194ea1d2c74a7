"""A local stand-in LLM provider, and real-client agents that drive it.

The stand-in is a real HTTPS server on loopback with a self-signed CA.  Its
TLS port speaks HTTP/1.1 and HTTP/2 (chosen by ALPN); a second port speaks
plain HTTP/1.1 (and HTTP/2 with prior knowledge).  It answers, with scripted
and deterministic content:

=================================================  ===========================
endpoint                                           shape
=================================================  ===========================
``POST /v1/chat/completions``                      OpenAI chat, SSE stream with
                                                   ``delta.tool_calls``
                                                   fragments and
                                                   ``include_usage``
``POST /v1/responses``                             OpenAI Responses events
``POST /v1/completions``                           legacy completions
``POST /v1/embeddings``                            float or base64 vectors
``POST /v1/messages``                              Anthropic, SSE events incl.
                                                   ``input_json_delta``
``POST /v1beta/models/{m}:generateContent``        Gemini
``POST /v1beta/models/{m}:streamGenerateContent``  Gemini, ``?alt=sse`` or a
                                                   streamed JSON array
``POST /api/chat``, ``POST /api/generate``         Ollama NDJSON (stream
                                                   defaults to true)
``GET /v1/models``, ``/api/tags``, ``/healthz``    listings / liveness
=================================================  ===========================

Auth headers are ignored.  Every exchange is logged (JSONL, exact body bytes;
see :mod:`heron.standin.log`).

Scenarios
---------
Per request, from the ``x-standin-scenario`` header and/or a ``~`` suffix on
the model name (``gpt-4o-mini~tools=2;error=429-once``); see
:mod:`heron.standin.scenario`:

* ``tools=N`` (default 1): when tools are offered and the history holds fewer
  than N tool results, answer with a tool call (round *i* calls offered tool
  ``i % len(tools)``), else a final text answer;
* ``plan=a*4|b|c``: the exact tool-call sequence; ``parallel=N`` calls per turn;
* arguments come from each tool's JSON schema: ``enum``/``examples`` rotated
  by how often that tool was called before, else ``default``, else
  ``"<prop>-<k+1>"`` / ``k+1``;
* ``error=429|500|...`` (every time) or ``error=429-once`` (only on the first
  attempt: ``x-stainless-retry-count: 0`` from the SDKs, else the first time
  a path + body is seen, so a retry succeeds; 429/503 carry
  ``retry-after-ms`` and ``retry-after``); ``error=stream`` sends an error
  event after ``error_after`` (default 2) content chunks;
* ``latency_ms`` (before headers), ``ttft_ms`` (before the first body chunk),
  ``chunk_ms`` (between later chunks); server defaults from ``--latency-ms``,
  ``--ttft-ms``, ``--chunk-ms``;
* ``encoding=gzip|deflate|br|zstd``: compress the answer (streams
  incrementally, flushed per event);
* ``words=N`` answer length; ``big_kb=N`` pads the answer by ~N KiB;
  ``cache_read=N`` / ``reasoning=N`` report cached / reasoning tokens.

Token formula
-------------
``tokens(b) = (len(b) + 3) // 4`` over UTF-8 bytes.  Prompt tokens =
``tokens(raw request body)``; output tokens = ``tokens(answer text) +
Σ (tokens(tool name) + tokens(arguments JSON as sent)) + reasoning``.  See
:mod:`heron.standin.script`.  Anthropic reports ``input_tokens = prompt -
cache_read``; stream usage follows each API (OpenAI final chunk, Anthropic
cumulative ``message_delta``, Gemini running ``usageMetadata`` in every chunk,
Ollama ``done`` line).

How to run
----------
Server (foreground)::

    python -m heron.standin serve --port 8443 --plain-port 11434 \\
        --cert-dir /tmp/standin --log /tmp/standin/log.jsonl --latency-ms 50

For shell scripts, ``--env-file F`` writes ``STANDIN_BASE_URL``,
``STANDIN_HTTP_URL``, ``SSL_CERT_FILE``, ``NODE_EXTRA_CA_CERTS`` and
``CURL_CA_BUNDLE`` once the server listens; the agents read the first and
the CA from there, e.g. (the ``make demo`` pattern)::

    python -m heron.standin serve --env-file /tmp/standin.env &
    sudo heron-capture -o demo.heron -- env $(cat /tmp/standin.env) \
        python -m heron.standin.agents.demo

From Python (server in a subprocess)::

    from heron.standin import StandIn
    with StandIn(log_path="log.jsonl", latency_ms=0) as s:
        s.https_url, s.http_url, s.ca_file, s.entries()

Agents (real SDKs, real TLS; exit 0 on success, last line a summary)::

    python -m heron.standin.agents.openai_sync --base-url https://127.0.0.1:8443 --ca /tmp/standin/ca.pem

``openai_sync``, ``openai_async``, ``anthropic_stream``, ``gemini``,
``httpx_h2``, ``curl``, ``ollama_plain``, ``threads``, ``big_request``,
``flood``, ``secret``, ``demo``, ``variant`` (``HERON_VARIANT=a|b``),
``bench_agent``; and ``node heron/standin/agents/node_fetch.mjs`` with
``NODE_EXTRA_CA_CERTS``.

Every agent's exact command line and expected exchange count is in
:data:`heron.standin.catalog.CATALOG` (for ``heron-capture -- CMD`` tests).
``python -m heron.standin transcripts DIR`` records real-SDK transcripts
(one server log per agent); ``LogEntry.to_exchange()`` turns a logged
exchange into the analysis layer's ``Exchange``.

Examples
--------
>>> from heron.standin import App, Request
>>> App().handle(Request("GET", "/healthz")).status
200
"""

from __future__ import annotations

from heron.standin.app import App
from heron.standin.errors import AgentError, ScenarioError, StandInError
from heron.standin.log import LogEntry, read_log
from heron.standin.runner import StandIn
from heron.standin.scenario import Scenario, parse_scenario
from heron.standin.script import tokens
from heron.standin.wire import Reply, Request

__all__ = [
    "AgentError",
    "App",
    "LogEntry",
    "Reply",
    "Request",
    "Scenario",
    "ScenarioError",
    "StandIn",
    "StandInError",
    "parse_scenario",
    "read_log",
    "tokens",
]
