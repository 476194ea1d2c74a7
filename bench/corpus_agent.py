"""A realistic synthetic LLM agent conversation, as the bytes a capture sees.

A coding agent talks to an OpenAI-style chat endpoint: a large system
prompt and tool schema, then turns of user request -> assistant tool calls
-> tool results (file contents, command output) -> assistant text.  Every
request re-sends the whole conversation so far; every response is an SSE
stream of small ``chat.completion.chunk`` events.  Text is built from a
synthetic vocabulary with a Zipf-like word distribution so it compresses
about like real prose and code (zstd ~3-4x on its own), not like repeated
filler.

Each event is ``(t_ns, conn, pid, dir, bytes)``; requests are one write
(HTTP/1.1) or 16 KiB HTTP/2 DATA frames (``http2=True``).

Examples
--------
>>> ev = conversation(turns=3, seed=1)
>>> ev[0][3], ev[0][4][:4]
(0, b'POST')
>>> sum(len(e[4]) for e in ev) > 10_000
True
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

Event = tuple[int, int, int, int, bytes]

_SYL = [
    "ka", "lo", "mi", "ne", "ru", "sta", "tor", "vin", "pel", "dra", "qu", "ex", "on", "ar",
    "is", "ent", "ing", "co", "de", "re", "pro", "fi", "le", "na", "ti", "ve", "ma", "gen",
]  # fmt: skip


def _vocab(rnd: random.Random, n: int = 3000) -> list[str]:
    words = set()
    while len(words) < n:
        words.add("".join(rnd.choice(_SYL) for _ in range(rnd.randint(1, 4))))
    return sorted(words)


class _Text:
    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self.words = _vocab(rnd)
        self.weights = [1.0 / (i + 1) for i in range(len(self.words))]

    def prose(self, n_words: int) -> str:
        ws = self.rnd.choices(self.words, self.weights, k=n_words)
        out = []
        for i, w in enumerate(ws):
            out.append(w.capitalize() if i == 0 or out[-1].endswith(".") else w)
            if self.rnd.random() < 0.08:
                out[-1] += "."
        return " ".join(out) + "."

    def code(self, lines: int) -> str:
        r = self.rnd
        out = []
        indent = 0
        for _ in range(lines):
            a, b, c = r.choices(self.words, self.weights, k=3)
            kind = r.random()
            if kind < 0.15:
                out.append("    " * indent + f"def {a}_{b}({c}, {a}=None):")
                indent = min(indent + 1, 3)
            elif kind < 0.3 and indent:
                out.append("    " * indent + f"return {a}.{b}({c})")
                indent -= 1
            elif kind < 0.45:
                out.append("    " * indent + f"# {self.prose(r.randint(3, 9))}")
            else:
                out.append("    " * indent + f"{a} = {b}[{r.randint(0, 99)}] + {c}")
        return "\n".join(out)


_TOOLS = ["read_file", "write_file", "run_command", "search", "list_dir", "edit_file"]


def _tools_schema(text: _Text) -> list[dict[str, object]]:
    return [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": text.prose(40),
                "parameters": {
                    "type": "object",
                    "properties": {
                        p: {"type": "string", "description": text.prose(12)}
                        for p in ("path", "query", "content", "command")[: 2 + i % 3]
                    },
                    "required": ["path"],
                },
            },
        }
        for i, name in enumerate(_TOOLS)
    ]


def _sse(rnd: random.Random, cid: str, text: str, tool: tuple[str, str] | None) -> list[bytes]:
    chunks = []
    head = {"id": cid, "object": "chat.completion.chunk", "created": 1730000000, "model": "gpt-4o"}
    words = text.split(" ")
    i = 0
    while i < len(words):
        n = rnd.randint(1, 4)
        delta = {"content": " ".join(words[i : i + n]) + " "}
        i += n
        ev = {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        chunks.append(b"data: " + json.dumps(ev).encode() + b"\n\n")
    if tool:
        args = json.dumps({"path": tool[1]})
        call = {"index": 0, "id": f"call_{rnd.getrandbits(48):x}", "type": "function"}
        call["function"] = {"name": tool[0], "arguments": args}
        ev = {**head, "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}
        chunks.append(b"data: " + json.dumps(ev).encode() + b"\n\n")
    usage = {"prompt_tokens": rnd.randint(1000, 90000), "completion_tokens": len(words)}
    ev = {**head, "choices": [], "usage": usage}
    chunks.append(b"data: " + json.dumps(ev).encode() + b"\n\ndata: [DONE]\n\n")
    return chunks


def conversation(
    *,
    turns: int = 50,
    seed: int = 0,
    conn: int = 1,
    pid: int = 100,
    start_ns: int = 1_000_000_000,
    http2: bool = False,
    request_interval_ns: int = 1_000_000_000,
) -> list[Event]:
    """Events of one agent conversation of ``turns`` requests (~1 per second).

    Examples
    --------
    >>> len(conversation(turns=2)) > 4
    True
    """
    rnd = random.Random(seed)
    text = _Text(rnd)
    tools = _tools_schema(text)
    messages: list[dict[str, object]] = [
        {"role": "system", "content": text.prose(500)},
        {"role": "user", "content": text.prose(60)},
    ]
    events: list[Event] = []
    t = start_ns + rnd.randrange(request_interval_ns)
    stream_id = 1
    for turn in range(turns):
        body = json.dumps(
            {"model": "gpt-4o", "messages": messages, "tools": tools, "stream": True,
             "stream_options": {"include_usage": True}, "temperature": 0.2}
        ).encode()  # fmt: skip
        headers = (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: api.example.com\r\n"
            b"Authorization: Bearer sk-REDACTED\r\nContent-Type: application/json\r\n"
            b"User-Agent: AsyncOpenAI/Python 1.51.0\r\nX-Request-Id: req_%d_%d\r\n"
            b"Content-Length: %d\r\n\r\n" % (seed, turn, len(body))
        )
        if http2:
            events.append((t, conn, pid, 0, b"\x00\x00\x90\x01\x04" + stream_id.to_bytes(4, "big")
                           + headers[:144]))  # fmt: skip
            for j in range(0, len(body), 16384):
                part = body[j : j + 16384]
                flags = 1 if j + 16384 >= len(body) else 0
                frame = len(part).to_bytes(3, "big") + bytes((0, flags))
                events.append((t, conn, pid, 0, frame + stream_id.to_bytes(4, "big") + part))
            stream_id += 2
        else:
            events.append((t, conn, pid, 0, headers + body))
        t += rnd.randrange(200_000_000, 600_000_000)
        # the assistant answers: either a tool call or (every few turns) prose
        use_tool = turn % 4 != 3
        tool = (rnd.choice(_TOOLS), f"src/{text.prose(2).split()[0].lower()}.py")
        reply = text.prose(rnd.randint(10, 40) if use_tool else rnd.randint(60, 200))
        cid = f"chatcmpl-{rnd.getrandbits(64):x}"
        resp_head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\nx-request-id: req_%d_%d\r\n\r\n" % (seed, turn)
        )
        events.append((t, conn, pid, 1, resp_head))
        for c in _sse(rnd, cid, reply, tool if use_tool else None):
            t += rnd.randrange(5_000_000, 30_000_000)
            events.append((t, conn, pid, 1, c))
        assistant: dict[str, object] = {"role": "assistant", "content": reply}
        if use_tool:
            call_id = f"call_{rnd.getrandbits(48):x}"
            assistant["tool_calls"] = [
                {"id": call_id, "type": "function",
                 "function": {"name": tool[0], "arguments": json.dumps({"path": tool[1]})}}
            ]  # fmt: skip
            messages.append(assistant)
            result = text.code(rnd.randint(10, 50)) if rnd.random() < 0.6 else text.prose(150)
            messages.append({"role": "tool", "tool_call_id": call_id, "content": result})
        else:
            messages.append(assistant)
            messages.append({"role": "user", "content": text.prose(rnd.randint(10, 50))})
        t = max(t, start_ns + (turn + 1) * request_interval_ns + rnd.randrange(100_000_000))
    return events


def interleaved(n: int = 16, *, turns: int = 50, http2: bool = False) -> list[Event]:
    """``n`` conversations at once, each on its own connection, merged by time.

    Examples
    --------
    >>> ev = interleaved(2, turns=2)
    >>> sorted({e[1] for e in ev})
    [1, 2]
    """
    allev: list[Event] = []
    for i in range(n):
        allev.extend(
            conversation(turns=turns, seed=1000 + i, conn=i + 1, pid=100 + i % 4, http2=http2)
        )
    allev.sort(key=lambda e: e[0])
    return allev


def payload_bytes(events: list[Event]) -> Iterator[bytes]:
    """Just the bytes, in order.

    Examples
    --------
    >>> list(payload_bytes([(0, 1, 1, 0, b"ab")]))
    [b'ab']
    """
    for e in events:
        yield e[4]
