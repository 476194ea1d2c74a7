"""Regression diffs between two agent runs, for CI: :func:`diff`.

``diff(base, head)`` opens two captures (or takes already opened ones),
matches their agents by identity, and compares what each agent did: volume
and cost, errors by class, latency and TTFT, models and endpoints, tools and
their aligned per-conversation sequences, loops and conversations.  The
result holds Polars tables and renders itself as markdown (a PR comment), a
dict (stable JSON, ``docs/diff.md``) or rich tables.  ``--fail-on`` gates
(:mod:`heron.analyze.diff._gate`) turn it into a CI check.

Examples
--------
>>> import heron
>>> r = heron.diff("main.heron", "pr.heron", fail_on=["loops>0", "output_tokens>+20%"])  # doctest: +SKIP
>>> r.failed                                                                           # doctest: +SKIP
[GateResult(gate=Gate(expression='loops>0', ...), matched=True, ...)]
>>> print(r.to_markdown())                                                             # doctest: +SKIP
### Heron diff: ❌ 1 of 2 gates failed
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol, runtime_checkable

import polars as pl

from heron.analyze.diff._align import (
    CHANGED_SIMILARITY,
    AlignedStep,
    ToolStep,
    align_tool_calls,
    argument_similarity,
    canonical_arguments,
)
from heron.analyze.diff._compare import (
    SequenceDiff,
    Side,
    inventory_table,
    loops_table,
    metrics_table,
    pair_conversations,
    prepare_side,
    sequence_diffs,
    sequence_table,
    tools_table,
)
from heron.analyze.diff._gate import (
    Gate,
    GateError,
    GateResult,
    _json_num,
    evaluate_gate,
    known_metric_names,
    parse_gate,
    parse_gates,
)
from heron.errors import HeronError

__all__ = [
    "CHANGED_SIMILARITY",
    "AlignedStep",
    "CaptureFrames",
    "DiffError",
    "DiffResult",
    "Gate",
    "GateError",
    "GateResult",
    "ToolStep",
    "align_tool_calls",
    "argument_similarity",
    "canonical_arguments",
    "diff",
    "known_metric_names",
    "parse_gate",
    "parse_gates",
]

#: Version tag of :meth:`DiffResult.to_dict`; bumped on any incompatible change.
JSON_SCHEMA = "heron.diff/1"


class DiffError(HeronError):
    """A diff that cannot be made (unknown ``--agent``, unreadable input)."""


@runtime_checkable
class CaptureLike(Protocol):
    """What :func:`diff` needs from an opened capture (``heron.open`` gives it)."""

    @property
    def calls(self) -> pl.DataFrame: ...

    @property
    def tools(self) -> pl.DataFrame: ...

    @property
    def loops(self) -> pl.DataFrame: ...


@dataclass(frozen=True)
class CaptureFrames:
    """Hand-built tables standing in for an opened capture.

    Useful for tests and for diffing tables that were filtered first.

    Examples
    --------
    >>> e = pl.DataFrame()
    >>> r = diff(CaptureFrames(e, e, e, label="a"), CaptureFrames(e, e, e, label="b"))
    >>> r.changed
    False
    """

    calls: pl.DataFrame
    tools: pl.DataFrame
    loops: pl.DataFrame
    warnings: list[str] = field(default_factory=list)
    label: str | None = None


Source = str | os.PathLike[str] | BinaryIO | CaptureLike


def _open_capture(src: Source) -> tuple[CaptureLike, str]:
    if isinstance(src, CaptureLike):
        label = getattr(src, "label", None) or getattr(src, "name", None) or type(src).__name__
        return src, str(label)
    from heron.analyze.capture import open as open_capture

    label = (
        str(src) if isinstance(src, str | os.PathLike) else str(getattr(src, "name", "<stream>"))
    )
    cap: CaptureLike = open_capture(src)
    return cap, label


def _capture_warnings(cap: object) -> list[str]:
    w: Any = getattr(cap, "warnings", None)
    if w is None:
        return []
    if isinstance(w, str):
        return [w]
    return [str(x) for x in w]


@dataclass(frozen=True)
class DiffResult:
    """The comparison of two runs.

    Every table is a :class:`polars.DataFrame`; in each, ``agent`` is null on
    the rows that cover all agents.

    Attributes
    ----------
    base_label, head_label : str
        What was compared (paths, or labels of in-memory captures).
    agent : str or None
        The agent the diff was restricted to (``--agent``), if any.
    matched_agents, only_base, only_head : list of str
        Agent identities in both runs, and in one run only.
    metrics : DataFrame
        metric, agent, base, head, delta, pct, changed.
    agents : DataFrame
        agent, status (matched/only_base/only_head), base_calls, head_calls.
    inventory : DataFrame
        kind (model/provider/host/api), value, agent, base_calls, head_calls,
        status (added/removed/changed/same).
    tools : DataFrame
        agent, name, base_calls, head_calls, delta, base_errors, head_errors,
        status (new/removed/changed/same).
    loops : DataFrame
        agent, kind, signature, base_loops, head_loops, base_repeats,
        head_repeats, status (new/gone/changed/same).
    conversations : DataFrame
        agent, ordinal, base/head conversation id, turns, tool_calls,
        finished, status (same/changed/only_base/only_head/no_longer_finishes).
    tool_sequences : DataFrame
        One row per aligned step: agent, ordinal, conversation ids, step, op
        (equal/insert/delete/changed), base/head name and arguments, similarity.
    sequence_diffs : list of SequenceDiff
        The same alignments as objects.
    warnings : list of str
        What could not be compared fully (damaged capture, partial calls).
    gates : list of GateResult
        Outcomes of the ``fail_on`` gates, in order.
    """

    base_label: str
    head_label: str
    agent: str | None
    matched_agents: list[str]
    only_base: list[str]
    only_head: list[str]
    metrics: pl.DataFrame
    agents: pl.DataFrame
    inventory: pl.DataFrame
    tools: pl.DataFrame
    loops: pl.DataFrame
    conversations: pl.DataFrame
    tool_sequences: pl.DataFrame
    sequence_diffs: list[SequenceDiff]
    warnings: list[str]
    gates: list[GateResult] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when anything the agents did differs between the runs.

        Examples
        --------
        >>> e = pl.DataFrame()
        >>> diff(CaptureFrames(e, e, e), CaptureFrames(e, e, e)).changed
        False
        """
        return (
            bool(self.metrics.get_column("changed").any())
            or any(d.changed for d in self.sequence_diffs)
            or bool(self.only_base or self.only_head)
        )

    @property
    def failed(self) -> list[GateResult]:
        """The gates that matched (the run should fail).

        Examples
        --------
        >>> e = pl.DataFrame()
        >>> diff(CaptureFrames(e, e, e), CaptureFrames(e, e, e), fail_on=["calls>0"]).failed
        []
        """
        return [g for g in self.gates if g.matched]

    def value(self, metric: str, *, agent: str | None = None) -> tuple[float | None, float | None]:
        """(base, head) of one metric, all agents unless ``agent`` is given.

        A family metric absent from both runs (``tool:never_used``) is (0, 0).

        Examples
        --------
        >>> e = pl.DataFrame()
        >>> diff(CaptureFrames(e, e, e), CaptureFrames(e, e, e)).value("tool:rm")
        (0.0, 0.0)
        """
        scope = pl.col("agent").is_null() if agent is None else pl.col("agent") == agent
        rows = self.metrics.filter(scope & (pl.col("metric") == metric))
        if rows.height:
            b, h = rows.row(0)[2:4]
            return b, h
        if ":" in metric:
            return 0.0, 0.0
        raise DiffError(f"expected a metric name known to this diff, found {metric!r}")

    def check(self, expressions: Iterable[str | Gate]) -> list[GateResult]:
        """Evaluate gate expressions against this diff.

        Examples
        --------
        >>> e = pl.DataFrame()
        >>> [g.matched for g in diff(CaptureFrames(e, e, e), CaptureFrames(e, e, e)).check(["new_tools"])]
        [False]
        """
        gates = [g if isinstance(g, Gate) else parse_gate(g) for g in expressions]
        out = []
        for g in gates:
            b, h = self.value(g.metric)
            out.append(evaluate_gate(g, base=b, head=h, agent=self.agent))
        return out

    def with_gates(self, expressions: Iterable[str | Gate]) -> DiffResult:
        """A copy whose :attr:`gates` are the outcomes of ``expressions``."""
        return dataclasses.replace(self, gates=self.check(expressions))

    def to_markdown(self) -> str:
        """Markdown for a pull-request comment.

        Examples
        --------
        >>> e = pl.DataFrame()
        >>> diff(CaptureFrames(e, e, e), CaptureFrames(e, e, e)).to_markdown().splitlines()[0]
        '### Heron diff: ✅ No change in agent behaviour'
        """
        from heron.analyze.diff._render import to_markdown

        return to_markdown(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; the format is documented in ``docs/diff.md``.

        Examples
        --------
        >>> e = pl.DataFrame()
        >>> d = diff(CaptureFrames(e, e, e), CaptureFrames(e, e, e)).to_dict()
        >>> d["schema"], d["changed"], d["failed"]
        ('heron.diff/1', False, False)
        """
        return {
            "schema": JSON_SCHEMA,
            "base": self.base_label,
            "head": self.head_label,
            "agent": self.agent,
            "changed": self.changed,
            "failed": bool(self.failed),
            "gates": [g.to_dict() for g in self.gates],
            "agents": {
                "matched": self.matched_agents,
                "only_base": self.only_base,
                "only_head": self.only_head,
            },
            "metrics": _records(self.metrics),
            "inventory": _records(self.inventory),
            "tools": _records(self.tools),
            "loops": _records(self.loops),
            "conversations": _records(self.conversations),
            "tool_sequences": [
                {
                    "agent": d.agent,
                    "auxiliary": d.auxiliary,
                    "ordinal": d.ordinal,
                    "base_conversation_id": d.base_conversation_id,
                    "head_conversation_id": d.head_conversation_id,
                    "changed": d.changed,
                    "steps": [_step_dict(s) for s in d.steps],
                }
                for d in self.sequence_diffs
            ],
            "warnings": list(self.warnings),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text.

        Examples
        --------
        >>> e = pl.DataFrame()
        >>> diff(CaptureFrames(e, e, e), CaptureFrames(e, e, e)).to_json(indent=None)[:26]
        '{"schema": "heron.diff/1",'
        """
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


def _records(df: pl.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in df.iter_rows(named=True):
        out.append({k: _json_num(v) if isinstance(v, float) else v for k, v in row.items()})
    return out


def _step_dict(s: AlignedStep) -> dict[str, Any]:
    def side(t: ToolStep | None) -> dict[str, Any] | None:
        if t is None:
            return None
        return {
            "name": t.name,
            "arguments": t.arguments,
            "is_error": t.is_error,
            "tool_call_id": t.tool_call_id,
        }

    return {"op": s.op, "base": side(s.base), "head": side(s.head), "similarity": s.similarity}


def _restrict(side: Side, agent: str) -> Side:
    def f(df: pl.DataFrame) -> pl.DataFrame:
        return df.filter(pl.col("agent") == agent)

    return Side(f(side.calls), f(side.tools), f(side.loops), f(side.conversations))


def _agents_table(base: Side, head: Side) -> pl.DataFrame:
    def counts(s: Side) -> dict[str, int]:
        return {str(a): int(n) for a, n in s.calls.group_by("agent").agg(pl.len()).iter_rows()}

    bc, hc = counts(base), counts(head)
    rows = [
        {
            "agent": a,
            "status": "matched" if a in bc and a in hc else "only_base" if a in bc else "only_head",
            "base_calls": bc.get(a, 0),
            "head_calls": hc.get(a, 0),
        }
        for a in sorted(set(bc) | set(hc))
    ]
    schema = {"agent": pl.Utf8, "status": pl.Utf8, "base_calls": pl.Int64, "head_calls": pl.Int64}
    return pl.DataFrame(rows, schema=schema, orient="row")


def diff(
    base: Source,
    head: Source,
    *,
    agent: str | None = None,
    fail_on: Sequence[str | Gate] = (),
) -> DiffResult:
    """Compare two runs of the same agent(s).

    Parameters
    ----------
    base, head : str, Path, binary file, or an opened capture
        The reference run (e.g. the main branch) and the run under test.
        Anything with ``calls``/``tools``/``loops`` DataFrames is taken as
        already opened (``heron.open(...)`` or :class:`CaptureFrames`).
    agent : str, optional
        Compare only this agent (by its ``agent`` identity).
    fail_on : sequence of str or Gate
        Gate expressions to evaluate (see :func:`parse_gate`); outcomes land
        in :attr:`DiffResult.gates`.

    Returns
    -------
    DiffResult

    Raises
    ------
    GateError
        A gate expression does not parse (raised before any file is read).
    DiffError
        ``agent`` is in neither run, or an input cannot be opened.

    Examples
    --------
    >>> calls = pl.DataFrame({"call_id": ["1", "2"], "agent": ["bot", "bot"],
    ...                       "output_tokens": [100, 150]})
    >>> e = pl.DataFrame()
    >>> r = diff(CaptureFrames(calls.head(1), e, e), CaptureFrames(calls, e, e),
    ...          fail_on=["calls>+0", "output_tokens>+100%"])
    >>> r.value("output_tokens")
    (100.0, 250.0)
    >>> [g.matched for g in r.gates]
    [True, True]
    """
    gates = [g if isinstance(g, Gate) else parse_gate(g) for g in fail_on]
    bcap, blabel = _open_capture(base)
    hcap, hlabel = _open_capture(head)
    warnings = [f"base: {w}" for w in _capture_warnings(bcap)]
    warnings += [f"head: {w}" for w in _capture_warnings(hcap)]
    bs = prepare_side(bcap.calls, bcap.tools, bcap.loops)
    hs = prepare_side(hcap.calls, hcap.tools, hcap.loops)
    ba, ha = set(bs.agents), set(hs.agents)
    if agent is not None:
        if agent not in ba | ha:
            known = ", ".join(sorted(ba | ha)) or "none"
            raise DiffError(
                f"expected --agent to name an agent of either run ({known}), found {agent!r}"
            )
        bs, hs = _restrict(bs, agent), _restrict(hs, agent)
        ba, ha = set(bs.agents), set(hs.agents)
    scopes: list[str | None] = [None]
    if agent is None:
        scopes += sorted(ba | ha)
    pairs = pair_conversations(bs, hs)
    seqs = sequence_diffs(bs, hs, pairs)
    result = DiffResult(
        base_label=blabel,
        head_label=hlabel,
        agent=agent,
        matched_agents=sorted(ba & ha),
        only_base=sorted(ba - ha),
        only_head=sorted(ha - ba),
        metrics=metrics_table(bs, hs, scopes),
        agents=_agents_table(bs, hs),
        inventory=inventory_table(bs, hs, scopes),
        tools=tools_table(bs, hs, scopes),
        loops=loops_table(bs, hs),
        conversations=pairs,
        tool_sequences=sequence_table(seqs),
        sequence_diffs=seqs,
        warnings=warnings,
    )
    return dataclasses.replace(result, gates=result.check(gates)) if gates else result
