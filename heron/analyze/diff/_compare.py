"""The diff engine: pure functions from two runs' tables to comparison tables.

Inputs are the ``calls``, ``tools`` and ``loops`` tables of :mod:`heron.analyze`
(one capture each side).  Nothing here reads files; :func:`heron.analyze.diff.diff`
opens captures and hands the frames over, so every rule below can be tested on
hand-built frames.

Matching rules
--------------
- **Agents** are matched by the ``agent`` column (a stable identity derived
  from the process), never by pid: pids differ between runs.  A null agent is
  named ``(unknown)``.  Agents present on one side only are *unmatched*.
- **Tools and loops** inherit the agent of the LLM call that requested them
  (``call_id`` / first of ``call_ids``), falling back to the agent of the pid.
- **Conversations** of a matched agent are paired in the order they started
  (the k-th conversation of the agent in BASE with the k-th in HEAD).  Agents
  do the same task in the same order in both runs, and ids are per run.
- A conversation is **finished** when its last call (by start time) carries a
  final answer: no error, no HTTP error status, no tool call requested
  (``n_tool_calls`` 0/null and ``finish_reason`` not one of
  :data:`TOOL_FINISH_REASONS`), and either a finish reason was seen or the
  response is complete (not ``partial``).
- **Hosts** on loopback are compared without their port (a local stand-in or
  mock provider binds an ephemeral port each run).
- **Duplicates**: a call seen again through a local gateway or from the
  server end of a connection (``calls.duplicate_of`` set, see
  :mod:`heron.analyze.duplicates`) is left out: each call counts once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl

from heron.analyze.diff._align import AlignedStep, ToolStep, align_tool_calls
from heron.analyze.diff._gate import SCALAR_METRICS, relative_change

UNKNOWN_AGENT = "(unknown)"

#: finish_reason values meaning "the model asked for a tool, not done yet".
TOOL_FINISH_REASONS = frozenset(
    {"tool_calls", "tool_use", "function_call", "TOOL_CALLS", "FUNCTION_CALL"}
)

# Columns the engine reads, with the dtype it works in.  Ids are compared as
# text so that int and string ids from different analyzer versions both work.
_CALL_COLS: dict[str, pl.DataType] = {
    "call_id": pl.Utf8(),
    "conversation_id": pl.Utf8(),
    "pid": pl.Int64(),
    "agent": pl.Utf8(),
    "host": pl.Utf8(),
    "provider": pl.Utf8(),
    "api": pl.Utf8(),
    "model": pl.Utf8(),
    "status": pl.Int64(),
    "error": pl.Utf8(),
    "started_at": pl.Datetime("us", "UTC"),
    "ended_at": pl.Datetime("us", "UTC"),
    "duration_ms": pl.Float64(),
    "ttft_ms": pl.Float64(),
    "input_tokens": pl.Int64(),
    "output_tokens": pl.Int64(),
    "cache_read_tokens": pl.Int64(),
    "cache_write_tokens": pl.Int64(),
    "reasoning_tokens": pl.Int64(),
    "finish_reason": pl.Utf8(),
    "n_tool_calls": pl.Int64(),
    "partial": pl.Boolean(),
    "auxiliary": pl.Boolean(),
}
_TOOL_COLS: dict[str, pl.DataType] = {
    "tool_call_id": pl.Utf8(),
    "name": pl.Utf8(),
    "arguments": pl.Utf8(),
    "call_id": pl.Utf8(),
    "requested_at": pl.Datetime("us", "UTC"),
    "is_error": pl.Boolean(),
    "pid": pl.Int64(),
    "conversation_id": pl.Utf8(),
}
_LOOP_COLS: dict[str, pl.DataType] = {
    "loop_id": pl.Utf8(),
    "pid": pl.Int64(),
    "conversation_id": pl.Utf8(),
    "kind": pl.Utf8(),
    "signature": pl.Utf8(),
    "count": pl.Int64(),
    "first_at": pl.Datetime("us", "UTC"),
    "call_ids": pl.List(pl.Utf8()),
}
_TOKEN_METRICS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)
INVENTORY_KINDS = ("model", "provider", "host", "api")

# A loopback host is compared without its port: local mock and stand-in
# providers bind an ephemeral port per run, which is not a change of endpoint.
_LOOPBACK_PORT = r"^(127(?:\.\d{1,3}){3}|localhost|\[::1\]):\d+$"


def _conform(df: pl.DataFrame, cols: dict[str, pl.DataType]) -> pl.DataFrame:
    """Select the engine's columns in its dtypes; absent columns become null."""
    if df.width == 0:  # an empty table without a schema (nothing captured)
        return pl.DataFrame(schema=cols)
    exprs: list[pl.Expr] = []
    for name, dtype in cols.items():
        if name not in df.columns:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
            continue
        src = df.schema[name]
        if isinstance(dtype, pl.Datetime) and isinstance(src, pl.Datetime):
            e = pl.col(name)
            e = e.dt.replace_time_zone("UTC") if src.time_zone is None else e
            exprs.append(e.dt.convert_time_zone("UTC").dt.cast_time_unit("us").alias(name))
        elif isinstance(dtype, pl.List) and isinstance(src, pl.List):
            exprs.append(pl.col(name).list.eval(pl.element().cast(pl.Utf8)).alias(name))
        else:
            exprs.append(pl.col(name).cast(dtype, strict=False).alias(name))
    return df.select(exprs)


