"""The column schemas of every public Heron table, declared once.

Each table is a tuple of :class:`Column` (name, Polars dtype, one-line doc).
Tables are built to exactly these schemas (:func:`frame` enforces it), tests
compare against them, and the docs are generated from them
(:func:`describe`).  Add a column here first; never build a public table
any other way.

Times: ``*_at`` columns are UTC datetimes (nanoseconds), converted from the
capture's kernel monotonic clock with its ``CLOCK_SYNC`` records (realtime =
monotonic + offset of the nearest sync sample).  ``*_ms`` columns are
float milliseconds.  A null means "not known from the wire" (for token
counts: the provider reported none); Heron never invents a value.

Examples
--------
>>> [c.name for c in CALLS][:4]
['call_id', 'conversation_id', 'capture', 'pid']
>>> schema("loops")["count"]
Int64
>>> frame("loops", []).shape
(0, 9)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

UTC = pl.Datetime("ns", "UTC")
_S = pl.String
_I = pl.Int64
_F = pl.Float64
_B = pl.Boolean
_HEADERS = pl.List(pl.Struct({"name": pl.String, "value": pl.String}))


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a public table.

    Examples
    --------
    >>> CALLS[0]
    Column(name='call_id', dtype=Int64, doc='call number in this capture, 0-based, ordered by request start')
    """

    name: str
    dtype: Any  # a polars DataType (class or instance)
    doc: str


def _c(name: str, dtype: Any, doc: str) -> Column:
    return Column(name, dtype, doc)


CALLS: tuple[Column, ...] = (
    _c("call_id", _I, "call number in this capture, 0-based, ordered by request start"),
    _c(
        "conversation_id",
        _I,
        "call_id of the first call of this call's conversation (null: not chat)",
    ),
    _c("capture", _S, "file name of the capture this row came from"),
    _c("pid", _I, "process that made the call"),
    _c("process", _S, "process comm (kernel short name)"),
    _c("exe", _S, "path of the process executable"),
    _c("agent", _S, "stable readable agent identity (script, module, exe, or client header)"),
    _c(
        "auxiliary",
        _B,
        "recognised side call (title generation, topic check, ...), not a main turn",
    ),
    _c("host", _S, ":authority / Host header, else the connection's SNI or peer address"),
    _c("path", _S, "request path including query"),
    _c(
        "provider",
        _S,
        "API family recognised from path and body: openai, anthropic, gemini, ollama",
    ),
    _c(
        "api",
        _S,
        "chat.completions, responses, completions, messages, generateContent, ollama.chat, ollama.generate, embeddings",
    ),
    _c("model", _S, "model as reported by the response, else as requested"),
    _c("streamed", _B, "response was streamed (SSE or NDJSON)"),
    _c("status", _I, "HTTP status (null: no response seen)"),
    _c("error", _S, "HTTP or in-stream error: type and message (null: success)"),
    _c("started_at", UTC, "first request byte"),
    _c("ended_at", UTC, "last response byte"),
    _c("duration_ms", _F, "ended_at - started_at"),
    _c("ttfb_ms", _F, "first response byte - started_at"),
    _c(
        "ttft_ms",
        _F,
        "first content or tool-call delta - started_at (streams only; null otherwise)",
    ),
    _c(
        "input_tokens",
        _I,
        "prompt tokens reported by the provider (including cached ones where the provider counts them so)",
    ),
    _c("output_tokens", _I, "completion tokens reported by the provider"),
    _c("cache_read_tokens", _I, "prompt tokens served from the provider's cache"),
    _c("cache_write_tokens", _I, "prompt tokens written to the provider's cache"),
    _c("reasoning_tokens", _I, "reasoning/thinking tokens reported by the provider"),
    _c(
        "finish_reason",
        _S,
        "stop reason as the provider names it (stop, tool_calls, end_turn, ...)",
    ),
    _c("n_messages", _I, "messages (or contents / input items) in the request"),
    _c("n_tools_offered", _I, "tool definitions offered in the request"),
    _c("n_tool_calls", _I, "tool calls the model requested in the response"),
    _c("request_bytes", _I, "request body size on the wire"),
    _c("response_bytes", _I, "response body size on the wire"),
    _c("partial", _B, "request or response incomplete, gapped, truncated or unparsable"),
    _c("parse_error", _S, "what could not be parsed, if anything"),
    _c("exchange_id", _I, "row in the exchanges table"),
    _c("conn", _I, "connection id"),
    _c("http_version", _S, "1.0, 1.1 or 2"),
    _c("user_agent", _S, "User-Agent request header"),
    _c(
        "request_fingerprint",
        _S,
        "hash of api, model and normalised messages without ids (see loops)",
    ),
    _c(
        "duplicate_of",
        _I,
        "the call this row is another view of (a gateway's server side or upstream request);"
        " null for an agent's own call (see heron.analyze.duplicates)",
    ),
    _c("duplicate_kind", _S, "server_side or upstream (null when duplicate_of is)"),
)

