"""``heron info`` and ``heron verify``: look at a capture file without analysing it.

Thin commands: parse options, call :func:`heron.format.file_info` /
:func:`heron.format.verify`, print.

Examples
--------
>>> from click.testing import CliRunner
>>> CliRunner().invoke(verify, ["/nonexistent.heron"]).exit_code
2
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

import click

from heron.errors import HeronError


class _Unreadable(click.ClickException):
    exit_code = 2


def _fmt_ns_wall(ns: int | None) -> str:
    if ns is None:
        return "-"
    t = _dt.datetime.fromtimestamp(ns / 1e9, tz=_dt.UTC)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _table(info: dict[str, Any]) -> str:
    h = info.get("header", {})
    rows: list[tuple[str, str]] = [
        ("format", f"heron v{h.get('version', '?')} (uuid {h.get('uuid', '?')})"),
        ("host", f"{h.get('host', '?')}  kernel {h.get('kernel', '?')}"),
        ("boot id", str(h.get("boot_id", "?"))),
        ("writer", f"{h.get('writer', '?')} {h.get('writer_version', '')}".strip()),
    ]
    if h.get("options"):
        rows.append(("options", json.dumps(h["options"], sort_keys=True, default=str)))
    wall = info.get("realtime_range_ns")
    if wall:
        rows.append(("time", f"{_fmt_ns_wall(wall[0])} .. {_fmt_ns_wall(wall[1])}"))
    if info.get("duration_s") is not None:
        rows.append(("duration", f"{info['duration_s']:.3f} s"))
    rows.append(("chunks", str(info.get("chunks", 0))))
    size, payload = info.get("file_bytes"), info.get("payload_bytes")
    if size:
        ratio = f" ({payload / size:.1f}x)" if payload else ""
        rows.append(("size", f"{size} bytes; DATA payload {payload or 0} bytes{ratio}"))
    rows.append(("records", str(info.get("records", 0))))
    for name, n in info.get("kinds", {}).items():
        rows.append((f"  {name}", str(n)))
    lost = info.get("lost_events") or {}
    total = sum(lost.values())
    detail = ", ".join(f"{k}={v}" for k, v in sorted(lost.items()))
    rows.append(("lost events", f"{total}" + (f" ({detail})" if detail else "")))
    rows.append(("closed cleanly", "yes" if info.get("closed") else "no"))
    for line in info.get("losses", []):
        rows.append(("damage", line))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
def info(file: str, fmt: str) -> None:
    """Show a capture file's header, time range, record counts and losses.

    Uses the footer index when the file was closed cleanly (instant even for
    huge files); otherwise reads the file and also reports any damage.

    \b
    Examples:
      heron info run.heron
      heron info run.heron --format json | jq .kinds
      cat run.heron | heron info -
    """
    from heron.format import file_info

    try:
        data = file_info(file)
    except HeronError as e:
        raise _Unreadable(str(e)) from None
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        click.echo(_table(data))


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("-q", "--quiet", is_flag=True, help="Print nothing; only set the exit status.")
def verify(file: str, quiet: bool) -> None:
    """Check every block and CRC of a capture file.

    \b
    Exit status:
      0  intact (closed cleanly, every CRC good)
      1  damaged but readable: says what was lost and where
         (byte offsets, chunk numbers, record sequence numbers)
      2  unreadable (not a .heron file, empty, unsupported version...)

    \b
    Examples:
      heron verify run.heron
      heron verify -q run.heron || echo "capture damaged"
    """
    from heron.format import verify as verify_file

    try:
        v = verify_file(file)
    except HeronError as e:  # verify reports instead of raising; belt and braces
        if not quiet:
            click.echo(f"unreadable: {e}", err=True)
        raise SystemExit(2) from None
    if not quiet:
        lines = v.lines()
        if v.status == "unreadable":
            click.echo(lines[0], err=True)
        else:
            click.echo("\n".join(lines))
    raise SystemExit(v.exit_code)
