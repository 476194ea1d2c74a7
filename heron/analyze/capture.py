"""The public analysis API: ``heron.open`` and the ``read_*``/``scan_*`` functions.

A :class:`Capture` wraps one ``.heron`` file.  Its tables are built lazily,
on first access, by ONE streaming pass over the file (records ->
reassembly -> providers; see :mod:`heron.analyze.build`) and cached.  The
exchanges table, the only one holding bodies (each capped at ``body_cap``
bytes, 64 KiB by default), is built by a second pass only when asked for,
so ``cap.calls`` on a 1 GB capture never holds the capture's bodies.

A damaged file is analysed as far as it is readable: :attr:`Capture.warnings`
says what was lost.  A file that is not a ``.heron`` file raises
:class:`heron.format.errors.NotAHeronFile` (a :class:`heron.HeronError`) at
:func:`open`.

Examples
--------
>>> import heron
>>> cap = heron.open("tests/fixtures/demo.heron")
>>> cap.calls.select("call_id", "agent", "model", "input_tokens", "output_tokens").head(3)
shape: (3, 5)
┌─────────┬───────────────────────────┬──────────────────┬──────────────┬───────────────┐
│ call_id ┆ agent                     ┆ model            ┆ input_tokens ┆ output_tokens │
│ ---     ┆ ---                       ┆ ---              ┆ ---          ┆ ---           │
│ i64     ┆ str                       ┆ str              ┆ i64          ┆ i64           │
╞═════════╪═══════════════════════════╪══════════════════╪══════════════╪═══════════════╡
│ 0       ┆ heron.standin.agents.demo ┆ claude-haiku-4-5 ┆ 71           ┆ 7             │
│ 1       ┆ heron.standin.agents.demo ┆ gpt-4o-mini      ┆ 319          ┆ 8             │
│ 2       ┆ heron.standin.agents.demo ┆ gpt-4o-mini      ┆ 393          ┆ 9             │
└─────────┴───────────────────────────┴──────────────────┴──────────────┴───────────────┘
"""

from __future__ import annotations

import contextlib
import functools
import gc
import glob as _glob
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

import polars as pl

from heron.analyze.build import BODY_CAP, Analysis, Tables
from heron.analyze.exchange import Exchange
from heron.analyze.loops import detect_loops
from heron.analyze.providers import ParsedCall, parse_exchange
from heron.analyze.schema import TABLES, schema
from heron.errors import HeronError

Source = str | os.PathLike[str] | BinaryIO


class NoSuchCall(HeronError):
    """A call id that is not in the capture.

    Examples
    --------
    >>> heron.open("tests/fixtures/demo.heron").call(99)
    Traceback (most recent call last):
    ...
    heron.analyze.capture.NoSuchCall: no call 99 in demo.heron: expected a call_id between 0 and 7
    """


@dataclass(slots=True)
class CallDetail:
    """One call in full: its row, exchange and parsed request/response.

    Examples
    --------
    >>> d = heron.open("tests/fixtures/demo.heron").call(2)
    >>> d.row["model"], d.exchange.path, [m.role for m in d.parsed.messages]
    ('gpt-4o-mini', '/v1/chat/completions', ['system', 'user', 'assistant', 'tool'])
    """

    row: dict[str, Any]
    exchange: Exchange
    parsed: ParsedCall


def _records_and_exchanges(
    reader: Iterable[dict[str, Any]], analysis: Analysis
) -> Iterator[Exchange]:
    from heron.analyze.reassembly import iter_exchanges

    yield from iter_exchanges(analysis.tap(reader))


