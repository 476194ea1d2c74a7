"""Pair the tool calls a model requested with the results the agent sent back.

One row per requested tool call.  Visiting calls in request-start order:

1. the request's NEW tool results (those after the last assistant message,
   :attr:`ParsedCall.new_tool_results`; older ones are history re-sent) are
   matched first:

   * by tool-call id where the API has one (OpenAI ``tool_call_id``,
     Anthropic ``tool_use_id``, responses ``call_id``, newer Gemini ids),
     within the same process;
   * otherwise by position and name (Gemini, Ollama): the i-th result named
     ``n`` answers the i-th still-unanswered request named ``n`` of the
     latest earlier call in the same conversation that requested tools;

2. then the call's own requested tools become pending.

A request that never gets a result keeps its row with null result columns.
``latency_ms`` = result request start - requesting response end: the time
the agent spent running the tool.

Examples
--------
>>> p = ToolPairer()
>>> p.request(call_id=0, pid=1, conv=0, end_ns=1_000_000, requests=[("t1", "ls", "{}", None)])
>>> p.results(call_id=1, pid=1, conv=0, start_ns=3_000_000, results=[("t1", None, "a b", False)])
>>> [(r["tool_call_id"], r["result_call_id"], r["result"], r["latency_ms"]) for r in p.rows]
[('t1', 1, 'a b', 2.0)]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: Result text kept per tool row (characters); longer results are cut and
#: flagged with ``result_truncated``.
RESULT_CAP = 4096


class ToolPairer:
    """Accumulates tool rows; see the module docstring for the rules.

    Examples
    --------
    >>> p = ToolPairer(result_cap=3)
    >>> p.request(call_id=0, pid=1, conv=0, end_ns=0, requests=[(None, "ls", "{}", None)])
    >>> p.results(call_id=1, pid=1, conv=0, start_ns=10**6, results=[(None, "ls", "a b c", None)])
    >>> [(r["tool_call_id"], r["result"], r["result_truncated"]) for r in p.rows]
    [('0:0', 'a b', True)]
    """

    def __init__(self, *, result_cap: int = RESULT_CAP) -> None:
        self.rows: list[dict[str, Any]] = []
        self._cap = result_cap
        self._by_id: dict[tuple[int | None, str], int] = {}
        # (pid, conv) -> row indexes of the latest call's id-less requests
        self._positional: dict[tuple[int | None, int | None], list[int]] = {}
        self._end_ns: dict[int, int | None] = {}

    def request(
        self,
        *,
        call_id: int,
        pid: int | None,
        conv: int | None,
        end_ns: int | None,
        requests: Sequence[tuple[str | None, str, str, int | None]],
    ) -> None:
        """Register the tools requested by ``call_id``'s response.

        Each request is ``(tool_call_id, name, arguments, requested_ns)``;
        a null ``requested_ns`` falls back to ``end_ns`` (the response end).

        Examples
        --------
        >>> p = ToolPairer()
        >>> p.request(call_id=4, pid=1, conv=2, end_ns=9, requests=[("t", "ls", "{}", 7), ("u", "cat", "{}", None)])
        >>> [(r["tool_call_id"], r["requested_ns"]) for r in p.rows]
        [('t', 7), ('u', 9)]
        """
        idless: list[int] = []
        for i, (tid, name, args, at) in enumerate(requests):
            row = {
                "tool_call_id": tid if tid else f"{call_id}:{i}",
                "name": name,
                "arguments": args,
                "call_id": call_id,
                "requested_ns": at if at is not None else end_ns,
                "result_call_id": None,
                "result": None,
                "result_truncated": None,
                "result_ns": None,
                "is_error": None,
                "latency_ms": None,
                "pid": pid,
                "conversation_id": conv,
            }
            self.rows.append(row)
            if tid:
                self._by_id[(pid, tid)] = len(self.rows) - 1
            else:
                idless.append(len(self.rows) - 1)
        if idless:
            self._positional[(pid, conv)] = idless

    def results(
        self,
        *,
        call_id: int,
        pid: int | None,
        conv: int | None,
        start_ns: int | None,
        results: Sequence[tuple[str | None, str | None, str, bool | None]],
    ) -> None:
        """Match the new tool results carried by ``call_id``'s request.

        Each result is ``(tool_call_id, name, content, is_error)``.

        Examples
        --------
        >>> p = ToolPairer()
        >>> p.request(call_id=0, pid=1, conv=0, end_ns=0, requests=[("t1", "ls", "{}", None)])
        >>> p.results(call_id=1, pid=2, conv=5, start_ns=1, results=[("t1", None, "x", False)])
        >>> p.rows[0]["result_call_id"] is None     # another process's t1 is not this one
        True
        """
        positional = self._positional.get((pid, conv), [])
        for tid, name, content, is_error in results:
            idx: int | None = None
            if tid:
                idx = self._by_id.pop((pid, tid), None)
            if idx is None and tid is None:
                for j in positional:
                    r = self.rows[j]
                    if r["result_call_id"] is None and (name is None or r["name"] == name):
                        idx = j
                        break
            if idx is None:
                continue
            self._fill(self.rows[idx], call_id, start_ns, content, is_error)

    def _fill(
        self,
        row: dict[str, Any],
        call_id: int,
        start_ns: int | None,
        content: str,
        is_error: bool | None,
    ) -> None:
        row["result_call_id"] = call_id
        row["result"] = content[: self._cap]
        row["result_truncated"] = len(content) > self._cap
        row["result_ns"] = start_ns
        row["is_error"] = is_error
        req = row["requested_ns"]
        if start_ns is not None and req is not None:
            row["latency_ms"] = (start_ns - req) / 1e6
