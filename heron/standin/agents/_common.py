"""Shared plumbing for the stand-in agents: options, TLS trust, tools, summary.

Every agent takes ``--base-url`` and ``--ca`` (defaults from
``STANDIN_BASE_URL`` and ``SSL_CERT_FILE``), uses a fake API key (the
stand-in ignores auth), exits 0 on success, and exits 1 with one clear
``<agent>: FAILED: ...`` line otherwise.  Its last stdout line is a summary::

    openai_sync: ok calls=6 tool_calls=2 ...

Examples
--------
>>> s = Summary("demo")
>>> s.calls += 2
>>> s.line()
'demo: ok calls=2 tool_calls=0'
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from heron.standin.errors import AgentError

FAKE_OPENAI_KEY = "sk-standin-fake-openai-key"
FAKE_ANTHROPIC_KEY = "sk-ant-standin-fake-key"
FAKE_GOOGLE_KEY = "standin-fake-google-key"
SCENARIO_HEADER = "x-standin-scenario"


def parser(name: str, doc: str | None) -> argparse.ArgumentParser:
    """The common argument parser (``--base-url``, ``--ca``).

    Examples
    --------
    >>> a = parser("x", "X").parse_args(["--base-url", "https://127.0.0.1:1", "--ca", "c.pem"])
    >>> a.base_url, a.ca
    ('https://127.0.0.1:1', 'c.pem')
    """
    p = argparse.ArgumentParser(prog=f"python -m heron.standin.agents.{name}", description=doc)
    p.add_argument(
        "--base-url",
        default=os.environ.get("STANDIN_BASE_URL"),
        help="stand-in root URL, e.g. https://127.0.0.1:8443 (env STANDIN_BASE_URL)",
    )
    p.add_argument(
        "--ca",
        default=os.environ.get("SSL_CERT_FILE"),
        help="CA file to trust (the stand-in's ca.pem; env SSL_CERT_FILE)",
    )
    return p


def finish_args(p: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse and check the common options."""
    args = p.parse_args(argv)
    if not args.base_url:
        p.error("--base-url is required (or set STANDIN_BASE_URL)")
    args.base_url = args.base_url.rstrip("/")
    if args.base_url.startswith("https:") and not args.ca:
        p.error("--ca is required for an https base URL (or set SSL_CERT_FILE)")
    return args


def ssl_context(ca: str | None) -> ssl.SSLContext:
    """A client TLS context trusting ``ca`` (system roots if None).

    Examples
    --------
    >>> ssl_context(None).verify_mode == ssl.CERT_REQUIRED
    True
    """
    return ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()


def openai_client(args: argparse.Namespace, *, asynchronous: bool = False, **kw: Any) -> Any:
    """A real ``openai`` client pointed at the stand-in, trusting its CA."""
    import openai

    ctx = ssl_context(args.ca)
    if asynchronous:
        return openai.AsyncOpenAI(
            base_url=args.base_url + "/v1",
            api_key=FAKE_OPENAI_KEY,
            http_client=openai.DefaultAsyncHttpxClient(verify=ctx),
            **kw,
        )
    return openai.OpenAI(
        base_url=args.base_url + "/v1",
        api_key=FAKE_OPENAI_KEY,
        http_client=openai.DefaultHttpxClient(verify=ctx),
        **kw,
    )


def anthropic_client(args: argparse.Namespace, **kw: Any) -> Any:
    """A real ``anthropic`` client pointed at the stand-in, trusting its CA."""
    import anthropic

    return anthropic.Anthropic(
        base_url=args.base_url,
        api_key=FAKE_ANTHROPIC_KEY,
        http_client=anthropic.DefaultHttpxClient(verify=ssl_context(args.ca)),
        **kw,
    )


def scenario_headers(scenario: str | None) -> dict[str, str]:
    """``{"x-standin-scenario": scenario}`` or ``{}``.

    Examples
    --------
    >>> scenario_headers("tools=2")
    {'x-standin-scenario': 'tools=2'}
    """
    return {SCENARIO_HEADER: scenario} if scenario else {}


def check(cond: object, message: str) -> None:
    """Raise :class:`AgentError` with ``message`` unless ``cond`` holds.

    Examples
    --------
    >>> check(True, "never shown")
    """
    if not cond:
        raise AgentError(message)


@dataclass
class Summary:
    """Counters an agent prints as its last line."""

    name: str
    calls: int = 0
    tool_calls: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        """The one-line summary."""
        more = "".join(f" {k}={v}" for k, v in self.extra.items())
        return f"{self.name}: ok calls={self.calls} tool_calls={self.tool_calls}{more}"


# ----------------------------------------------------------------- local tools
# A tiny fake repository the "coding" agents work on; every tool is a pure
# function of its arguments, so tool results (and so the next request) are
# the same on every run.

FILES = {
    "README.md": "# calc\nA tiny calculator package.\n",
    "src/calc.py": "def add(a, b):\n    return a - b  # BUG: should be a + b\n",
    "tests/test_calc.py": "from calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n",
}


