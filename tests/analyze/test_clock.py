"""Clock.to_utc_many is to_utc over a column, whatever the samples and values."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from heron.analyze.clock import Clock

_mono = st.integers(min_value=-(2**70), max_value=2**70) | st.integers(0, 50)
_value = _mono | st.none() | st.booleans() | st.text(max_size=2) | st.floats(allow_nan=False)


@settings(max_examples=400, deadline=None)
@given(
    samples=st.lists(st.tuples(_mono, _mono), max_size=8),
    values=st.lists(_value, max_size=40),
    ascending=st.booleans(),
)
def test_to_utc_many_is_to_utc_per_value(
    samples: list[tuple[int, int]], values: list[Any], ascending: bool
) -> None:
    c = Clock()
    for mono, real in samples:
        c.add(mono, real)
    if ascending:  # a table's times: mostly rising runs, the fast path
        ints = sorted(v for v in values if isinstance(v, int) and not isinstance(v, bool))
        values = ints + values
    want = [c.to_utc(v) if isinstance(v, int) else None for v in values]
    assert c.to_utc_many(values) == want
    assert c.to_utc_many(iter(values)) == want


def test_ties_go_to_the_earlier_sample_and_runs_cross_boundaries() -> None:
    c = Clock()
    c.add(0, 1_000)  # offset 1000
    c.add(10, 2_010)  # offset 2000
    c.add(10, 3_010)  # same instant, offset 3000
    c.add(20, 4_020)  # offset 4000
    vs = [-5, 0, 5, 6, 10, 14, 15, 16, 25, 5, None]
    assert c.to_utc_many(vs) == [c.to_utc(v) if v is not None else None for v in vs]
    assert c.to_utc_many(vs)[2:4] == [1_005, 3_006]  # the later-added sample at 10 sorts first
