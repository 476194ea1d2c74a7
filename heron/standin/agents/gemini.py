"""Gemini-style agent over httpx: generateContent and streamGenerateContent (SSE).

Run::

    python -m heron.standin.agents.gemini --base-url https://127.0.0.1:PORT --ca ca.pem

Calls: a function-calling round with ``generateContent`` (the model returns
a ``functionCall`` part, the agent answers with a ``functionResponse``), then
the same round with ``streamGenerateContent?alt=sse``, parsing the SSE
stream and keeping the *last* ``usageMetadata``.  The API key goes in
``x-goog-api-key`` as the google-genai SDK sends it.

Examples
--------
>>> main(["--help"])                               # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx

from heron.standin.agents._common import (
    FAKE_GOOGLE_KEY,
    TOOL_SCHEMAS,
    Summary,
    check,
    finish_args,
    main_wrapper,
    parser,
    run_tool,
    scenario_headers,
    ssl_context,
)

NAME = "gemini"
MODEL = "gemini-2.0-flash"


def _tools() -> list[dict[str, Any]]:
    return [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": TOOL_SCHEMAS["get_weather"][0],
                    "parameters": TOOL_SCHEMAS["get_weather"][1],
                }
            ]
        }
    ]


def _sse_objects(resp: httpx.Response) -> list[dict[str, Any]]:
    out = []
    for line in resp.iter_lines():
        if line.startswith("data:"):
            out.append(json.loads(line[5:].strip()))
    return out


def _round(http: httpx.Client, base: str, model: str, summary: Summary, *, stream: bool) -> str:
    contents: list[dict[str, Any]] = [
        {"role": "user", "parts": [{"text": "What's the weather in Paris?"}]}
    ]
    for _ in range(6):
        summary.calls += 1
        body = {"contents": contents, "tools": _tools()}
        if stream:
            url = f"{base}/v1beta/models/{model}:streamGenerateContent?alt=sse"
            with http.stream("POST", url, json=body) as resp:
                check(
                    resp.status_code == 200,
                    f"streamGenerateContent: expected 200, found {resp.status_code}",
                )
                chunks = _sse_objects(resp)
            check(chunks, "expected SSE chunks")
            parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
            usage = chunks[-1]["usageMetadata"]
        else:
            resp = http.post(f"{base}/v1beta/models/{model}:generateContent", json=body)
            check(
                resp.status_code == 200, f"generateContent: expected 200, found {resp.status_code}"
            )
            data = resp.json()
            parts = data["candidates"][0]["content"]["parts"]
            usage = data["usageMetadata"]
        check(usage["candidatesTokenCount"] > 0, "expected usageMetadata")
        calls = [p["functionCall"] for p in parts if "functionCall" in p]
        if not calls:
            return "".join(p.get("text", "") for p in parts)
        contents.append({"role": "model", "parts": [{"functionCall": c} for c in calls]})
        responses = []
        for c in calls:
            summary.tool_calls += 1
            result = json.loads(run_tool(c["name"], c.get("args", {})))
            responses.append({"functionResponse": {"name": c["name"], "response": result}})
        contents.append({"role": "user", "parts": responses})
    raise AssertionError("no final answer after 6 rounds")


def run(argv: Sequence[str] | None = None) -> Summary:
    """Run the agent; returns its summary."""
    p = parser(NAME, __doc__)
    p.add_argument("--model", default=MODEL)
    p.add_argument("--scenario", default="tools=1")
    args = finish_args(p, argv)
    summary = Summary(NAME)
    headers = {"x-goog-api-key": FAKE_GOOGLE_KEY, **scenario_headers(args.scenario)}
    with httpx.Client(verify=ssl_context(args.ca), headers=headers, timeout=30) as http:
        a = _round(http, args.base_url, args.model, summary, stream=False)
        b = _round(http, args.base_url, args.model, summary, stream=True)
    check(a and b, "expected final answers from both rounds")
    return summary


main = main_wrapper(NAME, run)

if __name__ == "__main__":
    raise SystemExit(main())
