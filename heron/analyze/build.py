"""One streaming pass from records to every public table.

Theory of operation
-------------------
A capture is read ONCE per build.  Records stream from the reader through
:meth:`Analysis.observe` (processes, connections, clock samples, stats,
events: all small) and on into reassembly, which yields
:class:`~heron.analyze.exchange.Exchange` objects.  Each exchange is handed to
:meth:`Analysis.add_exchange`: a provider parser turns it into a
:class:`~heron.analyze.providers.base.ParsedCall`, from which only ROW DATA
is kept -- token counts, times, the tool calls requested, the NEW tool
results (capped text), a fingerprint and the call's conversation.  Bodies
are dropped as soon as the exchange is parsed, so memory grows with the
number of calls, not with the bytes captured.

An agent re-sends its whole history on every turn; parsing and hashing it
again each time would make a pass quadratic in a conversation's length.
The parsers therefore reuse, per process, what the previous request already
had (:mod:`heron.analyze.providers.history`; chained message digests are
extended, not recomputed), and conversations are assigned as calls
complete -- a call's parent has always completed before the call was sent
(:mod:`heron.analyze.conversations`, which orders by request start).

Reassembly may finish exchanges out of start order (a long stream
completes after a short call started later), so call ids and tool pairing,
which need request-start order, are settled in :meth:`Analysis.finish`.
Monotonic times are converted to UTC there too, once every ``CLOCK_SYNC``
sample has been seen.

The exchanges table is the one place bodies are kept, capped at
``body_cap`` bytes each (64 KiB by default); it is built by its own pass
(``keep_bodies=True``) only when asked for.

Examples
--------
>>> from heron.analyze.exchange import Exchange
>>> a = Analysis("demo.heron")
>>> a.observe({"k": 11, "s": 0, "t": 0, "realtime_ns": 1_700_000_000_000_000_000})
>>> a.observe({"k": 3, "s": 1, "t": 0, "pid": 7, "exe": "/usr/bin/python3",
...            "cmdline": ["python3", "agent.py"], "comm": "python3"})
>>> a.add_exchange(Exchange(0, 1, 7, "1.1", method="POST", path="/v1/chat/completions",
...     status=200, request_start_ns=1_000_000, response_end_ns=5_000_000,
...     request_body=b'{"model":"m","messages":[{"role":"user","content":"hi"}]}',
...     response_body=b'{"choices":[{"message":{"content":"yo"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}'))
>>> t = a.finish()
>>> t.calls.select("call_id", "agent", "model", "input_tokens", "duration_ms").row(0)
(0, 'agent.py', 'm', 3, 4.0)
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import polars as pl

from heron.analyze.agents import _aux_text, header_facts, process_agent
from heron.analyze.clock import Clock
from heron.analyze.conversations import ConversationIndex
from heron.analyze.duplicates import CallView, ConnView, find_duplicates
from heron.analyze.exchange import Exchange
from heron.analyze.loops import detect_loops
from heron.analyze.providers import ParsedCall, parse_exchange
from heron.analyze.providers.base import history_chains
from heron.analyze.providers.history import RequestHistory
from heron.analyze.schema import frame, frame_columns, schema
from heron.analyze.tools import RESULT_CAP, ToolPairer
from heron.format.records import RecordKind, typed_fields

#: Bytes of each body kept in the exchanges table.
BODY_CAP = 64 * 1024
_EXCHANGE_TIMES = ("request_start_at", "request_end_at", "response_start_at", "response_end_at")
_HEAD_ROLES = ("system", "developer", "user")
_DATA = int(RecordKind.DATA)


class Tables:
    """Every public table of one capture, plus what was learned about it.

    ``exchanges`` and ``events`` (one row per exchange / non-data record) are
    turned into frames only when first read: ``heron calls`` never pays for
    them.

    Examples
    --------
    >>> t = Analysis("empty.heron").finish()
    >>> t.calls.height, t.exchanges.height, t.info["calls"]
    (0, 0, 0)
    """

    def __init__(
        self,
        calls: pl.DataFrame,
        tools: pl.DataFrame,
        loops: pl.DataFrame,
        processes: pl.DataFrame,
        connections: pl.DataFrame,
        exchanges: Callable[[], pl.DataFrame],
        events: Callable[[], pl.DataFrame],
        info: dict[str, Any],
        warnings: list[str],
    ) -> None:
        self.calls, self.tools, self.loops = calls, tools, loops
        self.processes, self.connections = processes, connections
        self.info, self.warnings = info, warnings
        self._lazy: dict[str, Callable[[], pl.DataFrame]] = {
            "exchanges": exchanges,
            "events": events,
        }
        self._built: dict[str, pl.DataFrame] = {}

    def _get(self, name: str) -> pl.DataFrame:
        if name not in self._built:
            self._built[name] = self._lazy.pop(name)()
        return self._built[name]

    @property
    def exchanges(self) -> pl.DataFrame:
        """One row per HTTP exchange (built on first access).

        Examples
        --------
        >>> Analysis("x").finish().exchanges.columns[:3]
        ['exchange_id', 'conn', 'stream_id']
        """
        return self._get("exchanges")

    @property
    def events(self) -> pl.DataFrame:
        """One row per non-data record (built on first access).

        Examples
        --------
        >>> a = Analysis("x"); a.observe({"k": 11, "s": 0, "t": 5, "realtime_ns": 10})
        >>> a.finish().events.select("seq", "kind", "summary").rows()
        [(0, 'CLOCK_SYNC', 'clock sample')]
        """
        return self._get("events")


# One stored call: the calls-table values known when the exchange is parsed
# (``_CALL_COLUMNS``, in that order; ``started_at``/``ended_at`` still in
# monotonic ns), then what ``finish`` needs to settle ids and tool rows.  A
# tuple per call, not a dict: a capture's calls are most of what a pass keeps.
_CALL_COLUMNS = (
    "pid",
    "host",
    "path",
    "provider",
    "api",
    "model",
    "streamed",
    "status",
    "error",
    "started_at",
    "ended_at",
    "duration_ms",
    "ttfb_ms",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "finish_reason",
    "n_messages",
    "n_tools_offered",
    "n_tool_calls",
    "request_bytes",
    "response_bytes",
    "partial",
    "parse_error",
    "exchange_id",
    "conn",
    "http_version",
    "user_agent",
    "request_fingerprint",
    "auxiliary",
)
_C_PID, _C_START, _C_END, _C_PARSE_ERROR, _C_XID, _C_FINGERPRINT = (
    _CALL_COLUMNS.index(c)
    for c in (
        "pid",
        "started_at",
        "ended_at",
        "parse_error",
        "exchange_id",
        "request_fingerprint",  # kept as the 16-byte digest
    )
)
# then: conversation (arrival index of its first call; chat only), tool
# requests and new tool results (None when there are none), header agent,
# chat, and the model-free history digest (duplicates: see heron.analyze.duplicates)
_COL_CONN = _CALL_COLUMNS.index("conn")
_COL_REQUEST_BYTES = _CALL_COLUMNS.index("request_bytes")
_C_GROUP = len(_CALL_COLUMNS)
_C_REQUESTS, _C_RESULTS, _C_AGENT, _C_CHAT, _C_DIGEST = range(_C_GROUP + 1, _C_GROUP + 6)

# One stored exchange: the exchanges-table values (``_EXCHANGE_COLUMNS``)
# but headers and bodies, which only a ``keep_bodies`` pass keeps (apart).
_EXCHANGE_COLUMNS = (
    "exchange_id",
    "conn",
    "stream_id",
    "pid",
    "http_version",
    "method",
    "scheme",
    "authority",
    "path",
    "status",
    "request_body_size",
    "response_body_size",
    "request_start_at",
    "request_end_at",
    "response_start_at",
    "response_end_at",
    "partial",
    "gap",
    "truncated",
    "redacted",
    "mid_stream",
    "parse_error",
)
_X_ID, _X_CONN, _X_PARTIAL, _X_GAP, _X_MID = (
    _EXCHANGE_COLUMNS.index(c) for c in ("exchange_id", "conn", "partial", "gap", "mid_stream")
)
_BODY_COLUMNS = (
    "request_headers",
    "response_headers",
    "request_body",
    "response_body",
    "request_body_capped",
    "response_body_capped",
)


@dataclass(slots=True)
class _Proc:
    pid: int
    ppid: int | None = None
    comm: str | None = None
    exe: str | None = None
    cmdline: list[str] | None = None
    cwd: str | None = None
    uid: int | None = None
    start_ns: int | None = None
    exit_ns: int | None = None
    exit_code: int | None = None
    source: str | None = None
    n_connections: int = 0


@dataclass(slots=True)
class _Conn:
    conn: int
    pid: int | None
    fields: dict[str, Any] = field(default_factory=dict)
    opened_ns: int | None = None
    closed_ns: int | None = None
    close_reason: str | None = None
    bytes_out: int = 0
    bytes_in: int = 0
    http_version: str | None = None
    n_exchanges: int = 0
    n_calls: int = 0


def fingerprint(call: ParsedCall) -> str | None:
    """Near-identical-request fingerprint (see :mod:`heron.analyze.loops`).

    The api, the model and the loose history chain (message roles, text with
    whitespace collapsed, tool names + arguments / results, no ids) of
    :func:`~heron.analyze.providers.base.history_chains`.

    Examples
    --------
    >>> from heron.analyze.providers.base import Message
    >>> a = ParsedCall("openai", "chat.completions", model="m", messages=[Message("user", "hi  there")])
    >>> b = ParsedCall("openai", "chat.completions", model="m", messages=[Message("user", "hi there ")])
    >>> fingerprint(a) == fingerprint(b)
    True
    """
    if not call.messages:
        return None
    return _fingerprint(call, history_chains(call.messages)[1])


def _fingerprint(call: ParsedCall, loose: bytes) -> str:
    h = hashlib.blake2b(f"{call.api}\x1e{call.model}\x1e".encode(), digest_size=16)
    h.update(loose)
    return h.hexdigest()


def _endpoint(addr: Any, port: Any) -> tuple[str | None, int | None]:
    """(addr, port) of a CONN_OPEN's fields; a missing or mistyped part is None."""
    return (
        addr if isinstance(addr, str) else None,
        port if isinstance(port, int) and not isinstance(port, bool) else None,
    )


