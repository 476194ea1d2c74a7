"""``heron summary|calls|tools|loops|processes|connections|exchanges|show``.

Thin commands: open the capture with :func:`heron.open`, select a table,
print it.  Errors a user can cause become one line on stderr and exit 2;
a damaged capture is analysed as far as it reads, with a warning on stderr
saying what was lost.

Examples
--------
>>> from click.testing import CliRunner
>>> CliRunner().invoke(calls, ["--help"]).exit_code
0
"""

from __future__ import annotations

import base64
import json
import math
import sys
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

import click

from heron.errors import HeronError

F = TypeVar("F", bound=Callable[..., Any])

_FORMATS = ("table", "json", "csv", "parquet")
_MAX_CELL = 60  # characters per cell in table output


class _UserError(click.ClickException):
    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"heron: {self.message}", err=True)


def _where(name: str, e: BaseException) -> str:
    # Errors from the reader usually name the file already; say it once.
    msg = str(e)
    return msg if name in msg else f"{name}: {msg}"


def _open(path: str) -> Any:
    # A large capture's reading process starts before Polars and the table
    # code are imported (~0.2 s), so they load while it already reads.
    from heron.analyze import pipeline

    child = pipeline.start(lambda: _reader(path)) if pipeline.wanted(path) else None
    try:
        # Import the module itself rather than the lazy ``heron.open``: an editable
        # install can make ``heron`` a namespace package outside the checkout.
        from heron.analyze.capture import open as open_capture

        cap = open_capture(path)
    except BaseException as e:
        if child is not None:
            child.cancel()
        if isinstance(e, HeronError):
            raise _UserError(_where(path, e)) from None
        if isinstance(e, OSError):
            raise _UserError(f"{path}: {e.strerror or e}") from None
        raise
    if child is not None:
        cap._adopt(child)
    if sys.stderr.isatty():
        cap.progress = Progress(cap.name)
    return cap


class Progress:
    """Live counters for a long pass, drawn on one line of a terminal, then erased.

    Nothing shows for the first ``delay`` seconds, so quick commands print
    nothing extra; the line goes to ``stream`` (stderr), never into the
    table on stdout.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> p = Progress("run.heron", stream=out, delay=0)
    >>> p(52_000, 104_000, 12_900, False); out.getvalue()
    '\\rheron: run.heron: 50% of 104,000 records, 12,900 calls\\x1b[K'
    >>> p(104_000, 104_000, 25_800, True); out.getvalue().endswith("\\r\\x1b[K")
    True
    """

    def __init__(self, name: str, *, stream: Any = None, delay: float = 1.0) -> None:
        import time

        self.name = name
        self.stream = sys.stderr if stream is None else stream
        self.delay = delay
        self.start = time.monotonic()
        self.shown = False

    def __call__(self, records: int, total: int | None, calls: int, done: bool) -> None:
        """One report from the pass (see :attr:`heron.analyze.capture.Capture.progress`)."""
        import time

        if done:
            if self.shown:  # erase the line before the table or the next report
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self.shown = False
            return
        if time.monotonic() - self.start < self.delay:
            return
        done_part = (
            f"{min(100, 100 * records // total)}% of {total:,} records"
            if total
            else f"{records:,} records"
        )
        self.stream.write(f"\rheron: {self.name}: {done_part}, {calls:,} calls\x1b[K")
        self.stream.flush()
        self.shown = True


def _reader(path: str) -> Any:
    from heron.format import Reader

    return Reader(path)


def _warn(cap: Any) -> None:
    for w in cap.warnings:
        click.echo(f"heron: warning: {cap.name}: {w}", err=True)


def _build(cap: Any, name: str) -> Any:
    try:
        df = cap.table(name)
    except HeronError as e:
        raise _UserError(_where(cap.name, e)) from None
    _warn(cap)
    return df


# -- rendering -------------------------------------------------------------


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, bytes):
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(v).decode()}
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    return v


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if isinstance(v, float):
        return f"{v:.1f}"
    if isinstance(v, bytes):
        return f"<{len(v)} bytes>"
    if isinstance(v, list):
        if v and isinstance(v[0], dict) and "name" in v[0]:
            return f"<{len(v)} headers>"
        s = ",".join(str(x) for x in v)
    else:
        s = str(v)
    s = s.replace("\n", " ")
    return s if len(s) <= _MAX_CELL else s[: _MAX_CELL - 1] + "…"


