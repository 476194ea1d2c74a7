"""Parse only what a request ADDS to the history its process sent last time.

An agent re-sends its whole conversation on every turn, so a capture of one
growing conversation holds O(turns²) history bytes.  Parsing every request
in full (JSON, then one :class:`Message` per history item, then hashes) makes
analysis quadratic in Python.  Instead, :class:`RequestHistory` remembers,
per slot (process + API) and conversation thread, the last request body,
where its history array (``messages``, ``contents``, ``input``) starts and
closes, where items end, the parsed items and the :class:`Message` made from
each.  For the next request of the slot:

1. the common case -- the body starts with the previous body up to its last
   item, and ends with the same ``]`` and keys after the array -- is checked
   by two in-place byte compares (C speed, no copy); only the bytes between
   (the new items) are decoded, in one call, and every earlier item is
   the SAME object as before: no JSON parsing and no Python work per byte;
2. otherwise the common prefix with each thread's previous body is found by
   memcmp; every item that ends inside the longest one is reused, and the
   rest of the body is decoded (``json.JSONDecoder.raw_decode`` item by
   item, recording where each ends); the keys after the array are reused
   when the bytes after the array are unchanged, else decoded.

Decoding goes through orjson where it is known to give exactly what
:func:`json.loads` gives (:func:`json_loads`).  Anything that does not fit
(not UTF-8, not an object, no history array, malformed JSON) falls back to
a plain ``json.loads`` with nothing reused, so results are always those of
a full parse.  Message objects are shared between the calls of a slot and
must not be mutated after creation.

Memory: one body per conversation thread (at most ``threads`` per
slot), for at most ``max_slots`` slots (least recently used are dropped; a
process's slots go when it exits), so it is bounded whatever the capture
size.

Examples
--------
>>> h = RequestHistory()
>>> a = h.request("p", b'{"messages":[{"role":"user","content":"hi"}],"model":"m"}', "messages")
>>> b = h.request("p", b'{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}],"model":"m"}', "messages")
>>> b.reused, b.body["messages"][0] is a.body["messages"][0], b.body["model"]
(1, True, 'm')
"""

from __future__ import annotations

import bisect
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

_WS = re.compile(r"[ \t\n\r]*")
_WSB = b" \t\n\r"
_DEC = json.JSONDecoder()
# Digits to "0", so that a run of 19 (a possible integer beyond 64 bits) is a
# plain substring search.
_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_LONG_INT = b"0" * 19
T = TypeVar("T")


class _Malformed(Exception):
    pass


class RequestView:
    """One request body, parsed; its first ``reused`` history items are shared.

    ``body`` is exactly what ``json.loads`` would return (a dict; the history
    array a list), except that shared items are the previous request's objects.
    ``state`` is a dict that lives as long as the slot (parsers keep their own
    per-process memos there, e.g. the last system message).

    Examples
    --------
    >>> v = RequestHistory().request("p", b'{"input": [{"role": "user"}]}', "input")
    >>> v.body, v.reused
    ({'input': [{'role': 'user'}]}, 0)
    """

    __slots__ = ("_prev", "body", "derived", "kept", "kept_before", "key", "reused", "state")

    def __init__(
        self,
        body: Any,
        key: str,
        reused: int = 0,
        state: dict[str, Any] | None = None,
        _prev: RequestView | None = None,
    ) -> None:
        self.body = body
        self.key = key
        self.reused = reused
        self.state: dict[str, Any] = {} if state is None else state
        self.derived: list[Any] = []  # convert(item) per item
        self.kept: list[Any] = []  # the derived values that are not None
        self.kept_before: list[int] = [0]  # len(kept) before item i
        self._prev = _prev

    def items(self, convert: Callable[[Any], T | None]) -> tuple[list[T], int]:
        """``convert`` over every history item, skipping Nones; reuses the shared ones.

        Returns the converted values and how many leading ones are the
        previous request's (the same objects, in the same order).

        Examples
        --------
        >>> h = RequestHistory()
        >>> _ = h.request("p", b'{"m":[1,0,2]}', "m").items(lambda x: str(x) if x else None)
        >>> h.request("p", b'{"m":[1,0,2,3]}', "m").items(lambda x: f"new {x}")
        (['1', '2', 'new 3'], 2)
        """
        arr = self.body.get(self.key) if isinstance(self.body, dict) else None
        if not isinstance(arr, list):
            return [], 0
        prev = self._prev
        k = min(self.reused, len(prev.derived)) if prev is not None else 0
        new = list(map(convert, arr[k:])) if k < len(arr) else []
        if prev is not None and k:
            shared = prev.kept_before[k]
            if k == len(prev.derived):
                # The whole previous history is re-sent: its lineage ends here
                # (a fork would have shared less), so its lists are extended.
                self.derived, self.kept, self.kept_before = (
                    prev.derived,
                    prev.kept,
                    prev.kept_before,
                )
                prev.derived, prev.kept, prev.kept_before = [], [], [0]
                self.derived += new
            else:
                self.derived = prev.derived[:k] + new
                self.kept = prev.kept[:shared]
                self.kept_before = prev.kept_before[: k + 1]
        else:
            shared = 0
            self.derived = new
        n = len(self.kept)
        before = self.kept_before
        kept = self.kept
        for v in new:
            if v is not None:
                kept.append(v)
                n += 1
            before.append(n)
        self._prev = None  # the chain of views must not keep every request alive
        return self.kept, shared


