"""Detect where an agent went round in circles.

Three kinds, each a row in the ``loops`` table (:data:`heron.analyze.schema.LOOPS`):

``repeated_tool_call``
    The model requested the SAME tool with the SAME arguments at least
    ``min_tool_repeats`` times (default 3) in one conversation.  Arguments
    are compared canonically: parsed as JSON and re-serialised with sorted
    keys and no whitespace (raw text, stripped, when not JSON), so key order
    and spacing do not hide a repeat.

``repeated_request``
    The agent sent near-identical requests at least ``min_request_repeats``
    times (default 3) from one process, and each got a successful response.
    Near-identical means equal ``request_fingerprint``: the same API and
    model, and the same normalised message list, where each message is its
    role, its text with runs of whitespace collapsed, and its tool calls and
    results as name + arguments / content WITHOUT tool-call ids (ids are
    minted fresh each time) -- while sampling parameters, ``stream``,
    metadata and user fields are ignored.  Failed attempts are not counted
    here: they are retries, reported as ``retry_storm``.

``retry_storm``
    At least ``min_retries`` (default 3) calls from one process to the same
    endpoint (host + path without query) that failed with 429 or a 5xx
    status, or with an in-stream overload/rate-limit error, each within
    ``retry_window_s`` seconds (default 60) of the previous failure.

Examples
--------
>>> import polars as pl
>>> from heron.analyze.schema import frame
>>> t = frame("tools", [{"name": "ls", "arguments": a, "call_id": i, "pid": 1, "conversation_id": 0}
...                     for i, a in enumerate(['{"p": "."}', '{"p":"."}', '{ "p" : "." }'])])
>>> detect_loops(frame("calls", []), t).select("kind", "signature", "count", "call_ids")
shape: (1, 4)
┌────────────────────┬───────────────┬───────┬───────────┐
│ kind               ┆ signature     ┆ count ┆ call_ids  │
│ ---                ┆ ---           ┆ ---   ┆ ---       │
│ str                ┆ str           ┆ i64   ┆ list[i64] │
╞════════════════════╪═══════════════╪═══════╪═══════════╡
│ repeated_tool_call ┆ ls({"p":"."}) ┆ 3     ┆ [0, 1, 2] │
└────────────────────┴───────────────┴───────┴───────────┘
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

import polars as pl

from heron.analyze.schema import frame

#: Defaults, documented above.
MIN_TOOL_REPEATS = 3
MIN_REQUEST_REPEATS = 3
MIN_RETRIES = 3
RETRY_WINDOW_S = 60.0

_RETRY_ERRORS = ("overloaded", "rate_limit", "rate limit", "resource_exhausted", "unavailable")


def canonical_arguments(arguments: str | None) -> str:
    """Arguments text in canonical form (sorted keys, no spaces).

    Examples
    --------
    >>> canonical_arguments('{"b": 1, "a": [1, 2]}')
    '{"a":[1,2],"b":1}'
    >>> canonical_arguments("not json ")
    'not json'
    """
    if arguments is None:
        return ""
    try:
        return json.dumps(
            json.loads(arguments), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
    except (ValueError, TypeError):
        return arguments.strip()


def detect_loops(
    calls: pl.DataFrame,
    tools: pl.DataFrame,
    *,
    min_tool_repeats: int = MIN_TOOL_REPEATS,
    min_request_repeats: int = MIN_REQUEST_REPEATS,
    min_retries: int = MIN_RETRIES,
    retry_window_s: float = RETRY_WINDOW_S,
) -> pl.DataFrame:
    """The ``loops`` table for one capture's ``calls`` and ``tools`` tables.

    Parameters
    ----------
    calls, tools
        Tables built to :data:`~heron.analyze.schema.CALLS` and
        :data:`~heron.analyze.schema.TOOLS`.  Calls that are another view
        of a call (``duplicate_of`` set: a gateway's server side or upstream
        request, see :mod:`heron.analyze.duplicates`) are left out, so a
        call seen three times repeats nothing; a gateway's own upstream
        retries stay visible in ``calls``.
    min_tool_repeats
        Same tool + same canonical arguments in one conversation at least
        this many times is a ``repeated_tool_call``.
    min_request_repeats
        This many successful calls with one ``request_fingerprint`` in one
        process is a ``repeated_request``.
    min_retries, retry_window_s
        This many 429/5xx failures to one endpoint, each within
        ``retry_window_s`` of the previous, is a ``retry_storm``.

    Examples
    --------
    >>> from heron.analyze.schema import frame
    >>> detect_loops(frame("calls", []), frame("tools", [])).height
    0
    """
    if "duplicate_of" in calls.columns:
        calls = calls.filter(pl.col("duplicate_of").is_null())
    found: list[dict[str, Any]] = []
    found += _tool_loops(tools, min_tool_repeats)
    found += _request_loops(calls, min_request_repeats)
    found += _retry_storms(calls, min_retries, retry_window_s)
    found.sort(key=lambda r: (r["first_at"] is None, r["first_at"] or datetime.min, r["kind"]))
    for i, r in enumerate(found):
        r["loop_id"] = i
    return frame("loops", found)


def _span(ats: list[Any]) -> tuple[Any, Any]:
    known = [a for a in ats if a is not None]
    return (min(known), max(known)) if known else (None, None)


def _same(values: list[Any]) -> Any:
    return values[0] if values and all(v == values[0] for v in values) else None


def _tool_loops(tools: pl.DataFrame, n: int) -> list[dict[str, Any]]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in tools.select(
        "pid", "conversation_id", "name", "arguments", "call_id", "requested_at"
    ).iter_rows(named=True):
        groups[
            (r["pid"], r["conversation_id"], r["name"], canonical_arguments(r["arguments"]))
        ].append(r)
    out = []
    for (pid, conv, name, args), rows in groups.items():
        if len(rows) < n:
            continue
        first, last = _span([r["requested_at"] for r in rows])
        sig_args = args if len(args) <= 200 else args[:197] + "..."
        out.append(
            {
                "pid": pid,
                "conversation_id": conv,
                "kind": "repeated_tool_call",
                "signature": f"{name}({sig_args})",
                "count": len(rows),
                "first_at": first,
                "last_at": last,
                "call_ids": [r["call_id"] for r in rows],
            }
        )
    return out


def _failed_retryable(status: int | None, error: str | None) -> bool:
    if status is not None and (status == 429 or status >= 500):
        return True
    if error and (status is None or status < 400):
        low = error.lower()
        return any(k in low for k in _RETRY_ERRORS)
    return False


def _request_loops(calls: pl.DataFrame, n: int) -> list[dict[str, Any]]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    cols = (
        "call_id",
        "pid",
        "conversation_id",
        "model",
        "api",
        "status",
        "error",
        "started_at",
        "request_fingerprint",
    )
    # Only rows of a (pid, fingerprint) seen at least n times can make a
    # loop: Polars narrows the table to those (usually none) first, so a
    # capture's calls are not turned into Python dicts one by one.
    eligible = (
        pl.col("request_fingerprint").is_not_null()
        & (pl.col("api") == "embeddings").fill_null(False).not_()
        & pl.col("error").is_null()
        & (pl.col("status").is_null() | (pl.col("status") < 400)).fill_null(False)
    )
    candidates = (
        calls.select(*cols)
        .filter(eligible)
        .filter(pl.len().over("pid", "request_fingerprint") >= n)
    )
    for r in candidates.iter_rows(named=True):
        if r["request_fingerprint"] is None or r["api"] == "embeddings":
            continue
        if r["error"] is not None or (r["status"] is not None and r["status"] >= 400):
            continue
        groups[(r["pid"], r["request_fingerprint"])].append(r)
    out = []
    for (pid, fp), rows in groups.items():
        if len(rows) < n:
            continue
        first, last = _span([r["started_at"] for r in rows])
        out.append(
            {
                "pid": pid,
                "conversation_id": _same([r["conversation_id"] for r in rows]),
                "kind": "repeated_request",
                "signature": f"{rows[0]['api']} {rows[0]['model']} request {fp[:12]}",
                "count": len(rows),
                "first_at": first,
                "last_at": last,
                "call_ids": [r["call_id"] for r in rows],
            }
        )
    return out


def _retry_storms(calls: pl.DataFrame, n: int, window_s: float) -> list[dict[str, Any]]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    cols = ("call_id", "pid", "conversation_id", "host", "path", "status", "error", "started_at")
    # A superset of the failures, narrowed by Polars (after the sort, as before)
    maybe = (
        pl.col("status").is_not_null() & ((pl.col("status") == 429) | (pl.col("status") >= 500))
    ) | pl.col("error").is_not_null()
    rows_in_order = calls.select(*cols).sort("started_at", nulls_last=True).filter(maybe)
    for r in rows_in_order.iter_rows(named=True):
        if _failed_retryable(r["status"], r["error"]):
            endpoint = f"{r['host'] or ''}{(r['path'] or '').split('?', 1)[0]}"
            groups[(r["pid"], endpoint)].append(r)
    out = []
    for (pid, endpoint), rows in groups.items():
        run: list[dict[str, Any]] = []
        for r in rows:
            if run and not _within(run[-1]["started_at"], r["started_at"], window_s):
                out += _storm(pid, endpoint, run, n)
                run = []
            run.append(r)
        out += _storm(pid, endpoint, run, n)
    return out


def _within(a: Any, b: Any, window_s: float) -> bool:
    if a is None or b is None:
        return True
    return bool((b - a).total_seconds() <= window_s)


def _storm(pid: Any, endpoint: str, run: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    if len(run) < n:
        return []
    statuses = sorted(
        {str(r["status"]) if r["status"] is not None else "stream-error" for r in run}
    )
    first, last = _span([r["started_at"] for r in run])
    return [
        {
            "pid": pid,
            "conversation_id": _same([r["conversation_id"] for r in run]),
            "kind": "retry_storm",
            "signature": f"{'/'.join(statuses)} @ {endpoint}",
            "count": len(run),
            "first_at": first,
            "last_at": last,
            "call_ids": [r["call_id"] for r in run],
        }
    ]