def _tool_list_files(args: dict[str, Any]) -> str:
    d = str(args.get("directory", args.get("path", "."))).strip("/")
    names = sorted(f for f in FILES if d in ("", ".") or f.startswith(d + "/"))
    return "\n".join(names) or "(no files)"


def _tool_read_file(args: dict[str, Any]) -> str:
    path = str(args.get("path", ""))
    return FILES.get(path, f"error: no such file: {path}")


def _tool_write_file(args: dict[str, Any]) -> str:
    return f"wrote {len(str(args.get('content', '')))} bytes to {args.get('path', '')}"


def _tool_run_tests(args: dict[str, Any]) -> str:
    return "tests/test_calc.py::test_add FAILED: assert -1 == 5\n1 failed"


def _tool_search(args: dict[str, Any]) -> str:
    q = str(args.get("query", ""))
    hits = [
        f"{f}:{i + 1}: {line}"
        for f, text in FILES.items()
        for i, line in enumerate(text.splitlines())
        if q and q in line
    ]
    return "\n".join(hits) or "no matches"


def _tool_get_weather(args: dict[str, Any]) -> str:
    return json.dumps({"city": args.get("city", "?"), "temp_c": 21, "sky": "clear"})


TOOL_IMPLS: dict[str, Callable[[dict[str, Any]], str]] = {
    "list_files": _tool_list_files,
    "read_file": _tool_read_file,
    "write_file": _tool_write_file,
    "run_tests": _tool_run_tests,
    "search": _tool_search,
    "get_weather": _tool_get_weather,
}

# JSON schemas; ``default``/``examples`` steer the stand-in's arguments.
TOOL_SCHEMAS: dict[str, tuple[str, dict[str, Any]]] = {
    "list_files": (
        "List files in a directory of the repository.",
        {
            "type": "object",
            "properties": {"directory": {"type": "string", "default": "."}},
            "required": ["directory"],
        },
    ),
    "read_file": (
        "Read a file of the repository.",
        {
            "type": "object",
            "properties": {
                "path": {"type": "string", "examples": ["src/calc.py", "tests/test_calc.py"]}
            },
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
    "search": (
        "Search the repository for a string.",
        {
            "type": "object",
            "properties": {"query": {"type": "string", "default": "def add"}},
            "required": ["query"],
        },
    ),
    "get_weather": (
        "Current weather for a city.",
        {
            "type": "object",
            "properties": {"city": {"type": "string", "examples": ["Paris", "Oslo"]}},
            "required": ["city"],
        },
    ),
}


def run_tool(name: str, arguments: str | dict[str, Any]) -> str:
    """Run one local tool; ``arguments`` is JSON text or a dict.

    Examples
    --------
    >>> run_tool("read_file", '{"path": "README.md"}').splitlines()[0]
    '# calc'
    """
    impl = TOOL_IMPLS.get(name)
    check(impl is not None, f"the model asked for an unknown tool {name!r}")
    args = json.loads(arguments) if isinstance(arguments, str) else arguments
    check(
        isinstance(args, dict), f"tool {name}: expected JSON object arguments, found {arguments!r}"
    )
    assert impl is not None
    return impl(args)


def openai_tools(names: Sequence[str]) -> list[dict[str, Any]]:
    """Chat-completions tool definitions for the named local tools.

    Examples
    --------
    >>> openai_tools(["read_file"])[0]["function"]["name"]
    'read_file'
    """
    return [
        {
            "type": "function",
            "function": {
                "name": n,
                "description": TOOL_SCHEMAS[n][0],
                "parameters": TOOL_SCHEMAS[n][1],
            },
        }
        for n in names
    ]


def anthropic_tools(names: Sequence[str]) -> list[dict[str, Any]]:
    """Anthropic tool definitions for the named local tools.

    Examples
    --------
    >>> anthropic_tools(["run_tests"])[0]["input_schema"]["type"]
    'object'
    """
    return [
        {"name": n, "description": TOOL_SCHEMAS[n][0], "input_schema": TOOL_SCHEMAS[n][1]}
        for n in names
    ]


def main_wrapper(name: str, fn: Callable[[Sequence[str] | None], Summary]) -> Callable[..., int]:
    """Turn ``fn(argv) -> Summary`` into ``main(argv) -> exit status``.

    Any exception becomes ``<name>: FAILED: <reason>`` on stderr and status 1
    (set ``STANDIN_TRACEBACK=1`` for the traceback).

    Examples
    --------
    >>> def boom(argv):
    ...     raise AgentError("no answer")
    >>> main_wrapper("x", boom)([])
    1
    """

    def main(argv: Sequence[str] | None = None) -> int:
        try:
            summary = fn(argv)
        except SystemExit:
            raise
        except BaseException as e:  # the one place an agent turns errors into a status
            if os.environ.get("STANDIN_TRACEBACK"):
                traceback.print_exc()
            print(f"{name}: FAILED: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
        print(summary.line(), flush=True)
        return 0

    return main