def _is_tty() -> bool:
    return sys.stdout.isatty()


def _print_table(df: Any, title: str | None = None) -> None:
    cols = list(df.columns)
    rows = [[_cell(v) for v in r] for r in df.iter_rows()]
    if _is_tty():
        from rich.console import Console
        from rich.table import Table

        t = Table(title=title, show_lines=False, header_style="bold")
        for c in cols:
            t.add_column(c, overflow="fold")
        for r in rows:
            t.add_row(*r)
        Console().print(t)
        return
    if title:
        click.echo(title)
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
    for r in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def _flatten_nested(df: Any) -> Any:
    import polars as pl

    out = []
    for name, dtype in df.schema.items():
        if isinstance(dtype, pl.List | pl.Struct | pl.Array):
            out.append(
                pl.Series(
                    name,
                    [None if v is None else json.dumps(_jsonable(v)) for v in df[name].to_list()],
                    dtype=pl.String,
                )
            )
        elif dtype == pl.Binary:
            out.append(
                pl.Series(
                    name,
                    [
                        None if v is None else v.decode("utf-8", "replace")
                        for v in df[name].to_list()
                    ],
                    dtype=pl.String,
                )
            )
        else:
            out.append(df[name])
    return pl.DataFrame(out)


def _emit(df: Any, fmt: str, out: str | None, title: str) -> None:
    if fmt == "table":
        if out:
            raise _UserError(
                "--format table prints to the terminal; use json, csv or parquet with -o"
            )
        _print_table(df, title if _is_tty() else None)
    elif fmt == "json":
        text = json.dumps(
            [_jsonable(r) for r in df.iter_rows(named=True)], ensure_ascii=False, indent=None
        )
        _write_text(text + "\n", out)
    elif fmt == "csv":
        flat = _flatten_nested(df)
        if out:
            flat.write_csv(out)  # streamed by Polars: no whole-file string in memory
        else:
            _write_text(flat.write_csv(), out)
    elif fmt == "parquet":
        if out:
            df.write_parquet(out)
        elif _is_tty():
            raise _UserError("parquet is binary: give -o FILE or redirect stdout")
        else:
            df.write_parquet(sys.stdout.buffer)


def _pid_list(pids: list[int], shown: int = 8) -> str:
    """The first few pids, then how many more (an agent may run as hundreds of processes).

    Examples
    --------
    >>> _pid_list([1, 2, 3]), _pid_list(list(range(10)), shown=2)
    ('1, 2, 3', '0, 1 and 8 more')
    """
    head = ", ".join(str(p) for p in pids[:shown])
    return head + (f" and {len(pids) - shown} more" if len(pids) > shown else "")


def _write_text(text: str, out: str | None) -> None:
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        click.echo(text, nl=False)


def _table_command(name: str, doc: str, default_cols: list[str]) -> click.Command:
    @click.command(name=name, help=doc)
    @click.argument("file", type=click.Path(dir_okay=False))
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(_FORMATS),
        default="table",
        show_default=True,
        help="Output format; json is an array of objects keyed by column.",
    )
    @click.option(
        "-o", "--output", "out", type=click.Path(dir_okay=False), help="Write to this file."
    )
    @click.option("--all-columns", is_flag=True, help="Table format: show every column.")
    def cmd(file: str, fmt: str, out: str | None, all_columns: bool) -> None:
        cap = _open(file)
        df = _build(cap, name)
        if fmt == "table" and not all_columns:
            cols = [c for c in default_cols if c in df.columns]
            if "duplicate_of" in df.columns and df["duplicate_of"].is_not_null().any():
                cols.insert(2, "duplicate_of")  # calls seen again via a gateway: say which
            df = df.select(cols)
        _emit(df, fmt, out, f"{name} — {cap.name}")

    return cmd


_EX = "\n\n\b\nExamples:\n"

