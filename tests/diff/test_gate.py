"""The --fail-on expression language: parsing, errors, evaluation semantics."""

from __future__ import annotations

import math

import pytest

from heron.analyze.diff import GateError, evaluate_gate, parse_gate
from heron.errors import HeronError


@pytest.mark.parametrize(
    ("expr", "metric", "op", "mode", "threshold"),
    [
        ("loops>0", "loops", ">", "absolute", 0.0),
        ("errors>0", "errors", ">", "absolute", 0.0),
        ("output_tokens>+20%", "output_tokens", ">", "relative", 20.0),
        ("calls>+5", "calls", ">", "delta", 5.0),
        ("p95_latency_ms>+50%", "p95_latency_ms", ">", "relative", 50.0),
        ("new_tools", "new_tools", ">", "absolute", 0.0),
        ("tool:delete_file>0", "tool:delete_file", ">", "absolute", 0.0),
        ("  calls  <  -3 ", "calls", "<", "delta", -3.0),
        ("calls>=10", "calls", ">=", "absolute", 10.0),
        ("calls<=10", "calls", "<=", "absolute", 10.0),
        ("calls==0", "calls", "==", "absolute", 0.0),
        ("calls!=+0", "calls", "!=", "delta", 0.0),
        ("input_tokens<-10.5%", "input_tokens", "<", "relative", -10.5),
        ("errors:429>0", "errors_429", ">", "absolute", 0.0),
        ("errors:5XX>=1", "errors_5xx", ">=", "absolute", 1.0),
        ("loops:retry_storm>0", "loops:retry_storm", ">", "absolute", 0.0),
        ("tool:mcp__fs.read-file>2", "tool:mcp__fs.read-file", ">", "absolute", 2.0),
        ("tool:'weird name'>0", "tool:weird name", ">", "absolute", 0.0),
        ("model:gpt-4o>0", "model:gpt-4o", ">", "absolute", 0.0),
        ("CALLS>1", "calls", ">", "absolute", 1.0),
        ("duration_ms>1e3", "duration_ms", ">", "absolute", 1000.0),
    ],
)
def test_parses(expr: str, metric: str, op: str, mode: str, threshold: float) -> None:
    g = parse_gate(expr)
    assert (g.metric, g.op, g.mode, g.threshold) == (metric, op, mode, threshold)
    assert g.expression == expr


@pytest.mark.parametrize(
    ("expr", "column", "fragment"),
    [
        ("", 1, "expected a metric name"),
        ("   ", 4, "expected a metric name"),
        (">5", 1, "expected a metric name, found '>'"),
        ("calls>>5", 7, "expected a number after '>', found '>'"),
        ("calls=5", 6, "did you mean '=='"),
        ("calls>", 7, "expected a number after '>', found the end"),
        ("calls>5 extra", 9, "unexpected 'extra'"),
        ("calls>20%", 9, "write +N% or -N%"),
        ("call>5", 1, "unknown metric 'call'; did you mean 'calls'?"),
        ("p95_latency>+50%", 1, "did you mean 'p95_latency_ms'"),
        ("tool>0", 5, "'tool' needs an argument"),
        ("tool:>0", 6, "expected a name after 'tool:'"),
        ("calls:x>0", 1, "'calls' takes no ':' argument"),
        ("errors:418>0", 8, "unknown error class '418'"),
        ("tool:'open>0", 6, "unterminated ' quote"),
        ("calls 5", 7, "expected an operator"),
        ("calls>+x", 8, "expected a number"),
    ],
)
def test_bad_expressions_say_where_and_what(expr: str, column: int, fragment: str) -> None:
    with pytest.raises(GateError) as ei:
        parse_gate(expr)
    err = ei.value
    assert isinstance(err, HeronError)
    assert err.column == column, str(err)
    assert fragment in str(err)
    assert repr(expr) in str(err)
    assert "\n" not in str(err)


def test_absolute_compares_head_only() -> None:
    g = parse_gate("loops>0")
    assert evaluate_gate(g, base=5, head=1).matched
    assert not evaluate_gate(g, base=5, head=0).matched
    # base is not needed for an absolute gate
    assert evaluate_gate(g, base=None, head=1).matched


def test_delta_compares_head_minus_base() -> None:
    g = parse_gate("calls>+5")
    assert not evaluate_gate(g, base=10, head=15).matched
    r = evaluate_gate(g, base=10, head=16)
    assert r.matched and r.value == 6
    assert r.message == "calls>+5 matched: calls 10 -> 16 (+6), limit +5"
    assert evaluate_gate(parse_gate("calls<-2"), base=10, head=7).matched
    assert not evaluate_gate(parse_gate("calls<-2"), base=10, head=8).matched


def test_relative_is_percent_of_base() -> None:
    g = parse_gate("output_tokens>+20%")
    assert not evaluate_gate(g, base=100, head=120).matched
    r = evaluate_gate(g, base=100, head=121)
    assert r.matched and r.value == pytest.approx(21.0)
    assert "+21%" in r.message
    assert evaluate_gate(parse_gate("output_tokens<-50%"), base=100, head=40).matched


def test_relative_from_zero() -> None:
    g = parse_gate("calls>+20%")
    assert not evaluate_gate(g, base=0, head=0).matched
    r = evaluate_gate(g, base=0, head=1)
    assert r.matched and r.value is not None and math.isinf(r.value)
    assert not evaluate_gate(parse_gate("calls<-20%"), base=0, head=1).matched


def test_missing_values_are_not_evaluated() -> None:
    r = evaluate_gate(parse_gate("p95_latency_ms>+50%"), base=None, head=100.0)
    assert not r.matched and r.value is None
    assert "not evaluated" in r.message and "base" in r.message
    r = evaluate_gate(parse_gate("p95_latency_ms>100"), base=50.0, head=None)
    assert not r.matched and "head" in r.message
    assert r.to_dict()["evaluated"] is False


def test_operators() -> None:
    for expr, head, want in [
        ("calls>=3", 3, True),
        ("calls>=3", 2, False),
        ("calls<=3", 3, True),
        ("calls<3", 3, False),
        ("calls==3", 3, True),
        ("calls!=3", 3, False),
        ("calls!=3", 4, True),
    ]:
        assert evaluate_gate(parse_gate(expr), base=0, head=head).matched is want, expr