class Capture:
    """One ``.heron`` capture and its tables.  Create with :func:`open`.

    Parameters
    ----------
    source
        Path, or a binary file object (read from its current position; a
        non-seekable stream is spooled to a temporary file once).
    body_cap
        Bytes of each body kept in :attr:`exchanges`.
    jobs
        Processes for a pass over the file: 1 reads, reassembles and builds
        the tables in this process; 2 reads and reassembles in a forked
        child while this process builds the tables
        (:mod:`heron.analyze.pipeline`; the same tables, sooner when
        reading and reassembly are a large share of the work).  None (the
        default) picks 2 for a path holding at least
        :data:`heron.analyze.pipeline.SPLIT_MIN_PLAINTEXT` bytes of traffic on a machine with two
        or more CPUs, else 1; the ``HERON_JOBS`` environment variable
        overrides the default.

    Examples
    --------
    >>> cap = Capture("tests/fixtures/demo.heron")
    >>> cap.tools.select("name", "arguments", "result_call_id").head(2)
    shape: (2, 3)
    ┌────────────┬────────────────────────┬────────────────┐
    │ name       ┆ arguments              ┆ result_call_id │
    │ ---        ┆ ---                    ┆ ---            │
    │ str        ┆ str                    ┆ i64            │
    ╞════════════╪════════════════════════╪════════════════╡
    │ list_files ┆ {"directory":"."}      ┆ 2              │
    │ read_file  ┆ {"path":"src/calc.py"} ┆ 3              │
    └────────────┴────────────────────────┴────────────────┘
    """

    def __init__(
        self, source: Source, *, body_cap: int = BODY_CAP, jobs: int | None = None
    ) -> None:
        self.body_cap = body_cap
        self.jobs = jobs
        self._path: str | None = None
        self._file: BinaryIO | None = None
        self._start = 0
        self._spool: BinaryIO | None = None
        if isinstance(source, str | os.PathLike):
            self._path = os.fspath(source)
            self.name = os.path.basename(self._path)
            if not os.path.exists(self._path):
                raise HeronError(f"no such file: {self._path}")
            if os.path.isdir(self._path):
                raise HeronError(f"expected a .heron file, found a directory: {self._path}")
        else:
            self.name = os.path.basename(str(getattr(source, "name", "<stream>")))
            f = source
            seekable = False
            try:
                seekable = f.seekable()
                if seekable:
                    self._start = f.tell()
            except (AttributeError, OSError, ValueError):
                seekable = False
            if not seekable:
                spool = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the Capture
                shutil.copyfileobj(f, spool)
                spool.seek(0)
                self._spool = f = spool
            self._file = f
        self._tables: Tables | None = None
        #: Why the last two-process pass fell back to one process (None: it did not).
        self.split_failure: str | None = None
        self._exchanges: pl.DataFrame | None = None
        self._child: Any = None  # a reading process started for the next pass (_adopt)
        #: Called as a pass goes (at most every PROGRESS_S) and when it ends:
        #: ``progress(records, records_in_file or None, calls, done)``.  The
        #: CLI sets it to draw live counters on a terminal.
        self.progress: Callable[[int, int | None, int, bool], None] | None = None
        self._total_records: int | None = None  # from the footer index, 0: none
        self._header: dict[str, Any] = dict(self._reader().header or {})

    def __repr__(self) -> str:
        return f"<heron.Capture {self.name!r}>"

    def _reader(self) -> Any:
        from heron.format import Reader

        if self._path is not None:
            return Reader(self._path)
        assert self._file is not None
        self._file.seek(self._start)
        return Reader(self._file)

    def _split(self) -> bool:
        """Whether a pass runs on two processes (see the ``jobs`` parameter)."""
        from heron.analyze import pipeline

        return pipeline.wanted(self._path, self.jobs)

    def _adopt(self, child: Any) -> None:
        """Use ``child``, a reading process already started on this path, for the next pass.

        The CLI starts it (:func:`heron.analyze.pipeline.start`) before it
        imports this module, so Polars loads while the child reads.
        """
        if self._child is not None:
            self._child.cancel()
        self._child = child

    def _pass(self, *, keep_bodies: bool) -> Tables:
        child, self._child = self._child, None
        if child is not None or self._split():
            from heron.analyze import pipeline

            split = Analysis(self.name, keep_bodies=keep_bodies, body_cap=self.body_cap)
            tick = self._ticker(split)
            # one pause for the pass and finish: a collection in between would
            # scan every object the pass made (~45 ms per 500 MB)
            with _no_gc():
                try:
                    report = pipeline.run_split(self._reader, split, child, tick)
                except pipeline.SplitFailed as e:
                    # start again in this process: nothing is lost but time
                    self.split_failure = str(e)
                else:
                    split.warnings[:0] = _report_lines(report)
                    split.info["header"] = self._header
                    self._report(split, done=True)
                    return split.finish()
        analysis = Analysis(self.name, keep_bodies=keep_bodies, body_cap=self.body_cap)
        tick = self._ticker(analysis)
        reader = self._reader()
        with _no_gc():
            try:
                for ex in _records_and_exchanges(reader, analysis):
                    analysis.add_exchange(ex)
                    if tick is not None:
                        tick()
            except HeronError as e:  # damage the reader could not skip: keep what we have
                analysis.warnings.append(f"stopped reading early: {e}")
            analysis.warnings[:0] = _report_lines(getattr(reader, "report", None))
            analysis.info["header"] = self._header
            self._report(analysis, done=True)
            return analysis.finish()

    def _ticker(self, analysis: Analysis) -> Callable[[], None] | None:
        """What the pass calls as it goes: :attr:`progress` at most every PROGRESS_S."""
        if self.progress is None:
            return None
        last = time.monotonic()

        def tick() -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= PROGRESS_S:
                last = now
                self._report(analysis, done=False)

        return tick

    def _report(self, analysis: Analysis, *, done: bool) -> None:
        if self.progress is None:
            return
        if self._total_records is None and self._path is not None:
            from heron.analyze import pipeline

            self._total_records = pipeline.index_counts(self._path)[1] or 0
        self.progress(analysis.n_records, self._total_records or None, analysis.n_calls, done)

    def _built(self) -> Tables:
        if self._tables is None:
            self._tables = self._pass(keep_bodies=False)
        return self._tables

    @property
    def calls(self) -> pl.DataFrame:
        """One row per LLM call (:data:`heron.analyze.schema.CALLS`).

        Examples
        --------
        >>> cap = heron.open("tests/fixtures/demo.heron")
        >>> cap.calls.select("call_id", "conversation_id", "model", "streamed", "output_tokens", "auxiliary")
        shape: (8, 6)
        ┌─────────┬─────────────────┬───────────────────┬──────────┬───────────────┬───────────┐
        │ call_id ┆ conversation_id ┆ model             ┆ streamed ┆ output_tokens ┆ auxiliary │
        │ ---     ┆ ---             ┆ ---               ┆ ---      ┆ ---           ┆ ---       │
        │ i64     ┆ i64             ┆ str               ┆ bool     ┆ i64           ┆ bool      │
        ╞═════════╪═════════════════╪═══════════════════╪══════════╪═══════════════╪═══════════╡
        │ 0       ┆ 0               ┆ claude-haiku-4-5  ┆ false    ┆ 7             ┆ true      │
        │ 1       ┆ 1               ┆ gpt-4o-mini       ┆ true     ┆ 8             ┆ false     │
        │ 2       ┆ 1               ┆ gpt-4o-mini       ┆ true     ┆ 9             ┆ false     │
        │ 3       ┆ 1               ┆ gpt-4o-mini       ┆ true     ┆ 11            ┆ false     │
        │ 4       ┆ 1               ┆ gpt-4o-mini       ┆ true     ┆ 8             ┆ false     │
        │ 5       ┆ 1               ┆ gpt-4o-mini       ┆ true     ┆ 21            ┆ false     │
        │ 6       ┆ 1               ┆ gpt-4o-mini       ┆ true     ┆ 29            ┆ false     │
        │ 7       ┆ 7               ┆ claude-sonnet-4-6 ┆ true     ┆ 36            ┆ false     │
        └─────────┴─────────────────┴───────────────────┴──────────┴───────────────┴───────────┘
        """
        return self._built().calls

    @property
    def tools(self) -> pl.DataFrame:
        """One row per tool call a model requested (:data:`heron.analyze.schema.TOOLS`).

        Examples
        --------
        >>> heron.open("tests/fixtures/demo.heron").tools.select(
        ...     "call_id", "name", "arguments", "result_call_id").head(3)
        shape: (3, 4)
        ┌─────────┬────────────┬───────────────────────────────┬────────────────┐
        │ call_id ┆ name       ┆ arguments                     ┆ result_call_id │
        │ ---     ┆ ---        ┆ ---                           ┆ ---            │
        │ i64     ┆ str        ┆ str                           ┆ i64            │
        ╞═════════╪════════════╪═══════════════════════════════╪════════════════╡
        │ 1       ┆ list_files ┆ {"directory":"."}             ┆ 2              │
        │ 2       ┆ read_file  ┆ {"path":"src/calc.py"}        ┆ 3              │
        │ 3       ┆ read_file  ┆ {"path":"tests/test_calc.py"} ┆ 4              │
        └─────────┴────────────┴───────────────────────────────┴────────────────┘
        """
        return self._built().tools

    @property
    def loops(self) -> pl.DataFrame:
        """One row per detected loop, default thresholds (:func:`heron.analyze.loops.detect_loops`).

        Examples
        --------
        >>> lp = heron.open("tests/fixtures/variant_b.heron").loops
        >>> lp.select("kind", "signature", "count").rows()
        [('repeated_tool_call', 'read_file({"path":"src/calc.py"})', 4)]
        """
        return self._built().loops

    def find_loops(self, **thresholds: Any) -> pl.DataFrame:
        """Loops with other thresholds (keywords of :func:`~heron.analyze.loops.detect_loops`).

        Examples
        --------
        >>> cap = heron.open("tests/fixtures/variant_b.heron")
        >>> cap.find_loops(min_retries=1).select("kind", "count", "call_ids").rows()
        [('repeated_tool_call', 4, [0, 1, 3, 4]), ('retry_storm', 1, [2])]
        """
        return detect_loops(self.calls, self.tools, **thresholds)

    @property
    def processes(self) -> pl.DataFrame:
        """One row per process seen (:data:`heron.analyze.schema.PROCESSES`).

        Examples
        --------
        >>> p = heron.open("tests/fixtures/curl_h2.heron").processes
        >>> p.filter(pl.col("n_calls") > 0).select("comm", "agent", "n_calls").rows()
        [('curl', 'curl', 1), ('curl', 'curl', 1), ('curl', 'curl', 1)]
        """
        return self._built().processes

    @property
    def connections(self) -> pl.DataFrame:
        """One row per connection (:data:`heron.analyze.schema.CONNECTIONS`).

        Examples
        --------
        >>> c = heron.open("tests/fixtures/httpx_h2.heron").connections
        >>> c.filter(pl.col("n_calls") > 0).select("transport", "http_version", "n_calls").rows()
        [('tls', '2', 3), ('tls', '2', 5)]
        """
        return self._built().connections

    @property
    def events(self) -> pl.DataFrame:
        """Every non-data record, readable (:data:`heron.analyze.schema.EVENTS`).

        Examples
        --------
        >>> ev = heron.open("tests/fixtures/demo.heron").events
        >>> ev.filter(pl.col("kind") == "CONN_OPEN").height
        8
        """
        return self._built().events

    @property
    def exchanges(self) -> pl.DataFrame:
        """One row per HTTP exchange with bodies capped at ``body_cap`` (second pass).

        Examples
        --------
        >>> ex = heron.open("tests/fixtures/demo.heron").exchanges
        >>> ex.select("method", "path", "status", "call_id").head(2).rows()
        [('POST', '/v1/messages', 200, 0), ('POST', '/v1/chat/completions', 200, 1)]
        >>> ex["request_body"][0][:10]
        b'{"max_toke'
        """
        if self._exchanges is None:
            ids = self.calls.select("exchange_id", "call_id")
            ex = self._pass(keep_bodies=True).exchanges.drop("call_id")
            self._exchanges = ex.join(ids, on="exchange_id", how="left").select(
                list(schema("exchanges").names())
            )
        return self._exchanges

    @property
    def info(self) -> dict[str, Any]:
        """What the capture is: header, time range, counts, losses, warnings.

        Examples
        --------
        >>> info = heron.open("tests/fixtures/variant_b.heron").info
        >>> info["calls"], sum(info["lost"].values()), info["abandoned_exchanges"]
        (8, 0, [2])
        """
        return self._built().info

    @property
    def header(self) -> dict[str, Any]:
        """The file header (no analysis pass needed).

        Examples
        --------
        >>> "uuid" in heron.open("tests/fixtures/demo.heron").header
        True
        """
        return self._header

    @property
    def warnings(self) -> list[str]:
        """What was lost or could not be parsed (empty for a clean capture).

        Examples
        --------
        >>> heron.open("tests/fixtures/variant_b.heron").warnings
        []
        """
        return self._built().warnings

    def table(self, name: str) -> pl.DataFrame:
        """A public table by name (``calls``, ``tools``, ...).

        Examples
        --------
        >>> cap = heron.open("tests/fixtures/demo.heron")
        >>> cap.table("loops").columns[:3]
        ['loop_id', 'pid', 'conversation_id']
        """
        if name not in TABLES:
            schema(name)  # raises the clear error
        df: pl.DataFrame = getattr(self, name)
        return df

    def to_arrow(self, name: str) -> Any:
        """A public table as a ``pyarrow.Table``.

        Examples
        --------
        >>> heron.open("tests/fixtures/demo.heron").to_arrow("calls").num_rows
        8
        """
        return self.table(name).to_arrow()

    def call(self, call_id: int) -> CallDetail:
        """One call in full (re-reads the file to find its exchange).

        Examples
        --------
        >>> cap = heron.open("tests/fixtures/demo.heron")
        >>> [m.role for m in cap.call(2).parsed.messages]
        ['system', 'user', 'assistant', 'tool']
        """
        rows = self.calls.filter(pl.col("call_id") == call_id)
        if rows.height == 0:
            raise NoSuchCall(
                f"no call {call_id} in {self.name}: expected a call_id between 0 and "
                f"{self.calls.height - 1}"
                if self.calls.height
                else f"no calls in {self.name}"
            )
        row = rows.row(0, named=True)
        analysis = Analysis(self.name)
        for ex in _records_and_exchanges(self._reader(), analysis):
            if ex.exchange_id == row["exchange_id"]:
                parsed = parse_exchange(ex)
                if parsed is not None:
                    return CallDetail(row, ex, parsed)
        raise NoSuchCall(f"call {call_id}'s exchange was not found on re-reading {self.name}")

    def conversation(self, call_id: int) -> pl.DataFrame:
        """The calls of ``call_id``'s conversation, in order.

        Examples
        --------
        >>> heron.open("tests/fixtures/demo.heron").conversation(3)["call_id"].to_list()
        [1, 2, 3, 4, 5, 6]
        """
        conv = self.calls.filter(pl.col("call_id") == call_id)["conversation_id"]
        if conv.len() == 0 or conv[0] is None:
            return self.calls.filter(pl.col("call_id") == call_id)
        return self.calls.filter(pl.col("conversation_id") == conv[0]).sort("call_id")


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for one pass over a capture.

    A pass allocates millions of small, acyclic objects (records, parsed
    JSON) and keeps a growing set of survivors (rows, shared history
    messages); the generational collector re-scans those survivors again
    and again, which cost ~20% of ``heron calls``.  Reference counting
    still frees everything as usual; cycles wait until the pass ends.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


