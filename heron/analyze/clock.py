"""Kernel monotonic time -> UTC, from a capture's clock samples.

Capture stamps records with ``CLOCK_MONOTONIC`` and writes ``CLOCK_SYNC``
records (and ``CAPTURE_START.realtime_ns``) pairing it with
``CLOCK_REALTIME``.  A monotonic time converts with the offset
(realtime - monotonic) of the NEAREST sample, so a wall-clock step (NTP)
during a long capture only affects times near it.  With no sample at all,
times stay null rather than being guessed.

Examples
--------
>>> c = Clock()
>>> c.add(1_000, 1_700_000_000_000_001_000)
>>> c.add(5_000, 1_700_000_000_000_005_100)
>>> c.to_utc(1_500), c.to_utc(4_900)
(1700000000000001500, 1700000000000005000)
>>> Clock().to_utc(10) is None
True
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from itertools import pairwise
from typing import Any

_INF = float("inf")


class Clock:
    """Nearest-sample monotonic -> realtime conversion.

    Examples
    --------
    >>> c = Clock(); c.add(0, 1_000); bool(c), c.to_utc(5)
    (True, 1005)
    """

    def __init__(self) -> None:
        self._mono: list[int] = []
        self._off: list[int] = []

    def add(self, mono_ns: int, realtime_ns: int) -> None:
        """Add one (monotonic, realtime) sample; samples may come in any order.

        Examples
        --------
        >>> c = Clock(); c.add(100, 1_100); c.add(0, 1_000); c.to_utc(10)
        1010
        """
        i = bisect.bisect_left(self._mono, mono_ns)
        self._mono.insert(i, mono_ns)
        self._off.insert(i, realtime_ns - mono_ns)

    def to_utc_many(self, values: Iterable[Any]) -> list[int | None]:
        """:meth:`to_utc` of each value; anything but an int gives None.

        The same results, several times faster on a long column: the
        nearest sample is looked up once per run of values it covers (a
        table's times mostly rise), not once per value.

        Examples
        --------
        >>> c = Clock(); c.add(1_000, 5_000); c.add(3_000, 7_100)
        >>> c.to_utc_many([1_500, 2_000, 2_001, None, "x", 9_000])
        [5500, 6000, 6101, None, None, 13100]
        """
        mono, off = self._mono, self._off
        if not mono:
            return [None for _ in values]
        if len(mono) == 1:
            o = off[0]
            return [v + o if isinstance(v, int) else None for v in values]
        # Sample j is the nearest for 2v in (mids[j-1], mids[j]] with
        # mids[k] = mono[k] + mono[k+1]: ties go to the earlier sample, as in to_utc.
        mids = [a + b for a, b in pairwise(mono)]
        last = len(mids)
        out: list[int | None] = []
        append = out.append
        lo: float = _INF
        hi: float = -_INF
        o = 0
        for v in values:
            if not isinstance(v, int):
                append(None)
                continue
            w = v + v
            if not lo < w <= hi:
                j = bisect.bisect_left(mids, w)
                lo = mids[j - 1] if j else -_INF
                hi = mids[j] if j < last else _INF
                o = off[j]
            append(v + o)
        return out

    def __bool__(self) -> bool:
        return bool(self._mono)

    def to_utc(self, mono_ns: int | None) -> int | None:
        """UTC nanoseconds since the epoch for ``mono_ns`` (None if unknown).

        Examples
        --------
        >>> c = Clock(); c.add(1_000, 5_000)
        >>> c.to_utc(2_000), c.to_utc(None)
        (6000, None)
        """
        if mono_ns is None or not self._mono:
            return None
        i = bisect.bisect_left(self._mono, mono_ns)
        if i == 0:
            return mono_ns + self._off[0]
        if i == len(self._mono):
            return mono_ns + self._off[-1]
        before, after = self._mono[i - 1], self._mono[i]
        j = i - 1 if mono_ns - before <= after - mono_ns else i
        return mono_ns + self._off[j]