@dataclass(frozen=True)
class Side:
    """One run's tables, conformed and annotated with ``agent``.

    Attributes
    ----------
    calls, tools, loops : polars.DataFrame
        The engine's columns only; tools and loops carry the ``agent`` and
        ``conversation_id`` of their requesting call.
    conversations : polars.DataFrame
        One row per conversation: agent, conversation_id, started_at, turns,
        tool_calls, finished, ordinal (0-based order within the agent).
    """

    calls: pl.DataFrame
    tools: pl.DataFrame
    loops: pl.DataFrame
    conversations: pl.DataFrame

    @property
    def agents(self) -> list[str]:
        """Agent identities present, sorted.

        Examples
        --------
        >>> e = pl.DataFrame()
        >>> prepare_side(pl.DataFrame({"call_id": [1, 2], "agent": ["b", "a"]}), e, e).agents
        ['a', 'b']
        """
        return sorted(self.calls.get_column("agent").unique().to_list())


def prepare_side(calls: pl.DataFrame, tools: pl.DataFrame, loops: pl.DataFrame) -> Side:
    """Conform one run's tables and attach agent identities.

    Examples
    --------
    >>> s = prepare_side(pl.DataFrame({"call_id": [1], "agent": [None]}), pl.DataFrame(), pl.DataFrame())
    >>> s.agents
    ['(unknown)']
    """
    if "duplicate_of" in calls.columns:  # a call seen again via a gateway counts once
        calls = calls.filter(pl.col("duplicate_of").is_null())
    c = _conform(calls, _CALL_COLS).with_columns(
        pl.col("agent").fill_null(UNKNOWN_AGENT),
        pl.col("host").str.replace(_LOOPBACK_PORT, "$1"),
    )
    by_call = c.select(
        "call_id",
        pl.col("agent").alias("_agent"),
        pl.col("conversation_id").alias("_conv"),
    ).unique("call_id", keep="first")
    by_pid = (
        c.filter(pl.col("pid").is_not_null())
        .group_by("pid")
        .agg(pl.col("agent").mode().first().alias("_pid_agent"))
    )
    t = (
        _conform(tools, _TOOL_COLS)
        .with_row_index("_order")
        .join(by_call, on="call_id", how="left")
        .join(by_pid, on="pid", how="left")
        .with_columns(
            pl.coalesce("_agent", "_pid_agent", pl.lit(UNKNOWN_AGENT)).alias("agent"),
            pl.coalesce("conversation_id", "_conv").alias("conversation_id"),
        )
        .sort(["requested_at", "_order"], nulls_last=True)
        .drop("_agent", "_pid_agent", "_conv")
    )
    lp = _conform(loops, _LOOP_COLS)
    lp = (
        lp.with_columns(pl.col("call_ids").list.first().alias("call_id"))
        .join(by_call, on="call_id", how="left")
        .join(by_pid, on="pid", how="left")
        .with_columns(
            pl.coalesce("_agent", "_pid_agent", pl.lit(UNKNOWN_AGENT)).alias("agent"),
            pl.coalesce("conversation_id", "_conv").alias("conversation_id"),
        )
        .drop("_agent", "_pid_agent", "_conv", "call_id")
    )
    return Side(c, t, lp, _conversations(c, t))


