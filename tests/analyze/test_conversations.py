"""Conversation grouping rules (heron.analyze.conversations), order by order."""

from __future__ import annotations

from heron.analyze.conversations import ConversationIndex, prefix_hashes
from heron.analyze.providers.base import Message


def history(tag: str, turns: int) -> list[Message]:
    msgs = [Message("user", f"task {tag}")]
    for i in range(turns):
        msgs += [Message("assistant", f"{tag} step {i}"), Message("tool", f"{tag} out {i}")]
    return msgs


def test_interleaved_threads_in_one_process() -> None:
    """Many interleaved threads: the parent is found whether or not it is a recent call."""
    idx = ConversationIndex()
    got: dict[str, list[int]] = {}
    call = 0
    tags = [f"t{k}" for k in range(12)]  # more threads than recent calls remembered
    for turn in range(4):
        for tag in tags:
            conv = idx.assign(pid=1, call_id=call, prefixes=prefix_hashes(history(tag, turn)))
            got.setdefault(tag, []).append(conv)
            call += 1
    for k, tag in enumerate(tags):
        assert got[tag] == [k] * 4, tag


def test_retry_joins_restart_splits() -> None:
    idx = ConversationIndex()
    a0, a1 = prefix_hashes(history("a", 0)), prefix_hashes(history("a", 1))
    assert idx.assign(pid=1, call_id=0, prefixes=a0) == 0
    assert idx.assign(pid=1, call_id=1, prefixes=a0) == 0  # a retry (e.g. after a 429)
    assert idx.assign(pid=1, call_id=2, prefixes=a1) == 0
    assert idx.assign(pid=1, call_id=3, prefixes=a0) == 3  # same opening again: a new session
    assert idx.assign(pid=1, call_id=4, prefixes=a1) == 3  # ... which its next turn continues
    assert idx.assign(pid=2, call_id=5, prefixes=a1) == 5  # other processes never join


def test_previous_response_id_chains() -> None:
    idx = ConversationIndex()
    assert (
        idx.assign(pid=1, call_id=0, prefixes=prefix_hashes(history("x", 0)), response_id="r") == 0
    )
    assert idx.assign(pid=1, call_id=1, prefixes=b"", previous_response_id="r") == 0


def test_a_call_seen_late_is_judged_by_its_start() -> None:
    """An abandoned attempt flushed at connection close arrives after its retry's successors."""
    idx = ConversationIndex()
    a0, a1, a2 = (prefix_hashes(history("a", t)) for t in range(3))
    assert idx.assign(pid=1, call_id=0, prefixes=a0, at=0) == 0
    assert idx.assign(pid=1, call_id=2, prefixes=a1, at=20) == 0  # the retry
    assert idx.assign(pid=1, call_id=3, prefixes=a2, at=30) == 0
    # the first attempt (started at 10, before the retry continued anything)
    assert idx.assign(pid=1, call_id=1, prefixes=a1, at=10) == 0
    # a genuine restart of the opening, after the thread moved on, is still new
    assert idx.assign(pid=1, call_id=4, prefixes=a0, at=40) == 4
