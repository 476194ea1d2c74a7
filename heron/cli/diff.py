"""``heron diff``: compare two runs for a pull request, and gate CI on it.

Thin: parse options, call :func:`heron.analyze.diff.diff`, print.  Exit codes:
0 no gate matched, 1 a gate matched, 2 usage or input error (one line, no
traceback).
"""

from __future__ import annotations

import sys
from typing import IO, Any

import click

from heron.errors import HeronError

_EPILOG = """\b
Gate expressions (--fail-on, repeatable; quote them in the shell):
  loops>0              HEAD has any loop                (absolute: HEAD's value)
  errors>0             HEAD has any failed LLM call
  errors:429>0         ... of one class: 4xx 429 5xx stream other
  calls>+5             HEAD made more than 5 calls more than BASE  (delta)
  output_tokens>+20%   output tokens grew by more than 20%         (relative)
  p95_latency_ms>+50%  p95 call latency grew by more than half
  new_tools            HEAD used a tool BASE never used  (bare = '>0')
  tool:delete_file>0   HEAD called delete_file at all
  Operators: > >= < <= == !=.  +N/-N compare head-base; +N%/-N% compare
  (head-base)/base; growth from 0 counts as +inf%.  See docs/diff.md.

\b
Examples:
  heron diff main.heron pr.heron
  heron diff main.heron pr.heron --format markdown > comment.md
  heron diff main.heron pr.heron --fail-on 'loops>0' --fail-on 'output_tokens>+20%'
  heron diff main.heron pr.heron --agent my-agent --format json
"""


class _InputError(click.ClickException):
    """Usage or input error: one line on stderr, exit code 2."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"heron diff: error: {self.format_message()}", err=True)


@click.command(epilog=_EPILOG, context_settings={"max_content_width": 100})
@click.argument("base", metavar="BASE.heron")
@click.argument("head", metavar="HEAD.heron")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "markdown", "json"]),
    default="table",
    show_default=True,
    help="table for a terminal, markdown for a PR comment, json for tools.",
)
@click.option(
    "--fail-on",
    "fail_on",
    multiple=True,
    metavar="EXPR",
    help="Exit 1 when this gate expression matches (repeatable).",
)
@click.option("--agent", default=None, metavar="NAME", help="Compare only this agent identity.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the report to this file instead of stdout (exit codes unchanged).",
)
def diff(
    base: str, head: str, fmt: str, fail_on: tuple[str, ...], agent: str | None, output: str | None
) -> None:
    """Compare two captures of the same agent(s): BASE (reference) vs HEAD.

    Reports what changed in what the agents did: calls, tokens, errors,
    latency, models and endpoints, tools and each conversation's tool-call
    sequence, loops and unfinished conversations.
    """
    from heron.analyze.diff import diff as run_diff
    from heron.analyze.diff import parse_gates

    try:
        gates = parse_gates(fail_on)  # before reading any file: fail fast on typos
        result = run_diff(base, head, agent=agent, fail_on=gates)
    except HeronError as e:
        raise _InputError(str(e)) from None
    except OSError as e:
        raise _InputError(f"cannot read {e.filename or 'input'}: {e.strerror or e}") from None

    if fmt == "json":
        text = result.to_json() + "\n"
    elif fmt == "markdown":
        text = result.to_markdown()
    else:
        text = ""
    try:
        if output is not None:
            with open(output, "w", encoding="utf-8") as f:
                if fmt == "table":
                    _print_table(result, f)
                else:
                    f.write(text)
        elif fmt == "table":
            _print_table(result, None)
        else:
            sys.stdout.write(text)
    except OSError as e:
        raise _InputError(f"cannot write {output}: {e.strerror or e}") from None
    for w in result.warnings if fmt != "table" else []:
        click.echo(f"heron diff: warning: {w}", err=True)
    if result.failed:
        for g in result.failed:
            click.echo(f"heron diff: gate failed: {g.message}", err=True)
        sys.exit(1)


def _print_table(result: object, file: IO[str] | None) -> None:
    from rich.console import Console

    from heron.analyze.diff import DiffResult
    from heron.analyze.diff._render import render_table

    assert isinstance(result, DiffResult)
    console = Console(file=file, width=None if file is None else 120)
    render_table(result, console)