@dataclass(slots=True)
class _Last:
    """One request lineage: its last body and where its history array lies (byte offsets)."""

    body: bytes
    start: int  # offset of the array's first item (just past "[")
    end: int  # offset just past the last item (``start`` when the array is empty)
    close: int  # offset of the array's "]"
    items: list[Any]
    marks: list[int]  # offsets just past an item, where known (increasing) ...
    counts: list[int]  # ... and how many items end there or before
    pre: dict[str, Any]  # top-level keys before the array
    post: dict[str, Any]  # top-level keys after the array
    view: RequestView
    prefix: memoryview  # body[:end]
    tail: bytes  # body[close:] (a copy: it stays the same while a thread grows)


class RequestHistory:
    """Per-slot memory of the previous request body (see the module docstring).

    Parameters
    ----------
    max_slots
        Slots remembered (least recently used first out).
    threads
        Request lineages remembered per slot: interleaved conversations of
        one process each continue their own.

    Examples
    --------
    >>> h = RequestHistory(max_slots=1)
    >>> _ = h.request("a", b'{"m": [1]}', "m"); _ = h.request("b", b'{"m": [1]}', "m")
    >>> h.request("a", b'{"m": [1, 2]}', "m").reused     # "a" was evicted by "b"
    0
    """

    def __init__(self, *, max_slots: int = 64, threads: int = 4) -> None:
        self._slots: OrderedDict[Hashable, list[_Last]] = OrderedDict()
        self.max_slots = max_slots
        self.threads = threads
        self.reused_items = 0
        self.parsed_items = 0

    def forget(self, pid: int | None) -> None:
        """Drop the slots of process ``pid`` (it exited: it sends nothing more).

        Examples
        --------
        >>> h = RequestHistory(); _ = h.request((7, "chat"), b'{"m":[1]}', "m"); h.forget(7); len(h)
        0
        """
        for slot in [s for s in self._slots if isinstance(s, tuple) and s[:1] == (pid,)]:
            del self._slots[slot]

    def __len__(self) -> int:
        return len(self._slots)

    def request(self, slot: Hashable, body: bytes, key: str) -> RequestView:
        """Parse ``body``, whose history array is at top-level ``key``.

        Examples
        --------
        >>> RequestHistory().request("p", b"not json", "messages").body is None
        True
        """
        slots = self._slots
        lasts = slots.pop(slot, None)
        if lasts is None:
            lasts = []
        else:
            # The common case: the body re-sends one lineage's whole history
            # (a byte prefix, compared in place) and appends to it.
            best: _Last | None = None
            for last in lasts:
                if body.startswith(last.prefix) and (best is None or last.end > best.end):
                    best = last
            if best is not None and best.view.key == key:
                view = self._extend(body, best)
                if view is not None:
                    if lasts[-1] is not best:
                        lasts.remove(best)
                        lasts.append(best)
                    slots[slot] = lasts
                    return view
        return self._slow(slot, lasts, body, key)

    def _extend(self, body: bytes, last: _Last) -> RequestView | None:
        """``body`` continues ``last`` (its prefix matched): decode only the new items."""
        tail = last.tail
        close = len(body) - len(tail)
        i = last.end
        if close < i or not body.endswith(tail):
            return None
        while i < close and body[i] in _WSB:
            i += 1
        old = last.items
        if i == close:
            new: list[Any] = []
        elif old:
            if body[i] != 0x2C:  # ","
                return None
            got = _items(body[i + 1 : close])
            if not got:  # not JSON, or a trailing comma
                return None
            new = got
        else:
            got = _items(body[i:close])
            if got is None:
                return None
            new = got
        e = close
        start = last.start
        while e > start and body[e - 1] in _WSB:
            e -= 1
        items = old + new if new else old
        prev = last.view
        view = RequestView(
            {**last.pre, prev.key: items, **last.post}, prev.key, len(old), prev.state
        )
        view._prev = prev
        prev._prev = None  # keep one step of history, never a chain of bodies
        if new:
            last.marks.append(e)
            last.counts.append(len(items))
        last.body, last.end, last.close, last.items, last.view = body, e, close, items, view
        last.prefix = memoryview(body)[:e]
        self.reused_items += len(old)
        self.parsed_items += len(new)
        return view

    def _slow(self, slot: Hashable, lasts: list[_Last], body: bytes, key: str) -> RequestView:
        """Any other body: continue the lineage it shares most with, else parse it whole."""
        best, n = None, -1
        for last in lasts:
            if last.view.key != key:
                continue
            m = _common_prefix(body, last.body)
            if m > n:
                best, n = last, m
        if best is not None:
            lasts.remove(best)
        try:
            parsed = self._scan(body, key, best, n)
        except (ValueError, _Malformed, IndexError):
            if lasts:
                self._slots[slot] = lasts
            return RequestView(_loads(body), key)
        if best is not None and parsed.view.reused < len(best.items):
            lasts.append(best)  # a fork: the old thread may still continue
        lasts.append(parsed)
        while len(lasts) > self.threads:
            del lasts[0]
        self._slots[slot] = lasts
        while len(self._slots) > self.max_slots:
            self._slots.popitem(last=False)
        return parsed.view

    def _scan(self, body: bytes, key: str, last: _Last | None, n: int) -> _Last:
        t = body.decode("utf-8")  # UnicodeDecodeError is a ValueError: json.loads decides
        ascii = len(t) == len(body)
        reuse = 0
        j = 0
        pre: dict[str, Any] = {}
        if last is not None and last.start <= min(n, len(body)):
            j = bisect.bisect_right(last.marks, n)  # known item ends inside the prefix
            reuse = last.counts[j - 1] if j else 0
            pre = last.pre
        if last is None or (reuse == 0 and not pre):
            return self._full(body, t, ascii, key, last.view.state if last is not None else {})
        assert last is not None
        last.view._prev = None  # keep one step of history, never a chain of bodies
        items = last.items[:reuse]
        marks, counts = last.marks[:j], last.counts[:j]
        b = marks[-1] if marks else last.start
        i0 = b if ascii else len(body[:b].decode("utf-8"))
        ends: list[int] = []
        i = self._array(t, i0, bool(items), items, ends)
        _add_marks(t, ascii, i0, b, ends, marks, counts, reuse)
        close = _byte_at(t, ascii, i - 1)
        if body[close:] == last.body[last.close :]:
            post = last.post
        else:
            post = {}
            self._keys(t, i, post, first=False)
            if key in post:
                raise _Malformed
        self.reused_items += reuse
        # A request that drops or changes earlier items forks the lineage (a
        # new thread with the same opening): the old one stays for its own
        # next turn, and the fork gets its own copy of the per-slot state.
        state = last.view.state if reuse == len(last.items) else dict(last.view.state)
        view = RequestView({**pre, key: items, **post}, key, reuse, state, _prev=last.view)
        return _new_last(body, last.start, close, items, marks, counts, pre, post, view)

    def _full(self, body: bytes, t: str, ascii: bool, key: str, state: dict[str, Any]) -> _Last:
        i = _WS.match(t, 0).end()  # type: ignore[union-attr]
        if t[i] != "{":
            raise _Malformed
        i += 1
        pre: dict[str, Any] = {}
        while True:
            i = _WS.match(t, i).end()  # type: ignore[union-attr]
            if t[i] == "}":
                raise _Malformed  # no history array: nothing to gain
            name, i = _key(t, i)
            if name == key and t[i] == "[":
                start_s = i + 1
                start = start_s if ascii else len(t[:start_s].encode("utf-8"))
                items: list[Any] = []
                ends: list[int] = []
                post_at = self._array(t, start_s, False, items, ends)
                post: dict[str, Any] = {}
                self._keys(t, post_at, post, first=False)
                if key in post:  # a duplicate key: let json.loads decide
                    raise _Malformed
                marks: list[int] = []
                counts: list[int] = []
                _add_marks(t, ascii, start_s, start, ends, marks, counts, 0)
                close = _byte_at(t, ascii, post_at - 1)
                view = RequestView({**pre, key: items, **post}, key, 0, state)
                return _new_last(body, start, close, items, marks, counts, pre, post, view)
            pre[name], i = _DEC.raw_decode(t, i)
            i = _WS.match(t, i).end()  # type: ignore[union-attr]
            if t[i] != ",":
                raise _Malformed
            i += 1

    def _array(self, t: str, i: int, after_item: bool, items: list[Any], ends: list[int]) -> int:
        """Decode array items from ``i`` to the closing bracket; return the offset past it."""
        while True:
            i = _WS.match(t, i).end()  # type: ignore[union-attr]
            c = t[i]
            if c == "]":
                return i + 1
            if after_item:
                if c != ",":
                    raise _Malformed
                i = _WS.match(t, i + 1).end()  # type: ignore[union-attr]
            v, j = _DEC.raw_decode(t, i)
            items.append(v)
            ends.append(j)
            self.parsed_items += 1
            i = j
            after_item = True

    @staticmethod
    def _keys(t: str, i: int, out: dict[str, Any], *, first: bool) -> None:
        """Decode ``, "k": v ... }`` (the rest of the top-level object) into ``out``."""
        while True:
            i = _WS.match(t, i).end()  # type: ignore[union-attr]
            if t[i] == "}":
                if t[i + 1 :].strip(" \t\n\r"):
                    raise _Malformed
                return
            if t[i] != ",":
                raise _Malformed
            i = _WS.match(t, i + 1).end()  # type: ignore[union-attr]
            name, i = _key(t, i)
            out[name], i = _DEC.raw_decode(t, i)


