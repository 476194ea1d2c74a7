"""The ``heron`` command: unprivileged analysis of ``.heron`` captures.

Commands are thin: parse options, call the library, print.  Each lives in its
own module and is imported only when used, so ``heron --help`` stays fast and
``heron info`` never pays for Polars.  Library errors (:class:`HeronError`)
become one clear line and exit code 2 at this edge; no tracebacks for user
errors.

Examples
--------
>>> from click.testing import CliRunner
>>> CliRunner().invoke(main, ["--help"]).exit_code
0
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import sys
from typing import Any

import click

# command name -> (module, attribute).  Each module owns its command.
_COMMANDS: dict[str, tuple[str, str]] = {
    "info": ("heron.cli.info", "info"),
    "verify": ("heron.cli.info", "verify"),
    "summary": ("heron.cli.tables", "summary"),
    "calls": ("heron.cli.tables", "calls"),
    "tools": ("heron.cli.tables", "tools"),
    "loops": ("heron.cli.tables", "loops"),
    "processes": ("heron.cli.tables", "processes"),
    "connections": ("heron.cli.tables", "connections"),
    "exchanges": ("heron.cli.tables", "exchanges"),
    "show": ("heron.cli.tables", "show"),
    "diff": ("heron.cli.diff", "diff"),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(_COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands:
            return self.commands[name]
        spec = _COMMANDS.get(name)
        if spec is None:
            return None
        try:
            mod = importlib.import_module(spec[0])
        except ModuleNotFoundError as e:  # a work stream not landed yet
            if e.name == spec[0]:
                return None
            raise
        cmd: Any = getattr(mod, spec[1], None)
        return cmd if isinstance(cmd, click.Command) else None


@click.group(cls=_LazyGroup)
@click.version_option(package_name="heron")
def main() -> None:
    """Heron: analyse .heron captures of AI agent traffic.

    \b
    Examples:
      heron info run.heron
      heron verify run.heron
      heron summary run.heron
      heron calls run.heron --format json
      heron diff main.heron pr.heron --fail-on 'loops>0'
    """


def run() -> None:
    """The ``heron`` console command: :func:`main`, then an immediate exit.

    A pass over a large capture leaves millions of small objects behind;
    freeing them one by one at interpreter exit took 0.1-0.2 s per 500 MB
    of plaintext (``bench/``: about 5% of ``heron calls``) and helps
    nobody.  So once ``main`` has returned and stdout and stderr are
    flushed, the process ends at once, with ``main``'s exit code, as
    ``heron-capture`` does.  Every file the commands write is closed
    before they return.  Library callers (``main`` through click's test
    runner, or the Python API) keep the normal teardown.

    For the same reason the cyclic garbage collector stays off for the
    whole command: a pass already pauses it, and the first collection
    after the pause scanned every object the pass had made (~45 ms per
    500 MB, between the pass and the tables).  A command is short-lived
    and its memory is bounded by design; reference counting frees the rest.

    Examples
    --------
    ::

        $ heron calls big.heron --format csv -o calls.csv   # runs run()
        $ python -m heron.cli calls big.heron               # the same
    """
    gc.disable()
    try:
        main()
        code: Any = 0
    except SystemExit as e:
        code = e.code
    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("message"): as Python does it
        print(code, file=sys.stderr)
        code = 1
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (``| head``): as if killed by SIGPIPE
        code = code or 141
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    os._exit(code)
