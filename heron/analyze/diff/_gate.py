"""The ``--fail-on`` gate language: parse once, evaluate against a diff.

Grammar (whitespace is allowed between tokens)::

    gate    := metric [ op value ]
    metric  := NAME [ ":" ARG ]          calls, loops, tool:delete_file, loops:retry_storm
    op      := ">" | ">=" | "<" | "<=" | "==" | "!="
    value   := NUMBER                    absolute: compares HEAD's value
             | ("+" | "-") NUMBER        delta:    compares head - base
             | ("+" | "-") NUMBER "%"    relative: compares (head - base) / base * 100

A bare metric (``new_tools``) means ``metric > 0`` on HEAD's value.

Relative gates against a base of 0: no change (0 -> 0) is 0 %, any growth from
0 is +infinity % (so ``calls>+20%`` trips when calls go from 0 to 1), any
fall to a negative value is -infinity %.  A gate whose metric has no value on a
side it needs (a latency percentile of a run with no calls) does not match; it
is reported as *not evaluated* with the reason.

The parser is a small hand-written scanner: every error names the expression,
the column (1-based) and what was expected there, in one line.

Examples
--------
>>> g = parse_gate("output_tokens>+20%")
>>> (g.metric, g.op, g.mode, g.threshold)
('output_tokens', '>', 'relative', 20.0)
>>> parse_gate("new_tools").op
'>'
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from heron.errors import HeronError

Mode = Literal["absolute", "delta", "relative"]

#: Metrics a gate may name directly.  The diff computes every one of them, in
#: total and per agent; ``docs/diff.md`` documents their meaning.
SCALAR_METRICS: tuple[str, ...] = (
    "calls",
    "errors",
    "errors_4xx",
    "errors_429",
    "errors_5xx",
    "errors_stream",
    "errors_other",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "tokens",
    "duration_ms",
    "p50_latency_ms",
    "p95_latency_ms",
    "p50_ttft_ms",
    "p95_ttft_ms",
    "tool_calls",
    "tool_errors",
    "loops",
    "conversations",
    "max_turns",
    "unfinished",
    # diff-level counts (base is always 0, head is the count)
    "new_tools",
    "removed_tools",
    "new_models",
    "removed_models",
    "new_providers",
    "new_hosts",
    "new_apis",
    "new_loops",
    "newly_unfinished",
    "unmatched_agents",
)

#: Metric families that take an argument after a colon.
FAMILY_METRICS: dict[str, str] = {
    "tool": "calls of tool NAME",
    "tool_errors": "failed calls of tool NAME",
    "loops": "loops of kind KIND",
    "model": "LLM calls to model NAME",
    "errors": "errors of class 4xx, 429, 5xx, stream or other",
}

ERROR_CLASSES: tuple[str, ...] = ("4xx", "429", "5xx", "stream", "other")

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ARG = re.compile(r"[^\s<>=!\"']+")
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


class GateError(HeronError):
    """A ``--fail-on`` expression that does not parse or names no metric.

    Attributes
    ----------
    expression : str
        The expression as given.
    column : int
        1-based column where the problem was found.
    """

    def __init__(self, expression: str, column: int, problem: str) -> None:
        self.expression = expression
        self.column = column
        self.problem = problem
        super().__init__(f"invalid gate {expression!r} at column {column}: {problem}")


@dataclass(frozen=True)
class Gate:
    """One parsed gate expression.

    Attributes
    ----------
    expression : str
        The text as written.
    metric : str
        Canonical metric key, e.g. ``"calls"`` or ``"tool:delete_file"``.
    op : str
        One of ``> >= < <= == !=``.
    mode : {"absolute", "delta", "relative"}
        What the threshold is compared with: HEAD's value, head - base, or
        (head - base) / base in percent.
    threshold : float
        The number on the right-hand side (signed for delta/relative).

    Examples
    --------
    >>> parse_gate("calls > +5")
    Gate(expression='calls > +5', metric='calls', op='>', mode='delta', threshold=5.0)
    """

    expression: str
    metric: str
    op: str
    mode: Mode
    threshold: float

    def compare(self, value: float) -> bool:
        """Apply the operator to ``value`` and the threshold.

        Examples
        --------
        >>> parse_gate("loops>0").compare(1.0)
        True
        """
        return _OPS[self.op](value, self.threshold)

    def describe_threshold(self) -> str:
        """The right-hand side as the user wrote it, normalised.

        Examples
        --------
        >>> parse_gate("output_tokens>+20%").describe_threshold()
        '+20%'
        """
        num = _fmt(self.threshold)
        if self.mode == "absolute":
            return num
        sign = "+" if self.threshold >= 0 else ""
        return f"{sign}{num}{'%' if self.mode == 'relative' else ''}"


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return str(int(x)) if float(x).is_integer() else f"{round(x, 2):g}"


def known_metric_names() -> list[str]:
    """Every metric name a gate accepts (families shown as ``name:ARG``).

    Examples
    --------
    >>> "tool:NAME" in known_metric_names()
    True
    """
    fams = [
        f"{k}:{'KIND' if k == 'loops' else 'CLASS' if k == 'errors' else 'NAME'}"
        for k in FAMILY_METRICS
    ]
    return [*SCALAR_METRICS, *fams]


def parse_gate(expression: str) -> Gate:
    """Parse one gate expression.

    Parameters
    ----------
    expression : str
        For example ``"loops>0"``, ``"output_tokens>+20%"``, ``"tool:delete_file>0"``.

    Returns
    -------
    Gate

    Raises
    ------
    GateError
        With the column and what was expected there.

    Examples
    --------
    >>> parse_gate("p95_latency_ms>+50%").mode
    'relative'
    >>> parse_gate("tool:delete_file>0").metric
    'tool:delete_file'
    >>> parse_gate("calls>>5")
    Traceback (most recent call last):
    ...
    heron.analyze.diff._gate.GateError: invalid gate 'calls>>5' at column 7: expected a number after '>', found '>'
    """
    s = expression
    pos = 0

    def skip_ws() -> None:
        nonlocal pos
        while pos < len(s) and s[pos].isspace():
            pos += 1

    def fail(problem: str, at: int | None = None) -> GateError:
        return GateError(expression, (pos if at is None else at) + 1, problem)

    def found() -> str:
        return f"found {s[pos]!r}" if pos < len(s) else "found the end"

    skip_ws()
    if pos >= len(s):
        raise fail("expected a metric name such as 'calls' or 'loops>0', found nothing")
    m = _NAME.match(s, pos)
    if m is None:
        raise fail(f"expected a metric name, {found()}")
    name_at = pos
    name = m.group(0).lower()
    pos = m.end()
    arg: str | None = None
    if pos < len(s) and s[pos] == ":":
        pos += 1
        arg_at = pos
        if pos < len(s) and s[pos] in "\"'":
            quote = s[pos]
            end = s.find(quote, pos + 1)
            if end < 0:
                raise fail(f"unterminated {quote} quote")
            arg = s[pos + 1 : end]
            pos = end + 1
        else:
            am = _ARG.match(s, pos)
            if am is None:
                raise fail(f"expected a name after '{name}:', {found()}")
            arg = am.group(0)
            pos = am.end()
        if not arg:
            raise fail(f"expected a name after '{name}:', found an empty one", arg_at)
    metric = _check_metric(expression, name, arg, name_at)
    skip_ws()
    if pos >= len(s):
        return Gate(expression, metric, ">", "absolute", 0.0)

    op = s[pos : pos + 2] if s[pos : pos + 2] in _OPS else s[pos : pos + 1]
    if op not in _OPS:
        if s[pos] == "=":
            raise fail("'=' is not an operator; did you mean '=='?")
        raise fail(f"expected an operator (> >= < <= == !=), {found()}")
    pos += len(op)
    skip_ws()
    sign = ""
    if pos < len(s) and s[pos] in "+-":
        sign = s[pos]
        pos += 1
    nm = _NUMBER.match(s, pos)
    if nm is None:
        raise fail(f"expected a number after '{op}', {found()}")
    number = float(nm.group(0))
    pos = nm.end()
    mode: Mode = "delta" if sign else "absolute"
    if pos < len(s) and s[pos] == "%":
        if not sign:
            raise fail("a percentage is a change relative to base: write +N% or -N%", pos)
        mode = "relative"
        pos += 1
    skip_ws()
    if pos < len(s):
        raise fail(f"unexpected {s[pos:]!r} after the value")
    threshold = -number if sign == "-" else number
    return Gate(expression, metric, op, mode, threshold)


def _check_metric(expression: str, name: str, arg: str | None, at: int) -> str:
    if arg is None:
        if name in SCALAR_METRICS:
            return name
        if name in FAMILY_METRICS and name not in SCALAR_METRICS:
            raise GateError(
                expression, at + len(name) + 1, f"'{name}' needs an argument, e.g. '{name}:NAME'"
            )
        close = difflib.get_close_matches(name, known_metric_names(), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise GateError(
            expression,
            at + 1,
            f"unknown metric '{name}'{hint} (known: {', '.join(known_metric_names())})",
        )
    if name not in FAMILY_METRICS:
        raise GateError(
            expression,
            at + 1,
            f"'{name}' takes no ':' argument (families: {', '.join(FAMILY_METRICS)})",
        )
    if name == "errors" and arg.lower() not in ERROR_CLASSES:
        raise GateError(
            expression,
            at + len(name) + 2,
            f"unknown error class '{arg}' (one of {', '.join(ERROR_CLASSES)})",
        )
    if name == "errors":
        return f"errors_{arg.lower()}"
    return f"{name}:{arg}"


def parse_gates(expressions: Iterable[str]) -> list[Gate]:
    """Parse several expressions; the first bad one raises.

    Examples
    --------
    >>> [g.metric for g in parse_gates(["loops>0", "errors:429>0"])]
    ['loops', 'errors_429']
    """
    return [parse_gate(e) for e in expressions]


@dataclass(frozen=True)
class GateResult:
    """The outcome of one gate on one diff.

    Attributes
    ----------
    gate : Gate
    agent : str or None
        The agent the gate was evaluated for (None: all agents).
    base, head : float or None
        The metric's value on each side.
    value : float or None
        What was compared with the threshold (head, head - base, or percent).
    matched : bool
        True when the gate tripped (the run fails).
    message : str
        One readable line: which expression, the values and by how much.
    detail : str
        The message without the expression (values, change and limit).

    Examples
    --------
    >>> r = evaluate_gate(parse_gate("calls>+5"), base=10, head=20)
    >>> r.matched, r.message
    (True, 'calls>+5 matched: calls 10 -> 20 (+10), limit +5')
    """

    gate: Gate
    agent: str | None
    base: float | None
    head: float | None
    value: float | None
    matched: bool
    message: str
    detail: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (see ``docs/diff.md``).

        Examples
        --------
        >>> evaluate_gate(parse_gate("loops>0"), base=0, head=0).to_dict()["matched"]
        False
        """
        return {
            "expression": self.gate.expression,
            "metric": self.gate.metric,
            "op": self.gate.op,
            "mode": self.gate.mode,
            "threshold": _json_num(self.gate.threshold),
            "agent": self.agent,
            "base": _json_num(self.base),
            "head": _json_num(self.head),
            "value": _json_num(self.value),
            "matched": self.matched,
            "evaluated": self.value is not None,
            "message": self.message,
            "detail": self.detail,
        }