calls = _table_command(
    "calls",
    "One row per LLM call: model, tokens, latency, TTFT, errors."
    + _EX
    + "  heron calls run.heron\n  heron calls run.heron --format json | jq '.[0]'\n"
    "  heron calls run.heron --format parquet -o calls.parquet",
    [
        "call_id",
        "conversation_id",
        "agent",
        "provider",
        "model",
        "status",
        "error",
        "started_at",
        "duration_ms",
        "ttft_ms",
        "input_tokens",
        "output_tokens",
        "n_tool_calls",
        "finish_reason",
    ],
)
tools = _table_command(
    "tools",
    "One row per tool call a model requested, paired with its result."
    + _EX
    + "  heron tools run.heron\n  heron tools run.heron --format csv -o tools.csv",
    [
        "tool_call_id",
        "call_id",
        "name",
        "arguments",
        "result_call_id",
        "result",
        "is_error",
        "latency_ms",
    ],
)
loops = _table_command(
    "loops",
    "Detected loops: repeated_tool_call, repeated_request, retry_storm."
    + _EX
    + "  heron loops run.heron\n  heron loops run.heron --format json",
    [
        "loop_id",
        "pid",
        "conversation_id",
        "kind",
        "signature",
        "count",
        "first_at",
        "last_at",
        "call_ids",
    ],
)
processes = _table_command(
    "processes",
    "Processes seen in the capture, with their agent identity."
    + _EX
    + "  heron processes run.heron",
    [
        "pid",
        "ppid",
        "comm",
        "agent",
        "exe",
        "cmdline",
        "started_at",
        "exit_code",
        "n_connections",
        "n_calls",
    ],
)
connections = _table_command(
    "connections",
    "Captured connections: peer, bytes, HTTP version." + _EX + "  heron connections run.heron",
    [
        "conn",
        "pid",
        "transport",
        "sni",
        "remote_addr",
        "remote_port",
        "http_version",
        "bytes_out",
        "bytes_in",
        "n_exchanges",
        "n_calls",
    ],
)
exchanges = _table_command(
    "exchanges",
    "One row per HTTP exchange (bodies capped at 64 KiB in json/csv/parquet)."
    + _EX
    + "  heron exchanges run.heron\n  heron exchanges run.heron --format json -o ex.json",
    [
        "exchange_id",
        "conn",
        "stream_id",
        "http_version",
        "method",
        "authority",
        "path",
        "status",
        "request_body_size",
        "response_body_size",
        "partial",
        "gap",
        "parse_error",
        "call_id",
    ],
)


# -- summary ---------------------------------------------------------------