# (api, model) -> the fingerprint hash fed with its prefix, to copy per call
_FP_BASES: dict[tuple[str, str | None], Any] = {}


def _fingerprint_digest(api: str, model: str | None, loose: bytes) -> bytes:
    """:func:`_fingerprint` as 16 raw bytes (``.hex()`` is the column value)."""
    base = _FP_BASES.get((api, model))
    if base is None:
        if len(_FP_BASES) >= 1024:
            _FP_BASES.clear()
        base = _FP_BASES[(api, model)] = hashlib.blake2b(
            f"{api}\x1e{model}\x1e".encode(), digest_size=16
        )
    h = base.copy()
    h.update(loose)
    return h.digest()


class Analysis:
    """Accumulates one capture's tables from records and exchanges.

    Parameters
    ----------
    capture
        Value of every row's ``capture`` column (the file name).
    keep_bodies
        Keep exchange headers and bodies (capped at ``body_cap``) for the
        exchanges table; without it, that table has the other columns only
        (:attr:`heron.analyze.capture.Capture.exchanges` makes its own pass).

    Examples
    --------
    >>> from heron.format import Reader
    >>> from heron.analyze.reassembly import iter_exchanges
    >>> a = Analysis("demo.heron")
    >>> for ex in iter_exchanges(a.tap(Reader("tests/fixtures/demo.heron"))):
    ...     a.add_exchange(ex)
    >>> a.finish().calls["model"].to_list()[:2]
    ['claude-haiku-4-5', 'gpt-4o-mini']
    """

    def __init__(
        self,
        capture: str,
        *,
        keep_bodies: bool = False,
        body_cap: int = BODY_CAP,
        result_cap: int = RESULT_CAP,
    ) -> None:
        self.capture = capture
        self.keep_bodies = keep_bodies
        self.body_cap = body_cap
        self.result_cap = result_cap
        self.clock = Clock()
        self.history = RequestHistory()  # parse only what each request adds
        self.convs = ConversationIndex()
        self._n_chat = 0
        self.procs: dict[int, _Proc] = {}
        self.conns: dict[int, _Conn] = {}
        self._calls: list[tuple[Any, ...]] = []  # see _CALL_COLUMNS
        self._exchanges: list[tuple[Any, ...]] = []  # see _EXCHANGE_COLUMNS
        self._bodies: list[tuple[Any, ...]] = []  # see _BODY_COLUMNS (keep_bodies only)
        self._strings: dict[str, str] = {}  # one copy of each repeated value
        self.event_rows: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self.info: dict[str, Any] = {"capture": capture}
        self.lost: dict[str, int] = {}
        self.n_records = 0
        self.n_data = 0
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self._handlers: dict[int, Callable[[dict[str, Any], Any], str]] = {
            RecordKind.CAPTURE_START: self._capture_start,
            RecordKind.CAPTURE_STOP: self._capture_stop,
            RecordKind.CLOCK_SYNC: self._clock_sync,
            RecordKind.PROCESS: self._process,
            RecordKind.FORK: self._fork,
            RecordKind.EXEC: self._exec,
            RecordKind.EXIT: self._exit,
            RecordKind.CONN_OPEN: self._conn_open,
            RecordKind.CONN_CLOSE: self._conn_close,
            RecordKind.STATS: self._stats,
            RecordKind.ANNOTATION: self._annotation,
        }

    # -- records ---------------------------------------------------------

    def tap(self, records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Observe each record on its way to reassembly.

        Examples
        --------
        >>> a = Analysis("x")
        >>> [r["s"] for r in a.tap([{"k": 11, "s": 0, "t": 1, "realtime_ns": 2}])], a.n_records
        ([0], 1)
        """
        observe, data = self.observe, self._data
        for rec in records:
            if rec.get("k") == _DATA:  # observe(rec), inline for the commonest kind
                self.n_records += 1
                t = rec.get("t")
                if isinstance(t, int):
                    if self.first_ns is None or t < self.first_ns:
                        self.first_ns = t
                    if self.last_ns is None or t > self.last_ns:
                        self.last_ns = t
                self.n_data += 1
                data(rec)
            else:
                observe(rec)
            yield rec

    def observe(self, rec: dict[str, Any]) -> None:
        """Take what the tables need from one record.

        Examples
        --------
        >>> a = Analysis("x")
        >>> a.observe({"k": 3, "s": 0, "t": 0, "pid": 9, "comm": "node", "exe": "/usr/bin/node",
        ...            "cmdline": ["node", "app/cli.js"]})
        >>> a.procs[9].comm, a.event_rows[0]["summary"]
        ('node', 'process 9 node node app/cli.js')
        """
        self.n_records += 1
        k = rec.get("k")
        t = rec.get("t")
        if isinstance(t, int):
            if self.first_ns is None or t < self.first_ns:
                self.first_ns = t
            if self.last_ns is None or t > self.last_ns:
                self.last_ns = t
        if k == _DATA:
            self.n_data += 1
            self._data(rec)
            return
        try:
            kind = RecordKind(k).name if isinstance(k, int) else f"UNKNOWN_{k}"
        except ValueError:
            kind = f"UNKNOWN_{k}"
        raw = rec
        rec = typed_fields(rec)
        t = rec.get("t")
        pid = rec.get("pid") if rec.get("pid").__class__ is int else None
        conn = rec.get("conn") if rec.get("conn").__class__ is int else None
        handler = self._handlers.get(k) if isinstance(k, int) else None
        summary = handler(rec, t) if handler is not None else None
        fields = {
            str(key): (f"<{len(v)} bytes>" if isinstance(v, bytes) else v)
            for key, v in raw.items()
            if key not in ("k", "s", "t")
        }
        try:
            shown = json.dumps(fields, default=str, ensure_ascii=False)
        except (TypeError, ValueError):  # keys json cannot take, deep inside
            shown = json.dumps({k: repr(v) for k, v in fields.items()}, ensure_ascii=False)
        self.event_rows.append(
            {
                "seq": rec.get("s"),
                "at": t,
                "kind": kind,
                "pid": pid,
                "conn": conn,
                "summary": summary or kind.lower(),
                "fields": shown,
            }
        )

    def _proc(self, pid: int) -> _Proc:
        p = self.procs.get(pid)
        if p is None:
            p = self.procs[pid] = _Proc(pid)
        return p

    def _capture_start(self, rec: dict[str, Any], t: Any) -> str:
        if isinstance(rec.get("realtime_ns"), int) and isinstance(t, int):
            self.clock.add(t, rec["realtime_ns"])
        for key in ("tool", "version", "target", "target_pid", "options"):
            if key in rec:
                self.info[key] = rec[key]
        return f"capture started by {rec.get('tool')} {rec.get('version')}"

    def _capture_stop(self, rec: dict[str, Any], t: Any) -> str:
        self.info["stop_reason"] = rec.get("reason")
        if rec.get("error"):
            self.warnings.append(f"capture stopped with an error: {rec['error']}")
        return f"capture stopped: {rec.get('reason')}"

    def _clock_sync(self, rec: dict[str, Any], t: Any) -> str:
        if isinstance(rec.get("realtime_ns"), int) and isinstance(t, int):
            self.clock.add(t, rec["realtime_ns"])
        return "clock sample"

    def _process(self, rec: dict[str, Any], t: Any) -> str:
        pid = rec.get("pid")
        if not isinstance(pid, int):
            return "process without pid"
        p = self._proc(pid)
        for key in ("ppid", "comm", "exe", "cwd", "uid", "source"):
            v = rec.get(key)
            if v is not None:
                setattr(p, key, v)
        if isinstance(rec.get("cmdline"), list):
            p.cmdline = [str(a) for a in rec["cmdline"]]
        st = rec.get("start_ns")
        p.start_ns = st if isinstance(st, int) else (p.start_ns if p.start_ns is not None else t)
        return f"process {pid} {p.comm or ''} {' '.join(p.cmdline or [])}".strip()

    def _fork(self, rec: dict[str, Any], t: Any) -> str:
        pid, ppid = rec.get("pid"), rec.get("ppid")
        if not isinstance(pid, int):
            return "fork"
        p = self._proc(pid)
        parent = self.procs.get(ppid) if isinstance(ppid, int) else None
        p.ppid = ppid if isinstance(ppid, int) else p.ppid
        p.comm = rec.get("comm") or p.comm or (parent.comm if parent else None)
        if parent is not None and p.exe is None:
            p.exe, p.cmdline, p.cwd, p.uid = parent.exe, parent.cmdline, parent.cwd, parent.uid
        p.start_ns = p.start_ns if p.start_ns is not None else t
        p.source = p.source or "fork"
        return f"fork {ppid} -> {pid}"

    def _exec(self, rec: dict[str, Any], t: Any) -> str:
        pid = rec.get("pid")
        if not isinstance(pid, int):
            return "exec"
        p = self._proc(pid)
        if rec.get("comm"):
            p.comm = rec["comm"]
        if rec.get("filename"):
            p.exe = rec["filename"]
        if isinstance(rec.get("argv"), list):
            p.cmdline = [str(a) for a in rec["argv"]]
        if isinstance(rec.get("ppid"), int):
            p.ppid = rec["ppid"]
        p.start_ns = p.start_ns if p.start_ns is not None else t
        p.source = p.source or "exec"
        return f"exec {pid} {' '.join(p.cmdline or [p.exe or ''])}"

    def _exit(self, rec: dict[str, Any], t: Any) -> str:
        pid = rec.get("pid")
        if not isinstance(pid, int):
            return "exit"
        p = self._proc(pid)
        self.history.forget(pid)
        p.exit_ns = t if isinstance(t, int) else None
        if isinstance(rec.get("exit_code"), int):
            p.exit_code = rec["exit_code"]
        return f"exit {pid} code={rec.get('exit_code')} signal={rec.get('signal')}"

    def _conn_open(self, rec: dict[str, Any], t: Any) -> str:
        conn = rec.get("conn")
        if not isinstance(conn, int):
            return "conn open"
        pid = rec.get("pid") if isinstance(rec.get("pid"), int) else None
        c = self.conns.get(conn) or _Conn(conn, pid)
        self.conns[conn] = c
        c.fields = {k: v for k, v in rec.items() if k not in ("k", "s", "t")}
        c.opened_ns = t if isinstance(t, int) else c.opened_ns
        if pid is not None:
            self._proc(pid).n_connections += 1
        peer = rec.get("sni") or rec.get("remote_addr")
        return (
            f"conn {conn} open {rec.get('transport')} pid {pid} -> {peer}:{rec.get('remote_port')}"
        )

    def _conn_close(self, rec: dict[str, Any], t: Any) -> str:
        conn = rec.get("conn")
        if isinstance(conn, int):
            c = self.conns.get(conn) or _Conn(conn, rec.get("pid"))
            self.conns[conn] = c
            c.closed_ns = t if isinstance(t, int) else None
            c.close_reason = rec.get("reason")
        return f"conn {conn} close: {rec.get('reason')}"

    def _stats(self, rec: dict[str, Any], t: Any) -> str:
        lost = rec.get("lost")
        if isinstance(lost, dict):
            self.lost = {str(k): int(v) for k, v in lost.items() if isinstance(v, int)}
        return f"stats: lost {sum(self.lost.values())}"

    def _annotation(self, rec: dict[str, Any], t: Any) -> str:
        return str(rec.get("text") or "annotation")

    def _data(self, rec: dict[str, Any]) -> None:
        g = rec.get
        self._data_fields(g("t"), g("conn"), g("pid"), g("dir"), g("offset"), g("len"))

    def _data_fields(self, t: Any, conn: Any, pid: Any, dr: Any, off: Any, ln: Any) -> None:
        if not isinstance(conn, int):
            return
        c = self.conns.get(conn)
        if c is None:
            pid = pid if isinstance(pid, int) else None
            c = self.conns[conn] = _Conn(conn, pid)
            c.opened_ns = t
            if pid is not None:
                self._proc(pid).n_connections += 1
        if isinstance(off, int) and isinstance(ln, int):
            end = off + ln
            if dr == 0:
                if end > c.bytes_out:
                    c.bytes_out = end
            elif end > c.bytes_in:
                c.bytes_in = end

    def observe_data_counts(self, n: int, first: int | None, last: int | None) -> None:
        """:meth:`observe` of ``n`` DATA records, given as their count and extreme times.

        The two-process pass (:mod:`heron.analyze.pipeline`) sums DATA
        records in the reading process; with :meth:`observe_conn` and
        :meth:`observe_ends` this is everything the tables take from them.
        ``first``/``last``: the least and greatest integer ``t`` (None: none).

        Examples
        --------
        >>> a = Analysis("x")
        >>> a.observe_data_counts(3, 5, 9); a.observe_data_counts(1, 2, 2)
        >>> a.n_records, a.n_data, a.first_ns, a.last_ns
        (4, 4, 2, 9)
        """
        self.n_records += n
        self.n_data += n
        if first is not None and (self.first_ns is None or first < self.first_ns):
            self.first_ns = first
        if last is not None and (self.last_ns is None or last > self.last_ns):
            self.last_ns = last

    def observe_conn(self, t: Any, conn: int, pid: Any) -> None:
        """The connection a DATA record makes when it is the first of ``conn``.

        Examples
        --------
        >>> a = Analysis("x")
        >>> a.observe_conn(5, 3, 7); a.observe_conn(6, 3, 7)
        >>> a.conns[3].opened_ns, a.procs[7].n_connections
        (5, 1)
        """
        self._data_fields(t, conn, pid, None, None, None)

    def observe_ends(self, ends: Iterable[tuple[int, int, int]]) -> None:
        """Stream ends of DATA records: ``(conn, outgoing, end)``, the greatest per direction.

        Examples
        --------
        >>> a = Analysis("x")
        >>> a.observe_conn(5, 3, 7)
        >>> a.observe_ends([(3, 1, 100), (3, 0, 40)]); a.observe_ends([(3, 1, 60)])
        >>> a.conns[3].bytes_out, a.conns[3].bytes_in
        (100, 40)
        """
        for conn, out, end in ends:
            c = self.conns.get(conn)
            if c is None:  # pragma: no cover - observe_conn came first
                continue
            if out:
                if end > c.bytes_out:
                    c.bytes_out = end
            elif end > c.bytes_in:
                c.bytes_in = end

    # -- exchanges -------------------------------------------------------

    def add_exchange(self, ex: Exchange) -> None:
        """Parse one exchange and keep its row data (not its bodies).

        Examples
        --------
        >>> from heron.analyze.exchange import Exchange
        >>> a = Analysis("x")
        >>> a.add_exchange(Exchange(0, 1, 7, "1.1", method="GET", path="/healthz", status=200))
        >>> a.n_exchanges, a.n_calls      # an exchange, but not an LLM call
        (1, 0)
        """
        c = self.conns.get(ex.conn)
        pid = ex.pid
        if c is not None:
            c.n_exchanges += 1
            c.http_version = c.http_version or ex.http_version
            if pid is None:
                pid = c.pid
        if pid is not None and pid not in self.procs:
            self.procs[pid] = _Proc(pid)
        self._exchanges.append(
            (
                ex.exchange_id,
                ex.conn,
                ex.stream_id,
                pid,
                ex.http_version,
                ex.method,
                ex.scheme,
                ex.authority,
                ex.path,
                ex.status,
                ex.request_body_size,
                ex.response_body_size,
                ex.request_start_ns,
                ex.request_end_ns,
                ex.response_start_ns,
                ex.response_end_ns,
                ex.partial,
                ex.gap,
                ex.truncated,
                ex.redacted,
                ex.mid_stream,
                ex.parse_error,
            )
        )
        if self.keep_bodies:
            cap = self.body_cap
            self._bodies.append(
                (
                    ex.request_headers,
                    ex.response_headers,
                    ex.request_body[:cap],
                    ex.response_body[:cap],
                    len(ex.request_body) > cap,
                    len(ex.response_body) > cap,
                )
            )
        parsed = parse_exchange(ex, history=self.history)
        if parsed is None:
            return
        if c is not None:
            c.n_calls += 1
        self._calls.append(self._call(ex, pid, parsed, c))

    @property
    def n_exchanges(self) -> int:
        """Exchanges added so far.

        Examples
        --------
        >>> Analysis("x").n_exchanges
        0
        """
        return len(self._exchanges)

    @property
    def n_calls(self) -> int:
        """LLM calls among them.

        Examples
        --------
        >>> Analysis("x").n_calls
        0
        """
        return len(self._calls)

    def _host(self, ex: Exchange, c: _Conn | None) -> str | None:
        if ex.authority:
            return ex.authority
        if c is not None:
            f = c.fields
            if f.get("sni"):
                return str(f["sni"])
            if f.get("remote_addr"):
                port = f.get("remote_port")
                return f"{f['remote_addr']}:{port}" if port else str(f["remote_addr"])
        return None

    def _call(
        self, ex: Exchange, pid: int | None, p: ParsedCall, c: _Conn | None
    ) -> tuple[Any, ...]:
        start = ex.request_start_ns
        end = ex.response_end_ns if ex.response_end_ns is not None else ex.request_end_ns
        ttft = None
        if p.streamed and p.first_token_offset is not None and start is not None:
            at = ex.time_at(p.first_token_offset)
            if at is not None:
                ttft = (at - start) / 1e6
        chat = p.chat
        msgs = p.messages
        fp = None
        loose = None
        aux = False
        group = None
        if chat:
            exact, loose = history_chains(msgs, reused=p.reused, memo=p.memo)
            if msgs:
                fp = _fingerprint_digest(p.api, p.model, loose)
            head = ""
            for m in msgs:
                if m.role in _HEAD_ROLES:
                    head = m.text
                    break
            # is_auxiliary(head, p.n_tools_offered, None), inline
            aux = False if p.n_tools_offered else _aux_text(head[:4000])
            self._n_chat += 1
            group = self.convs.assign(
                pid=pid,
                call_id=self._n_chat,
                prefixes=exact,
                previous_response_id=p.previous_response_id,
                # only a responses-API call can be named by a previous_response_id:
                # other APIs' ids would be kept for nothing
                response_id=p.response_id if p.api == "responses" else None,
                at=start if start is not None else (self.last_ns or 0),
            )
        problems = None
        if ex.parse_error:
            problems = f"{ex.parse_error}; {p.parse_error}" if p.parse_error else ex.parse_error
        elif p.parse_error:
            problems = p.parse_error
        response_start = ex.response_start_ns
        agent, user_agent = header_facts(ex.request_headers)
        share = self._strings.setdefault
        model = p.model
        finish_reason = p.finish_reason
        requests = p.tool_requests
        new_from = p.new_from
        results = None
        for m in msgs[new_from:] if new_from < len(msgs) else ():
            if m.tool_results:
                cap = self.result_cap
                results = [
                    (r.id, r.name, r.content[: cap + 1], r.is_error)
                    for m in msgs[new_from:]
                    for r in m.tool_results
                ]
                break
        return (
            pid,
            ex.authority or self._host(ex, c),
            ex.path,
            p.provider,
            p.api,
            share(model, model) if model is not None else None,
            p.streamed,
            ex.status,
            p.error,
            start,
            end,
            (end - start) / 1e6 if start is not None and end is not None else None,
            (response_start - start) / 1e6
            if start is not None and response_start is not None
            else None,
            ttft,
            p.input_tokens,
            p.output_tokens,
            p.cache_read_tokens,
            p.cache_write_tokens,
            p.reasoning_tokens,
            share(finish_reason, finish_reason) if finish_reason is not None else None,
            len(msgs) if chat else p.n_inputs,
            p.n_tools_offered,
            len(requests),
            ex.request_body_size or len(ex.request_body),
            ex.response_body_size or len(ex.response_body),
            bool(ex.partial or ex.gap or ex.truncated or ex.mid_stream or problems),
            problems,
            ex.exchange_id,
            ex.conn,
            ex.http_version,
            share(user_agent, user_agent) if user_agent is not None else None,
            fp,
            aux,
            group,
            [(t.id, t.name, t.arguments, self._requested_ns(ex, t.end, end)) for t in requests]
            if requests
            else None,
            results,
            agent,
            chat,
            loose if msgs else None,
        )

    @staticmethod
    def _requested_ns(ex: Exchange, offset: int | None, end: int | None) -> int | None:
        """When the agent had tool call N: its last stream event, else the response end."""
        if offset is not None:
            at = ex.time_at(offset)
            if at is not None:
                return at
        return end

    # -- tables ----------------------------------------------------------

    def _utc(self, ns: Any) -> int | None:
        return self.clock.to_utc(ns) if isinstance(ns, int) else None

    def _utc_list(self, values: Iterable[Any]) -> list[int | None]:
        return self.clock.to_utc_many(values)

    def finish(self) -> Tables:
        """Order, group, pair and convert everything into the public tables.

        Examples
        --------
        >>> a = Analysis("x")
        >>> t = a.finish()
        >>> t.warnings, t.info["records"]
        ([], 0)
        """
        if not self.clock and (self._calls or self.event_rows):
            self.warnings.append("no clock samples in the capture: UTC times are unknown (null)")
        rows = self._calls
        if None in [c[_C_START] for c in rows]:  # unknown starts go last
            order = sorted(rows, key=lambda c: (c[_C_START] is None, c[_C_START] or 0, c[_C_XID]))
        else:  # the same order, with a key made in C
            order = sorted(rows, key=itemgetter(_C_START, _C_XID))
        n = len(order)
        pids = [r[_C_PID] for r in order]
        agents = self._agents(pids, [r[_C_AGENT] for r in order])
        # a conversation's id is the call_id of its earliest call
        first: dict[int, int] = {}
        convs: list[int | None] = []
        for call_id, r in enumerate(order):
            g = r[_C_GROUP]
            if g is None:
                convs.append(None)
            else:
                convs.append(first.setdefault(g, call_id))
        dups = self._duplicates(order)
        pairer = ToolPairer(result_cap=self.result_cap)
        for call_id, r in enumerate(order):
            results, requests = r[_C_RESULTS], r[_C_REQUESTS]
            if not r[_C_CHAT] or (results is None and requests is None):
                continue  # nothing to pair (an empty list changes nothing either)
            if call_id in dups:
                continue  # another view of a call: its tools are that call's
            pid, conv = pids[call_id], convs[call_id]
            if results is not None:
                pairer.results(
                    call_id=call_id, pid=pid, conv=conv, start_ns=r[_C_START], results=results
                )
            if requests is not None:
                pairer.request(
                    call_id=call_id, pid=pid, conv=conv, end_ns=r[_C_END], requests=requests
                )
        by_pid = {
            pid: self.procs.get(pid) if pid is not None else None for pid in dict.fromkeys(pids)
        }
        # Rows to columns in one C-speed transpose (the columns hold the
        # rows' own objects); the columns that make new values (hex digests,
        # UTC times) are made one at a time, each turned into a Series at once.
        sch = schema("calls")
        columns: dict[str, pl.Series | Sequence[Any]] = {}
        cols: list[Any] = list(zip(*order, strict=True)) if order else [()] * len(_CALL_COLUMNS)
        for i, name in enumerate(_CALL_COLUMNS):
            values: Sequence[Any] = cols[i]
            cols[i] = None
            if i == _C_FINGERPRINT:
                values = [d.hex() if d is not None else None for d in values]
            elif i in (_C_START, _C_END):
                values = self._utc_list(values)
            elif i == _C_PID:
                values = pids
            columns[name] = pl.Series(name, values, sch[name], strict=False)
        del values, cols
        columns.update(
            call_id=range(n),
            conversation_id=convs,
            capture=[self.capture] * n,
            process=[(q.comm if q else None) for q in map(by_pid.__getitem__, pids)],
            exe=[(q.exe if q else None) for q in map(by_pid.__getitem__, pids)],
            agent=[agents.get(pid) for pid in pids],
        )
        if dups:  # else null (frame_columns)
            columns["duplicate_of"] = [dups[i][0] if i in dups else None for i in range(n)]
            columns["duplicate_kind"] = [dups[i][1] if i in dups else None for i in range(n)]
        calls = frame_columns("calls", columns)
        del columns
        by_exchange = {r[_C_XID]: call_id for call_id, r in enumerate(order)}
        parse_errors = [r[_C_PARSE_ERROR] for r in order]

        tool_rows = []
        for t in pairer.rows:
            t["requested_at"] = self._utc(t.pop("requested_ns"))
            t["result_at"] = self._utc(t.pop("result_ns"))
            t["capture"] = self.capture
            tool_rows.append(t)
        tools = frame("tools", tool_rows)
        loops = detect_loops(calls, tools)

        n_calls_by_pid = Counter(pids)
        processes = frame(
            "processes",
            [
                {
                    "pid": p.pid,
                    "ppid": p.ppid,
                    "comm": p.comm,
                    "exe": p.exe,
                    "cmdline": p.cmdline,
                    "cwd": p.cwd,
                    "uid": p.uid,
                    "agent": agents.get(p.pid) or process_agent(p.exe, p.cmdline, p.comm),
                    "started_at": self._utc(p.start_ns),
                    "exited_at": self._utc(p.exit_ns),
                    "exit_code": p.exit_code,
                    "n_connections": p.n_connections,
                    "n_calls": n_calls_by_pid.get(p.pid, 0),
                    "source": p.source,
                }
                for p in sorted(self.procs.values(), key=lambda p: p.pid)
            ],
        )
        connections = frame(
            "connections",
            [
                {
                    "conn": c.conn,
                    "pid": c.pid,
                    "role": c.fields.get("role"),
                    "transport": c.fields.get("transport"),
                    "lib": c.fields.get("lib"),
                    "sni": c.fields.get("sni"),
                    "remote_addr": c.fields.get("remote_addr"),
                    "remote_port": c.fields.get("remote_port"),
                    "local_addr": c.fields.get("local_addr"),
                    "local_port": c.fields.get("local_port"),
                    "opened_at": self._utc(c.opened_ns),
                    "closed_at": self._utc(c.closed_ns),
                    "close_reason": c.close_reason,
                    "bytes_out": c.bytes_out,
                    "bytes_in": c.bytes_in,
                    "http_version": c.http_version,
                    "n_exchanges": c.n_exchanges,
                    "n_calls": c.n_calls,
                }
                for c in sorted(self.conns.values(), key=lambda c: c.conn)
            ],
        )

        def exchanges() -> pl.DataFrame:
            rows = self._exchanges
            m = len(rows)
            xcols = list(zip(*rows, strict=True)) if rows else [()] * len(_EXCHANGE_COLUMNS)
            data: dict[str, Sequence[Any]] = dict(zip(_EXCHANGE_COLUMNS, xcols, strict=True))
            for k in _EXCHANGE_TIMES:
                data[k] = self._utc_list(data[k])
            data["call_id"] = [by_exchange.get(x) for x in data["exchange_id"]]
            if self.keep_bodies:
                bcols = list(zip(*self._bodies, strict=True)) if rows else [()] * 6
                data.update(zip(_BODY_COLUMNS, bcols, strict=True))
                for k in ("request_headers", "response_headers"):
                    data[k] = [[{"name": n, "value": v} for n, v in hs] for hs in data[k]]
            else:
                data["request_headers"] = data["response_headers"] = [[] for _ in range(m)]
            return frame_columns("exchanges", data)

        def events() -> pl.DataFrame:
            for e in self.event_rows:
                e["at"] = self._utc(e["at"])
            return frame("events", self.event_rows)

        self._summarise_warnings(parse_errors)
        self.info.update(
            {
                "records": self.n_records,
                "data_records": self.n_data,
                "started_at": _dt(self._utc(self.first_ns)),
                "ended_at": _dt(self._utc(self.last_ns)),
                "duration_s": (self.last_ns - self.first_ns) / 1e9
                if self.first_ns is not None and self.last_ns is not None
                else None,
                "calls": n,
                "duplicate_calls": len(dups),
                "tools": len(tool_rows),
                "loops": loops.height,
                "processes": processes.height,
                "connections": connections.height,
                "exchanges": len(self._exchanges),
                "lost": dict(self.lost),
                "warnings": list(self.warnings),
            }
        )
        return Tables(
            calls, tools, loops, processes, connections, exchanges, events, self.info, self.warnings
        )

    def _duplicates(self, order: Sequence[tuple[Any, ...]]) -> dict[int, tuple[int, str]]:
        """Calls that are another view of a call (:mod:`heron.analyze.duplicates`), by call_id."""
        if not any(c.fields.get("role") == "server" for c in self.conns.values()):
            return {}  # the common capture: only clients, nothing seen twice
        conns = {}
        for c in self.conns.values():
            f = c.fields
            role = f.get("role")
            conns[c.conn] = ConnView(
                c.conn,
                role if isinstance(role, str) else None,
                _endpoint(f.get("local_addr"), f.get("local_port")),
                _endpoint(f.get("remote_addr"), f.get("remote_port")),
                c.opened_ns,
            )
        views = [
            CallView(
                i,
                pid=r[_C_PID],
                conn=r[_COL_CONN],
                start=r[_C_START],
                end=r[_C_END],
                request_bytes=r[_COL_REQUEST_BYTES],
                digest=r[_C_DIGEST],
            )
            for i, r in enumerate(order)
        ]
        return find_duplicates(views, conns)

    def _agents(
        self, pids: Sequence[int | None], header_agents: Sequence[str | None]
    ) -> dict[int | None, str]:
        out: dict[int | None, str] = {}
        for pid, agent in zip(pids, header_agents, strict=True):
            if agent and pid not in out:
                out[pid] = agent
        for pid in pids:
            if pid not in out:
                p = self.procs.get(pid) if pid is not None else None
                out[pid] = (
                    process_agent(p.exe, p.cmdline, p.comm) if p is not None else f"pid {pid}"
                )
        return out

    def _summarise_warnings(self, parse_errors: Sequence[str | None]) -> None:
        lost = sum(self.lost.values())
        if lost:
            detail = ", ".join(f"{k}: {v}" for k, v in sorted(self.lost.items()) if v)
            self.warnings.append(
                f"the capture dropped {lost} events ({detail}); some traffic is missing"
            )
        gaps = sum(1 for r in self._exchanges if r[_X_GAP] or r[_X_MID])
        if gaps:
            self.warnings.append(
                f"{gaps} exchange(s) have missing bytes (gaps or mid-stream joins)"
            )
        # An incomplete exchange without a gap is either cut by the end of the
        # capture (a loss: warn) or abandoned by the client, which closed the
        # connection before reading the whole response -- e.g. an SDK that
        # retries a 429 without reading its body.  The bytes never reached
        # the process, so nothing was lost: it is counted in info, not warned.
        cut: list[int] = []
        abandoned: list[int] = []
        for r in self._exchanges:
            if not r[_X_PARTIAL] or r[_X_GAP] or r[_X_MID]:
                continue
            c = self.conns.get(r[_X_CONN])
            closed_by_process = (
                c is not None and c.closed_ns is not None and c.close_reason != "capture-end"
            )
            (abandoned if closed_by_process else cut).append(r[_X_ID])
        if cut:
            self.warnings.append(
                f"{len(cut)} exchange(s) are incomplete because the capture ended while they "
                f"were in flight (exchange_id {_ids(cut)})"
            )
        self.info["abandoned_exchanges"] = abandoned
        bad = sum(1 for e in parse_errors if e)
        if bad:
            self.warnings.append(
                f"{bad} call(s) could only be partly parsed (see calls.parse_error)"
            )


def _ids(ids: list[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:5])
    return shown + (f", ... ({len(ids) - 5} more)" if len(ids) > 5 else "")


def _dt(ns: int | None) -> str | None:
    if ns is None:
        return None
    from datetime import UTC, datetime

    try:
        return datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat()
    except (OverflowError, ValueError, OSError):  # not a time a clock gives
        return None
