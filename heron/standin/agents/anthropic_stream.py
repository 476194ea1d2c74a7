"""Anthropic SDK agent: streamed messages with a tool_use / tool_result round.

Run::

    python -m heron.standin.agents.anthropic_stream --base-url https://127.0.0.1:PORT --ca ca.pem [--stream-error]

Calls: a streamed ``messages.stream`` with ``read_file`` and ``run_tests``
offered (scenario ``tools=2``): two tool_use rounds whose ``input_json_delta``
fragments the SDK reassembles, then a final answer; then one non-streamed
``messages.create``.  With ``--stream-error`` one more streamed call gets an
``error`` event mid-stream, which the SDK must raise.

Examples
--------
>>> main(["--help"])                               # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from heron.standin.agents._common import (
    Summary,
    anthropic_client,
    anthropic_tools,
    check,
    finish_args,
    main_wrapper,
    parser,
    run_tool,
    scenario_headers,
)

NAME = "anthropic_stream"
MODEL = "claude-sonnet-4-6"


def tool_loop(
    client: Any, summary: Summary, *, model: str, tools: Sequence[str], scenario: str, prompt: str
) -> str:
    """Streamed tool loop until ``stop_reason == "end_turn"``; returns the answer."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    for _ in range(20):
        summary.calls += 1
        with client.messages.stream(
            model=model,
            max_tokens=1024,
            system="You are a careful coding assistant.",
            messages=messages,
            tools=anthropic_tools(tools),
            extra_headers=scenario_headers(scenario),
        ) as stream:
            for _event in stream:
                pass
            msg = stream.get_final_message()
        check(msg.usage.output_tokens > 1, "expected cumulative output_tokens from message_delta")
        uses = [b for b in msg.content if b.type == "tool_use"]
        if msg.stop_reason == "end_turn":
            return "".join(b.text for b in msg.content if b.type == "text")
        check(
            msg.stop_reason == "tool_use" and uses, f"expected tool_use, found {msg.stop_reason!r}"
        )
        messages.append(
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in msg.content]}
        )
        results = []
        for b in uses:
            summary.tool_calls += 1
            results.append(
                {"type": "tool_result", "tool_use_id": b.id, "content": run_tool(b.name, b.input)}
            )
        messages.append({"role": "user", "content": results})
    raise AssertionError("no final answer after 20 rounds")


def run(argv: Sequence[str] | None = None) -> Summary:
    """Run the agent; returns its summary."""
    p = parser(NAME, __doc__)
    p.add_argument("--model", default=MODEL)
    p.add_argument(
        "--stream-error", action="store_true", help="also make a call that fails mid-stream"
    )
    args = finish_args(p, argv)
    import anthropic

    summary = Summary(NAME)
    client = anthropic_client(args)
    answer = tool_loop(
        client,
        summary,
        model=args.model,
        tools=["read_file", "run_tests"],
        scenario="tools=2",
        prompt="Why does test_add fail? Read the code and run the tests.",
    )
    check(
        answer and summary.tool_calls == 2,
        f"expected an answer after 2 tool calls, found {summary.tool_calls}",
    )
    msg = client.messages.create(
        model=args.model,
        max_tokens=256,
        messages=[{"role": "user", "content": "One-line summary, please."}],
    )
    summary.calls += 1
    check(msg.content and msg.content[0].type == "text", "expected a text answer")
    if args.stream_error:
        summary.calls += 1
        try:
            with client.messages.stream(
                model=args.model,
                max_tokens=256,
                messages=[{"role": "user", "content": "This stream will break."}],
                extra_headers=scenario_headers("error=stream"),
            ) as stream:
                for _event in stream:
                    pass
        except anthropic.APIStatusError as e:
            summary.extra["stream_error"] = type(e).__name__
        else:
            raise AssertionError("expected the SDK to raise on the in-stream error event")
    return summary


main = main_wrapper(NAME, run)

if __name__ == "__main__":
    raise SystemExit(main())
