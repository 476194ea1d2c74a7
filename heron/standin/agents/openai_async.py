"""AsyncOpenAI agent: concurrent streamed chats, a Responses stream, a legacy completion.

Run::

    python -m heron.standin.agents.openai_async --base-url https://127.0.0.1:PORT --ca ca.pem [--concurrency 4]

The async client drives TLS through asyncio's memory BIO (the socket I/O
happens outside ``SSL_read``/``SSL_write``), which is what makes it a
separate capture case.  Calls: ``--concurrency`` streamed chat completions at
once (each with ``include_usage``), one streamed ``responses.create`` with a
function-call round, and one non-streamed legacy ``completions.create``.

Examples
--------
>>> main(["--help"])                               # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from heron.standin.agents._common import (
    TOOL_SCHEMAS,
    Summary,
    check,
    finish_args,
    main_wrapper,
    openai_client,
    parser,
    run_tool,
)

NAME = "openai_async"
MODEL = "gpt-4o-mini"


async def _one_stream(client: Any, model: str, i: int) -> tuple[str, int]:
    stream = await client.chat.completions.create(
        model=model,
        messages=[
            {"role": "user", "content": f"Concurrent request number {i}: summarise calc.py."}
        ],
        stream=True,
        stream_options={"include_usage": True},
    )
    text = ""
    out_tokens = 0
    async for chunk in stream:
        if chunk.usage:
            out_tokens = chunk.usage.completion_tokens
        for ch in chunk.choices:
            text += ch.delta.content or ""
    check(text and out_tokens > 0, f"stream {i}: expected text and a usage chunk")
    return text, out_tokens


async def _responses_round(client: Any, model: str, summary: Summary) -> None:
    tools = [
        {
            "type": "function",
            "name": "read_file",
            "description": TOOL_SCHEMAS["read_file"][0],
            "parameters": TOOL_SCHEMAS["read_file"][1],
        }
    ]
    items: list[Any] = [{"role": "user", "content": "Read calc.py and report the bug."}]
    for _ in range(4):
        summary.calls += 1
        stream = await client.responses.create(model=model, input=items, tools=tools, stream=True)
        final = None
        async for ev in stream:
            if ev.type == "response.completed":
                final = ev.response
        check(final is not None, "expected a response.completed event")
        assert final is not None
        calls = [o for o in final.output if o.type == "function_call"]
        if not calls:
            check(final.output_text, "expected output_text in the final response")
            return
        for c in calls:
            summary.tool_calls += 1
            items.append(
                {
                    "type": "function_call",
                    "call_id": c.call_id,
                    "name": c.name,
                    "arguments": c.arguments,
                }
            )
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": c.call_id,
                    "output": run_tool(c.name, c.arguments),
                }
            )
    raise AssertionError("responses: no final answer after 4 rounds")


async def _main(argv: Sequence[str] | None) -> Summary:
    p = parser(NAME, __doc__)
    p.add_argument("--model", default=MODEL)
    p.add_argument("--concurrency", type=int, default=4)
    args = finish_args(p, argv)
    summary = Summary(NAME)
    client = openai_client(args, asynchronous=True)
    async with client:
        results = await asyncio.gather(
            *(_one_stream(client, args.model, i) for i in range(args.concurrency))
        )
        summary.calls += len(results)
        await _responses_round(client, args.model, summary)
        comp = await client.completions.create(
            model="gpt-3.5-turbo-instruct", prompt="def add(a, b):"
        )
        summary.calls += 1
        check(
            comp.choices[0].text and comp.usage.completion_tokens > 0,
            "expected a legacy completion",
        )
    summary.extra["streams"] = args.concurrency
    summary.extra["output_tokens"] = sum(n for _, n in results)
    json.dumps(summary.extra)
    return summary


def run(argv: Sequence[str] | None = None) -> Summary:
    """Run the agent; returns its summary."""
    return asyncio.run(_main(argv))


main = main_wrapper(NAME, run)

if __name__ == "__main__":
    raise SystemExit(main())