def _add_marks(
    t: str,
    ascii: bool,
    s0: int,
    b0: int,
    ends: list[int],
    marks: list[int],
    counts: list[int],
    n0: int,
) -> None:
    """Append ``ends`` (str offsets of items that follow str offset ``s0``, byte
    offset ``b0``) to ``marks`` as byte offsets, and their item counts from ``n0``."""
    if ascii:
        marks += ends
    else:
        s, b = s0, b0
        for e in ends:
            b += len(t[s:e].encode("utf-8"))
            s = e
            marks.append(b)
    counts += range(n0 + 1, n0 + 1 + len(ends))


def _byte_at(t: str, ascii: bool, s: int) -> int:
    """Byte offset of str offset ``s``."""
    return s if ascii else len(t[:s].encode("utf-8"))


def _new_last(
    body: bytes,
    start: int,
    close: int,
    items: list[Any],
    marks: list[int],
    counts: list[int],
    pre: dict[str, Any],
    post: dict[str, Any],
    view: RequestView,
) -> _Last:
    end = marks[-1] if marks else start
    mv = memoryview(body)
    return _Last(
        body, start, end, close, items, marks, counts, pre, post, view, mv[:end], body[close:]
    )


def _key(t: str, i: int) -> tuple[str, int]:
    if t[i] != '"':
        raise _Malformed
    name, i = _DEC.raw_decode(t, i)
    i = _WS.match(t, i).end()  # type: ignore[union-attr]
    if t[i] != ":":
        raise _Malformed
    return name, _WS.match(t, i + 1).end()  # type: ignore[union-attr]


