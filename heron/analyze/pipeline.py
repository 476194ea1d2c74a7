"""A pass over a capture on two cores: read and reassemble in a child, build tables here.

One pass over a capture is a chain: records are decoded
(:class:`heron.format.Reader`), reassembled into HTTP exchanges
(:func:`heron.analyze.reassembly.iter_exchanges`), then parsed into calls
and grouped (:class:`heron.analyze.build.Analysis`).  :func:`run_split`
runs the first two links in a forked child process and the last one in the
caller, connected by a pipe, so a large capture is analysed on two cores
at once.

The result is exactly the one-process pass, by construction: the child
sends, in order, every record other than DATA, then the exchanges each
record completed, and the parent replays them into ``observe`` and
``add_exchange`` in that same order -- the interleaving the one-process
pass produces.  DATA records themselves (their payloads only reassembly
needs) are summed in the child into exactly what ``observe`` takes from
them: counts and extreme times (sent before any other item, since a call's
row can read the last time seen), each connection's first record (in
place: it opens the connection), and the greatest stream end per
direction (:meth:`~heron.analyze.build.Analysis.observe_data_counts`,
:meth:`~heron.analyze.build.Analysis.observe_conn`,
:meth:`~heron.analyze.build.Analysis.observe_ends`).  A
:class:`~heron.errors.HeronError` that stops the reader stops the child's
pass at the same point (without flushing open exchanges, as in-process),
and the reader's :class:`~heron.format.ReadReport` comes back with the end
message.

Wire format (a private pipe, never stored): a header ``<BQQi`` (kind,
metadata length, blob length, shared-memory slot), then the metadata list
(marshalled; pickled when it holds a value marshal cannot take); the
batch's bodies, back to back, are in that slot of the shared memory
(:class:`_Shared`), or follow in the pipe when the slot is -1 (they did
not fit one, or the system has no ``eventfd``).  Exchanges travel as lists
of their fields (a pickled slots object costs several times more).

The two sides' speeds swing: per call, reading and reassembly grow with
body bytes and table building with new messages, so along a growing
conversation first one side and then the other is ahead, for megabytes at a
time.  A pipe holds 1 MiB, so the child queues what the pipe cannot take
yet (:class:`_Sender`, up to 64 MiB) instead of waiting.  On the bench's
256 MiB corpus that took the pass from ~1.9 s to ~1.4 s; before, each side
spent about a third of the pass waiting for the other.

If the child fails (killed, or a bug), :func:`run_split` raises
:class:`SplitFailed` and the caller re-runs the pass in-process; nothing is
lost but time.

Examples
--------
>>> from heron.analyze.build import Analysis
>>> from heron.format import Reader
>>> a = Analysis("demo.heron")
>>> report = run_split(lambda: Reader("tests/fixtures/demo.heron"), a)
>>> a.finish().calls.height, report.records > 0
(8, True)
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import marshal
import mmap
import os
import pickle
import select
import signal
import struct
import sys
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import fields
from itertools import islice
from operator import attrgetter
from typing import IO, TYPE_CHECKING, Any

from heron.analyze.exchange import Exchange
from heron.errors import HeronError
from heron.format.records import RecordKind

if TYPE_CHECKING:  # the child needs no Polars: this module does not import build
    from heron.analyze.build import Analysis

#: kind, metadata bytes, blob bytes, shared-memory slot of the blob (-1: in the pipe)
_HDR = struct.Struct("<BQQi")
_INLINE = -1
_BATCH, _END, _BATCH_PICKLED = 0, 1, 2
#: A batch is sent once its bodies reach this many bytes (or it has _MAX_ITEMS items);
#: 1 MiB measured the same on the bench corpus, within its noise.
_MAX_BLOB = 256 << 10
_MAX_ITEMS = 4096
#: Buffers per writev call (Linux's IOV_MAX is 1024).
_IOV_MAX = 512
#: Pipe capacity asked for (Linux caps it at /proc/sys/fs/pipe-max-size, 1 MiB by default).
_PIPE_SIZE = 1 << 20
#: Bytes the child may queue beyond the pipe while the parent is behind (see _Sender).
_MAX_PENDING = 64 << 20
#: Seconds without a byte from the child after which the pass gives up on it.
STALL_S = 120.0
#: Shared memory for the bodies (see _Shared): slots, and bytes per slot.  A
#: batch is cut at _MAX_BLOB, so its bodies fit a slot unless one exchange
#: alone brings more than _SLOT - _MAX_BLOB; those go through the pipe.
#: The room above _MAX_BLOB keeps a batch with one large exchange in a slot.
#: N slots let the child run N batches (~N/4 MiB of bodies) ahead of the
#: parent.  On a growing conversation the parent is behind early (many short
#: calls) and the child late (long bodies), for tens of MiB at a time: with
#: the compiled modules (heron.accel) 32 slots left each side waiting ~0.3 s
#: per 512 MiB, 128 about 0.1 s, and the pass was ~11% faster (12 interleaved
#: runs).  Slots are touched only as used: 128 add no peak RSS (the peak is
#: in finish, after the memory is unmapped); 256 added ~20 MiB and no speed.
_SLOTS = 128
_SLOT = 3 << 19
_FIELDS = tuple(f.name for f in fields(Exchange))
_GET = attrgetter(*_FIELDS)  # an exchange's fields, in one C call
_DATA = int(RecordKind.DATA)
#: Tags of the summed DATA observations (see _child).
_COUNTS, _CONN, _ENDS = 0, 1, 2
_REQ = _FIELDS.index("request_body")
_RESP = _FIELDS.index("response_body")


class SplitFailed(HeronError):
    """The reading child process failed; the caller should analyse in-process.

    Examples
    --------
    >>> str(SplitFailed("the reading process stopped without finishing the pass"))
    'the reading process stopped without finishing the pass'
    """


def available() -> bool:
    """Whether a split pass can run here: Linux ``fork`` and at least two CPUs.

    Examples
    --------
    >>> isinstance(available(), bool)
    True
    """
    return sys.platform.startswith("linux") and hasattr(os, "fork") and _cpus() >= 2


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


#: Captures with at least this much traffic (per the footer index) get two processes.
SPLIT_MIN_PLAINTEXT = 32 << 20


def wanted(path: str | None, jobs: int | None = None) -> bool:
    """The jobs policy: whether a pass over ``path`` should run on two processes.

    ``jobs`` (else ``HERON_JOBS``) of 2 or more asks for it, 1 forbids it;
    unset, a capture of :data:`SPLIT_MIN_PLAINTEXT` or more gets it.  File
    objects (``path`` None) always run in one process.

    Examples
    --------
    >>> wanted("tests/fixtures/demo.heron", jobs=1), wanted(None, jobs=2)
    (False, False)
    >>> wanted("tests/fixtures/demo.heron")   # small: one process
    False
    """
    if jobs is None:
        env = os.environ.get("HERON_JOBS", "").strip()
        jobs = int(env) if env.isdigit() else None
    if path is None or not available():
        return False
    if jobs is not None:
        return jobs >= 2
    return plaintext_estimate(path) >= SPLIT_MIN_PLAINTEXT


def plaintext_estimate(path: str) -> int:
    """DATA bytes in the capture per its footer index; the file size when unknown.

    Examples
    --------
    >>> plaintext_estimate("tests/fixtures/demo.heron") > 0
    True
    """
    data_bytes, _ = index_counts(path)
    if data_bytes is not None:
        return data_bytes
    try:
        return os.path.getsize(path) * 16  # no index (a killed writer): a low ratio
    except OSError:
        return 0


def index_counts(path: str) -> tuple[int | None, int | None]:
    """(DATA bytes, records) per the capture's footer index; None for what it lacks.

    Examples
    --------
    >>> index_counts("tests/fixtures/demo.heron")[1]
    154
    """
    from heron.format import IndexedReader

    try:
        with IndexedReader(path) as r:
            sizes = [c.data_bytes for c in r.chunks]
            idx = r.index
    except (HeronError, OSError):
        return None, None
    records = idx.get("records") if isinstance(idx, dict) else None
    return (
        sum(sizes) if sizes and min(sizes) >= 0 else None,
        records if isinstance(records, int) and records > 0 else None,
    )


class Child:
    """A started reading process: its pid and the read end of its pipe.

    Made by :func:`start`; handed to :func:`run_split`, or stopped with :meth:`cancel`.

    Examples
    --------
    >>> from heron.format import Reader
    >>> c = start(lambda: Reader("tests/fixtures/demo.heron"))
    >>> c.cancel()
    >>> c.pid is None
    True
    """

    def __init__(self, pid: int, fd: int, shared: _Shared | None = None) -> None:
        self.pid: int | None = pid
        self.fd = fd
        self.shared = shared

    def cancel(self) -> None:
        """Stop the process (if it still runs) and reap it; safe to call twice.

        Examples
        --------
        >>> from heron.format import Reader
        >>> c = start(lambda: Reader("tests/fixtures/demo.heron"))
        >>> c.cancel(); c.cancel()
        >>> run_split(lambda: None, None, c)
        Traceback (most recent call last):
        ...
        heron.analyze.pipeline.SplitFailed: the reading process was cancelled
        """
        pid, self.pid = self.pid, None
        if pid is None:
            return
        with contextlib.suppress(OSError):
            os.close(self.fd)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        if self.shared is not None:
            self.shared.close()


def start(open_reader: Callable[[], Any]) -> Child:
    """Fork the reading process now; it starts reading at once.

    The CLI starts it before importing Polars and the table code (~0.2 s),
    which then load while the child already reads.  ``open_reader`` is
    called in the child.

    Examples
    --------
    >>> from heron.format import Reader
    >>> from heron.analyze.build import Analysis
    >>> a = Analysis("demo.heron")
    >>> child = start(lambda: Reader("tests/fixtures/demo.heron"))
    >>> report = run_split(lambda: None, a, child)   # open_reader is not called again
    >>> a.finish().calls.height
    8
    """
    shared = _Shared.make()
    rfd, wfd = os.pipe()
    with contextlib.suppress(OSError, AttributeError):  # fewer, larger hand-overs
        fcntl.fcntl(wfd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.close(rfd)
            _child(open_reader, wfd, shared)
        except BaseException:  # report anything, then leave
            code = 1
        finally:
            os._exit(code)
    os.close(wfd)
    return Child(pid, rfd, shared)


def run_split(
    open_reader: Callable[[], Any],
    analysis: Analysis,
    child: Child | None = None,
    tick: Callable[[], None] | None = None,
) -> Any:
    """Run one pass with reading and reassembly in a child; return the reader's report.

    ``open_reader`` is called in the child (so a path is opened there),
    unless ``child`` is one :func:`start` already started.  ``tick`` is
    called after each batch the parent takes in (progress reporting).
    Raises :class:`SplitFailed` if the child dies or fails; a reader
    :class:`~heron.errors.HeronError` is appended to ``analysis.warnings``
    as the one-process pass does.

    Examples
    --------
    >>> from heron.format import Reader
    >>> from heron.analyze.build import Analysis
    >>> a = Analysis("openai_tools.heron")
    >>> _ = run_split(lambda: Reader("tests/fixtures/openai_tools.heron"), a)
    >>> sorted(a.finish().tools["name"].to_list())[:2]
    ['list_files', 'read_file']
    """
    if child is None:
        child = start(open_reader)
    pid, fd, shared = child.pid, child.fd, child.shared
    if pid is None:
        raise SplitFailed("the reading process was cancelled")
    child.pid = None  # this call reaps it
    ok = False
    try:
        with open(fd, "rb", buffering=0) as src:
            report = _parent(src, analysis, shared, tick)
        ok = True
        return report
    finally:
        if not ok:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        if shared is not None:
            shared.close()
        if ok and status != 0:  # pragma: no cover - the end message came, then it failed
            raise SplitFailed(f"the reading process exited with status {status}")


def _child(open_reader: Callable[[], Any], fd: int, shared: _Shared | None = None) -> None:
    from heron.analyze.reassembly import iter_exchanges

    gc.disable()  # as the one-process pass does (Capture._pass)
    out = _Sender(fd)
    items: list[Any] = []
    bodies: list[bytes] = []
    size = 0

    def flush() -> None:
        nonlocal size
        kind = _BATCH
        try:  # marshal: about twice as fast as pickle both ways for these plain values
            meta = marshal.dumps(items)
        except ValueError:  # a value marshal cannot take (an msgpack ExtType, say)
            kind = _BATCH_PICKLED
            meta = pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL)
        slot = shared.put(bodies, size, out) if shared is not None and size else _INLINE
        if slot == _INLINE:  # straight from the bodies into the pipe
            out.send([_HDR.pack(kind, len(meta), size, slot), meta, *bodies])
        else:
            out.send([_HDR.pack(kind, len(meta), size, slot), meta])
        items.clear()
        bodies.clear()
        size = 0

    # DATA records are summed, not sent one by one (what Analysis.observe
    # takes from them): counts and extreme times, flushed before any other
    # item (an exchange's row can read the last time seen); each
    # connection's first DATA record, in place (it makes the connection);
    # the greatest stream end per direction, flushed before other records.
    counts: list[Any] = [0, None, None]  # records, least and greatest int t
    ends: dict[tuple[int, bool], int] = {}
    seen: set[int] = set()

    def flush_counts() -> None:
        if counts[0]:
            items.append((_COUNTS, counts[0], counts[1], counts[2]))
            counts[0] = 0
            counts[1] = counts[2] = None

    def flush_ends() -> None:
        if ends:
            items.append((_ENDS, [(c, o, end) for (c, o), end in ends.items()]))
            ends.clear()

    def tap(records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for rec in records:
            if rec.get("k") == _DATA:
                g = rec.get
                t = g("t")
                counts[0] += 1
                if isinstance(t, int):
                    if counts[1] is None or t < counts[1]:
                        counts[1] = t
                    if counts[2] is None or t > counts[2]:
                        counts[2] = t
                conn = g("conn")
                if isinstance(conn, int):
                    if conn not in seen:
                        seen.add(conn)
                        flush_counts()
                        items.append((_CONN, t, conn, g("pid")))
                    off, ln = g("offset"), g("len")
                    if isinstance(off, int) and isinstance(ln, int):
                        key = (conn, g("dir") == 0)
                        end = off + ln
                        if end > ends.get(key, -1):
                            ends[key] = end
            else:
                flush_counts()
                flush_ends()
                items.append(rec)
            if len(items) >= _MAX_ITEMS:
                flush()
            yield rec

    error: str | None = None
    crash: str | None = None
    reader: Any = None
    try:
        reader = open_reader()
        for ex in iter_exchanges(tap(reader)):
            flush_counts()
            t = list(_GET(ex))
            req, resp = t[_REQ], t[_RESP]
            t[_REQ], t[_RESP] = len(req), len(resp)
            items.append(t)
            bodies.append(req)
            bodies.append(resp)
            size += len(req) + len(resp)
            if size >= _MAX_BLOB or len(items) >= _MAX_ITEMS:
                flush()
            elif out.queued:
                out.pump()  # the parent may have made room since the last batch
    except HeronError as e:
        error = str(e)
    except Exception:  # the parent falls back to an in-process pass
        crash = traceback.format_exc()
    flush_counts()
    flush_ends()
    if items:
        flush()
    report = getattr(reader, "report", None)
    try:
        end = pickle.dumps((error, crash, report), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # an unpicklable report: send what we can
        end = pickle.dumps((error, crash, None), protocol=pickle.HIGHEST_PROTOCOL)
    out.send([_HDR.pack(_END, len(end), 0, _INLINE), end])
    out.close()


class _Sender:
    """The child's end of the pipe: batches the parent cannot take yet wait here.

    An unprivileged pipe holds at most 1 MiB (``/proc/sys/fs/pipe-max-size``),
    but the two sides' speeds swing over a longer stretch than that: reading
    and reassembly cost grows with body bytes, table building with new
    messages, so on a growing conversation one side and then the other is
    ahead for megabytes at a time.  With only the pipe between them each
    waited for the other about a third of the pass (measured on the bench
    corpus).  So writes never block while less than ``limit`` bytes are
    queued; past that the child waits until half of it has gone.

    Examples
    --------
    >>> r, w = os.pipe()
    >>> s = _Sender(w, limit=1 << 20)
    >>> s.send([b"ab", b"", b"cd"]); s.close(); os.close(w)
    >>> os.read(r, 10)
    b'abcd'
    >>> os.close(r)
    """

    def __init__(self, fd: int, limit: int | None = None) -> None:
        self.fd = fd
        self.limit = _MAX_PENDING if limit is None else limit
        self.queue: deque[memoryview] = deque()
        self.queued = 0
        os.set_blocking(fd, False)

    def send(self, parts: list[bytes]) -> None:
        """Queue ``parts`` and write what the pipe takes now; wait only past the limit."""
        for p in parts:
            if p:
                v = memoryview(p)
                self.queue.append(v)
                self.queued += v.nbytes
        self._drain(self.limit // 2 if self.queued > self.limit else None)

    def pump(self) -> None:
        """Write what the pipe takes now, without waiting."""
        self._drain(None)

    def close(self) -> None:
        """Write everything still queued, waiting as long as it takes."""
        self._drain(0)

    def _drain(self, down_to: int | None) -> None:
        """Write without waiting (``down_to`` None), or wait until ``down_to`` bytes are left."""
        queue = self.queue
        while queue:
            try:
                n = os.writev(self.fd, list(islice(queue, _IOV_MAX)))
            except BlockingIOError:
                if down_to is None:
                    return
                wait = select.poll()  # not select(): the fd may be past FD_SETSIZE
                wait.register(self.fd, select.POLLOUT)
                wait.poll()
                continue
            self.queued -= n
            while n:
                left = queue[0].nbytes
                if n >= left:
                    n -= left
                    queue.popleft()
                else:
                    queue[0] = queue[0][n:]
                    n = 0
            if down_to and self.queued <= down_to:
                return


def _parent(
    src: IO[bytes],
    analysis: Analysis,
    shared: _Shared | None = None,
    tick: Callable[[], None] | None = None,
) -> Any:
    observe = analysis.observe
    counts = analysis.observe_data_counts
    conn = analysis.observe_conn
    ends = analysis.observe_ends
    add = analysis.add_exchange
    new = Exchange
    buf = _Buffer()
    while True:
        head = bytes(buf.read(src, _HDR.size))
        if len(head) < _HDR.size:
            raise SplitFailed("the reading process stopped without finishing the pass")
        kind, nmeta, nblob, slot = _HDR.unpack(head)
        meta = bytes(buf.read(src, nmeta))
        if len(meta) < nmeta:
            raise SplitFailed("the reading process stopped without finishing the pass")
        if kind == _END:
            error, crash, report = pickle.loads(meta)
            if crash is not None:
                raise SplitFailed(f"the reading process failed:\n{crash}")
            if error is not None:
                analysis.warnings.append(f"stopped reading early: {error}")
            return report
        if slot == _INLINE:
            blob = buf.read(src, nblob)
            if len(blob) < nblob:
                raise SplitFailed("the reading process stopped without finishing the pass")
        elif shared is None or not 0 <= slot < _SLOTS or nblob > _SLOT:
            raise SplitFailed(f"the reading process sent a bad slot ({slot}, {nblob} bytes)")
        else:
            blob = shared.view[slot * _SLOT : slot * _SLOT + nblob]
        pos = 0
        for it in marshal.loads(meta) if kind == _BATCH else pickle.loads(meta):
            cls = it.__class__
            if cls is tuple:
                tag = it[0]
                if tag == _COUNTS:
                    counts(it[1], it[2], it[3])
                elif tag == _CONN:
                    conn(it[1], it[2], it[3])
                else:
                    ends(it[1])
                continue
            if cls is dict:
                observe(it)
                continue
            t = it
            n = t[_REQ]
            t[_REQ] = bytes(blob[pos : pos + n])
            pos += n
            n = t[_RESP]
            t[_RESP] = bytes(blob[pos : pos + n])
            pos += n
            add(new(*t))
        if slot != _INLINE:
            del blob
            assert shared is not None
            shared.release()
        if tick is not None:
            tick()


class _Shared:
    """Shared memory the child copies each batch's bodies into; the pipe then carries metadata.

    A pipe costs two kernel copies and a system call per 64 KiB page of
    body bytes; here the child copies a batch's bodies once into a slot and
    the parent reads them in place.  Slots are used in turn; an eventfd
    semaphore counts the free ones (the parent frees each after its
    batch, in the same order), so the child waits only when all are full,
    and then it keeps the metadata pipe moving.  Without ``eventfd`` or
    anonymous shared memory, :meth:`make` returns None and bodies go
    through the pipe.

    Examples
    --------
    >>> sh = _Shared.make()
    >>> r, w = os.pipe()
    >>> out = _Sender(w)
    >>> slot = sh.put([b"ab", b"cd"], 4, out)
    >>> bytes(sh.view[slot * _SLOT : slot * _SLOT + 4])
    b'abcd'
    >>> sh.release(); sh.close(); out.close(); os.close(r); os.close(w)
    """

    def __init__(self, mem: mmap.mmap, free: int) -> None:
        self.mem = mem
        self.view = memoryview(mem)
        self.free = free  # eventfd semaphore: free slots
        self.next = 0  # the child's next slot

    @classmethod
    def make(cls) -> _Shared | None:
        """Shared slots and their semaphore, or None where the system has none."""
        try:
            mem = mmap.mmap(-1, _SLOTS * _SLOT)  # anonymous, MAP_SHARED: survives fork
        except (OSError, ValueError):
            return None
        try:
            flags = os.EFD_SEMAPHORE | os.EFD_NONBLOCK | os.EFD_CLOEXEC
            free = os.eventfd(_SLOTS, flags)
        except (AttributeError, OSError):
            mem.close()
            return None
        return cls(mem, free)

    def put(self, bodies: list[bytes], size: int, out: _Sender) -> int:
        """Copy ``bodies`` (``size`` bytes) into the next free slot; its number, or -1.

        -1 (:data:`_INLINE`) when they do not fit a slot: the caller sends
        them through the pipe.  Waits while every slot is in use, writing
        queued metadata meanwhile (the parent frees slots as it reads it).
        """
        if size > _SLOT:
            return _INLINE
        while True:
            try:
                os.eventfd_read(self.free)
                break
            except BlockingIOError:
                out.pump()
                wait = select.poll()
                wait.register(self.free, select.POLLIN)
                if out.queued:
                    wait.register(out.fd, select.POLLOUT)
                wait.poll()
        slot = self.next
        self.next = (slot + 1) % _SLOTS
        pos = slot * _SLOT
        view = self.view
        for b in bodies:
            n = len(b)
            view[pos : pos + n] = b
            pos += n
        return slot

    def release(self) -> None:
        """The parent is done with the oldest slot in use."""
        os.eventfd_write(self.free, 1)

    def close(self) -> None:
        """Release the memory and the semaphore (views still held keep the memory mapped)."""
        with contextlib.suppress(OSError):
            os.close(self.free)
        with contextlib.suppress(BufferError):
            self.view.release()
            self.mem.close()


class _Buffer:
    """One reusable receive buffer (a fresh one per batch would be page-faulted in each time).

    A read that gets no byte for :data:`STALL_S` seconds raises
    :class:`SplitFailed`: a child that hangs (a lock inherited mid-use
    when forking a threaded process, say) costs a fallback, not a hang.
    """

    def __init__(self) -> None:
        self.buf = bytearray(1 << 20)
        self.poll: Any = None

    def read(self, src: IO[bytes], n: int) -> memoryview:
        """Exactly ``n`` bytes (fewer only at end of file), valid until the next read."""
        if n > len(self.buf):
            self.buf = bytearray(n)
        view = memoryview(self.buf)
        pos = 0
        while pos < n:
            if self.poll is None:
                self.poll = select.poll()
                self.poll.register(src.fileno(), select.POLLIN)
            if not self.poll.poll(STALL_S * 1000):
                raise SplitFailed(f"the reading process sent nothing for {STALL_S:g} s")
            k = src.readinto(view[pos:n])  # type: ignore[attr-defined]
            if not k:
                break
            pos += k
        return view[:pos]
