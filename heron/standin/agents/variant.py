"""The two-variant agent for ``heron diff`` tests: same agent, two behaviours.

Run (the command line is identical for both variants, so the capture sees
the same agent identity; only the environment differs, as when CI runs the
base branch and the PR)::

    HERON_VARIANT=a python -m heron.standin.agents.variant --base-url https://127.0.0.1:PORT --ca ca.pem
    HERON_VARIANT=b python -m heron.standin.agents.variant --base-url https://127.0.0.1:PORT --ca ca.pem

(``--variant a|b`` works too, but changes the command line.)

Both fix the same bug with the openai SDK (streamed, ``include_usage``):

* **A** offers ``read_file`` and ``write_file`` and finishes in exactly 2
  tool rounds: ``read_file(path="src/calc.py")``, ``write_file(...)``, then a
  final answer: 3 calls.
* **B** also offers ``run_tests``; it calls ``read_file`` with the same
  arguments 4 times (a loop), then ``run_tests`` (one more tool), then the
  same ``write_file``, then a final answer: 7 model calls.  Its 3rd call
  gets a 429 (scenario ``error=429-once``) that the SDK itself retries after
  ``retry-after-ms``: 8 HTTP exchanges.

Examples
--------
>>> [t["function"]["name"] for t in tool_defs("b")]
['read_file', 'write_file', 'run_tests']
>>> scenario("a", 0)
'plan=read_file|write_file'
>>> scenario("b", 2)
'plan=read_file*4|run_tests|write_file;error=429-once'
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from heron.standin.agents._common import (
    FAKE_OPENAI_KEY,
    Summary,
    check,
    finish_args,
    main_wrapper,
    parser,
    ssl_context,
)
from heron.standin.agents.openai_sync import tool_loop

NAME = "variant"
TASK = "Fix the failing test tests/test_calc.py::test_add."
_SCHEMAS: dict[str, tuple[str, dict[str, Any]]] = {
    # No "examples" here: every read_file call gets the same arguments.
    "read_file": (
        "Read a file of the repository.",
        {
            "type": "object",
            "properties": {"path": {"type": "string", "default": "src/calc.py"}},
            "required": ["path"],
        },
    ),
    "write_file": (
        "Write a file of the repository.",
        {
            "type": "object",
            "properties": {
                "path": {"type": "string", "default": "src/calc.py"},
                "content": {"type": "string", "default": "def add(a, b):\n    return a + b\n"},
            },
            "required": ["path", "content"],
        },
    ),
    "run_tests": (
        "Run the test suite and return its output.",
        {
            "type": "object",
            "properties": {"target": {"type": "string", "default": "tests/"}},
            "required": ["target"],
        },
    ),
}
_TOOLS = {"a": ["read_file", "write_file"], "b": ["read_file", "write_file", "run_tests"]}
_PLANS = {"a": "plan=read_file|write_file", "b": "plan=read_file*4|run_tests|write_file"}
EXPECTED_TOOL_CALLS = {"a": 2, "b": 6}
RETRY_ROUND = 2  # variant B's 3rd model call gets the 429


def tool_defs(variant: str) -> list[dict[str, Any]]:
    """The tool definitions variant ``variant`` offers."""
    return [
        {
            "type": "function",
            "function": {"name": n, "description": _SCHEMAS[n][0], "parameters": _SCHEMAS[n][1]},
        }
        for n in _TOOLS[variant]
    ]


def scenario(variant: str, rnd: int) -> str:
    """The scenario header for round ``rnd`` of ``variant``."""
    sc = _PLANS[variant]
    if variant == "b" and rnd == RETRY_ROUND:
        sc += ";error=429-once"
    return sc


def run(argv: Sequence[str] | None = None) -> Summary:
    """Run the agent; returns its summary."""
    p = parser(NAME, __doc__)
    p.add_argument(
        "--variant", choices=["a", "b"], default=os.environ.get("HERON_VARIANT", "a").lower()
    )
    p.add_argument("--model", default="gpt-4o-mini")
    args = finish_args(p, argv)
    v = args.variant
    if v not in _TOOLS:
        p.error(f"HERON_VARIANT must be a or b, found {v!r}")
    summary = Summary(NAME)
    retries = {"n": 0}

    import openai

    def count_429(response: Any) -> None:
        retries["n"] += response.status_code == 429

    # The SDK retries the 429 itself (max_retries); a response hook counts it.
    client = openai.OpenAI(
        base_url=args.base_url + "/v1",
        api_key=FAKE_OPENAI_KEY,
        max_retries=2,
        http_client=openai.DefaultHttpxClient(
            verify=ssl_context(args.ca), event_hooks={"response": [count_429]}
        ),
    )
    answer, _ = tool_loop(
        client,
        summary,
        model=args.model,
        tools=_TOOLS[v],
        scenario=_PLANS[v],
        scenario_for_round=lambda rnd: scenario(v, rnd),
        tool_defs=tool_defs(v),
        prompt=TASK,
        stream=True,
        system="You are a coding agent. Use the tools to fix the bug.",
    )
    check(answer, "expected a final answer")
    check(
        summary.tool_calls == EXPECTED_TOOL_CALLS[v],
        f"variant {v}: expected {EXPECTED_TOOL_CALLS[v]} tool calls, found {summary.tool_calls}",
    )
    want_429 = 1 if v == "b" else 0
    check(
        retries["n"] == want_429,
        f"variant {v}: expected {want_429} 429 answers, found {retries['n']}",
    )
    summary.extra["variant"] = v
    summary.extra["http_429"] = retries["n"]
    return summary


main = main_wrapper(NAME, run)

if __name__ == "__main__":
    raise SystemExit(main())