TOOLS: tuple[Column, ...] = (
    _c(
        "tool_call_id",
        _S,
        "the provider's tool call id (Gemini has none: synthesised call_id:index)",
    ),
    _c("name", _S, "tool name"),
    _c("arguments", _S, "arguments as JSON text, as the model produced them"),
    _c("call_id", _I, "the call whose response requested the tool"),
    _c(
        "requested_at",
        UTC,
        "arrival of the stream event completing this tool call (non-streamed: response end)",
    ),
    _c(
        "result_call_id",
        _I,
        "the later call whose request carried the result back (null: none seen)",
    ),
    _c("result", _S, "result text, capped (see result_truncated)"),
    _c("result_truncated", _B, "result text was cut at the cap"),
    _c("result_at", UTC, "start of the request that carried the result"),
    _c("is_error", _B, "the result was flagged as an error (null: the API has no flag)"),
    _c("latency_ms", _F, "result_at - requested_at: time the agent spent on the tool"),
    _c("pid", _I, "process"),
    _c("conversation_id", _I, "conversation of the requesting call"),
    _c("capture", _S, "file name of the capture"),
)

LOOPS: tuple[Column, ...] = (
    _c("loop_id", _I, "loop number in this capture, ordered by first_at"),
    _c("pid", _I, "process"),
    _c("conversation_id", _I, "conversation (null for loops spanning conversations)"),
    _c("kind", _S, "repeated_tool_call, repeated_request or retry_storm"),
    _c("signature", _S, "what repeats: tool(args), model + request hash, or status @ endpoint"),
    _c("count", _I, "number of repetitions"),
    _c("first_at", UTC, "first occurrence"),
    _c("last_at", UTC, "last occurrence"),
    _c("call_ids", pl.List(pl.Int64), "calls involved, in order"),
)

PROCESSES: tuple[Column, ...] = (
    _c("pid", _I, "process id"),
    _c("ppid", _I, "parent process id"),
    _c("comm", _S, "kernel comm"),
    _c("exe", _S, "executable path"),
    _c("cmdline", pl.List(pl.String), "argv"),
    _c("cwd", _S, "working directory"),
    _c("uid", _I, "real uid"),
    _c("agent", _S, "agent identity (as in calls.agent)"),
    _c("started_at", UTC, "process start (or first sighting)"),
    _c("exited_at", UTC, "process exit, if seen"),
    _c("exit_code", _I, "exit status, if seen"),
    _c("n_connections", _I, "connections captured"),
    _c("n_calls", _I, "LLM calls made"),
    _c("source", _S, "how the process was learned: scan, exec, fork"),
)

CONNECTIONS: tuple[Column, ...] = (
    _c("conn", _I, "connection id"),
    _c("pid", _I, "owning process"),
    _c("role", _S, "client (the process connected) or server (it accepted)"),
    _c("transport", _S, "tls or tcp"),
    _c("lib", _S, "library hooked: openssl, syscall, ..."),
    _c("sni", _S, "TLS server name"),
    _c("remote_addr", _S, "peer address"),
    _c("remote_port", _I, "peer port"),
    _c("local_addr", _S, "local address"),
    _c("local_port", _I, "local port"),
    _c("opened_at", UTC, "open (or first data)"),
    _c("closed_at", UTC, "close, if seen"),
    _c("close_reason", _S, "close, ssl_free, exit, capture-end"),
    _c("bytes_out", _I, "bytes written by the process (stream length)"),
    _c("bytes_in", _I, "bytes read by the process (stream length)"),
    _c("http_version", _S, "HTTP version of its exchanges"),
    _c("n_exchanges", _I, "HTTP exchanges"),
    _c("n_calls", _I, "LLM calls"),
)

EXCHANGES: tuple[Column, ...] = (
    _c("exchange_id", _I, "exchange number, in reassembly order"),
    _c("conn", _I, "connection id"),
    _c("stream_id", _I, "HTTP/2 stream id (null for HTTP/1.x)"),
    _c("pid", _I, "process"),
    _c("http_version", _S, "1.0, 1.1 or 2"),
    _c("method", _S, "request method"),
    _c("scheme", _S, "scheme (HTTP/2 :scheme)"),
    _c("authority", _S, ":authority or Host"),
    _c("path", _S, "request path"),
    _c("status", _I, "response status"),
    _c("request_headers", _HEADERS, "request headers in order (redacted values as captured)"),
    _c("response_headers", _HEADERS, "response headers in order"),
    _c("request_body", pl.Binary, "decoded request body, capped (see body_cap)"),
    _c("response_body", pl.Binary, "decoded response body, capped (see body_cap)"),
    _c("request_body_capped", _B, "request_body shorter than the decoded body"),
    _c("response_body_capped", _B, "response_body shorter than the decoded body"),
    _c("request_body_size", _I, "request body bytes on the wire"),
    _c("response_body_size", _I, "response body bytes on the wire"),
    _c("request_start_at", UTC, "first request byte"),
    _c("request_end_at", UTC, "last request byte"),
    _c("response_start_at", UTC, "first response byte"),
    _c("response_end_at", UTC, "last response byte"),
    _c("partial", _B, "request or response incomplete"),
    _c("gap", _B, "bytes missing inside the exchange"),
    _c("truncated", _B, "body cut by the capture's body cap"),
    _c("redacted", _B, "a header value was redacted at capture"),
    _c("mid_stream", _B, "connection joined mid-way"),
    _c("parse_error", _S, "what failed to parse, where"),
    _c("call_id", _I, "the LLM call this exchange is (null: not an LLM call)"),
)

