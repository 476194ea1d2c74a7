"""The ``heron`` command (unprivileged analysis).  Subcommands register here."""

from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="heron")
def main() -> None:
    """Heron: analyse .heron captures of AI agent traffic."""
