"""Ollama-style client over plain HTTP: ``/api/chat`` NDJSON streams, ``/api/generate``.

Run (the capture records plain HTTP only on its configured ports, by default
11434, 8000, 8080, 4000 and 80, so start the stand-in's plain port on one)::

    python -m heron.standin serve --plain-port 11434 ...
    python -m heron.standin.agents.ollama_plain --base-url http://127.0.0.1:11434

Calls, as the ``ollama`` Python client makes them (httpx, keep-alive): a
streamed chat with a tool round (``stream`` omitted, so it defaults to
true), a non-streamed chat, and a streamed ``/api/generate``.  The final
``done`` line must carry ``prompt_eval_count`` and ``eval_count``.

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
    Summary,
    check,
    finish_args,
    main_wrapper,
    openai_tools,
    parser,
    run_tool,
    ssl_context,
)

NAME = "ollama_plain"
MODEL = "llama3.2"


def _ndjson(http: httpx.Client, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    with http.stream("POST", path, json=body) as resp:
        check(resp.status_code == 200, f"{path}: expected 200, found {resp.status_code}")
        lines = [json.loads(line) for line in resp.iter_lines() if line.strip()]
    check(lines and lines[-1].get("done") is True, f"{path}: expected a final done line")
    last = lines[-1]
    check(
        last.get("prompt_eval_count", 0) > 0 and last.get("eval_count", 0) > 0,
        "expected token counts",
    )
    return lines


def run(argv: Sequence[str] | None = None) -> Summary:
    """Run the agent; returns its summary."""
    p = parser(NAME, __doc__)
    p.add_argument("--model", default=MODEL)
    args = finish_args(p, argv)
    summary = Summary(NAME)
    verify = ssl_context(args.ca) if args.base_url.startswith("https:") else False
    with httpx.Client(base_url=args.base_url, verify=verify, timeout=30) as http:
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": "List the files, then explain the project."}
        ]
        for _ in range(5):
            summary.calls += 1
            lines = _ndjson(
                http,
                "/api/chat",
                {"model": args.model, "messages": messages, "tools": openai_tools(["list_files"])},
            )
            calls = [c for ln in lines for c in ln.get("message", {}).get("tool_calls", [])]
            text = "".join(ln.get("message", {}).get("content", "") for ln in lines)
            if not calls:
                check(text, "expected streamed text")
                break
            messages.append({"role": "assistant", "content": text, "tool_calls": calls})
            for c in calls:
                summary.tool_calls += 1
                fn = c["function"]
                messages.append({"role": "tool", "content": run_tool(fn["name"], fn["arguments"])})
        r = http.post(
            "/api/chat",
            json={
                "model": args.model,
                "stream": False,
                "messages": [{"role": "user", "content": "Hi"}],
            },
        )
        summary.calls += 1
        check(
            r.status_code == 200 and r.json()["done"] is True, "expected a non-streamed chat answer"
        )
        lines = _ndjson(
            http, "/api/generate", {"model": args.model, "prompt": "Why is the sky blue?"}
        )
        summary.calls += 1
        check("".join(ln.get("response", "") for ln in lines), "expected generated text")
    check(summary.tool_calls == 1, f"expected 1 tool call, found {summary.tool_calls}")
    return summary


main = main_wrapper(NAME, run)

if __name__ == "__main__":
    raise SystemExit(main())