#: Seconds between two progress reports of a pass.
PROGRESS_S = 0.2


def _report_lines(report: Any) -> list[str]:
    """Readable lines from the reader's :class:`~heron.format.ReadReport`."""
    if report is None:
        return []
    lines = []
    per_kind: dict[str, int] = {}
    for loss in getattr(report, "losses", None) or []:
        kind = str(getattr(loss, "kind", "loss"))
        per_kind[kind] = per_kind.get(kind, 0) + 1
        if per_kind[kind] <= 3:  # the first few of each kind, then a count
            describe = getattr(loss, "describe", None)
            lines.append("lost " + (describe() if callable(describe) else str(loss)))
    for kind, n in per_kind.items():
        if n > 3:
            lines.append(f"... and {n - 3} more {kind} losses")
    if getattr(report, "closed", True) is False:
        lines.append(
            "the file was not closed cleanly (capture killed or still running): "
            "analysed up to its last complete chunk"
        )
    return lines


def open(source: Source, *, body_cap: int = BODY_CAP, jobs: int | None = None) -> Capture:
    """Open a ``.heron`` capture for analysis.

    Parameters
    ----------
    source
        A path (``str`` or ``Path``) or a binary file object.
    body_cap
        Bytes of each body kept in the ``exchanges`` table (default 64 KiB).
    jobs
        Processes per pass over the file (see :class:`Capture`); None picks
        two for a large capture.

    Returns
    -------
    Capture
        With lazily built, cached ``calls``, ``tools``, ``loops``,
        ``processes``, ``connections``, ``exchanges`` and ``events`` tables.

    Raises
    ------
    heron.HeronError
        The file does not exist or is not a ``.heron`` file.

    Examples
    --------
    >>> cap = heron.open("tests/fixtures/variant_b.heron")
    >>> cap.loops.select("kind", "signature", "count").rows()
    [('repeated_tool_call', 'read_file({"path":"src/calc.py"})', 4)]
    >>> from pathlib import Path
    >>> with Path("tests/fixtures/variant_b.heron").open("rb") as f:   # a binary file object
    ...     heron.open(f).calls.height
    8
    """
    return Capture(source, body_cap=body_cap, jobs=jobs)


