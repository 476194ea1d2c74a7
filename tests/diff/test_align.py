"""Aligned tool-call sequence diffs: insertions, deletions, changed arguments."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from heron.analyze.diff import ToolStep, align_tool_calls
from heron.analyze.diff._align import argument_similarity, canonical_arguments, summarize


def s(name: str, **args: Any) -> ToolStep:
    return ToolStep(name, json.dumps(args))


def ops(a: list[ToolStep], b: list[ToolStep]) -> list[str]:
    return [x.op for x in align_tool_calls(a, b)]


def test_identical_sequences_are_all_equal() -> None:
    seq = [s("read", p="a"), s("ls", d="."), s("read", p="b")]
    assert ops(seq, list(seq)) == ["equal"] * 3


def test_key_order_and_spacing_do_not_matter() -> None:
    a = [ToolStep("f", '{"a": 1, "b": 2}')]
    b = [ToolStep("f", '{"b":2,"a":1}')]
    assert ops(a, b) == ["equal"]


def test_repeated_call_shows_as_insertions() -> None:
    w = s("get_weather", city="Paris")
    t = s("get_time", tz="Europe/Paris")
    steps = align_tool_calls([w, t], [w, w, w, w, t, s("search_web", q="x")])
    assert [x.op for x in steps] == ["equal", "insert", "insert", "insert", "equal", "insert"]
    assert summarize(steps) == {"equal": 2, "insert": 4, "delete": 0, "changed": 0}


def test_slightly_different_arguments_are_changed_not_removed_added() -> None:
    a = [s("read_file", path="src/app/main.py"), s("ls", d=".")]
    b = [s("read_file", path="src/app/main2.py"), s("ls", d=".")]
    steps = align_tool_calls(a, b)
    assert [x.op for x in steps] == ["changed", "equal"]
    assert steps[0].base is a[0] and steps[0].head is b[0]
    assert steps[0].similarity is not None and 0.6 <= steps[0].similarity < 1.0


def test_very_different_arguments_are_removed_and_added() -> None:
    a = [s("search", query="weather in Paris today")]
    b = [s("search", query="0123456789 stock quotes NASDAQ")]
    assert ops(a, b) == ["delete", "insert"]


def test_different_names_never_pair() -> None:
    assert ops([s("read", p="a")], [s("write", p="a")]) == ["delete", "insert"]


def test_changed_pairs_the_most_similar_call() -> None:
    # name-only alignment would pair read(a-long) with read(b-long2); the DP
    # pairs the similar one and deletes the other.
    a = [s("read", path="alpha/one.txt"), s("read", path="beta/two.txt")]
    b = [s("read", path="beta/two.txt.bak")]
    steps = align_tool_calls(a, b)
    assert [x.op for x in steps] == ["delete", "changed"]
    assert steps[1].base is a[1]


def test_deletions_and_empty_sides() -> None:
    a = [s("a"), s("b"), s("c")]
    assert ops(a, []) == ["delete"] * 3
    assert ops([], a) == ["insert"] * 3
    assert ops([], []) == []
    assert ops(a, [a[0], a[2]]) == ["equal", "delete", "equal"]


def test_unparsable_arguments_compare_as_text() -> None:
    assert canonical_arguments('{"a": 1') == '{"a": 1'
    assert ops([ToolStep("f", '{"path": "abc')], [ToolStep("f", '{"path": "abd')]) == ["changed"]
    assert argument_similarity(None, None) == 1.0


steps_st = st.lists(
    st.builds(
        ToolStep,
        st.sampled_from(["read", "write", "ls"]),
        st.sampled_from(['{"p": "a"}', '{"p": "b"}', '{"p": "abc"}', "{}"]),
    ),
    max_size=8,
)


@given(steps_st, steps_st)
def test_every_call_appears_once_in_order(a: list[ToolStep], b: list[ToolStep]) -> None:
    steps = align_tool_calls(a, b)
    assert [x.base for x in steps if x.base is not None] == a
    assert [x.head for x in steps if x.head is not None] == b
    for x in steps:
        if x.op == "equal":
            assert x.base is not None and x.head is not None and x.base.key == x.head.key
        if x.op == "changed":
            assert x.base is not None and x.head is not None
            assert x.base.name == x.head.name and x.base.key != x.head.key
