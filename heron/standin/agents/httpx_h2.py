"""httpx with ``http2=True``: sequential requests on one connection, then concurrent streams.

Run::

    python -m heron.standin.agents.httpx_h2 --base-url https://127.0.0.1:PORT --ca ca.pem [--streams 5]

Part 1 (sync client, one HTTP/2 connection): an OpenAI chat, an Anthropic
stream and an Ollama-style chat, one after the other.  Part 2 (async client,
one HTTP/2 connection): ``--streams`` streamed chat completions at once,
multiplexed as concurrent HTTP/2 streams.  Every response must report
``HTTP/2``.

Examples
--------
>>> main(["--help"])                               # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import httpx

from heron.standin.agents._common import (
    FAKE_ANTHROPIC_KEY,
    FAKE_OPENAI_KEY,
    Summary,
    check,
    finish_args,
    main_wrapper,
    parser,
    ssl_context,
)

NAME = "httpx_h2"


def _check_h2(resp: httpx.Response) -> None:
    check(resp.http_version == "HTTP/2", f"expected HTTP/2, found {resp.http_version}")
    check(
        resp.status_code == 200, f"{resp.request.url.path}: expected 200, found {resp.status_code}"
    )


def _sequential(base: str, ca: str, summary: Summary) -> None:
    headers = {"authorization": f"Bearer {FAKE_OPENAI_KEY}"}
    with httpx.Client(http2=True, verify=ssl_context(ca), headers=headers, timeout=30) as http:
        r = http.post(
            f"{base}/v1/chat/completions",
            json={
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "h2 request one"}],
            },
        )
        _check_h2(r)
        check(r.json()["choices"][0]["message"]["content"], "expected chat text")
        with http.stream(
            "POST",
            f"{base}/v1/messages",
            headers={"x-api-key": FAKE_ANTHROPIC_KEY, "anthropic-version": "2023-06-01"},
            json={
                "model": "claude-haiku-4-5",
                "max_tokens": 100,
                "stream": True,
                "messages": [{"role": "user", "content": "h2 request two"}],
            },
        ) as s:
            _check_h2(s)
            events = [line for line in s.iter_lines() if line.startswith("event:")]
        check(events and events[-1] == "event: message_stop", "expected an Anthropic event stream")
        r = http.post(
            f"{base}/api/chat",
            json={
                "model": "llama3.2",
                "stream": False,
                "messages": [{"role": "user", "content": "h2 request three"}],
            },
        )
        _check_h2(r)
        check(r.json()["done"] is True, "expected an Ollama final object")
        summary.calls += 3


async def _concurrent(base: str, ca: str, n: int, summary: Summary) -> None:
    headers = {"authorization": f"Bearer {FAKE_OPENAI_KEY}"}
    async with httpx.AsyncClient(
        http2=True, verify=ssl_context(ca), headers=headers, timeout=30
    ) as http:
        # One request first, so the connection exists and the rest multiplex on it.
        r = await http.get(f"{base}/v1/models")
        _check_h2(r)

        async def one(i: int) -> int:
            body = {
                "model": "gpt-4o-mini",
                "stream": True,
                "stream_options": {"include_usage": True},
                "messages": [{"role": "user", "content": f"concurrent h2 stream {i}"}],
            }
            async with http.stream("POST", f"{base}/v1/chat/completions", json=body) as s:
                _check_h2(s)
                usage = 0
                async for line in s.aiter_lines():
                    if line.startswith("data: {"):
                        obj = json.loads(line[6:])
                        if obj.get("usage"):
                            usage = obj["usage"]["completion_tokens"]
                return usage

        got = await asyncio.gather(*(one(i) for i in range(n)))
        check(all(u > 0 for u in got), "expected usage on every stream")
        summary.calls += 1 + n


def run(argv: Sequence[str] | None = None) -> Summary:
    """Run the agent; returns its summary."""
    p = parser(NAME, __doc__)
    p.add_argument("--streams", type=int, default=5)
    args = finish_args(p, argv)
    check(args.base_url.startswith("https:"), "httpx_h2 needs an https base URL (HTTP/2 by ALPN)")
    summary = Summary(NAME)
    _sequential(args.base_url, args.ca, summary)
    asyncio.run(_concurrent(args.base_url, args.ca, args.streams, summary))
    summary.extra["streams"] = args.streams
    return summary


main = main_wrapper(NAME, run)

if __name__ == "__main__":
    raise SystemExit(main())
