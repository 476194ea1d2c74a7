"""Who made a call: a stable, readable agent identity, and auxiliary calls.

The identity comes from the process first (it is what a user started):

* an interpreter (python, node, bun, deno, ruby, ...) running a script is
  named by the script's base name (``python agent.py`` -> ``agent.py``,
  ``node dist/cli.js`` -> ``cli.js``), a module by its dotted name
  (``python -m pkg.mod`` -> ``pkg.mod``), inline code by ``python -c``;
* anything else by the executable's base name (``curl``, ``codex``).

Well-known client headers then refine it, because wrappers hide the real
agent behind a generic script name: ``X-Claude-Code-Session-Id`` or a
``claude-cli``/``claude-code`` User-Agent -> ``claude-code``; Codex's
``session_id``/``originator: codex_*`` headers or ``codex`` User-Agent ->
``codex``; a User-Agent naming an agent framework (aider, opencode, goose,
cline, cursor, continue, gemini-cli) -> that name.  SDK user agents
(``OpenAI/Python``, ``Anthropic/Python``) say nothing about the agent and
are ignored for identity.

Examples
--------
>>> process_agent("/usr/bin/python3.11", ["python3", "-u", "agent.py", "--x"], "python3")
'agent.py'
>>> process_agent("/usr/bin/python3", ["python3", "-m", "pkg.mod"], "python3")
'pkg.mod'
>>> process_agent("/usr/bin/node", ["node", "/opt/app/dist/cli.js"], "node")
'cli.js'
>>> process_agent("/usr/bin/curl", ["curl", "-s", "https://x"], "curl")
'curl'
>>> header_agent([("X-Claude-Code-Session-Id", "abc")])
'claude-code'
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from operator import itemgetter

_INTERPRETERS = re.compile(
    r"^(python[0-9.]*|pypy[0-9.]*|node(js)?|bun|deno|ruby[0-9.]*|perl[0-9.]*|php[0-9.]*|"
    r"ts-node|tsx|uv|uvx|npx|bash|sh|dash|zsh)$"
)
# Interpreter options that take a value (so the value is not the script).
_OPTS_WITH_VALUE = {"-W", "-X", "-Q", "--require", "-r", "--import", "--loader", "--env-file"}
_UA_AGENTS = (
    (re.compile(r"claude-(cli|code)", re.I), "claude-code"),
    (re.compile(r"\bcodex", re.I), "codex"),
    (re.compile(r"\baider\b", re.I), "aider"),
    (re.compile(r"\bopencode\b", re.I), "opencode"),
    (re.compile(r"\bgoose\b", re.I), "goose"),
    (re.compile(r"\bcline\b", re.I), "cline"),
    (re.compile(r"\bcursor\b", re.I), "cursor"),
    (re.compile(r"gemini-cli|GeminiCLI", re.I), "gemini-cli"),
)
# System prompt / first message markers of side calls that are not the
# agent's main turn (Claude Code titles and topic checks, generic title and
# summary helpers).  Only applied to calls that offer no tools.
_AUX = re.compile(
    r"(generate|write|create|suggest)\s+(a\s+)?(concise\s+|short\s+|brief\s+)?(\w+\s+)?title"
    r"|\btitle for (this|the) conversation"
    r"|is (this|the message) a new (conversation )?topic"
    r"|isNewTopic"
    r"|summari[sz]e (this|the) conversation"
    r"|security monitor",
    re.I,
)


def process_agent(exe: str | None, cmdline: Sequence[str] | None, comm: str | None) -> str:
    """Readable agent name from a process's executable, argv and comm.

    Examples
    --------
    >>> process_agent(None, None, "worker")
    'worker'
    >>> process_agent("/usr/bin/python3", ["python3", "-c", "print(1)"], None)
    'python3 -c'
    """
    base = os.path.basename(exe) if exe else ""
    argv = list(cmdline or [])
    arg0 = os.path.basename(argv[0]) if argv else ""
    interp = base if _INTERPRETERS.match(base) else (arg0 if _INTERPRETERS.match(arg0) else "")
    if interp and len(argv) > 1:
        i = 1
        while i < len(argv):
            a = argv[i]
            if a == "-m" and i + 1 < len(argv):
                return argv[i + 1]
            if a.startswith("-m") and len(a) > 2 and not a.startswith("--"):
                return a[2:]
            if a in ("-c", "-e", "--eval"):
                return f"{interp} {a}"
            if a in _OPTS_WITH_VALUE:
                i += 2
                continue
            if a.startswith("-"):
                i += 1
                continue
            if interp in ("uv", "uvx", "npx") and a in ("run", "exec", "tool"):
                i += 1
                continue
            return os.path.basename(a.rstrip("/")) or a
        return interp
    return base or arg0 or (comm or "?")


def header_agent(headers: Sequence[tuple[str, str]]) -> str | None:
    """Agent named by well-known client headers, or None.

    Examples
    --------
    >>> header_agent([("user-agent", "OpenAI/Python 1.50.0")]) is None
    True
    >>> header_agent([("originator", "codex_cli_rs"), ("session_id", "x")])
    'codex'
    """
    ua = ""
    for k, v in headers:
        lk = k.lower()
        if lk == "x-claude-code-session-id":
            return "claude-code"
        if lk == "originator" and v.lower().startswith("codex"):
            return "codex"
        if lk == "user-agent":
            ua = v
    return _ua_agent(ua)


def header_facts(headers: Sequence[tuple[str, str]]) -> tuple[str | None, str | None]:
    """``(header_agent(headers), first User-Agent value)``.

    A client sends the same header names on every request, so where the
    ones that matter are is worked out once per distinct list of names.

    Examples
    --------
    >>> header_facts([("User-Agent", "aider/0.50"), ("user-agent", "x")])
    (None, 'aider/0.50')
    >>> header_facts([("user-agent", "OpenAI/Python 1.50.0"), ("X-Claude-Code-Session-Id", "abc")])
    ('claude-code', 'OpenAI/Python 1.50.0')
    """
    names = tuple(map(_first, headers))
    plan = _PLANS.get(names)
    if plan is None:
        if len(_PLANS) >= 1024:
            _PLANS.clear()
        plan = _PLANS[names] = _plan(names)
    first_ua, last_ua, marks = plan
    for i, is_originator in marks:
        if not is_originator:
            return "claude-code", headers[first_ua][1] if first_ua >= 0 else None
        if headers[i][1].lower().startswith("codex"):
            return "codex", headers[first_ua][1] if first_ua >= 0 else None
    if last_ua < 0:
        return _ua_agent(""), None
    return _ua_agent(headers[last_ua][1]), headers[first_ua][1]


_first = itemgetter(0)
# header names -> (first User-Agent, last User-Agent, [(index, is originator)]
# of the agent-naming headers in order); -1: none
_PLANS: dict[tuple[str, ...], tuple[int, int, list[tuple[int, bool]]]] = {}


def _plan(names: tuple[str, ...]) -> tuple[int, int, list[tuple[int, bool]]]:
    first = last = -1
    marks: list[tuple[int, bool]] = []
    for i, k in enumerate(names):
        lk = k.lower()
        if lk == "user-agent":
            if first < 0:
                first = i
            last = i
        elif lk == "x-claude-code-session-id":
            marks.append((i, False))
        elif lk == "originator":
            marks.append((i, True))
    return first, last, marks


@functools.lru_cache(maxsize=256)
def _ua_agent(ua: str) -> str | None:
    # An agent sends the same User-Agent on every call: match it once.
    for rx, name in _UA_AGENTS:
        if rx.search(ua):
            return name
    return None


def is_auxiliary(system_or_first: str, n_tools_offered: int | None, agent: str | None) -> bool:
    """Whether a call looks like a side call (title generation, topic check...).

    Examples
    --------
    >>> is_auxiliary("Generate a concise title for this conversation.", 0, None)
    True
    >>> is_auxiliary("You are a coding agent.", 5, None)
    False
    """
    if n_tools_offered:
        return False
    return _aux_text(system_or_first[:4000])


@functools.lru_cache(maxsize=1024)
def _aux_text(text: str) -> bool:
    # Every call of a conversation repeats its system prompt: search it once.
    return bool(_AUX.search(text))
