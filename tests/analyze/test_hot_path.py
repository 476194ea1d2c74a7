"""The analysis hot path's shortcuts give exactly what the plain code gives."""

from __future__ import annotations

import json
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heron.analyze.agents import header_agent, header_facts
from heron.analyze.exchange import Exchange
from heron.analyze.providers.base import loads
from heron.analyze.schema import frame, frame_columns

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=12,
)


def _plain(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


@settings(max_examples=200, deadline=None)
@given(_json, st.booleans())
def test_loads_is_json_loads(value: Any, as_bytes: bool) -> None:
    text = json.dumps(value)
    data: str | bytes = text.encode() if as_bytes else text
    assert repr(loads(data)) == repr(_plain(data))


@pytest.mark.parametrize(
    "data",
    [
        b"18446744073709551616",
        b"-9223372036854775809",
        "[1e400, -1e400, NaN]",
        b"\xef\xbb\xbf{}",
        "\ufeff{}",
        '"\\ud800"',
        b"\xff",
        b"",
        "{cut",
        '{"a": 1, "a": 2}',
        "0.1e-400",
    ],
)
def test_loads_edge_cases(data: str | bytes) -> None:
    assert repr(loads(data)) == repr(_plain(data))


_names = st.sampled_from(
    [
        "user-agent",
        "User-Agent",
        "originator",
        "X-Claude-Code-Session-Id",
        "host",
        "x-a",
        "USER-AGENT",
    ]
)
_values = st.sampled_from(
    ["codex_cli_rs", "Codex", "OpenAI/Python 1.0", "claude-cli/1", "aider/1", ""]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_names, _values), max_size=6))
def test_header_facts_is_header_agent_and_first_user_agent(headers: list[tuple[str, str]]) -> None:
    ex = Exchange(0, 1, 2, "1.1", request_headers=headers)
    assert header_facts(headers) == (header_agent(headers), ex.header("user-agent"))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "call_id": st.integers(0, 10**6),
                "model": st.none() | st.text(max_size=5),
                "started_at": st.none() | st.integers(0, 2**62),
                "duration_ms": st.none() | st.floats(allow_nan=False) | st.integers(0, 10),
                "streamed": st.booleans(),
            }
        ),
        max_size=5,
    )
)
def test_frame_columns_is_frame(rows: list[dict[str, Any]]) -> None:
    cols = {
        k: [r[k] for r in rows]
        for k in ("call_id", "model", "started_at", "duration_ms", "streamed")
    }
    want = frame("calls", rows)
    got = frame_columns("calls", cols)
    assert got.schema == want.schema
    assert got.rows() == want.rows()


def test_frame_columns_rejects_unknown_columns_and_wrong_series() -> None:
    with pytest.raises(KeyError):
        frame_columns("loops", {"nope": [1]})
    with pytest.raises(TypeError):
        frame_columns("loops", {"count": pl.Series("count", ["x"])})
