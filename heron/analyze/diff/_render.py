"""Render a :class:`~heron.analyze.diff.DiffResult` as markdown or rich tables.

Markdown is written for a pull-request comment: a one-line verdict, the
gates, a compact table of the metrics that changed (both values and the
delta), short lines for tools, models/endpoints, loops and conversations, and
each conversation's tool-call diff in a collapsible ``<details>`` block.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import polars as pl

from heron.analyze.diff._align import AlignedStep, ToolStep, summarize
from heron.analyze.diff._gate import SCALAR_METRICS

if TYPE_CHECKING:
    from rich.console import Console

    from heron.analyze.diff import DiffResult
    from heron.analyze.diff._compare import SequenceDiff

#: Scalar per-run metrics shown in the "what changed" table (diff-level
#: counts and per-name families have their own sections).
_RUN_METRICS = SCALAR_METRICS[: SCALAR_METRICS.index("new_tools")]
_ARG_WIDTH = 160


def fmt_value(metric: str, v: float | None) -> str:
    """Format one metric value for people.

    Examples
    --------
    >>> fmt_value("p95_latency_ms", 1234.56), fmt_value("calls", 12.0), fmt_value("calls", None)
    ('1,234.6', '12', '-')
    """
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if metric.endswith("_ms") and not float(v).is_integer():
        return f"{v:,.1f}"
    return f"{int(v):,}" if float(v).is_integer() else f"{v:,.2f}"


def fmt_delta(metric: str, d: float | None) -> str:
    """Signed delta.

    Examples
    --------
    >>> fmt_delta("calls", 3.0), fmt_delta("calls", -2.0), fmt_delta("calls", 0.0)
    ('+3', '-2', '0')
    """
    if d is None:
        return "-"
    if d == 0:
        return "0"
    s = fmt_value(metric, abs(d))
    return f"+{s}" if d > 0 else f"-{s}"


def fmt_pct(base: float | None, head: float | None, pct: float | None) -> str:
    """Relative change, ``new`` for growth from zero.

    Examples
    --------
    >>> fmt_pct(10, 15, 50.0), fmt_pct(0, 3, None), fmt_pct(None, 3, None)
    ('+50%', 'new', '-')
    """
    if base is not None and head is not None and base == 0 and head != 0:
        return "new"
    if pct is None:
        return "-"
    if pct == 0:
        return "0%"
    return f"{pct:+.0f}%" if abs(pct) >= 10 or float(pct).is_integer() else f"{pct:+.1f}%"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _short(text: str | None, width: int = _ARG_WIDTH) -> str:
    t = (text or "").replace("\n", " ")
    return t if len(t) <= width else t[: width - 1] + "…"


def step_line(step: AlignedStep) -> str:
    """One diff line for an aligned tool call.

    Examples
    --------
    >>> step_line(AlignedStep("changed", ToolStep("read", '{"p":"a"}'), ToolStep("read", '{"p":"b"}'), 0.8))
    '! read {"p":"a"}  ->  {"p":"b"}'
    """

    def call(s: ToolStep) -> str:
        err = "  [error]" if s.is_error else ""
        return f"{s.name} {_short(s.arguments)}{err}"

    if step.op == "changed":
        assert step.base is not None and step.head is not None
        err = "  [error]" if step.head.is_error else ""
        return f"! {step.base.name} {_short(step.base.arguments)}  ->  {_short(step.head.arguments)}{err}"
    s = step.head if step.op == "insert" else step.base
    assert s is not None
    return f"{step.marker} {call(s)}"


def verdict(result: DiffResult) -> str:
    """The headline: gate outcome first, then whether anything changed.

    Examples
    --------
    >>> import polars as pl
    >>> from heron.analyze.diff import CaptureFrames, diff
    >>> e = pl.DataFrame()
    >>> one = CaptureFrames(pl.DataFrame({"call_id": [1], "agent": ["bot"]}), e, e)
    >>> verdict(diff(CaptureFrames(e, e, e), one, fail_on=["calls>0"]))
    '❌ 1 of 1 gate failed'
    >>> verdict(diff(one, one))
    '✅ No change in agent behaviour'
    """
    failed = result.failed
    n = len(result.gates)
    if failed:
        return f"❌ {len(failed)} of {n} gate{'s' if n != 1 else ''} failed"
    if not result.changed:
        suffix = f", all {n} gate{'s' if n != 1 else ''} passed" if n else ""
        return f"✅ No change in agent behaviour{suffix}"
    if n:
        return f"✅ All {n} gate{'s' if n != 1 else ''} passed (agent behaviour changed)"
    return "⚠️ Agent behaviour changed"


def _changed_metric_rows(result: DiffResult) -> pl.DataFrame:
    """Changed run metrics, all agents first, then each matched agent when
    there are several (unmatched agents are listed by name instead).  A change
    between 0 and unknown (a usage field one provider reports as 0 and another
    omits) is left out of the compact table."""
    zeroish = (pl.col("base").fill_null(0) == 0) & (pl.col("head").fill_null(0) == 0)
    rows = result.metrics.filter(
        pl.col("changed") & pl.col("metric").is_in(list(_RUN_METRICS)) & ~zeroish
    )
    if len(result.matched_agents) > 1:
        return rows.filter(pl.col("agent").is_null() | pl.col("agent").is_in(result.matched_agents))
    return rows.filter(pl.col("agent").is_null())


def _multi_agent(result: DiffResult) -> bool:
    return len(result.matched_agents) > 1


def _agent_label(agent: str | None) -> str:
    return "all" if agent is None else agent


def _names(values: Iterable[str]) -> str:
    vs = [f"`{v}`" for v in values]
    return ", ".join(vs) if vs else "none"


def summary_lines(result: DiffResult) -> list[str]:
    """Short lines about agents, tools, models/endpoints, loops, conversations.

    Each is a markdown line; the terminal renderer strips the backticks.

    Examples
    --------
    >>> import polars as pl
    >>> from heron.analyze.diff import CaptureFrames, diff
    >>> e = pl.DataFrame()
    >>> r = diff(CaptureFrames(e, e, e, label="main.heron"),
    ...          CaptureFrames(pl.DataFrame({"call_id": [1], "agent": ["bot"]}), e, e, label="pr.heron"))
    >>> summary_lines(r)
    ['**Agents** matched: none; only in base: none; only in head: `bot`']
    """
    lines: list[str] = []
    if result.only_base or result.only_head:
        lines.append(
            f"**Agents** matched: {_names(result.matched_agents)}; only in base: "
            f"{_names(result.only_base)}; only in head: {_names(result.only_head)}"
        )
    tools = result.tools.filter(pl.col("agent").is_null())
    new = tools.filter(pl.col("status") == "new").get_column("name").to_list()
    gone = tools.filter(pl.col("status") == "removed").get_column("name").to_list()
    counts = [
        f"`{r['name']}` {r['base_calls']}→{r['head_calls']}"
        + (
            f" (failures {r['base_errors']}→{r['head_errors']})"
            if r["base_errors"] != r["head_errors"]
            else ""
        )
        for r in tools.filter(pl.col("status") == "changed").iter_rows(named=True)
    ]
    if new or gone or counts:
        parts = []
        if new:
            parts.append(f"new: {_names(new)}")
        if gone:
            parts.append(f"no longer used: {_names(gone)}")
        if counts:
            parts.append("calls: " + ", ".join(counts))
        lines.append("**Tools** " + "; ".join(parts))
    inv = result.inventory.filter(pl.col("agent").is_null() & (pl.col("status") != "same"))
    inv_parts: list[str] = []
    for kind in ("model", "provider", "host", "api"):
        k = inv.filter(pl.col("kind") == kind)
        added = k.filter(pl.col("status") == "added").get_column("value").to_list()
        removed = k.filter(pl.col("status") == "removed").get_column("value").to_list()
        if len(added) == 1 and len(removed) == 1:
            inv_parts.append(f"{kind} `{removed[0]}` → `{added[0]}`")
            continue
        if added:
            inv_parts.append(f"{kind} added {_names(added)}")
        if removed:
            inv_parts.append(f"{kind} removed {_names(removed)}")
    if inv_parts:
        lines.append("**Models and endpoints** " + "; ".join(inv_parts))
    loops = result.loops
    new_loops = loops.filter(pl.col("status") == "new")
    gone_loops = loops.filter(pl.col("status") == "gone")
    if new_loops.height or gone_loops.height:
        parts = [
            f"new {r['kind']} `{_short(r['signature'], 100)}` ×{r['head_repeats']}"
            + (f" ({r['agent']})" if _multi_agent(result) else "")
            for r in new_loops.iter_rows(named=True)
        ]
        parts += [
            f"gone {r['kind']} `{_short(r['signature'], 100)}`"
            for r in gone_loops.iter_rows(named=True)
        ]
        lines.append("**Loops** " + "; ".join(parts))
    conv = result.conversations
    stuck = conv.filter(pl.col("status") == "no_longer_finishes")
    if stuck.height:
        lines.append(
            "**Conversations that no longer finish** "
            + ", ".join(
                f"{r['agent']} {_conv_label(r)} ({r['head_turns']} turns)"
                for r in stuck.iter_rows(named=True)
            )
        )
    turns = conv.filter(pl.col("status").is_in(["changed", "only_base", "only_head"]))
    if turns.height:
        lines.append(
            "**Turns per conversation** "
            + ", ".join(
                f"{r['agent']} {_conv_label(r)}: {r['base_turns'] if r['base_turns'] is not None else '-'}"
                f"→{r['head_turns'] if r['head_turns'] is not None else '-'}"
                for r in turns.iter_rows(named=True)
            )
        )
    return lines


def _conv_label(row: dict[str, object]) -> str:
    n = int(row["ordinal"]) + 1  # type: ignore[call-overload]
    return f"side #{n}" if row.get("auxiliary") else f"#{n}"


def _seq_title(d: SequenceDiff) -> str:
    c = summarize(d.steps)
    return (
        f"Tool calls, {d.agent}, {'side ' if d.auxiliary else ''}conversation {d.ordinal + 1}: "
        f"+{c['insert']} −{c['delete']} ~{c['changed']} ({c['equal']} unchanged)"
    )


def to_markdown(result: DiffResult) -> str:
    """Render the result for a PR comment (GitHub-flavoured markdown).

    Examples
    --------
    >>> import polars as pl
    >>> from heron.analyze.diff import CaptureFrames, diff
    >>> e = pl.DataFrame()
    >>> r = diff(CaptureFrames(e, e, e, label="main.heron"),
    ...          CaptureFrames(pl.DataFrame({"call_id": [1], "agent": ["bot"]}), e, e, label="pr.heron"))
    >>> print(to_markdown(r).splitlines()[0])
    ### Heron diff: ⚠️ Agent behaviour changed
    """
    out: list[str] = [f"### Heron diff: {verdict(result)}", ""]
    out.append(
        f"`{result.base_label}` → `{result.head_label}`"
        + (f" · agent `{result.agent}`" if result.agent else "")
    )
    out.append("")
    if result.gates:
        out += ["| | gate | base | head | detail |", "|---|---|---:|---:|---|"]
        for g in result.gates:
            icon = "❌" if g.matched else ("⚪" if g.value is None else "✅")
            out.append(
                f"| {icon} | `{_md_cell(g.gate.expression)}` | {fmt_value(g.gate.metric, g.base)} | "
                f"{fmt_value(g.gate.metric, g.head)} | {_md_cell(g.detail)} |"
            )
        out.append("")
    rows = _changed_metric_rows(result)
    multi = _multi_agent(result)
    if rows.height:
        head = (
            "| agent | metric | base | head | Δ | Δ% |"
            if multi
            else "| metric | base | head | Δ | Δ% |"
        )
        out += [head, "|---|---|---:|---:|---:|---:|" if multi else "|---|---:|---:|---:|---:|"]
        for r in rows.iter_rows(named=True):
            m = r["metric"]
            cells = [
                m,
                fmt_value(m, r["base"]),
                fmt_value(m, r["head"]),
                fmt_delta(m, r["delta"]),
                fmt_pct(r["base"], r["head"], r["pct"]),
            ]
            if multi:
                cells.insert(0, _agent_label(r["agent"]))
            out.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
        out.append("")
    lines = summary_lines(result)
    for line in lines:
        out += [line, ""]
    for d in result.sequence_diffs:
        if not d.changed:
            continue
        body = "\n".join(step_line(s) for s in d.steps)
        fence = "````" if "```" in body else "```"
        out += [
            f"<details><summary>{_html(_seq_title(d))}</summary>",
            "",
            f"{fence}diff",
            body,
            fence,
            "",
            "</details>",
            "",
        ]
    if result.warnings:
        out.append("> ⚠️ " + "<br>".join(_md_cell(w) for w in result.warnings))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_table(result: DiffResult, console: Console) -> None:
    """Print the result on a terminal with rich tables.

    Examples
    --------
    >>> import polars as pl
    >>> from heron.analyze.diff import CaptureFrames, diff
    >>> e = pl.DataFrame()
    >>> r = diff(CaptureFrames(e, e, e, label="main.heron"),
    ...          CaptureFrames(pl.DataFrame({"call_id": [1], "agent": ["bot"]}), e, e, label="pr.heron"))
    >>> from rich.console import Console
    >>> render_table(r, Console(width=100, no_color=True))  # doctest: +ELLIPSIS
    Heron diff: ⚠️ Agent behaviour changed
    main.heron -> pr.heron
    ...
    """
    from rich.markup import escape
    from rich.table import Table

    console.print(f"[bold]Heron diff:[/bold] {escape(verdict(result))}")
    console.print(escape(f"{result.base_label} -> {result.head_label}"))
    if result.gates:
        t = Table(title="Gates", title_justify="left")
        for col in ("", "gate", "base", "head", "detail"):
            t.add_column(col)
        for g in result.gates:
            icon = (
                "[red]FAIL[/red]"
                if g.matched
                else ("n/a" if g.value is None else "[green]ok[/green]")
            )
            t.add_row(
                icon,
                escape(g.gate.expression),
                fmt_value(g.gate.metric, g.base),
                fmt_value(g.gate.metric, g.head),
                escape(g.detail),
            )
        console.print(t)
    multi = _multi_agent(result)
    t = Table(title="Metrics", title_justify="left")
    if multi:
        t.add_column("agent")
    t.add_column("metric")
    for col in ("base", "head", "Δ", "Δ%"):
        t.add_column(col, justify="right")
    rows = result.metrics.filter(pl.col("metric").is_in(list(_RUN_METRICS)))
    if multi:
        rows = rows.filter(pl.col("agent").is_null() | pl.col("agent").is_in(result.matched_agents))
    else:
        rows = rows.filter(pl.col("agent").is_null())
    for r in rows.iter_rows(named=True):
        m = r["metric"]
        style = "bold" if r["changed"] else "dim"
        cells = [
            m,
            fmt_value(m, r["base"]),
            fmt_value(m, r["head"]),
            fmt_delta(m, r["delta"]),
            fmt_pct(r["base"], r["head"], r["pct"]),
        ]
        if multi:
            cells.insert(0, _agent_label(r["agent"]))
        t.add_row(*[escape(c) for c in cells], style=style)
    console.print(t)
    for line in summary_lines(result):
        console.print(escape(line.replace("**", "").replace("`", "")))
    for d in result.sequence_diffs:
        if not d.changed:
            continue
        console.print(f"[bold]{escape(_seq_title(d))}[/bold]")
        colours = {"insert": "green", "delete": "red", "changed": "yellow", "equal": "dim"}
        for s in d.steps:
            console.print(f"[{colours[s.op]}]{escape(step_line(s))}[/{colours[s.op]}]")
    for w in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(w)}")


__all__: Sequence[str] = [
    "fmt_delta",
    "fmt_pct",
    "fmt_value",
    "render_table",
    "to_markdown",
    "verdict",
]
