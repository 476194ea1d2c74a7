"""Parse only what a request ADDS to the history its process sent last time.

An agent re-sends its whole conversation on every turn, so a capture of one
growing conversation holds O(turns²) history bytes.  Parsing every request
in full (JSON, then one :class:`Message` per history item, then hashes) makes
analysis quadratic in Python.  Instead, :class:`RequestHistory` remembers,
per slot (process + API), the last request body's text, where each item of
its history array (``messages``, ``contents``, ``input``) starts and ends,
the parsed items and the :class:`Message` made from each.  For the next
request of the slot:

1. the common prefix with the previous text is found by memcmp (C speed);
2. every history item that lies wholly inside that prefix is the SAME item at
   the same offsets: its parsed value and its Message are reused, with no
   JSON parsing and no Python work per byte;
3. only the new items are decoded (``json.JSONDecoder.raw_decode`` from
   their offset); the keys after the array are reused when the text after
   the array is unchanged, else decoded.

Anything that does not fit (not UTF-8, not an object, no history array,
malformed JSON) falls back to a plain ``json.loads`` with nothing reused, so
results are always those of a full parse.  Message objects are shared
between the calls of a slot and must not be mutated after creation.

Memory: one body text per conversation thread (at most ``threads`` per
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
from dataclasses import dataclass, field
from typing import Any, TypeVar

_WS = re.compile(r"[ \t\n\r]*")
_DEC = json.JSONDecoder()
T = TypeVar("T")


class _Malformed(Exception):
    pass


@dataclass(slots=True)
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

    body: Any
    key: str
    reused: int = 0
    state: dict[str, Any] = field(default_factory=dict)
    derived: list[Any] = field(default_factory=list)  # convert(item) per item
    kept: list[Any] = field(default_factory=list)  # the derived values that are not None
    kept_before: list[int] = field(default_factory=lambda: [0])  # len(kept) before item i
    _prev: RequestView | None = None

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
        new = [convert(x) for x in arr[k:]]
        if prev is not None and k:
            shared = prev.kept_before[k]
            self.derived = prev.derived[:k] + new
            self.kept = prev.kept[:shared]
            self.kept_before = prev.kept_before[: k + 1]
        else:
            shared = 0
            self.derived = new
        n = len(self.kept)
        before = self.kept_before
        for v in new:
            if v is not None:
                self.kept.append(v)
                n += 1
            before.append(n)
        self._prev = None  # the chain of views must not keep every request alive
        return self.kept, shared


@dataclass(slots=True)
class _Last:
    text: str
    start: int  # offset of the array's first item (just past "[")
    ends: list[int]  # offset just past each item
    items: list[Any]
    pre: dict[str, Any]  # top-level keys before the array
    post_at: int  # offset just past the array's "]"
    post: dict[str, Any]  # top-level keys after the array
    view: RequestView


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
        lasts = self._slots.pop(slot, [])
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        # Several threads of one process (sessions, sub-agents) interleave
        # their requests: continue the lineage this body shares most with.
        best, n = None, -1
        if text is not None:
            for last in lasts:
                m = _common_prefix(text, last.text)
                if m > n:
                    best, n = last, m
        if best is not None:
            lasts.remove(best)
        try:
            if text is None:
                raise _Malformed
            parsed = self._scan(text, key, best, n)
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

    def _scan(self, t: str, key: str, last: _Last | None, n: int) -> _Last:
        reuse = 0
        pre: dict[str, Any] = {}
        if last is not None and last.start <= min(n, len(t)):
            reuse = bisect.bisect_right(last.ends, n)  # items wholly inside the prefix
            pre = last.pre
        if last is None or (reuse == 0 and not pre):
            return self._full(t, key, last.view.state if last is not None else {})
        assert last is not None
        last.view._prev = None  # keep one step of history, never a chain of bodies
        items = last.items[:reuse]
        ends = last.ends[:reuse]
        i = ends[-1] if ends else last.start
        i = self._array(t, i, bool(ends), items, ends)
        post_at = i
        if t[post_at:] == last.text[last.post_at :]:
            post = last.post
        else:
            post = {}
            self._keys(t, post_at, post, first=False)
            if key in post:
                raise _Malformed
        body = {**pre, key: items, **post}
        self.reused_items += reuse
        # A request that drops or changes earlier items forks the lineage (a
        # new thread with the same opening): the old one stays for its own
        # next turn, and the fork gets its own copy of the per-slot state.
        state = last.view.state if reuse == len(last.items) else dict(last.view.state)
        view = RequestView(body, key, reuse, state, _prev=last.view)
        return _Last(t, last.start, ends, items, pre, post_at, post, view)

    def _full(self, t: str, key: str, state: dict[str, Any]) -> _Last:
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
                start = i + 1
                items: list[Any] = []
                ends: list[int] = []
                post_at = self._array(t, start, False, items, ends)
                post: dict[str, Any] = {}
                self._keys(t, post_at, post, first=False)
                if key in post:  # a duplicate key: let json.loads decide
                    raise _Malformed
                view = RequestView({**pre, key: items, **post}, key, 0, state)
                return _Last(t, start, ends, items, pre, post_at, post, view)
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


def _key(t: str, i: int) -> tuple[str, int]:
    if t[i] != '"':
        raise _Malformed
    name, i = _DEC.raw_decode(t, i)
    i = _WS.match(t, i).end()  # type: ignore[union-attr]
    if t[i] != ":":
        raise _Malformed
    return name, _WS.match(t, i + 1).end()  # type: ignore[union-attr]


def _common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix (string compares run at memcmp speed).

    Examples
    --------
    >>> _common_prefix("abcdef", "abcxef"), _common_prefix("ab", "abc"), _common_prefix("", "a")
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


def _loads(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