EVENTS: tuple[Column, ...] = (
    _c("seq", _I, "record sequence number in the file"),
    _c("at", UTC, "time of the record"),
    _c("kind", _S, "record kind (CAPTURE_START, PROCESS, EXEC, EXIT, CONN_OPEN, STATS, ...)"),
    _c("pid", _I, "process, when the record has one"),
    _c("conn", _I, "connection, when the record has one"),
    _c("summary", _S, "one readable line"),
    _c("fields", _S, "the record's fields as JSON text (bytes as lengths)"),
)

TABLES: dict[str, tuple[Column, ...]] = {
    "calls": CALLS,
    "tools": TOOLS,
    "loops": LOOPS,
    "processes": PROCESSES,
    "connections": CONNECTIONS,
    "exchanges": EXCHANGES,
    "events": EVENTS,
}


def schema(table: str) -> pl.Schema:
    """Return the Polars schema of public table ``table``.

    Examples
    --------
    >>> schema("tools")["latency_ms"]
    Float64
    """
    try:
        cols = TABLES[table]
    except KeyError:
        from heron.errors import HeronError

        raise HeronError(f"unknown table {table!r}: expected one of {', '.join(TABLES)}") from None
    return pl.Schema({c.name: c.dtype for c in cols})


def frame(table: str, rows: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """Build table ``table`` from row dicts, to exactly its declared schema.

    Missing keys become nulls; extra keys are an error (a bug, not data).

    Examples
    --------
    >>> frame("loops", [{"loop_id": 0, "kind": "retry_storm", "count": 3}]).select("kind", "count")
    shape: (1, 2)
    ┌─────────────┬───────┐
    │ kind        ┆ count │
    │ ---         ┆ ---   │
    │ str         ┆ i64   │
    ╞═════════════╪═══════╡
    │ retry_storm ┆ 3     │
    └─────────────┴───────┘
    """
    sch = schema(table)
    rows = rows if isinstance(rows, list) else list(rows)
    extra = set().union(*rows) - set(sch.names())
    if extra:
        raise KeyError(f"table {table}: unknown columns {sorted(extra)}")
    if not rows:
        return pl.DataFrame(schema=sch)
    # column by column, like frame_columns: a value its column cannot hold
    # (an integer past 64 bits from a hostile file, say) becomes null
    return frame_columns(table, {name: [r.get(name) for r in rows] for name in sch.names()})


def frame_columns(table: str, columns: Mapping[str, pl.Series | Sequence[Any]]) -> pl.DataFrame:
    """Build table ``table`` from columns (equal-length sequences), like :func:`frame`.

    Missing columns become nulls; extra columns are an error (a bug, not data).
    A column given as a Series must already have its declared type.

    Examples
    --------
    >>> frame_columns("loops", {"kind": ["retry_storm"], "count": [3]}).equals(
    ...     frame("loops", [{"kind": "retry_storm", "count": 3}]))
    True
    """
    sch = schema(table)
    extra = set(columns) - set(sch.names())
    if extra:
        raise KeyError(f"table {table}: unknown columns {sorted(extra)}")
    n = len(next(iter(columns.values()))) if columns else 0
    return pl.DataFrame(
        [
            _series(name, columns[name] if name in columns else [None] * n, dtype)
            for name, dtype in sch.items()
        ]
    )


def _series(name: str, values: pl.Series | Sequence[Any], dtype: Any) -> pl.Series:
    if isinstance(values, pl.Series):
        if values.dtype != dtype:
            raise TypeError(f"column {name}: expected {dtype}, got {values.dtype}")
        return values
    return pl.Series(name, values, dtype, strict=False)


def describe(table: str) -> str:
    """A Markdown table documenting ``table``'s columns (for the docs).

    Examples
    --------
    >>> describe("loops").splitlines()[2]
    '| `loop_id` | Int64 | loop number in this capture, ordered by first_at |'
    """
    lines = ["| column | type | meaning |", "|---|---|---|"]
    lines += [f"| `{c.name}` | {c.dtype} | {c.doc} |" for c in TABLES[table]]
    return "\n".join(lines)