def _finished_expr() -> pl.Expr:
    # An incomplete response still counts as an answer when its finish reason
    # was seen (the end of the stream made it to the capture); without one, a
    # partial response is not an answer.
    return (
        pl.col("error").is_null()
        & (pl.col("status").is_null() | (pl.col("status") < 400))
        & (pl.col("n_tool_calls").fill_null(0) == 0)
        & ~pl.col("finish_reason").fill_null("").is_in(list(TOOL_FINISH_REASONS))
        & (pl.col("finish_reason").is_not_null() | ~pl.col("partial").fill_null(False))
    )


def _conversations(calls: pl.DataFrame, tools: pl.DataFrame) -> pl.DataFrame:
    tool_counts = (
        tools.filter(pl.col("conversation_id").is_not_null())
        .group_by("conversation_id")
        .agg(pl.len().alias("tool_calls"))
    )
    # Calls without a conversation (embeddings, non-chat APIs) are not turns.
    conv = (
        calls.with_row_index("_order")
        .filter(pl.col("conversation_id").is_not_null())
        .sort(["started_at", "_order"], nulls_last=True)
        .with_columns(_finished_expr().alias("_finished"))
        .group_by("conversation_id", maintain_order=True)
        .agg(
            pl.col("agent").first(),
            pl.col("auxiliary").fill_null(False).first(),
            pl.col("started_at").min(),
            pl.len().alias("turns"),
            pl.col("_finished").last().alias("finished"),
            pl.col("_order").min().alias("_first"),
        )
        .join(tool_counts, on="conversation_id", how="left")
        .with_columns(pl.col("tool_calls").fill_null(0).cast(pl.Int64))
        .sort(["agent", "auxiliary", "started_at", "_first"], nulls_last=True)
        .with_columns(pl.int_range(pl.len()).over("agent", "auxiliary").alias("ordinal"))
        .drop("_first")
    )
    return conv.select(
        "agent",
        "auxiliary",
        "conversation_id",
        "ordinal",
        "started_at",
        "turns",
        "tool_calls",
        "finished",
    )


# ---------------------------------------------------------------- metrics


def _quantile(s: pl.Series, q: float) -> float | None:
    s = s.drop_nulls()
    if s.is_empty():
        return None
    v = s.quantile(q, interpolation="nearest")
    return None if v is None else float(v)


def _token_sum(calls: pl.DataFrame, col: str) -> float | None:
    s = calls.get_column(col)
    if calls.height and s.null_count() == calls.height:
        return None  # usage never reported: unknown, not zero
    return float(s.sum() or 0)