def _json_num(x: float | None) -> float | int | str | None:
    if x is None:
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return int(x) if float(x).is_integer() else x


def relative_change(base: float, head: float) -> float:
    """(head - base) / base in percent, with the documented rule for base 0.

    Examples
    --------
    >>> relative_change(100, 150)
    50.0
    >>> relative_change(0, 0), relative_change(0, 3)
    (0.0, inf)
    """
    if base == 0:
        if head == 0:
            return 0.0
        return math.inf if head > 0 else -math.inf
    return (head - base) / abs(base) * 100.0


def evaluate_gate(
    gate: Gate, *, base: float | None, head: float | None, agent: str | None = None
) -> GateResult:
    """Evaluate ``gate`` on one metric's base and head values.

    Examples
    --------
    >>> evaluate_gate(parse_gate("output_tokens>+20%"), base=100, head=130).matched
    True
    >>> evaluate_gate(parse_gate("p95_latency_ms>+50%"), base=None, head=3.0).message
    'p95_latency_ms>+50% not evaluated: p95_latency_ms has no value in base'
    """
    m = gate.metric
    missing = [side for side, v in (("base", base), ("head", head)) if v is None]
    if gate.mode == "absolute":
        missing = [x for x in missing if x == "head"]
    if missing:
        detail = f"not evaluated: {m} has no value in {' and '.join(missing)}"
        return GateResult(
            gate, agent, base, head, None, False, f"{gate.expression} {detail}", detail
        )  # fmt: skip
    assert head is not None
    if gate.mode == "absolute":
        value = head
    else:
        assert base is not None
        value = head - base if gate.mode == "delta" else relative_change(base, head)
    matched = gate.compare(value)
    verb = "matched" if matched else "passed"
    if base is None:
        shown = f"{m} {_fmt(head)}"
    else:
        d = head - base
        change = f"{'+' if d >= 0 else ''}{_fmt(d)}"
        if gate.mode == "relative":
            change += f", {'+' if value >= 0 else ''}{_fmt(round(value, 1))}%"
        shown = f"{m} {_fmt(base)} -> {_fmt(head)} ({change})"
    scope = f" [agent {agent}]" if agent is not None else ""
    detail = f"{shown}, limit {gate.describe_threshold()}"
    return GateResult(
        gate, agent, base, head, value, matched,
        f"{gate.expression} {verb}{scope}: {detail}", detail,
    )  # fmt: skip
