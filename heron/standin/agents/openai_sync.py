"""OpenAI SDK (sync) agent: plain call, streamed call with usage, 2-round tool loop.

Run::

    python -m heron.standin.agents.openai_sync --base-url https://127.0.0.1:PORT --ca ca.pem

Calls (6 in all, all HTTP/1.1 over TLS on one keep-alive connection):

1. ``chat.completions.create`` without streaming;
2. the same streamed, with ``stream_options.include_usage``;
3. a tool loop with ``list_files`` and ``read_file`` offered and scenario
   ``tools=2``: two rounds of tool calls (streamed, argument fragments
   reassembled by the agent), then a final answer;
4. one ``embeddings.create``.

Examples
--------
>>> main(["--help"])                               # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from heron.standin.agents._common import (
    Summary,
    check,
    finish_args,
    main_wrapper,
    openai_client,
    openai_tools,
    parser,
    run_tool,
    scenario_headers,
)

NAME = "openai_sync"
MODEL = "gpt-4o-mini"


def tool_loop(
    client: Any,
    summary: Summary,
    *,
    model: str,
    tools: Sequence[str],
    scenario: str,
    prompt: str,
    stream: bool,
    max_rounds: int = 20,
    on_tool: Callable[[str, str, str], None] | None = None,
    scenario_for_round: Callable[[int], str] | None = None,
    tool_defs: list[dict[str, Any]] | None = None,
    system: str = "You are a careful coding assistant.",
) -> tuple[str, list[dict[str, Any]]]:
    """Run a chat tool loop until the model answers without tool calls.

    ``on_tool(name, arguments, result)`` is called after each local tool
    runs; ``scenario_for_round(i)`` overrides the scenario header of round
    ``i``; ``tool_defs`` overrides the tool definitions sent.  Returns the
    final answer text and the message history.

    Examples
    --------
    >>> client = openai_client(args)                  # doctest: +SKIP
    >>> tool_loop(client, Summary("x"), model="gpt-4o-mini", tools=["read_file"],
    ...           scenario="tools=2", prompt="read it", stream=True)[0]   # doctest: +SKIP
    'Done after 2 tool results: read it. ...'
    """
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system},
        {"role": "user", "content": prompt},
    ]
    defs = tool_defs if tool_defs is not None else openai_tools(tools)
    for rnd in range(max_rounds):
        headers = scenario_headers(scenario_for_round(rnd) if scenario_for_round else scenario)
        summary.calls += 1
        if stream:
            text, calls, finish = _streamed_turn(client, model, messages, defs, headers)
        else:
            resp = client.chat.completions.create(
                model=model, messages=messages, tools=defs, extra_headers=headers
            )
            choice = resp.choices[0]
            text = choice.message.content or ""
            finish = choice.finish_reason
            calls = [
                {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
                for c in choice.message.tool_calls or []
            ]
        if not calls:
            check(
                finish == "stop",
                f"expected finish_reason 'stop' on the final answer, found {finish!r}",
            )
            return text, messages
        check(finish == "tool_calls", f"expected finish_reason 'tool_calls', found {finish!r}")
        messages.append(
            {
                "role": "assistant",
                "content": text or None,
                "tool_calls": [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": c["arguments"]},
                    }
                    for c in calls
                ],
            }
        )
        for c in calls:
            summary.tool_calls += 1
            result = run_tool(c["name"], c["arguments"])
            if on_tool:
                on_tool(c["name"], c["arguments"], result)
            messages.append({"role": "tool", "tool_call_id": c["id"], "content": result})
    raise AssertionError(f"no final answer after {max_rounds} rounds")


def _streamed_turn(
    client: Any,
    model: str,
    messages: list[dict[str, Any]],
    tool_defs: list[dict[str, Any]],
    headers: dict[str, str],
) -> tuple[str, list[dict[str, Any]], str | None]:
    stream = client.chat.completions.create(
        model=model,
        messages=messages,
        tools=tool_defs,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers=headers,
    )
    text = ""
    finish = None
    calls: dict[int, dict[str, Any]] = {}
    usage = None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for ch in chunk.choices:
            if ch.delta.content:
                text += ch.delta.content
            for tc in ch.delta.tool_calls or []:
                slot = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                if tc.id:
                    slot["id"] = tc.id
                if tc.function and tc.function.name:
                    slot["name"] = tc.function.name
                if tc.function and tc.function.arguments:
                    slot["arguments"] += tc.function.arguments
            if ch.finish_reason:
                finish = ch.finish_reason
    check(usage is not None, "expected a final usage chunk (stream_options.include_usage)")
    for c in calls.values():
        json.loads(c["arguments"])  # the fragments must join into valid JSON
    return text, [calls[i] for i in sorted(calls)], finish


def run(argv: Sequence[str] | None = None) -> Summary:
    """Run the agent; returns its summary (raises on any unexpected answer)."""
    p = parser(NAME, __doc__)
    p.add_argument("--model", default=MODEL)
    args = finish_args(p, argv)
    summary = Summary(NAME)
    client = openai_client(args)

    resp = client.chat.completions.create(
        model=args.model, messages=[{"role": "user", "content": "Say hello in five words."}]
    )
    summary.calls += 1
    check(resp.choices[0].message.content, "expected text in the non-streamed answer")
    check(resp.usage and resp.usage.prompt_tokens > 0, "expected usage in the non-streamed answer")

    stream = client.chat.completions.create(
        model=args.model,
        messages=[{"role": "user", "content": "Stream a short greeting."}],
        stream=True,
        stream_options={"include_usage": True},
    )
    summary.calls += 1
    text = ""
    usage = None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
            check(chunk.choices == [], "expected empty choices in the usage chunk")
        for ch in chunk.choices:
            text += ch.delta.content or ""
    check(
        text and usage and usage.completion_tokens > 0, "expected streamed text and a usage chunk"
    )

    answer, _ = tool_loop(
        client,
        summary,
        model=args.model,
        tools=["list_files", "read_file"],
        scenario="tools=2",
        prompt="Find the calculator source and tell me what add() does.",
        stream=True,
    )
    check(summary.tool_calls == 2, f"expected 2 tool calls, found {summary.tool_calls}")
    check(answer, "expected a final answer after the tool rounds")

    emb = client.embeddings.create(model="text-embedding-3-small", input=["calc add", "calc sub"])
    summary.calls += 1
    check(
        len(emb.data) == 2 and len(emb.data[0].embedding) == 8,
        "expected two 8-dimensional embeddings",
    )
    return summary


main = main_wrapper(NAME, run)

if __name__ == "__main__":
    raise SystemExit(main())
