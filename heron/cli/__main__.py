"""``python -m heron.cli``: the ``heron`` command (see :func:`heron.cli.run`)."""

from heron.cli import run

run()