def _pct(values: list[float], q: float) -> float | None:
    vs = sorted(v for v in values if v is not None)
    if not vs:
        return None
    k = (len(vs) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return vs[lo] + (vs[hi] - vs[lo]) * (k - lo)


def _ms(v: float | None) -> str:
    return "-" if v is None else (f"{v:.0f} ms" if v < 10_000 else f"{v / 1000:.1f} s")


def summary_rows(cap: Any) -> list[dict[str, Any]]:
    """Per-agent summary as row dicts (what ``heron summary`` prints).

    Examples
    --------
    >>> rows = summary_rows(heron.open("tests/fixtures/variant_b.heron"))
    >>> {k: rows[0][k] for k in ("agent", "calls", "errors", "error_kinds", "conversations")}
    {'agent': 'heron.standin.agents.variant', 'calls': 8, 'errors': 1, 'error_kinds': {'HTTP 429': 1}, 'conversations': 1}
    >>> rows[0]["tools"], rows[0]["loop_signatures"]
    ({'read_file': 4, 'run_tests': 1, 'write_file': 1}, ['repeated_tool_call read_file({"path":"src/calc.py"}) ×4'])
    """
    import polars as pl

    calls_df, tools_df, loops_df = cap.calls, cap.tools, cap.loops
    # a call seen again (a gateway's server side or upstream request) counts once
    dups = calls_df.filter(pl.col("duplicate_of").is_not_null())
    calls_df = calls_df.filter(pl.col("duplicate_of").is_null())
    out = []
    for agent in sorted({a for a in calls_df["agent"].to_list()}, key=lambda a: a or ""):
        c = calls_df.filter(
            pl.col("agent") == agent if agent is not None else pl.col("agent").is_null()
        )
        pids = set(c["pid"].to_list())
        t = tools_df.filter(pl.col("call_id").is_in(c["call_id"].to_list()))
        lp = loops_df.filter(pl.col("pid").is_in([p for p in pids if p is not None]))
        err = c.filter(pl.col("error").is_not_null())
        starts = [x for x in c["started_at"].to_list() if x is not None]
        ends = [x for x in c["ended_at"].to_list() if x is not None]
        out.append(
            {
                "agent": agent,
                "pids": sorted(p for p in pids if p is not None),
                "calls": c.height,
                "seen_again": dups.filter(
                    pl.col("duplicate_of").is_in(c["call_id"].to_list())
                ).height,
                "conversations": c["conversation_id"].drop_nulls().n_unique(),
                "streamed": c.filter(pl.col("streamed")).height,
                "errors": err.height,
                "error_kinds": _counts(
                    [f"HTTP {s}" if s and s >= 400 else "in-stream" for s in err["status"]]
                ),
                "auxiliary": c.filter(pl.col("auxiliary")).height,
                "input_tokens": c["input_tokens"].sum(),
                "output_tokens": c["output_tokens"].sum(),
                "cache_read_tokens": c["cache_read_tokens"].sum(),
                "no_usage": c.filter(pl.col("output_tokens").is_null() & pl.col("error").is_null())
                .filter(pl.col("api") != "embeddings")
                .height,
                "latency_p50_ms": _pct(c["duration_ms"].to_list(), 0.5),
                "latency_p95_ms": _pct(c["duration_ms"].to_list(), 0.95),
                "ttft_p50_ms": _pct(c["ttft_ms"].to_list(), 0.5),
                "ttft_p95_ms": _pct(c["ttft_ms"].to_list(), 0.95),
                "models": _counts([m or "?" for m in c["model"].to_list()]),
                "tools": _counts(t["name"].to_list()),
                "tools_unanswered": t.filter(pl.col("result_call_id").is_null()).height,
                "tool_errors": t.filter(pl.col("is_error").fill_null(False)).height,
                "loops": _counts(lp["kind"].to_list()),
                "loop_signatures": [
                    f"{r['kind']} {r['signature']} ×{r['count']}" for r in lp.iter_rows(named=True)
                ],
                "first_at": min(starts) if starts else None,
                "last_at": max(ends) if ends else None,
            }
        )
    return out


def _counts(values: list[Any]) -> dict[str, int]:
    """Counts by value, most frequent first (ties in first-seen order)."""
    counts: dict[str, int] = {}
    for v in values:
        counts[str(v)] = counts.get(str(v), 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _n(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) else "-"


def _times(counts: dict[str, int]) -> str:
    return " · ".join(k if n == 1 else f"{k} ×{n}" for k, n in counts.items())


def _clock(v: Any, *, date: bool = False) -> str:
    if not isinstance(v, datetime):
        return "?"
    return v.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S.%f")[: 19 if date else 12]


def _span(a: Any, b: Any) -> str:
    if not isinstance(a, datetime) or not isinstance(b, datetime):
        return "-"
    secs = (b - a).total_seconds()
    return f"{_clock(a)} → {_clock(b)} ({secs:.1f} s)"


def _agent_fields(r: dict[str, Any]) -> list[tuple[str, str]]:
    calls = f"{r['calls']} in {_plural(r['conversations'], 'conversation')}"
    if r["auxiliary"]:
        calls += f" · {r['auxiliary']} auxiliary"
    if r.get("seen_again"):
        calls += f" · seen {_plural(r['seen_again'], 'more time')} via a gateway or server"
    errors = (
        "no errors" if not r["errors"] else f"{r['errors']} failed ({_times(r['error_kinds'])})"
    )
    tokens = f"{_n(r['input_tokens'])} in · {_n(r['output_tokens'])} out"
    if r["cache_read_tokens"]:
        tokens += f" · {_n(r['cache_read_tokens'])} cached"
    if r["no_usage"]:
        tokens += f"  ({_plural(r['no_usage'], 'call')} reported no usage)"
    ttft = "-"
    if r["streamed"]:
        ttft = (
            f"p50 {_ms(r['ttft_p50_ms'])} · p95 {_ms(r['ttft_p95_ms'])}  ({r['streamed']} streamed)"
        )
    n_tools = sum(r["tools"].values())
    tools = "none"
    if n_tools:
        tools = f"{_plural(n_tools, 'call')}: {_times(r['tools'])}"
        notes = []
        if r["tool_errors"]:
            notes.append(f"{r['tool_errors']} returned an error")
        if r["tools_unanswered"]:
            notes.append(f"{r['tools_unanswered']} never answered")
        if notes:
            tools += f"  ({', '.join(notes)})"
    return [
        ("calls", f"{calls} · {errors}"),
        ("tokens", tokens),
        ("latency", f"p50 {_ms(r['latency_p50_ms'])} · p95 {_ms(r['latency_p95_ms'])}"),
        ("ttft", ttft),
        ("models", _times(r["models"])),
        ("tools", tools),
        ("loops", "\n".join(r["loop_signatures"]) or "none"),
        ("active", _span(r["first_at"], r["last_at"])),
    ]


@click.command(
    help="A readable overview per agent: calls, errors, tokens, latency and TTFT, "
    "models, tools, loops, time range."
    + _EX
    + "  heron summary run.heron\n  heron summary run.heron --format json"
)
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def summary(file: str, fmt: str) -> None:
    cap = _open(file)
    try:
        rows = summary_rows(cap)
        info = cap.info
    except HeronError as e:
        raise _UserError(_where(cap.name, e)) from None
    _warn(cap)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "capture": cap.name,
                    "agents": _jsonable(rows),
                    "info": _jsonable(_info_public(info)),
                }
            )
        )
        return
    when = ""
    if info.get("started_at"):
        a, b = datetime.fromisoformat(info["started_at"]), datetime.fromisoformat(info["ended_at"])
        when = (
            f" · {_clock(a, date=True)} → {_clock(b)[:8]} UTC ({info.get('duration_s') or 0:.1f} s)"
        )
    dups = info.get("duplicate_calls", 0)
    again = f" (+{dups} seen again via a gateway or server)" if dups else ""
    head = [
        f"{cap.name}{when}",
        f"{_plural(info.get('calls', 0) - dups, 'LLM call')}{again} from {_plural(len(rows), 'agent')}"
        f" · {_plural(info.get('processes', 0), 'process', 'processes')}"
        f" · {_plural(info.get('connections', 0), 'connection')}"
        f" · {_plural(info.get('exchanges', 0), 'HTTP exchange')}",
    ]
    if not rows:
        click.echo("\n".join(head) + "\nno LLM calls found")
        return
    blocks = []
    for r in rows:
        title = f"{r['agent']}  (pid {_pid_list(r['pids'])})"
        blocks.append((title, _agent_fields(r)))
    if _is_tty():
        from rich.console import Console
        from rich.table import Table

        con = Console()
        con.print("\n".join(head), highlight=False)
        for title, fields in blocks:
            con.print()
            t = Table(title=title, show_header=False, title_justify="left", title_style="bold")
            t.add_column("field", style="dim")
            t.add_column("value")
            for k, v in fields:
                t.add_row(k, v)
            con.print(t)
    else:
        click.echo("\n".join(head))
        for title, fields in blocks:
            click.echo(f"\n{title}")
            for k, v in fields:
                lines = v.splitlines() or [""]
                click.echo(f"  {k:<8} {lines[0]}")
                for more in lines[1:]:
                    click.echo(f"  {'':<8} {more}")


