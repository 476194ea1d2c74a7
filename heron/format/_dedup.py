"""Cross-record deduplication of DATA payloads (theory of operation).

Agent traffic re-sends the whole growing conversation in every request, so
request *n* is mostly request *n-1* plus a little.  A chunk is flushed every
second for crash safety, so zstd inside one chunk never sees the previous
request; small chunks alone compress ~4x where the whole stream gives ~70x.

We close the gap at the record level, keeping every chunk independently
decodable *given earlier payloads*:

* A DATA payload may be stored as copy-ops (``x``): an array whose items are
  either a ``bin`` literal, an array ``[back, off, len]`` meaning "``len``
  bytes starting at ``off`` of the reconstructed payload of the DATA record
  with sequence number ``s - back``", or an integer ``n``: the next ``n``
  bytes of the connection's literal frame in this chunk.  The payload is the
  concatenation of the items.
* Literal bytes of a chunk are gathered per connection into one *literal
  frame*, zstd-compressed with a raw-content dictionary made of the payloads
  that connection's records copy from plus its newest payloads before the
  chunk (:meth:`DedupEncoder.recent_of_conn`: for a request, the previous
  response).  New text (a tool result, the previous reply) shares
  vocabulary with the conversation so far; a one-second chunk alone has no
  such context, so this is where small chunks catch up with a whole-stream
  compressor without adding a dependency on anything else.  One frame per
  connection keeps a lost dictionary payload from spoiling other
  conversations' literals.
* Both sides keep a *window*: the payloads of the most recent DATA records,
  oldest evicted first while their total size exceeds ``W`` (declared in every
  chunk header).  The writer never references a payload outside the window,
  so a reader needs at most ``W`` bytes of history.  The rule is exact and
  identical on both sides (see :func:`DedupEncoder.encode`), and a reader
  that lost records keeps a superset of what the writer assumed.
* Candidate bases are chosen cheaply: the last few payloads of the same
  connection+direction and of the same pid+direction.  The writer first takes
  the longest common prefix and suffix over the candidates (prefix and suffix
  may come from different bases), then searches the remaining middle for
  32-byte anchors with ``bytes.find`` (memchr/two-way speed) and extends each
  hit forwards and backwards.  The anchor step is what handles HTTP/2, where a
  body is cut into <=16 KiB DATA frames and an insertion shifts every later
  frame relative to the previous request's frames.
* Common prefix/suffix lengths use galloping slice comparisons (memcmp) and
  an XOR of big integers to find the first differing byte, never a Python
  loop over bytes.

Recovery consequence: a record whose base was lost cannot be rebuilt.  The
reader reports which record (seq), which base (seq) and how many bytes are
unavailable, and yields the record with empty ``data`` and ``lost`` set.

Examples
--------
>>> enc = DedupEncoder(window=1 << 20)
>>> a = b"GET /x HTTP/1.1\\r\\n" + b"h" * 500 + b"\\r\\n\\r\\n"
>>> enc.encode(0, 1, 10, 0, a) is None
True
>>> ops = enc.encode(1, 1, 10, 0, a.replace(b"/x", b"/y"))
>>> apply_ops(1, ops, {0: a}.get) == a.replace(b"/x", b"/y")
True
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

#: Payloads shorter than this are stored literally (a reference costs ~8 bytes).
MIN_DEDUP = 512
#: Anchor search only runs on a middle at least this long.
MIN_SEARCH = 256
#: Anchor length and the shortest copy worth emitting from the anchor search.
ANCHOR = 32
MIN_MATCH = 64
#: Candidate history per connection+direction and per pid+direction.
STREAM_CANDIDATES = 16
PID_CANDIDATES = 4
#: Candidates from any process, per direction: a fleet of the same agent sends
#: the same system prompt and tool definitions from many processes.
DIR_CANDIDATES = 4
#: Candidates tried for the common prefix/suffix (the newest first).
PREFIX_CANDIDATES = 6
#: Bytes of candidates scanned per anchor probe, and probes per record.
MAX_CANDIDATE_BYTES = 4 << 20
SEARCH_BYTES = 256 << 10
MAX_PROBES = 48
MAX_STRIDE = 4096
#: After this many payloads of a stream with no match, search only every
#: MISS_RETRY-th payload of it.
MISS_STREAK = 8
MISS_RETRY = 16
#: Recent payloads remembered per connection (both directions) for the
#: literal-section dictionary, and the byte budget they may fill.
CONN_HISTORY = 256
HISTORY_DICT_BYTES = 128 << 10

Op = bytes | list[Any]


def common_prefix(a: bytes, ao: int, b: bytes, bo: int, n: int) -> int:
    """Length of the common prefix of ``a[ao:ao+n]`` and ``b[bo:bo+n]``.

    Galloping memcmp on slices; the first differing byte is found by XOR-ing
    the two slices as big-endian integers.

    Examples
    --------
    >>> common_prefix(b"abcdef", 0, b"abcxef", 0, 6)
    3
    >>> common_prefix(b"zzabc", 2, b"abc", 0, 3)
    3
    """
    done = 0
    step = 64
    while done < n:
        k = min(step, n - done)
        sa = a[ao + done : ao + done + k]
        sb = b[bo + done : bo + done + k]
        if sa == sb:
            done += k
            step <<= 1
        else:
            x = int.from_bytes(sa, "big") ^ int.from_bytes(sb, "big")
            return done + (k * 8 - x.bit_length()) // 8
    return done


def common_suffix(a: bytes, ae: int, b: bytes, be: int, n: int) -> int:
    """Length of the common suffix of ``a[ae-n:ae]`` and ``b[be-n:be]``.

    Examples
    --------
    >>> common_suffix(b"xxhello", 7, b"yhello", 6, 6)
    5
    """
    done = 0
    step = 64
    while done < n:
        k = min(step, n - done)
        sa = a[ae - done - k : ae - done]
        sb = b[be - done - k : be - done]
        if sa == sb:
            done += k
            step <<= 1
        else:
            x = int.from_bytes(sa, "little") ^ int.from_bytes(sb, "little")
            return done + (k * 8 - x.bit_length()) // 8
    return done


def apply_ops(seq: int, ops: list[Any], get: Callable[[int], bytes | None]) -> bytes:
    """Rebuild a payload from copy-ops (strict helper for tests and tools).

    Raises ``KeyError`` when a base is unavailable and ``ValueError`` when a
    copy reaches outside its base.  The reader has its own lenient inline
    version that reports instead of raising.

    Examples
    --------
    >>> apply_ops(5, [[1, 0, 2], b"!"], {4: b"hi"}.get)
    b'hi!'
    """
    parts: list[bytes] = []
    for op in ops:
        if isinstance(op, bytes):
            parts.append(op)
            continue
        back, off, ln = op
        base = get(seq - back)
        if base is None:
            raise KeyError(seq - back)
        if off < 0 or ln < 0 or off + ln > len(base):
            raise ValueError(f"copy [{back}, {off}, {ln}] outside base of {len(base)} bytes")
        parts.append(base[off : off + ln])
    return b"".join(parts)


def bases_of(seq: int, ops: list[Any]) -> list[int]:
    """Sequence numbers of the payloads ``ops`` copies from.

    Examples
    --------
    >>> bases_of(10, [[1, 0, 5], b"x", [3, 2, 2], 4])
    [9, 7]
    """
    return [seq - op[0] for op in ops if op.__class__ is list]


class DedupEncoder:
    """Writer side: keeps the window and turns payloads into copy-ops.

    Examples
    --------
    >>> enc = DedupEncoder(window=1000)
    >>> enc.encode(0, 1, 1, 0, b"x" * 600) is None
    True
    >>> enc.encode(1, 1, 1, 0, b"x" * 600)
    [[1, 0, 600]]
    >>> len(enc.payload(0))
    600
    """

    def __init__(self, window: int) -> None:
        self.window = window
        self._win: dict[int, bytes] = {}
        self._order: deque[int] = deque()
        self._total = 0
        self._by_stream: dict[tuple[int, int], deque[int]] = {}
        self._by_pid: dict[tuple[int, int], deque[int]] = {}
        self._by_dir: dict[int, deque[int]] = {}
        self._by_conn: dict[int, deque[int]] = {}
        self._misses: dict[tuple[int, int], int] = {}
        self._gc_at = 4096

    def last_of_stream(self, conn: int, dir_: int, before: int) -> int | None:
        """Newest DATA seq < ``before`` of this connection+direction still in the window.

        Examples
        --------
        >>> enc = DedupEncoder(100)
        >>> _ = enc.encode(0, 1, 1, 0, b"a" * 10)
        >>> enc.last_of_stream(1, 0, 5), enc.last_of_stream(1, 1, 5)
        (0, None)
        """
        dq = self._by_stream.get((conn, dir_))
        if dq:
            for s in reversed(dq):
                if s < before:
                    return s if s in self._win else None
        return None

    def recent_of_conn(
        self, conn: int, before: int, budget: int = HISTORY_DICT_BYTES
    ) -> list[tuple[int, bytes]]:
        """Newest payloads of ``conn`` (either direction) with seq < ``before``.

        Newest first, stopping before the first one that would take the total
        over ``budget`` bytes: for a new request that is the previous response
        (whose text the request repeats), for a new response the end of the
        previous one.  Only payloads still in the window are returned.

        Examples
        --------
        >>> enc = DedupEncoder(1000)
        >>> for s, d in enumerate([b"req" * 50, b"ev1", b"ev2"]):
        ...     _ = enc.encode(s, 1, 1, 0 if s == 0 else 1, d)
        >>> [s for s, _ in enc.recent_of_conn(1, 3, budget=100)]
        [2, 1]
        """
        dq = self._by_conn.get(conn)
        out: list[tuple[int, bytes]] = []
        if not dq:
            return out
        win = self._win
        for s in reversed(dq):
            if s >= before:
                continue
            p = win.get(s)
            if p is None or len(p) > budget:
                break
            budget -= len(p)
            out.append((s, p))
        return out

    def payload(self, seq: int) -> bytes | None:
        """The payload of DATA record ``seq`` if it is still in the window."""
        return self._win.get(seq)

    def reset(self) -> None:
        """Forget all history (a sync point: later records reference nothing earlier).

        Examples
        --------
        >>> enc = DedupEncoder(100); enc.reset(); enc.window
        100
        """
        self._win.clear()
        self._order.clear()
        self._total = 0
        self._by_stream.clear()
        self._by_pid.clear()
        self._by_dir.clear()
        self._by_conn.clear()
        self._misses.clear()

    def encode(self, seq: int, conn: int, pid: int, dir_: int, data: bytes) -> list[Op] | None:
        """Return copy-ops for DATA record ``seq``, or ``None`` to store it literally.

        Window rule (mirrored by the reader): before handling record ``seq``,
        evict the oldest payloads while their total exceeds the window; then
        handle it; then add its payload.

        Examples
        --------
        >>> DedupEncoder(10).encode(0, 1, 1, 0, b"short") is None
        True
        """
        win = self._win
        while self._total > self.window:
            self._total -= len(win.pop(self._order.popleft()))
        ops: list[Op] | None = None
        sk = (conn, dir_)
        if len(data) >= MIN_DEDUP and win:
            # A stream whose recent payloads matched nothing (bulk or encrypted
            # data) gets only an occasional look, so it cannot slow capture.
            miss = self._misses.get(sk, 0)
            if miss < MISS_STREAK or miss % MISS_RETRY == 0:
                cands = self._candidates(conn, pid, dir_)
                if cands:
                    ops = self._ops(seq, data, cands)
                self._misses[sk] = 0 if ops is not None else miss + 1
            else:
                self._misses[sk] = miss + 1
        win[seq] = data
        self._order.append(seq)
        self._total += len(data)
        dq = self._by_stream.get(sk)
        if dq is None:
            dq = self._by_stream[sk] = deque(maxlen=STREAM_CANDIDATES)
            if len(self._by_stream) > self._gc_at:
                self._gc()
        dq.append(seq)
        pk = (pid, dir_)
        dq = self._by_pid.get(pk)
        if dq is None:
            dq = self._by_pid[pk] = deque(maxlen=PID_CANDIDATES)
        dq.append(seq)
        dq = self._by_dir.get(dir_)
        if dq is None:
            dq = self._by_dir[dir_] = deque(maxlen=DIR_CANDIDATES)
        dq.append(seq)
        cq = self._by_conn.get(conn)
        if cq is None:
            cq = self._by_conn[conn] = deque(maxlen=CONN_HISTORY)
        cq.append(seq)
        return ops

    def _gc(self) -> None:
        # Drop per-connection histories whose newest payload left the window,
        # so millions of short connections do not grow memory without bound.
        win = self._win
        for table in (self._by_stream, self._by_pid):
            for key in [k for k, dq in table.items() if not dq or dq[-1] not in win]:
                del table[key]
                if table is self._by_stream:
                    self._misses.pop(key, None)
        for conn in [k for k, dq in self._by_conn.items() if not dq or dq[-1] not in win]:
            del self._by_conn[conn]
        self._gc_at = max(4096, 2 * len(self._by_stream))

    def _candidates(self, conn: int, pid: int, dir_: int) -> list[tuple[int, bytes]]:
        win = self._win
        seen: set[int] = set()
        out: list[tuple[int, bytes]] = []
        budget = MAX_CANDIDATE_BYTES
        for dq in (
            self._by_stream.get((conn, dir_)),
            self._by_pid.get((pid, dir_)),
            self._by_dir.get(dir_),
        ):
            if not dq:
                continue
            for s in reversed(dq):
                if s in seen:
                    continue
                seen.add(s)
                b = win.get(s)
                if b is None or len(b) < 64 or len(b) > budget:
                    continue
                budget -= len(b)
                out.append((s, b))
        return out

    def _ops(self, seq: int, data: bytes, cands: list[tuple[int, bytes]]) -> list[Op] | None:
        n = len(data)
        pre, pre_s = 0, -1
        near = cands[:PREFIX_CANDIDATES]
        for s, c in near:
            p = common_prefix(data, 0, c, 0, min(n, len(c)))
            if p > pre:
                pre, pre_s = p, s
                if p == n:
                    break
        if pre == n:
            return [[seq - pre_s, 0, n]]
        suf, suf_s, suf_len = 0, -1, 0
        for s, c in near:
            q = common_suffix(data, n, c, len(c), min(n - pre, len(c)))
            if q > suf:
                suf, suf_s, suf_len = q, s, len(c)
        ops: list[Op] = []
        if pre >= 8:
            ops.append([seq - pre_s, 0, pre])
        else:
            pre = 0
        if suf < 8:
            suf = 0
        end = n - suf
        if end - pre >= MIN_SEARCH:
            # search the newest candidates only, within a byte budget: failed
            # probes (genuinely new text) scan every byte of them
            scan: list[tuple[int, bytes]] = []
            budget = SEARCH_BYTES
            for s, c in cands:
                if len(c) > budget and scan:
                    break
                budget -= len(c)
                scan.append((s, c))
            self._search(seq, data, pre, end, scan, ops)
        elif end > pre:
            ops.append(data[pre:end])
        if suf:
            ops.append([seq - suf_s, suf_len - suf, suf])
        size = 0
        for op in ops:
            size += len(op) if isinstance(op, bytes) else 8
        if size >= n:
            return None
        return ops

    def _search(
        self,
        seq: int,
        data: bytes,
        start: int,
        end: int,
        cands: list[tuple[int, bytes]],
        ops: list[Op],
    ) -> None:
        lit = pos = start
        stride = ANCHOR
        probes = 0
        while end - pos >= MIN_MATCH and probes < MAX_PROBES:
            probes += 1
            anchor = data[pos : pos + ANCHOR]
            best_len, best_s, best_off, best_back = 0, -1, 0, 0
            # after two misses in a row this is probably new text: look only in
            # the newest candidates until something matches again
            for s, c in cands if stride <= 4 * ANCHOR else cands[:2]:
                i = c.find(anchor)
                tries = 0
                while i >= 0 and tries < 3:
                    tries += 1
                    fl = common_prefix(data, pos, c, i, min(end - pos, len(c) - i))
                    bl = common_suffix(data, pos, c, i, min(pos - lit, i))
                    if fl + bl > best_len:
                        best_len, best_s, best_off, best_back = fl + bl, s, i - bl, bl
                    if fl >= 4096 or pos + fl >= end:
                        break
                    i = c.find(anchor, i + 1)
                if best_len >= 4096 or pos - best_back + best_len >= end:
                    break
            if best_len < MIN_MATCH:
                pos += stride
                stride = min(stride * 2, MAX_STRIDE)
                continue
            mstart = pos - best_back
            if mstart > lit:
                ops.append(data[lit:mstart])
            ops.append([seq - best_s, best_off, best_len])
            pos = lit = mstart + best_len
            stride = ANCHOR
        if end > lit:
            ops.append(data[lit:end])