def scope_metrics(side: Side, agent: str | None) -> dict[str, float | None]:
    """Every per-run metric of one agent (None: all agents) as a dict.

    Family metrics (``tool:NAME``, ``tool_errors:NAME``, ``loops:KIND``,
    ``model:NAME``) appear for every name present in this run.

    Examples
    --------
    >>> s = prepare_side(pl.DataFrame({"call_id": ["1"], "agent": ["a"], "status": [429],
    ...                                "error": ["rate limited"]}), pl.DataFrame(), pl.DataFrame())
    >>> m = scope_metrics(s, "a")
    >>> m["calls"], m["errors"], m["errors_429"]
    (1.0, 1.0, 1.0)
    """
    c, t, lp, conv = side.calls, side.tools, side.loops, side.conversations
    if agent is not None:
        c = c.filter(pl.col("agent") == agent)
        t = t.filter(pl.col("agent") == agent)
        lp = lp.filter(pl.col("agent") == agent)
        conv = conv.filter(pl.col("agent") == agent)
    status = pl.col("status")
    is_err = pl.col("error").is_not_null() | (status >= 400).fill_null(False)
    classes = c.select(
        is_err.sum().alias("errors"),
        (status == 429).fill_null(False).sum().alias("errors_429"),
        ((status >= 400) & (status < 500) & (status != 429))
        .fill_null(False)
        .sum()
        .alias("errors_4xx"),
        (status >= 500).fill_null(False).sum().alias("errors_5xx"),
        (is_err & (status >= 200) & (status < 300)).fill_null(False).sum().alias("errors_stream"),
    ).row(0, named=True)
    m: dict[str, float | None] = {"calls": float(c.height)}
    for k, v in classes.items():
        m[k] = float(v or 0)
    m["errors_other"] = (m["errors"] or 0) - sum(
        m[k] or 0 for k in ("errors_429", "errors_4xx", "errors_5xx", "errors_stream")
    )
    for col in _TOKEN_METRICS:
        m[col] = _token_sum(c, col)
    i, o = m["input_tokens"], m["output_tokens"]
    m["tokens"] = None if i is None and o is None else (i or 0) + (o or 0)
    if c.height:
        span = c.select(
            (
                pl.max_horizontal(pl.col("ended_at").max(), pl.col("started_at").max())
                - pl.col("started_at").min()
            ).dt.total_microseconds()
        ).item()
        m["duration_ms"] = None if span is None else span / 1000.0
    else:
        m["duration_ms"] = None
    m["p50_latency_ms"] = _quantile(c.get_column("duration_ms"), 0.5)
    m["p95_latency_ms"] = _quantile(c.get_column("duration_ms"), 0.95)
    m["p50_ttft_ms"] = _quantile(c.get_column("ttft_ms"), 0.5)
    m["p95_ttft_ms"] = _quantile(c.get_column("ttft_ms"), 0.95)
    m["tool_calls"] = float(t.height)
    m["tool_errors"] = float(t.get_column("is_error").fill_null(False).sum())
    m["loops"] = float(lp.height)
    m["conversations"] = float(conv.height)
    m["max_turns"] = float(conv.select(pl.col("turns").max()).item() or 0) if conv.height else 0.0
    m["unfinished"] = float((~conv.get_column("finished")).sum()) if conv.height else 0.0
    for name, n, errs in (
        t.group_by("name").agg(pl.len(), pl.col("is_error").fill_null(False).sum()).iter_rows()
    ):
        m[f"tool:{name}"] = float(n)
        m[f"tool_errors:{name}"] = float(errs)
    for kind, n in lp.group_by("kind").agg(pl.len()).iter_rows():
        m[f"loops:{kind}"] = float(n)
    for model, n in (
        c.filter(pl.col("model").is_not_null()).group_by("model").agg(pl.len()).iter_rows()
    ):
        m[f"model:{model}"] = float(n)
    return m


def _family_default(metric: str, other: float | None) -> float | None:
    """Value of a metric absent from one side: family counts are 0 there."""
    if ":" in metric:
        return 0.0
    return other


def _values(s: pl.DataFrame, col: str) -> set[str]:
    return set(s.get_column(col).drop_nulls().unique().to_list())


def diff_level_metrics(base: Side, head: Side, agent: str | None) -> dict[str, float]:
    """Counts that only make sense across two runs (base is always 0).

    Examples
    --------
    >>> e = pl.DataFrame()
    >>> b = prepare_side(pl.DataFrame({"call_id": ["1"], "agent": ["a"]}), e, e)
    >>> h = prepare_side(pl.DataFrame({"call_id": ["1"], "agent": ["b"]}), e, e)
    >>> diff_level_metrics(b, h, None)["unmatched_agents"]
    2.0
    """

    def f(df: pl.DataFrame) -> pl.DataFrame:
        return df if agent is None else df.filter(pl.col("agent") == agent)

    bc, hc, bt, ht = f(base.calls), f(head.calls), f(base.tools), f(head.tools)
    out: dict[str, float] = {
        "new_tools": float(len(_values(ht, "name") - _values(bt, "name"))),
        "removed_tools": float(len(_values(bt, "name") - _values(ht, "name"))),
        "new_models": float(len(_values(hc, "model") - _values(bc, "model"))),
        "removed_models": float(len(_values(bc, "model") - _values(hc, "model"))),
        "new_providers": float(len(_values(hc, "provider") - _values(bc, "provider"))),
        "new_hosts": float(len(_values(hc, "host") - _values(bc, "host"))),
        "new_apis": float(len(_values(hc, "api") - _values(bc, "api"))),
    }
    sig = ["agent", "kind", "signature"]
    bl = f(base.loops).select(sig).unique()
    out["new_loops"] = float(f(head.loops).select(sig).unique().join(bl, on=sig, how="anti").height)
    pairs = pair_conversations(base, head)
    pairs = pairs if agent is None else pairs.filter(pl.col("agent") == agent)
    out["newly_unfinished"] = float(
        pairs.filter(pl.col("base_finished") & ~pl.col("head_finished")).height
    )
    ba, ha = set(base.agents), set(head.agents)
    out["unmatched_agents"] = float(len(ba ^ ha)) if agent is None else 0.0
    return out


