"""The bundled demo agent (``make demo``): a small coding assistant fixing a bug.

Run::

    python -m heron.standin.agents.demo --base-url https://127.0.0.1:PORT --ca ca.pem

It does what a real coding agent does, with real SDKs over real TLS:

0. names the session with a small ``claude-haiku-4-5`` call (an auxiliary
   "title generation" call, as real coding agents make);
1. plans with ``gpt-4o-mini`` (openai SDK, streamed, ``include_usage``) in a
   tool loop: ``list_files`` → ``read_file`` (source) → ``read_file``
   (test) → ``run_tests`` → ``write_file``, then a final answer;
2. asks ``claude-sonnet-4-6`` (anthropic SDK, streamed) to review the patch;
3. prints what it did and exits 0.

Streams have a visible time to first token (``ttft_ms=40``) so the capture's
TTFT column has something to show.

Examples
--------
>>> main(["--help"])                               # doctest: +SKIP
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence

from heron.standin.agents._common import (
    Summary,
    anthropic_client,
    check,
    finish_args,
    main_wrapper,
    openai_client,
    parser,
    scenario_headers,
)
from heron.standin.agents.openai_sync import tool_loop

NAME = "demo"
TASK = "The test tests/test_calc.py::test_add fails. Find the bug in the calculator and fix it."
PLAN = "plan=list_files|read_file*2|run_tests|write_file;ttft_ms=40;chunk_ms=2"
TOOLS = ["list_files", "read_file", "run_tests", "write_file"]


def _say(msg: str) -> None:
    print(msg, flush=True)


def run(argv: Sequence[str] | None = None) -> Summary:
    """Run the demo agent; returns its summary."""
    p = parser(NAME, __doc__)
    p.add_argument("--model", default="gpt-4o-mini")
    p.add_argument("--reviewer", default="claude-sonnet-4-6")
    args = finish_args(p, argv)
    summary = Summary(NAME)
    t0 = time.monotonic()
    _say(f"demo agent (pid {__import__('os').getpid()}) · task: {TASK}")
    # Like real coding agents, name the session with a small side call first.
    title = anthropic_client(args).messages.create(
        model="claude-haiku-4-5",
        max_tokens=32,
        system="Generate a concise title (under 50 characters) for this coding session. Reply with the title only.",
        messages=[{"role": "user", "content": TASK}],
        extra_headers=scenario_headers("words=5"),
    )
    summary.calls += 1
    _say(f"  session title: {title.content[0].text!r}")
    _say(f"→ planning with {args.model} (streaming, tools: {', '.join(TOOLS)})")

    def on_tool(name: str, arguments: str, result: str) -> None:
        args_text = ", ".join(f"{k}={v!r}" for k, v in json.loads(arguments).items())
        first = result.splitlines()[0] if result else ""
        more = f" (+{len(result.splitlines()) - 1} lines)" if len(result.splitlines()) > 1 else ""
        _say(f"  ⚙ {name}({args_text[:60]}) → {first[:60]}{more}")

    answer, history = tool_loop(
        openai_client(args),
        summary,
        model=args.model,
        tools=TOOLS,
        scenario=PLAN,
        prompt=TASK,
        stream=True,
        on_tool=on_tool,
    )
    check(summary.tool_calls == 5, f"expected 5 tool calls, found {summary.tool_calls}")
    _say(f"  ✓ {args.model}: {answer[:90]}")

    _say(f"→ asking {args.reviewer} to review the patch (streaming)")
    patch = next(
        json.loads(tc["function"]["arguments"])
        for m in history
        if m["role"] == "assistant"
        for tc in m.get("tool_calls") or []
        if tc["function"]["name"] == "write_file"
    )
    review = ""
    with anthropic_client(args).messages.stream(
        model=args.reviewer,
        max_tokens=512,
        system="You review patches. Be brief.",
        messages=[
            {
                "role": "user",
                "content": f"Review this patch to {patch['path']}:\n{patch['content']}",
            }
        ],
        extra_headers=scenario_headers("ttft_ms=40;chunk_ms=2;words=24"),
    ) as stream:
        for text in stream.text_stream:
            review += text
        final = stream.get_final_message()
    summary.calls += 1
    check(review and final.stop_reason == "end_turn", "expected a review")
    _say(f"  ✓ {args.reviewer}: {review[:90]}")
    summary.extra["seconds"] = f"{time.monotonic() - t0:.2f}"
    sys.stdout.flush()
    return summary


main = main_wrapper(NAME, run)

if __name__ == "__main__":
    raise SystemExit(main())
