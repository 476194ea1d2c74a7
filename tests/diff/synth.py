"""Hand-built runs, to the declared schemas, for unit tests of the diff engine.

A run is described as conversations of turns; each turn is one LLM call that
requests the listed tool calls (or ends with a final answer when it requests
none).  The integration tests use the real recorded captures instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from heron.analyze.diff import CaptureFrames
from heron.analyze.schema import frame

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Turn:
    tools: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status: int = 200
    error: str | None = None
    model: str = "gpt-4o-mini"
    host: str = "127.0.0.1:8443"
    input_tokens: int | None = 100
    output_tokens: int | None = 20
    duration_ms: float = 100.0
    ttft_ms: float | None = 30.0
    tool_errors: tuple[bool, ...] = ()
    finish_reason: str | None = None


def run(
    conversations: list[list[Turn]],
    *,
    agent: str = "python agent.py",
    pid: int = 1000,
    loops: list[dict[str, Any]] | None = None,
    extra_agents: dict[str, list[list[Turn]]] | None = None,
    label: str = "synthetic",
) -> CaptureFrames:
    """Build calls/tools/loops frames for one run."""
    calls: list[dict[str, Any]] = []
    tools: list[dict[str, Any]] = []
    t = T0
    groups = [(agent, pid, conversations)]
    for k, (a, convs) in enumerate((extra_agents or {}).items()):
        groups.append((a, pid + 100 + k, convs))
    for a, p, convs in groups:
        for conv in convs:
            conv_id = len(calls)
            for turn in conv:
                cid = len(calls)
                failed = turn.status >= 400 or turn.error is not None
                finish = turn.finish_reason or (
                    None if failed else "tool_calls" if turn.tools else "stop"
                )
                calls.append(
                    {
                        "call_id": cid,
                        "conversation_id": conv_id,
                        "pid": p,
                        "process": "python3",
                        "agent": a,
                        "host": turn.host,
                        "provider": "openai",
                        "api": "chat.completions",
                        "model": turn.model,
                        "streamed": True,
                        "status": turn.status,
                        "error": turn.error
                        or (f"HTTP {turn.status}" if turn.status >= 400 else None),
                        "started_at": t,
                        "ended_at": t + timedelta(milliseconds=turn.duration_ms),
                        "duration_ms": turn.duration_ms,
                        "ttft_ms": None if failed else turn.ttft_ms,
                        "input_tokens": None if failed else turn.input_tokens,
                        "output_tokens": None if failed else turn.output_tokens,
                        "finish_reason": finish,
                        "n_tool_calls": len(turn.tools),
                        "partial": False,
                    }
                )
                end = t + timedelta(milliseconds=turn.duration_ms)
                for i, (name, args) in enumerate(turn.tools):
                    tools.append(
                        {
                            "tool_call_id": f"tc_{cid}_{i}",
                            "name": name,
                            "arguments": json.dumps(args),
                            "call_id": cid,
                            "requested_at": end,
                            "is_error": turn.tool_errors[i] if i < len(turn.tool_errors) else False,
                            "pid": p,
                            "conversation_id": conv_id,
                        }
                    )
                t = end + timedelta(milliseconds=50)
    lrows = []
    for i, lp in enumerate(loops or []):
        lrows.append({"loop_id": i, "pid": pid, "first_at": T0, "last_at": t, **lp})
    return CaptureFrames(
        frame("calls", calls), frame("tools", tools), frame("loops", lrows), label=label
    )


WEATHER = ("get_weather", {"city": "Paris"})
TIME = ("get_time", {"tz": "Europe/Paris"})
SEARCH = ("search_web", {"query": "Paris weather"})


def variant_a() -> CaptureFrames:
    """Two tool rounds then a final answer."""
    return run([[Turn([WEATHER]), Turn([TIME]), Turn()]], label="a")


def variant_b() -> CaptureFrames:
    """Same weather call 4 times, one more tool, a 429 that is retried."""
    turns = [
        Turn([WEATHER]),
        Turn([WEATHER]),
        Turn([WEATHER]),
        Turn([WEATHER]),
        Turn(status=429),
        Turn([TIME]),
        Turn([SEARCH]),
        Turn(output_tokens=40),
    ]
    loops = [
        {
            "conversation_id": 0,
            "kind": "repeated_tool_call",
            "signature": 'get_weather({"city": "Paris"})',
            "count": 4,
            "call_ids": [0, 1, 2, 3],
        }
    ]
    return run([turns], loops=loops, label="b")
