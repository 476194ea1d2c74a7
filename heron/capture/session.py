"""A capture session: BPF events in, ``.heron`` records out.

Theory of operation
-------------------
The kernel side (``bpf/heron.c``) never waits for us: it writes events into
a ring buffer and counts what does not fit.  This loop drains the ring every
few milliseconds (small events do not wake us; big calls do), turns events
into records and hands them to :class:`heron.format.Writer`, which flushes a
crash-safe chunk at least every ``flush_interval``.

* **Data.**  Chunk events are joined per call by
  :class:`~heron.capture.assemble.CallAssembler`, run through the credential
  redactor (same length out, spans recorded) and written as DATA records.
* **Connections.**  The kernel gives every connection a fresh id; the first
  DATA of an id produces its CONN_OPEN, with the socket's addresses from the
  connect()/accept() events, or from ``/proc`` for sockets older than the
  capture, and the SNI when the library call that set it was seen.
* **Processes.**  PROCESS records for processes running at start (``scan``)
  and for every exec/fork after; FORK/EXEC/EXIT records as they happen.  Exec
  metadata comes from BPF (a process living 5 ms is still attributed) and is
  enriched from ``/proc`` when the process is still there.
* **Libraries.**  After an exec the new process's maps are rescanned a few
  times (libraries are often loaded late, e.g. ``_ssl`` on first import) and
  new copies are attached.
* **Loss.**  STATS records (cumulative per-source drop counters from BPF,
  events, bytes, processes) every ``stats_interval`` seconds and at the end.
* **Output failure.**  If the Writer cannot write (disk full, broken pipe),
  recording stops at once, the error is reported, the file keeps every chunk
  written before, and the traced command, if any, runs on to completion.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from heron.capture import events as ev
from heron.capture.assemble import CallAssembler, Piece
from heron.capture.errors import CaptureError, EventDecodeError
from heron.capture.libs import LibCopy, LibraryFinder
from heron.capture.procfs import (
    CgroupNames,
    cgroup2_root,
    container_id,
    descendants,
    process_info,
    socket_addrs,
)
from heron.capture.program import Program, ProgramConfig
from heron.format import RecordKind, Writer
from heron.format.errors import FormatError

TOOL = "heron-capture"
#: Seconds after an exec at which the process's maps are rescanned for libraries.
RESCAN_AFTER = (0.02, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
#: A traced process's connect() also triggers a rescan (TLS is near), at most this often.
RESCAN_ON_CONNECT_S = 0.5
#: Executables on PATH checked at start for a built-in TLS library.
PRELOAD_EXECUTABLES = ("node", "nodejs", "bun", "deno")
#: A call whose last chunk has not come after this long lost it.
STALE_NS = 500_000_000


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("heron")
    except Exception:
        return "0"


def _load_redactor() -> Any:
    from heron.capture.redact import Redactor

    return Redactor(enabled=True)


@dataclass
class CaptureOptions:
    """What to capture and where (the CLI's options, parsed)."""

    output: str = "-"
    force: bool = False
    body_cap: int = 8 << 20
    ringbuf_bytes: int = 16 << 20
    flush_interval: float = 1.0
    stats_interval: float = 1.0
    plain_ports: tuple[int, ...] = (11434, 8000, 8080, 4000, 80)
    redact: bool = True
    pids: tuple[int, ...] = ()
    comms: tuple[str, ...] = ()
    uid: int | None = None
    cgroup: str | None = None
    command: list[str] | None = None
    argv: list[str] = field(default_factory=lambda: list(sys.argv))

    def as_header(self) -> dict[str, Any]:
        return {
            "body_cap": self.body_cap,
            "ringbuf_bytes": self.ringbuf_bytes,
            "flush_interval": self.flush_interval,
            "plain_ports": list(self.plain_ports),
            "redact": self.redact,
            "pids": list(self.pids),
            "comms": list(self.comms),
            "uid": self.uid,
            "cgroup": self.cgroup,
            "command": self.command,
        }


@dataclass
class Counters:
    events: int = 0
    bytes: int = 0
    records: int = 0
    data_records: int = 0
    conns: int = 0
    decode_errors: int = 0
    libs_attached: int = 0


class Capture:
    """One capture: owns the BPF program, the writer and the bookkeeping.

    Use :meth:`start`, then call :meth:`step` in a loop, then :meth:`stop`.
    ``log`` receives one-line human messages (stderr in the CLI).
    """

    def __init__(self, opts: CaptureOptions, log: Callable[[str], None] | None = None) -> None:
        self.opts = opts
        self.log = log or (lambda msg: None)
        self.counters = Counters()
        self.failed: str | None = None  # output failure: recording stopped
        self.writer: Writer | None = None
        self.program: Program | None = None
        self.finder = LibraryFinder()
        self.assembler = CallAssembler()
        self.redactor: Any = None
        self.cgroups = CgroupNames()
        self._conn_ids: dict[int, int] = {}  # kernel id -> file id
        self._conn_pid: dict[int, int] = {}  # file id -> pid
        self._not_plain: set[int] = set()  # kernel ids of plain-port sockets that are TLS
        self._socks: dict[tuple[int, int], ev.Sock] = {}  # (pid, fd) -> last connect/accept
        self._plain_socks: dict[int, ev.Sock] = {}  # kernel conn id -> its connect/accept
        self._sni: dict[tuple[int, int], str] = {}  # (pid, SSL*) -> server name
        self._local: dict[tuple[int, int], ev.Local] = {}  # local address before its Sock
        self._procs: dict[int, dict[str, Any]] = {}  # pid -> PROCESS fields written
        self._rescans: list[tuple[float, int, int]] = []  # (due, pid, stage)
        self._last_scan: dict[int, float] = {}  # pid -> monotonic time of its last maps scan
        self._next_stats = 0.0
        self.started = time.monotonic()
        self.target_pid: int | None = None
        self._last_lost: dict[str, int] = {}
        self._closed = False

    # -- lifecycle ---------------------------------------------------------

    def start(self, *, target_pid: int | None = None, target_exe: str | None = None) -> None:
        """Compile and attach everything, open the output, write the scan.

        With ``target_pid`` (a ``-- CMD`` child held before exec) only that
        process tree is traced.
        """
        o = self.opts
        self.target_pid = target_pid
        cgroup_id = None
        if o.cgroup:
            if cgroup2_root() is None:
                raise CaptureError(
                    "--cgroup needs the cgroup v2 hierarchy, and none is mounted here"
                )
            try:
                cgroup_id = self.cgroups.id_of(o.cgroup)
            except OSError as e:
                raise CaptureError(
                    f"--cgroup {o.cgroup}: no such cgroup under {self.cgroups.root} ({e.strerror})"
                ) from None
        cfg = ProgramConfig(
            body_cap=o.body_cap,
            ringbuf_bytes=o.ringbuf_bytes,
            filter_pids=bool(o.pids) or target_pid is not None,
            comms=o.comms,
            uid=o.uid,
            cgroup_id=cgroup_id,
            plain_ports=o.plain_ports,
        )
        self.program = Program(cfg)
        if o.redact:
            self.redactor = _load_redactor()
        traced: set[int] = set()
        if target_pid is not None:
            traced.add(target_pid)
        if o.pids:
            traced |= descendants(set(o.pids))
        for pid in traced:
            self.program.trace_pid(pid)
        self.writer = Writer(
            o.output,
            overwrite=o.force,
            flush_interval=o.flush_interval,
            options=o.as_header(),
            clock_sync_interval=5.0,
            meta={"writer": TOOL, "writer_version": _version()},
        )
        self._append(
            RecordKind.CAPTURE_START,
            time.monotonic_ns(),
            tool=TOOL,
            version=_version(),
            argv=o.argv,
            options=o.as_header(),
            target=o.command,
            target_pid=target_pid,
            realtime_ns=time.time_ns(),
        )
        # Libraries: on disk, mapped by running processes, the target binary.
        copies = self.finder.system_libraries() + self.finder.scan_all()
        if target_exe:
            copies += self.finder.executable(target_exe)
        # Runtimes with their own TLS inside, likely to start later (an exec
        # rescan might attach only after their first requests).
        for name in PRELOAD_EXECUTABLES:
            exe = shutil.which(name)
            if exe:
                copies += self.finder.executable(os.path.realpath(exe))
        for c in copies:
            self._attach(c)
        self.program.open_ring(self._on_event)
        # Processes already running that we will record.
        for pid in sorted(self._scan_set(traced)):
            self._write_process(process_info(pid), "scan")
        self._stats(time.monotonic_ns())
        self.started = time.monotonic()  # elapsed counts capture time, not compile time
        self.log(
            f"capturing: {len(self.program.attached)} TLS library copies hooked "
            f"({self.program.uprobe_count} probes), compile {self.program.compile_seconds:.1f}s"
        )

    def _scan_set(self, traced: set[int]) -> set[int]:
        o = self.opts
        if self.target_pid is not None:
            return set()  # the target is written at its exec
        pids = set(traced) if o.pids else set()
        if not o.pids:
            from heron.capture.procfs import all_pids

            pids = set(all_pids())
        out = set()
        for pid in pids:
            if pid == os.getpid():
                continue
            info = None
            if o.comms or o.uid is not None or o.cgroup:
                info = process_info(pid)
                if o.comms and info.get("comm") not in o.comms:
                    continue
                if o.uid is not None and info.get("uid") != o.uid:
                    continue
                if o.cgroup and info.get("cgroup") != self.cgroups.relative(o.cgroup):
                    continue
            if o.comms and self.program is not None:
                self.program.trace_pid(pid)
            out.add(pid)
        if o.comms and self.program is not None:
            for pid in descendants(out):
                self.program.trace_pid(pid)
                out.add(pid)
        return out

    def _attach(self, copy: LibCopy) -> None:
        assert self.program is not None
        hooked = self.program.attach_library(copy)
        if hooked:
            self.counters.libs_attached += 1
            self.log(f"hooked {copy.module.NAME} in {copy.display} ({', '.join(hooked)})")

    def step(self, timeout_ms: int = 20) -> None:
        """Drain the ring buffer once and do the periodic work."""
        assert self.program is not None
        if self.failed and not self._closed:
            self.lost()
            self._closed = True
            self.program.close()
        if self._closed:  # recording stopped (output failed): just keep time
            time.sleep(timeout_ms / 1000)
            return
        self.program.poll(timeout_ms)
        now = time.monotonic()
        if self._rescans:
            self._do_rescans(now)
        if self.failed:
            return
        for p in self.assembler.flush(time.monotonic_ns() - STALE_NS):
            self._write_piece(p)
        if now >= self._next_stats:
            self._stats(time.monotonic_ns())
        if self.writer is not None and not self.failed:
            try:
                self.writer.tick()
            except FormatError as e:
                self._fail(e)

    def stop(self, reason: str, exit_status: int | None = None, error: str | None = None) -> None:
        """Drain what is left, close connections, write STATS and CAPTURE_STOP."""
        if self.program is not None:
            with contextlib.suppress(Exception):
                self.program.poll(0)
        if not self.failed and self.writer is not None:
            for p in self.assembler.flush():
                self._write_piece(p)
            ts = time.monotonic_ns()
            for kid, fid in list(self._conn_ids.items()):
                self._append(
                    RecordKind.CONN_CLOSE,
                    ts,
                    conn=fid,
                    pid=self._conn_pid.get(fid),
                    reason="capture-end",
                )
                del self._conn_ids[kid]
            self._stats(ts)
            fields: dict[str, Any] = {"reason": reason}
            if exit_status is not None:
                fields["exit_status"] = exit_status
            if error:
                fields["error"] = error
            self._append(RecordKind.CAPTURE_STOP, ts, **fields)
        if self.writer is not None:
            try:
                self.writer.close()
            except FormatError as e:
                self._fail(e)
        if self.program is not None:
            self.lost()
            self._closed = True
            # No explicit detach: bcc's takes seconds (tens of probes), and the
            # kernel drops every probe when our BPF/perf fds close at exit.

    # -- output ------------------------------------------------------------

    def _fail(self, e: Exception) -> None:
        if self.failed:
            return
        self.failed = str(e)
        self.log(f"heron-capture: cannot write the capture any more ({e}); recording stopped")
        # Detach (no overhead on the agent from now on) in step(), never here:
        # this may run inside the ring-buffer callback, and freeing the ring
        # under it crashes bcc.

    def _append(self, kind: RecordKind, ts: int, **fields: Any) -> None:
        if self.failed or self.writer is None:
            return
        try:
            self.writer.append(kind, ts, **{k: v for k, v in fields.items() if v is not None})
            self.counters.records += 1
        except FormatError as e:
            if "cannot be stored" in str(e) or "must be" in str(e):
                self.counters.decode_errors += 1  # a bad record: skip it, keep going
                return
            self._fail(e)

    def _stats(self, ts: int) -> None:
        assert self.program is not None
        self._next_stats = time.monotonic() + self.opts.stats_interval
        if self.failed:
            return
        c = self.counters
        self._append(
            RecordKind.STATS,
            ts,
            lost=self.lost(),
            events=c.events,
            bytes=c.bytes,
            processes=len(self._procs),
            counters={
                "records": c.records,
                "data_records": c.data_records,
                "connections": c.conns,
                "decode_errors": c.decode_errors,
                "libs_attached": c.libs_attached,
                **self._redaction_counters(),
            },
        )

    def _redaction_counters(self) -> dict[str, int]:
        # Any residual leak risk (values split across calls, no filler) and
        # internal redactor failures belong in the file, not only in logs.
        r = self.redactor
        if r is None:
            return {}
        return {
            "redact_errors": r.errors,
            "redact_split_values": r.split_values,
            "redact_split_schemes": r.split_schemes,
            "redact_fallback_values": r.fallback_values,
        }

    # -- events --------------------------------------------------------------

    def _on_event(self, raw: bytes) -> None:
        self.counters.events += 1
        if self.failed:
            return
        try:
            e = ev.decode(raw)
        except EventDecodeError:
            self.counters.decode_errors += 1
            return
        if isinstance(e, ev.DataChunk):
            self.counters.bytes += len(e.data)
            if e.conn in self._not_plain:
                return
            for p in self.assembler.feed(e):
                self._write_piece(p)
        elif isinstance(e, ev.Sock):
            if e.role == "client":
                self._rescan_on_connect(e.pid)
            local = self._local.pop((e.pid, e.fd), None) if e.role == "client" else None
            if local is not None and not e.local_port:
                # established before connect() returned (the event carries it
                # itself since the kernel side fills it in; this is the fallback)
                e = dataclasses.replace(e, local_addr=local.addr, local_port=local.port)
            self._socks[(e.pid, e.fd)] = e
            if e.conn:
                self._plain_socks[e.conn] = e
        elif isinstance(e, ev.Local):
            sock = self._socks.get((e.pid, e.fd))
            if sock is not None and sock.role == "client" and not sock.local_port:
                # non-blocking connect: returned EINPROGRESS, established later
                sock = dataclasses.replace(sock, local_addr=e.addr, local_port=e.port)
                self._socks[(e.pid, e.fd)] = sock
                if sock.conn:
                    self._plain_socks[sock.conn] = sock
            else:
                self._local[(e.pid, e.fd)] = e
        elif isinstance(e, ev.Sni):
            self._sni[(e.pid, e.ssl)] = e.name
        elif isinstance(e, ev.Close):
            self._on_close(e)
        elif isinstance(e, ev.Exec):
            self._on_exec(e)
        elif isinstance(e, ev.Fork):
            self._on_fork(e)
        elif isinstance(e, ev.Exit):
            self._on_exit(e)

    def _on_close(self, e: ev.Close) -> None:
        if e.not_plain:
            self._not_plain.add(e.conn)
        self._plain_socks.pop(e.conn, None)
        fid = self._conn_ids.pop(e.conn, None)
        if fid is None:
            return
        for p in self.assembler.flush():
            self._write_piece(p)
        if self.redactor is not None:
            self.redactor.close(fid)
        self._append(RecordKind.CONN_CLOSE, e.ts, conn=fid, pid=e.pid, reason=e.reason)

    def _write_process(self, info: dict[str, Any], source: str, ts: int | None = None) -> None:
        pid = info["pid"]
        info = dict(info)
        info["source"] = source
        self._procs[pid] = info
        self._append(RecordKind.PROCESS, ts or time.monotonic_ns(), **info)

    def _ensure_process(self, pid: int, ts: int) -> None:
        if pid not in self._procs:
            self._write_process(process_info(pid), "late", ts)

    def _on_exec(self, e: ev.Exec) -> None:
        self._append(
            RecordKind.EXEC,
            e.ts,
            pid=e.pid,
            ppid=e.ppid or None,
            comm=e.comm,
            filename=e.filename,
            argv=e.argv,
            argv_truncated=e.argv_truncated or None,
            uid=e.uid,
            gid=e.gid,
        )
        info: dict[str, Any] = {
            "pid": e.pid,
            "ppid": e.ppid,
            "comm": e.comm,
            "cmdline": e.argv,
            "uid": e.uid,
            "gid": e.gid,
            "start_ns": e.start_ns,
        }
        live = process_info(e.pid)
        for k in ("exe", "cwd", "cgroup", "container_id"):
            if k in live:
                info[k] = live[k]
        # BPF knows ppid/start only for processes forked during the capture.
        if not e.ppid and "ppid" in live:
            info["ppid"] = live["ppid"]
        if not e.start_ns:
            info.pop("start_ns")
            if "start_ns" in live:
                info["start_ns"] = live["start_ns"]
        if not e.argv and "cmdline" in live:
            info["cmdline"] = live["cmdline"]
        if "exe" not in info and e.filename.startswith("/"):
            info["exe"] = e.filename
        if "cgroup" not in info:
            cg = self.cgroups.path(e.cgroup_id)
            if cg:
                info["cgroup"] = cg
                cid = container_id(cg)
                if cid:
                    info["container_id"] = cid
        self._write_process(info, "exec", e.ts)
        now = time.monotonic()
        self._rescans.extend((now + d, e.pid, i) for i, d in enumerate(RESCAN_AFTER))
        self._rescans.sort()

    def _on_fork(self, e: ev.Fork) -> None:
        self._append(RecordKind.FORK, e.ts, pid=e.pid, ppid=e.ppid, comm=e.comm)
        parent = self._procs.get(e.ppid, {})
        info = {
            k: v
            for k, v in parent.items()
            if k not in ("pid", "ppid", "comm", "source", "start_ns")
        }
        info.update(pid=e.pid, ppid=e.ppid, comm=e.comm)
        self._write_process(info, "fork", e.ts)

    def _on_exit(self, e: ev.Exit) -> None:
        self._append(
            RecordKind.EXIT, e.ts, pid=e.pid, exit_code=e.exit_code, signal=e.signal, comm=e.comm
        )
        for kid, fid in list(self._conn_ids.items()):
            if self._conn_pid.get(fid) == e.pid:
                del self._conn_ids[kid]
                self._append(RecordKind.CONN_CLOSE, e.ts, conn=fid, pid=e.pid, reason="exit")
        for key in [k for k in self._socks if k[0] == e.pid]:
            del self._socks[key]
        for key in [k for k in self._sni if k[0] == e.pid]:
            del self._sni[key]
        for key in [k for k in self._local if k[0] == e.pid]:
            del self._local[key]
        self._last_scan.pop(e.pid, None)

    def _rescan_on_connect(self, pid: int) -> None:
        """A connect() often precedes the first TLS call of a library loaded
        late (dlopen): look at the process's maps right away."""
        now = time.monotonic()
        if now - self._last_scan.get(pid, 0.0) < RESCAN_ON_CONNECT_S:
            return
        self._last_scan[pid] = now
        for c in self.finder.scan_pid(pid):
            self._attach(c)

    def _do_rescans(self, now: float) -> None:
        while self._rescans and self._rescans[0][0] <= now:
            _, pid, _stage = self._rescans.pop(0)
            self._last_scan[pid] = now
            for c in self.finder.scan_pid(pid):
                self._attach(c)

    # -- data ----------------------------------------------------------------

    def _conn_open(self, p: Piece) -> int:
        fid = len(self._conn_pid) + 1
        self._conn_ids[p.conn] = fid
        self._conn_pid[fid] = p.pid
        self.counters.conns += 1
        fields: dict[str, Any] = {
            "conn": fid,
            "pid": p.pid,
            "tid": p.tid,
            "transport": "tcp" if p.lib == 2 else "tls",
            "lib": ev.LIB_NAMES[p.lib] if p.lib < len(ev.LIB_NAMES) else str(p.lib),
        }
        if p.fd >= 0:
            fields["fd"] = p.fd
        if p.lib != 2:
            fields["ssl"] = p.ssl
            sni = self._sni.get((p.pid, p.ssl))
            if sni:
                fields["sni"] = sni
        sock = self._plain_socks.get(p.conn) if p.lib == 2 else self._socks.get((p.pid, p.fd))
        # /proc only for sockets older than the capture (no connect/accept seen).
        proc = socket_addrs(p.pid, p.fd) if p.fd >= 0 and sock is None else None
        if sock is not None:
            fields["family"] = sock.family
            fields["role"] = sock.role
            fields["source"] = "connect" if sock.role == "client" else "accept"
            fields["remote_addr"], fields["remote_port"] = sock.addr, sock.port
            if sock.local_port:
                fields["local_port"] = sock.local_port
            if sock.local_addr:
                fields["local_addr"] = sock.local_addr
            # Not /proc: by now the fd may be another socket to the same peer.
        elif proc:
            fields.update(proc)
            fields["source"] = "proc"
        else:
            fields["source"] = "ssl"
        self._append(RecordKind.CONN_OPEN, p.ts, **fields)
        return fid

    def _write_piece(self, p: Piece) -> None:
        if self.failed or self.writer is None or p.conn in self._not_plain:
            return
        self._ensure_process(p.pid, p.ts)
        fid = self._conn_ids.get(p.conn)
        if fid is None:
            fid = self._conn_open(p)
        data = p.data
        spans = None
        if self.redactor is not None:
            # The offset lets the redactor step over lost bytes exactly
            # instead of mistaking the next request's headers for body.
            data, sp = self.redactor.feed(fid, p.dir, data, offset=p.offset)
            spans = [[s, n] for s, n in sp] or None
        try:
            self.writer.data(
                p.ts,
                conn=fid,
                pid=p.pid,
                dir=p.dir,
                offset=p.offset,
                length=p.length,
                data=data,
                tid=p.tid,
                trunc=p.trunc,
                redacted=spans,
                fn=ev.FN_NAMES[p.fn] if p.fn < len(ev.FN_NAMES) else str(p.fn),
            )
            self.counters.records += 1
            self.counters.data_records += 1
        except FormatError as e:
            self._fail(e)

    # -- status ----------------------------------------------------------------

    def lost(self) -> dict[str, int]:
        """Cumulative drop counters (the last known ones once detached)."""
        if self.program is not None and not self.failed and not self._closed:
            self._last_lost = self.program.lost()
        return self._last_lost

    def status_line(self) -> str:
        """One line: elapsed, events, bytes, processes, drops."""
        lost = self.lost()
        drops = sum(v for k, v in lost.items() if not k.endswith("bytes"))
        el = time.monotonic() - self.started
        return (
            f"{el:6.1f}s  {self.counters.events} events  {_human(self.counters.bytes)}  "
            f"{len(self._procs)} processes  {self.counters.conns} connections  {drops} drops"
        )

    def summary(self) -> str:
        """One paragraph for the end of the run."""
        c = self.counters
        lost = self.lost()
        lost_s = ", ".join(f"{k} {v}" for k, v in lost.items() if v) or "none"
        where = self.opts.output if self.opts.output != "-" else "standard output"
        text = (
            f"heron-capture: {time.monotonic() - self.started:.1f}s, {c.events} events, "
            f"{_human(c.bytes)} of payload in {c.data_records} DATA records over {c.conns} "
            f"connections from {len(self._procs)} processes; {c.libs_attached} TLS library "
            f"copies hooked; drops: {lost_s}; written to {where}."
        )
        if self.failed:
            text += f" RECORDING STOPPED EARLY: {self.failed}"
        return text


def _human(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)
