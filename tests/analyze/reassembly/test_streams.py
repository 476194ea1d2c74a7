"""Stream rebuilding from DATA records: duplicates, overlaps, gaps, truncation, joins."""

from __future__ import annotations

from heron.analyze.reassembly.streams import Chunk, Gap, SpanSet, StreamAssembler, TimeIndex


def test_in_order_records_give_contiguous_chunks() -> None:
    a = StreamAssembler()
    assert a.feed(0, 3, b"abc", 1) == [Chunk(0, b"abc", 1)]
    assert a.feed(3, 2, b"de", 2) == [Chunk(3, b"de", 2)]
    assert a.next_offset == 5


def test_duplicate_and_overlap_are_dropped() -> None:
    a = StreamAssembler()
    a.feed(0, 4, b"abcd", 1)
    assert a.feed(0, 4, b"abcd", 2) == []
    assert a.feed(2, 4, b"cdef", 3) == [Chunk(4, b"ef", 3)]
    assert a.duplicate_bytes == 6


def test_offset_jump_is_a_drop_gap() -> None:
    a = StreamAssembler()
    a.feed(0, 2, b"ab", 1)
    assert a.feed(5, 1, b"f", 2) == [Gap(2, 3, "drop", 2), Chunk(5, b"f", 2)]


def test_truncated_record_leaves_trunc_gap_and_next_record_continues() -> None:
    a = StreamAssembler()
    assert a.feed(0, 10, b"abcd", 1, trunc=True) == [Chunk(0, b"abcd", 1), Gap(4, 6, "trunc", 1)]
    assert a.feed(10, 2, b"kl", 2) == [Chunk(10, b"kl", 2)]


def test_join_mid_connection() -> None:
    a = StreamAssembler()
    assert a.feed(500, 2, b"xy", 9) == [Gap(0, 500, "join", 9), Chunk(500, b"xy", 9)]


def test_late_record_after_gap_is_not_glued_back() -> None:
    a = StreamAssembler()
    a.feed(0, 2, b"ab", 1)
    a.feed(4, 2, b"ef", 2)  # gap 2..4 declared
    assert a.feed(2, 2, b"cd", 3) == []  # too late: never glued across the gap


def test_time_index_and_spans() -> None:
    ti = TimeIndex()
    assert ti.at(0) is None
    ti.add(0, 4, 10, 1, 2)
    ti.add(4, 4, 20, 1, 3)
    assert ti.at(3) == (10, 1, 2) and ti.at(4) == (20, 1, 3) and ti.at(100) == (20, 1, 3)
    ti.prune(4)
    assert len(ti) == 1 and ti.at(0) == (20, 1, 3)
    s = SpanSet()
    s.add(5, 3)
    s.add(0, 0)
    assert s.overlaps(7, 9) and not s.overlaps(8, 20) and not s.overlaps(0, 5)
    s.prune(8)
    assert not s