def _paths(paths_or_glob: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    if isinstance(paths_or_glob, str | os.PathLike):
        p = os.fspath(paths_or_glob)
        if any(ch in p for ch in "*?["):
            found = sorted(_glob.glob(p, recursive=True))
            if not found:
                raise HeronError(f"no capture matches {p!r}")
            return found
        return [p]
    return [os.fspath(p) for p in paths_or_glob]


def _read(table: str, source: Source) -> pl.DataFrame:
    return Capture(source).table(table)


def read_calls(source: Source) -> pl.DataFrame:
    """The ``calls`` table of one capture (:data:`heron.analyze.schema.CALLS`).

    Examples
    --------
    >>> heron.read_calls("tests/fixtures/variant_b.heron").select("capture", "model", "status").slice(1, 3)
    shape: (3, 3)
    ┌─────────────────┬─────────────┬────────┐
    │ capture         ┆ model       ┆ status │
    │ ---             ┆ ---         ┆ ---    │
    │ str             ┆ str         ┆ i64    │
    ╞═════════════════╪═════════════╪════════╡
    │ variant_b.heron ┆ gpt-4o-mini ┆ 200    │
    │ variant_b.heron ┆ gpt-4o-mini ┆ 429    │
    │ variant_b.heron ┆ gpt-4o-mini ┆ 200    │
    └─────────────────┴─────────────┴────────┘
    """
    return _read("calls", source)


def read_tools(source: Source) -> pl.DataFrame:
    """The ``tools`` table of one capture (:data:`heron.analyze.schema.TOOLS`).

    Examples
    --------
    >>> heron.read_tools("tests/fixtures/variant_a.heron")["name"].to_list()
    ['read_file', 'write_file']
    """
    return _read("tools", source)


def read_loops(source: Source) -> pl.DataFrame:
    """The ``loops`` table of one capture (:data:`heron.analyze.schema.LOOPS`).

    Examples
    --------
    >>> heron.read_loops("tests/fixtures/variant_b.heron")["kind"].to_list()
    ['repeated_tool_call']
    """
    return _read("loops", source)


def _scan(table: str, paths_or_glob: Any) -> pl.LazyFrame:
    paths = _paths(paths_or_glob)
    sch = schema(table)
    frames = [pl.defer(functools.partial(_read, table, p), schema=sch) for p in paths]
    if not frames:
        return pl.LazyFrame(schema=sch)
    return pl.concat(frames, how="vertical")


def scan_calls(
    paths_or_glob: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
) -> pl.LazyFrame:
    """A LazyFrame of the ``calls`` of many captures; ``capture`` names the file.

    Each file is analysed only when the frame is collected.

    Examples
    --------
    >>> (heron.scan_calls("tests/fixtures/variant_*.heron")
    ...    .group_by("capture").agg(pl.len(), pl.col("output_tokens").sum()).sort("capture").collect())
    shape: (2, 3)
    ┌─────────────────┬─────┬───────────────┐
    │ capture         ┆ len ┆ output_tokens │
    │ ---             ┆ --- ┆ ---           │
    │ str             ┆ u32 ┆ i64           │
    ╞═════════════════╪═════╪═══════════════╡
    │ variant_a.heron ┆ 3   ┆ 59            │
    │ variant_b.heron ┆ 8   ┆ 94            │
    └─────────────────┴─────┴───────────────┘
    """
    return _scan("calls", paths_or_glob)


def scan_tools(
    paths_or_glob: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
) -> pl.LazyFrame:
    """A LazyFrame of the ``tools`` of many captures.

    Examples
    --------
    >>> runs = ["tests/fixtures/variant_a.heron", "tests/fixtures/variant_b.heron"]
    >>> heron.scan_tools(runs).group_by("capture").agg(pl.col("name").n_unique()).sort("capture").collect().rows()
    [('variant_a.heron', 2), ('variant_b.heron', 3)]
    """
    return _scan("tools", paths_or_glob)


def scan_loops(
    paths_or_glob: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
) -> pl.LazyFrame:
    """A LazyFrame of the ``loops`` of many captures (``capture`` column added).

    Examples
    --------
    >>> heron.scan_loops("tests/fixtures/*.heron").select("capture", "kind", "count").collect().rows()
    [('variant_b.heron', 'repeated_tool_call', 4)]
    """
    paths = _paths(paths_or_glob)
    sch = pl.Schema({**dict(schema("loops")), "capture": pl.String()})

    def one(p: str) -> pl.DataFrame:
        cap = Capture(p)
        return cap.loops.with_columns(pl.lit(cap.name, dtype=pl.String).alias("capture"))

    frames = [pl.defer(functools.partial(one, p), schema=sch) for p in paths]
    if not frames:
        return pl.LazyFrame(schema=sch)
    return pl.concat(frames, how="vertical")


def bench_calls(path: str | os.PathLike[str]) -> dict[str, float]:
    """Time ``calls`` against the raw record-decode floor of the same file.

    For the bench harness: returns seconds for iterating
    :class:`heron.format.Reader` alone (``decode_s``), for building the
    calls table (``calls_s``), their ratio, and the row count.

    Examples
    --------
    >>> r = bench_calls("tests/fixtures/demo.heron")
    >>> sorted(r)
    ['calls', 'calls_s', 'decode_s', 'ratio', 'records']
    """
    import time

    from heron.format import Reader

    t0 = time.perf_counter()
    n = 0
    for _ in Reader(os.fspath(path)):
        n += 1
    t1 = time.perf_counter()
    calls = Capture(path).calls
    t2 = time.perf_counter()
    decode, build = t1 - t0, t2 - t1
    return {
        "decode_s": decode,
        "calls_s": build,
        "ratio": build / decode if decode > 0 else float("inf"),
        "records": float(n),
        "calls": float(calls.height),
    }


__all__ = [
    "CallDetail",
    "Capture",
    "NoSuchCall",
    "bench_calls",
    "open",
    "read_calls",
    "read_loops",
    "read_tools",
    "scan_calls",
    "scan_loops",
    "scan_tools",
]