def _info_public(info: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in info.items() if k != "header"}


# -- show ------------------------------------------------------------------

_SHOW_CAP = 4000


def _clip(text: str) -> str:
    if len(text) <= _SHOW_CAP:
        return text
    return text[:_SHOW_CAP] + f"\n… ({len(text) - _SHOW_CAP} more characters)"


def render_call(detail: Any, *, abandoned: bool = False) -> str:
    """The conversation of one call as a person reads it (plain text).

    Examples
    --------
    >>> print(render_call(heron.open("tests/fixtures/demo.heron").call(2)))
    call 2 · heron.standin.agents.demo · openai chat.completions · gpt-4o-mini · HTTP 200
    conversation 1 · pid ... · 127.0.0.1:.../v1/chat/completions
    started ... · duration ... · streamed, first token after ...
    <BLANKLINE>
    ── request: 4 messages, 4 tools offered ──
    [system]
        You are a careful coding assistant.
    [user]
        The test tests/test_calc.py::test_add fails. Find the bug in the calculator and fix it.
    [assistant]
        → tool call list_files({"directory":"."})  id=call_...
    [tool]
        ← tool result for call_...:
            README.md
            src/calc.py
            tests/test_calc.py
    <BLANKLINE>
    ── response (tool_calls) ──
        → tool call read_file({"path":"src/calc.py"})  id=call_...
    <BLANKLINE>
    usage: input 393, output 9, cache_read 0, reasoning 0
    """
    r, p = detail.row, detail.parsed
    out = [
        f"call {r['call_id']} · {r['agent']} · {r['provider']} {r['api']} · {r['model']} · HTTP {r['status']}",
        f"conversation {r['conversation_id']} · pid {r['pid']} · {r['host']}{r['path'] or ''}",
        f"started {_cell(r['started_at'])} · duration {_ms(r['duration_ms'])} · "
        + (f"streamed, first token after {_ms(r['ttft_ms'])}" if r["streamed"] else "not streamed"),
    ]
    if r["auxiliary"]:
        out.append("auxiliary call (side task, not a main turn)")
    if r.get("duplicate_of") is not None:
        how = (
            "the request a gateway sent upstream for it"
            if r.get("duplicate_kind") == "upstream"
            else "the same request, seen from the server's end"
        )
        out.append(f"another view of call {r['duplicate_of']}: {how}")
    out.append("")
    out.append(f"── request: {len(p.messages)} messages, {p.n_tools_offered or 0} tools offered ──")
    for m in p.messages:
        out.append(f"[{m.role}]")
        echoed = bool(m.tool_results) and m.text == "\n".join(r.content for r in m.tool_results)
        if m.text and not echoed:  # a tool message's text is its result, shown below
            out.append(_indent(_clip(m.text)))
        for t in m.tool_calls:
            out.append(_indent(f"→ tool call {t.name}({_clip(t.arguments)})  id={t.id}"))
        for res in m.tool_results:
            flag = " (error)" if res.is_error else ""
            out.append(_indent(f"← tool result{flag} for {res.id or res.name}:"))
            out.append(_indent(_indent(_clip(res.content))))
    out.append("")
    out.append(f"── response ({r['finish_reason'] or 'no finish reason'}) ──")
    if p.response_text:
        out.append(_indent(_clip(p.response_text)))
    for t in p.tool_requests:
        out.append(_indent(f"→ tool call {t.name}({_clip(t.arguments)})  id={t.id}"))
    if r["error"]:
        out.append(f"error: {r['error']}")
    if abandoned:
        out.append("(the client closed the connection without reading the whole response)")
    elif r["partial"]:
        out.append("(incomplete: see the exchanges table's partial/gap flags)")
    out.append("")
    usage = [
        f"{k.replace('_tokens', '')} {r[k]}"
        for k in (
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
        )
        if r[k] is not None
    ]
    out.append("usage: " + (", ".join(usage) if usage else "not reported by the provider"))
    if r["parse_error"]:
        out.append(f"note: {r['parse_error']}")
    return "\n".join(out)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines() or [""])


@click.command(
    help="Show one call's conversation as a person reads it: messages, tool calls and "
    "results, the response and its usage." + _EX + "  heron show run.heron 3"
)
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("call_id", type=int)
def show(file: str, call_id: int) -> None:
    cap = _open(file)
    try:
        detail = cap.call(call_id)
    except HeronError as e:
        raise _UserError(_where(cap.name, e)) from None
    _warn(cap)
    abandoned = detail.row["exchange_id"] in cap.info.get("abandoned_exchanges", ())
    click.echo(render_call(detail, abandoned=abandoned))