def _metric_order(keys: Iterable[str]) -> list[str]:
    rank = {k: i for i, k in enumerate(SCALAR_METRICS)}
    return sorted(keys, key=lambda k: (rank.get(k, len(rank)), k))


def metrics_table(base: Side, head: Side, agents: Sequence[str | None]) -> pl.DataFrame:
    """The metrics table: metric, agent, base, head, delta, pct, changed.

    ``agent`` is null for the all-agents rows.  ``pct`` is null when base is 0
    and head is not (growth from zero has no finite percentage; gates treat it
    as +/- infinity) and when either side is null.

    Examples
    --------
    >>> from heron.analyze.schema import frame
    >>> e = pl.DataFrame()
    >>> b = prepare_side(frame("calls", [{"call_id": 0, "conversation_id": 0, "agent": "bot", "model": "m1"}]),
    ...                  frame("tools", [{"name": "ls", "arguments": "{}", "call_id": 0, "conversation_id": 0}]), e)
    >>> h = prepare_side(frame("calls", [{"call_id": 0, "conversation_id": 0, "agent": "bot", "model": "m2"}]),
    ...                  frame("tools", [{"name": "ls", "arguments": "{}", "call_id": 0, "conversation_id": 0},
    ...                                  {"name": "rm", "arguments": "{}", "call_id": 0, "conversation_id": 0}]), e)
    >>> metrics_table(b, h, [None]).filter(pl.col("metric") == "tool_calls").row(0)
    ('tool_calls', None, 1.0, 2.0, 1.0, 100.0, True)
    """
    rows: list[dict[str, object]] = []
    for agent in agents:
        bm, hm = scope_metrics(base, agent), scope_metrics(head, agent)
        dl = diff_level_metrics(base, head, agent)
        for k in _metric_order(set(bm) | set(hm)):
            b = bm[k] if k in bm else _family_default(k, None)
            h = hm[k] if k in hm else _family_default(k, None)
            rows.append(_row(k, agent, b, h))
        for k, v in dl.items():
            rows.append(_row(k, agent, 0.0, v))
    schema = {
        "metric": pl.Utf8,
        "agent": pl.Utf8,
        "base": pl.Float64,
        "head": pl.Float64,
        "delta": pl.Float64,
        "pct": pl.Float64,
        "changed": pl.Boolean,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def _row(metric: str, agent: str | None, b: float | None, h: float | None) -> dict[str, object]:
    delta = None if b is None or h is None else h - b
    pct: float | None = None
    if b is not None and h is not None:
        r = relative_change(b, h)
        pct = None if math.isinf(r) else r
    return {
        "metric": metric,
        "agent": agent,
        "base": b,
        "head": h,
        "delta": delta,
        "pct": pct,
        "changed": b != h,
    }


# ---------------------------------------------------------------- inventories


def inventory_table(base: Side, head: Side, agents: Sequence[str | None]) -> pl.DataFrame:
    """Models, providers, hosts and APIs used: kind, value, agent, base_calls,
    head_calls, status (added/removed/changed/same).

    Examples
    --------
    >>> from heron.analyze.schema import frame
    >>> e = pl.DataFrame()
    >>> b = prepare_side(frame("calls", [{"call_id": 0, "conversation_id": 0, "agent": "bot", "model": "m1"}]),
    ...                  frame("tools", [{"name": "ls", "arguments": "{}", "call_id": 0, "conversation_id": 0}]), e)
    >>> h = prepare_side(frame("calls", [{"call_id": 0, "conversation_id": 0, "agent": "bot", "model": "m2"}]),
    ...                  frame("tools", [{"name": "ls", "arguments": "{}", "call_id": 0, "conversation_id": 0},
    ...                                  {"name": "rm", "arguments": "{}", "call_id": 0, "conversation_id": 0}]), e)
    >>> inventory_table(b, h, [None]).filter(pl.col("kind") == "model").select("value", "status").rows()
    [('m1', 'removed'), ('m2', 'added')]
    """
    rows: list[dict[str, object]] = []
    for agent in agents:
        for kind in INVENTORY_KINDS:
            bc = _counts(base.calls, kind, agent)
            hc = _counts(head.calls, kind, agent)
            for v in sorted(set(bc) | set(hc)):
                b, h = bc.get(v, 0), hc.get(v, 0)
                status = (
                    "added" if not b else "removed" if not h else "same" if b == h else "changed"
                )
                rows.append(
                    {
                        "kind": kind,
                        "value": v,
                        "agent": agent,
                        "base_calls": b,
                        "head_calls": h,
                        "status": status,
                    }
                )
    schema = {
        "kind": pl.Utf8,
        "value": pl.Utf8,
        "agent": pl.Utf8,
        "base_calls": pl.Int64,
        "head_calls": pl.Int64,
        "status": pl.Utf8,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def _counts(df: pl.DataFrame, col: str, agent: str | None) -> dict[str, int]:
    if agent is not None:
        df = df.filter(pl.col("agent") == agent)
    g = df.filter(pl.col(col).is_not_null()).group_by(col).agg(pl.len())
    return {str(k): int(n) for k, n in g.iter_rows()}


def tools_table(base: Side, head: Side, agents: Sequence[str | None]) -> pl.DataFrame:
    """Tool use per name: agent, name, base_calls, head_calls, delta,
    base_errors, head_errors, status (new/removed/changed/same).

    Examples
    --------
    >>> from heron.analyze.schema import frame
    >>> e = pl.DataFrame()
    >>> b = prepare_side(frame("calls", [{"call_id": 0, "conversation_id": 0, "agent": "bot", "model": "m1"}]),
    ...                  frame("tools", [{"name": "ls", "arguments": "{}", "call_id": 0, "conversation_id": 0}]), e)
    >>> h = prepare_side(frame("calls", [{"call_id": 0, "conversation_id": 0, "agent": "bot", "model": "m2"}]),
    ...                  frame("tools", [{"name": "ls", "arguments": "{}", "call_id": 0, "conversation_id": 0},
    ...                                  {"name": "rm", "arguments": "{}", "call_id": 0, "conversation_id": 0}]), e)
    >>> tools_table(b, h, [None]).select("name", "base_calls", "head_calls", "status").rows()
    [('ls', 1, 1, 'same'), ('rm', 0, 1, 'new')]
    """
    rows: list[dict[str, object]] = []
    for agent in agents:
        bt, ht = _tool_counts(base.tools, agent), _tool_counts(head.tools, agent)
        for name in sorted(set(bt) | set(ht)):
            (bn, be), (hn, he) = bt.get(name, (0, 0)), ht.get(name, (0, 0))
            status = (
                "new"
                if not bn
                else "removed"
                if not hn
                else "same"
                if (bn, be) == (hn, he)
                else "changed"
            )
            rows.append(
                {
                    "agent": agent,
                    "name": name,
                    "base_calls": bn,
                    "head_calls": hn,
                    "delta": hn - bn,
                    "base_errors": be,
                    "head_errors": he,
                    "status": status,
                }
            )
    schema = {
        "agent": pl.Utf8,
        "name": pl.Utf8,
        "base_calls": pl.Int64,
        "head_calls": pl.Int64,
        "delta": pl.Int64,
        "base_errors": pl.Int64,
        "head_errors": pl.Int64,
        "status": pl.Utf8,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def _tool_counts(tools: pl.DataFrame, agent: str | None) -> dict[str, tuple[int, int]]:
    if agent is not None:
        tools = tools.filter(pl.col("agent") == agent)
    g = tools.group_by("name").agg(pl.len(), pl.col("is_error").fill_null(False).sum())
    return {str(n): (int(c), int(e)) for n, c, e in g.iter_rows()}


def loops_table(base: Side, head: Side) -> pl.DataFrame:
    """Loops per (agent, kind, signature): base_loops, head_loops,
    base_repeats, head_repeats (sum of ``count``), status (new/gone/same/changed).

    Examples
    --------
    >>> from heron.analyze.schema import frame
    >>> e = pl.DataFrame()
    >>> b = prepare_side(frame("calls", [{"call_id": 0, "conversation_id": 0, "agent": "bot", "model": "m1"}]),
    ...                  frame("tools", [{"name": "ls", "arguments": "{}", "call_id": 0, "conversation_id": 0}]), e)
    >>> h = prepare_side(frame("calls", [{"call_id": 0, "conversation_id": 0, "agent": "bot", "model": "m2"}]),
    ...                  frame("tools", [{"name": "ls", "arguments": "{}", "call_id": 0, "conversation_id": 0},
    ...                                  {"name": "rm", "arguments": "{}", "call_id": 0, "conversation_id": 0}]), e)
    >>> loops_table(b, h).height
    0
    """
    key = ["agent", "kind", "signature"]

    def agg(s: Side, p: str) -> pl.DataFrame:
        return s.loops.group_by(key).agg(
            pl.len().alias(f"{p}_loops"), pl.col("count").fill_null(0).sum().alias(f"{p}_repeats")
        )

    j = agg(base, "base").join(agg(head, "head"), on=key, how="full", coalesce=True)
    j = j.with_columns(pl.col("^(base|head)_(loops|repeats)$").fill_null(0).cast(pl.Int64))
    return j.with_columns(
        pl.when(pl.col("base_loops") == 0)
        .then(pl.lit("new"))
        .when(pl.col("head_loops") == 0)
        .then(pl.lit("gone"))
        .when(
            (pl.col("base_loops") == pl.col("head_loops"))
            & (pl.col("base_repeats") == pl.col("head_repeats"))
        )
        .then(pl.lit("same"))
        .otherwise(pl.lit("changed"))
        .alias("status")
    ).sort(key)


# ---------------------------------------------------------------- conversations


def pair_conversations(base: Side, head: Side) -> pl.DataFrame:
    """Pair conversations per agent by start order.

    Auxiliary conversations (title generation and other recognised side
    calls) are numbered and paired apart from the main ones, so an extra side
    call in one run does not shift every pairing.

    Columns: agent, auxiliary, ordinal, base_conversation_id, head_conversation_id,
    base_turns, head_turns, base_tool_calls, head_tool_calls, base_finished,
    head_finished, status (same/changed/only_base/only_head/no_longer_finishes).

    Examples
    --------
    >>> from heron.analyze.schema import frame
    >>> e = pl.DataFrame()
    >>> b = prepare_side(frame("calls", [{"call_id": 0, "conversation_id": 0, "agent": "bot", "model": "m1"}]),
    ...                  frame("tools", [{"name": "ls", "arguments": "{}", "call_id": 0, "conversation_id": 0}]), e)
    >>> h = prepare_side(frame("calls", [{"call_id": 0, "conversation_id": 0, "agent": "bot", "model": "m2"}]),
    ...                  frame("tools", [{"name": "ls", "arguments": "{}", "call_id": 0, "conversation_id": 0},
    ...                                  {"name": "rm", "arguments": "{}", "call_id": 0, "conversation_id": 0}]), e)
    >>> pair_conversations(b, h).select("agent", "base_tool_calls", "head_tool_calls", "status").rows()
    [('bot', 1, 2, 'changed')]
    """
    cols = ["conversation_id", "turns", "tool_calls", "finished"]
    key = ["agent", "auxiliary", "ordinal"]
    b = base.conversations.select([*key, *cols]).rename({c: f"base_{c}" for c in cols})
    h = head.conversations.select([*key, *cols]).rename({c: f"head_{c}" for c in cols})
    j = b.join(h, on=key, how="full", coalesce=True).sort(key)
    return j.with_columns(
        pl.when(pl.col("head_conversation_id").is_null())
        .then(pl.lit("only_base"))
        .when(pl.col("base_conversation_id").is_null())
        .then(pl.lit("only_head"))
        .when(pl.col("base_finished") & ~pl.col("head_finished"))
        .then(pl.lit("no_longer_finishes"))
        .when(
            (pl.col("base_turns") == pl.col("head_turns"))
            & (pl.col("base_tool_calls") == pl.col("head_tool_calls"))
            & (pl.col("base_finished") == pl.col("head_finished"))
        )
        .then(pl.lit("same"))
        .otherwise(pl.lit("changed"))
        .alias("status")
    ).select(
        "agent",
        "auxiliary",
        "ordinal",
        "base_conversation_id",
        "head_conversation_id",
        "base_turns",
        "head_turns",
        "base_tool_calls",
        "head_tool_calls",
        "base_finished",
        "head_finished",
        "status",
    )


def _steps(tools: pl.DataFrame, conversation_id: str | None) -> list[ToolStep]:
    if conversation_id is None:
        return []
    sub = tools.filter(pl.col("conversation_id") == conversation_id)
    return [
        ToolStep(str(n), a, e, i)
        for n, a, e, i in sub.select("name", "arguments", "is_error", "tool_call_id").iter_rows()
    ]


@dataclass(frozen=True)
class SequenceDiff:
    """The aligned tool-call diff of one pair of conversations."""

    agent: str
    ordinal: int
    base_conversation_id: str | None
    head_conversation_id: str | None
    steps: list[AlignedStep]
    auxiliary: bool = False

    @property
    def changed(self) -> bool:
        """True when any step is not ``equal``.

        Examples
        --------
        >>> SequenceDiff("bot", 0, "0", "0", []).changed
        False
        """
        return any(s.op != "equal" for s in self.steps)


def sequence_diffs(base: Side, head: Side, pairs: pl.DataFrame) -> list[SequenceDiff]:
    """Align the tool calls of each paired conversation.

    Examples
    --------
    >>> from heron.analyze.schema import frame
    >>> e = pl.DataFrame()
    >>> b = prepare_side(frame("calls", [{"call_id": 0, "conversation_id": 0, "agent": "bot", "model": "m1"}]),
    ...                  frame("tools", [{"name": "ls", "arguments": "{}", "call_id": 0, "conversation_id": 0}]), e)
    >>> h = prepare_side(frame("calls", [{"call_id": 0, "conversation_id": 0, "agent": "bot", "model": "m2"}]),
    ...                  frame("tools", [{"name": "ls", "arguments": "{}", "call_id": 0, "conversation_id": 0},
    ...                                  {"name": "rm", "arguments": "{}", "call_id": 0, "conversation_id": 0}]), e)
    >>> [s.op for s in sequence_diffs(b, h, pair_conversations(b, h))[0].steps]
    ['equal', 'insert']
    """
    out: list[SequenceDiff] = []
    for row in pairs.iter_rows(named=True):
        bid, hid = row["base_conversation_id"], row["head_conversation_id"]
        steps = align_tool_calls(_steps(base.tools, bid), _steps(head.tools, hid))
        out.append(
            SequenceDiff(row["agent"], int(row["ordinal"]), bid, hid, steps, bool(row["auxiliary"]))
        )
    return out


def sequence_table(diffs: Sequence[SequenceDiff]) -> pl.DataFrame:
    """Flatten sequence diffs: agent, ordinal, conversation ids, step, op,
    base_name, base_arguments, head_name, head_arguments, similarity.

    Examples
    --------
    >>> from heron.analyze.schema import frame
    >>> e = pl.DataFrame()
    >>> b = prepare_side(frame("calls", [{"call_id": 0, "conversation_id": 0, "agent": "bot", "model": "m1"}]),
    ...                  frame("tools", [{"name": "ls", "arguments": "{}", "call_id": 0, "conversation_id": 0}]), e)
    >>> h = prepare_side(frame("calls", [{"call_id": 0, "conversation_id": 0, "agent": "bot", "model": "m2"}]),
    ...                  frame("tools", [{"name": "ls", "arguments": "{}", "call_id": 0, "conversation_id": 0},
    ...                                  {"name": "rm", "arguments": "{}", "call_id": 0, "conversation_id": 0}]), e)
    >>> sequence_table(sequence_diffs(b, h, pair_conversations(b, h))).select("op", "head_name").rows()
    [('equal', 'ls'), ('insert', 'rm')]
    """
    rows: list[dict[str, object]] = []
    for d in diffs:
        for k, s in enumerate(d.steps):
            rows.append(
                {
                    "agent": d.agent,
                    "auxiliary": d.auxiliary,
                    "ordinal": d.ordinal,
                    "base_conversation_id": d.base_conversation_id,
                    "head_conversation_id": d.head_conversation_id,
                    "step": k,
                    "op": s.op,
                    "base_name": s.base.name if s.base else None,
                    "base_arguments": s.base.arguments if s.base else None,
                    "head_name": s.head.name if s.head else None,
                    "head_arguments": s.head.arguments if s.head else None,
                    "similarity": s.similarity,
                }
            )
    schema = {
        "agent": pl.Utf8,
        "auxiliary": pl.Boolean,
        "ordinal": pl.Int64,
        "base_conversation_id": pl.Utf8,
        "head_conversation_id": pl.Utf8,
        "step": pl.Int64,
        "op": pl.Utf8,
        "base_name": pl.Utf8,
        "base_arguments": pl.Utf8,
        "head_name": pl.Utf8,
        "head_arguments": pl.Utf8,
        "similarity": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")