def _common_prefix(a: bytes, b: bytes) -> int:
    """Length of the longest common prefix (string compares run at memcmp speed).

    Examples
    --------
    >>> _common_prefix(b"abcdef", b"abcxef"), _common_prefix(b"ab", b"abc"), _common_prefix(b"", b"a")
    (3, 2, 0)
    """
    if len(a) < len(b):
        a, b = b, a
    n = len(b)
    # startswith(b[x:y], x) compares in place: one slice copied, not two
    if a.startswith(b):
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo] and a[:hi] != b[:hi]
    step = 4096
    while lo + step < hi and a.startswith(b[lo : lo + step], lo):
        lo += step  # histories usually differ near the end: gallop in pages
        step *= 2
    hi = min(hi, lo + step)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a.startswith(b[lo:mid], lo):
            lo = mid
        else:
            hi = mid
    return lo


def json_loads(data: bytes) -> Any:
    """``json.loads(data)``, through orjson where that gives the same value.

    orjson is several times faster, and agrees with :mod:`json` on every
    document it accepts except integers beyond 64 bits (it makes them
    floats): text with a run of 19 digits, and anything orjson rejects
    (NaN, lone surrogates, a BOM, UTF-16...), goes to :func:`json.loads`.
    Raises ``ValueError`` (or ``RecursionError``) like :func:`json.loads`.

    Examples
    --------
    >>> json_loads(b'{"a": [1, 2.5]}'), json_loads(b"123456789012345678901234567890")
    ({'a': [1, 2.5]}, 123456789012345678901234567890)
    >>> json_loads(b"NaN")
    nan
    """
    if _LONG_INT not in data.translate(_ZEROS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


def _items(seg: bytes) -> list[Any] | None:
    """The comma-separated JSON values ``seg`` as a list; None if it is not that."""
    w = b"[" + seg + b"]"
    try:
        if _LONG_INT not in seg.translate(_ZEROS):
            try:
                v = orjson.loads(w)
            except orjson.JSONDecodeError:
                v = json.loads(w.decode("utf-8"))  # the body is UTF-8, whatever its first bytes
        else:
            v = json.loads(w.decode("utf-8"))
    except ValueError:
        return None
    return v if isinstance(v, list) else None


def _loads(body: bytes) -> Any:
    try:
        return json_loads(body)
    except ValueError:
        return None
