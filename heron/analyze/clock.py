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
