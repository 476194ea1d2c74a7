"""Scenario options: how the stand-in provider should behave for one request.

A scenario is a short option string, read from the ``x-standin-scenario``
request header and from a ``~`` suffix on the model name (the header wins
for options given in both)::

    x-standin-scenario: tools=2;ttft_ms=30
    model: "gpt-4o-mini~plan=read_file*4|run_tests;error=429-once"

Options are separated by ``;`` or ``,``.  Unknown options are an error (a
400 answer), so a typo never silently changes nothing.

Examples
--------
>>> s = parse_scenario("tools=2;ttft_ms=30", model="gpt-4o~error=429-once")
>>> s.tools, s.ttft_ms, s.error, s.error_once
(2, 30, 429, True)
>>> split_model("gpt-4o~tools=3")
('gpt-4o', 'tools=3')
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from heron.standin.errors import ScenarioError

SCENARIO_HEADER = "x-standin-scenario"

# An option value is capped so a hostile header cannot ask for a huge body.
_MAX_BIG_KB = 64 * 1024  # 64 MiB response padding
_MAX_WORDS = 100_000
_MAX_DELAY_MS = 60_000
_MAX_PLAN = 1_000


@dataclass(frozen=True, slots=True)
class Scenario:
    """Parsed scenario options (all have safe defaults).

    Attributes
    ----------
    tools:
        Tool rounds wanted when tools are offered and no ``plan`` is given;
        round *i* calls the offered tool ``i % len(tools)``.
    plan:
        Explicit tool-call sequence (names), e.g. ``read_file*4|run_tests``.
    parallel:
        Tool calls per model turn (taken in order from the plan).
    error:
        HTTP status to answer with (e.g. 429, 500), or ``"stream"`` for an
        error event in the middle of a 200 stream.
    error_once:
        Answer with ``error`` only on a request's first attempt, so the
        retry succeeds: when the request carries ``x-stainless-retry-count``
        (the openai and anthropic SDKs send it), iff that is ``0``; for other
        clients, the first time this path and body are seen by the server.
    error_after:
        For ``error=stream``: content chunks sent before the error event.
    retry_after_ms:
        Value of ``retry-after-ms`` on 429/503 answers (``retry-after`` gets
        the value rounded up to whole seconds).
    latency_ms, ttft_ms, chunk_ms:
        Delay before the response headers; between headers and the first body
        chunk; between later stream chunks.
    words:
        Words in a final text answer.
    big_kb:
        Pad the final answer text so the response body grows by about this
        many KiB.
    cache_read, reasoning:
        Token counts to report as cached prompt tokens / reasoning tokens.
    encoding:
        ``Content-Encoding`` for the answer: ``gzip``, ``deflate``, ``br``
        or ``zstd`` (streams are compressed incrementally).

    Examples
    --------
    >>> Scenario(error=429, error_once=True).error_once
    True
    """

    tools: int = 1
    plan: tuple[str, ...] = ()
    parallel: int = 1
    error: int | str | None = None
    error_once: bool = False
    error_after: int = 2
    retry_after_ms: int = 20
    latency_ms: int = 0
    ttft_ms: int = 0
    chunk_ms: int = 0
    words: int = 16
    big_kb: int = 0
    cache_read: int = 0
    reasoning: int = 0
    encoding: str | None = None
    raw: str = field(default="", compare=False)

    def as_dict(self) -> dict[str, object]:
        """The options as a JSON-friendly dict (for the exchange log).

        Examples
        --------
        >>> Scenario(tools=3).as_dict()["tools"]
        3
        """
        out: dict[str, object] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out


_INT_OPTS = {
    "tools": (0, _MAX_PLAN),
    "parallel": (1, 64),
    "error_after": (0, 10_000),
    "retry_after_ms": (0, _MAX_DELAY_MS),
    "latency_ms": (0, _MAX_DELAY_MS),
    "ttft_ms": (0, _MAX_DELAY_MS),
    "chunk_ms": (0, _MAX_DELAY_MS),
    "words": (1, _MAX_WORDS),
    "big_kb": (0, _MAX_BIG_KB),
    "cache_read": (0, 10**9),
    "reasoning": (0, 10**9),
}


def split_model(model: str) -> tuple[str, str]:
    """Split ``"name~options"`` into the model name and its option string.

    Examples
    --------
    >>> split_model("claude-3-5-haiku")
    ('claude-3-5-haiku', '')
    """
    name, _, opts = model.partition("~")
    return name, opts


def _parse_plan(value: str) -> tuple[str, ...]:
    plan: list[str] = []
    for item in value.split("|"):
        item = item.strip()
        if not item:
            continue
        name, star, count = item.partition("*")
        n = 1
        if star:
            if not count.isdigit():
                raise ScenarioError(
                    f"scenario plan item {item!r}: expected NAME or NAME*COUNT, found {count!r} after '*'"
                )
            n = int(count)
        plan.extend([name.strip()] * n)
        if len(plan) > _MAX_PLAN:
            raise ScenarioError(f"scenario plan: expected at most {_MAX_PLAN} calls, found more")
    return tuple(plan)


def _apply(base: Scenario, text: str, where: str) -> Scenario:
    updates: dict[str, object] = {}
    for part in text.replace(",", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        key = key.strip().replace("-", "_")
        value = value.strip()
        if not eq:
            raise ScenarioError(f"scenario option {part!r} in {where}: expected KEY=VALUE")
        if key in _INT_OPTS:
            lo, hi = _INT_OPTS[key]
            if not value.isdigit() or not lo <= int(value) <= hi:
                raise ScenarioError(
                    f"scenario option {key} in {where}: expected an integer in [{lo}, {hi}], found {value!r}"
                )
            updates[key] = int(value)
        elif key == "encoding":
            if value not in ("gzip", "deflate", "br", "zstd", "identity"):
                raise ScenarioError(
                    f"scenario option encoding in {where}: expected gzip, deflate, br, zstd or identity, "
                    f"found {value!r}"
                )
            updates["encoding"] = None if value == "identity" else value
        elif key == "plan":
            updates["plan"] = _parse_plan(value)
        elif key == "error":
            once = value.endswith("-once")
            code = value.removesuffix("-once")
            if code == "stream":
                updates["error"] = "stream"
            elif code.isdigit() and 400 <= int(code) <= 599:
                updates["error"] = int(code)
            else:
                raise ScenarioError(
                    f"scenario option error in {where}: expected a 4xx/5xx status or 'stream' "
                    f"(optionally with '-once'), found {value!r}"
                )
            updates["error_once"] = once
        else:
            known = ", ".join(sorted([*_INT_OPTS, "plan", "error", "encoding"]))
            raise ScenarioError(f"unknown scenario option {key!r} in {where}; known: {known}")
    return replace(base, **updates)  # type: ignore[arg-type]


def parse_scenario(
    header: str | None, *, model: str = "", default: Scenario | None = None
) -> Scenario:
    """Build the scenario for one request from the model suffix and the header.

    Parameters
    ----------
    header:
        Value of the ``x-standin-scenario`` header, if any.
    model:
        The requested model name; options after ``~`` apply first.
    default:
        Server-wide defaults (e.g. ``latency_ms`` from ``--latency-ms``).

    Examples
    --------
    >>> parse_scenario(None, model="m~plan=a*2|b").plan
    ('a', 'a', 'b')
    >>> parse_scenario("latency_ms=5", default=Scenario(latency_ms=50)).latency_ms
    5
    """
    sc = default or Scenario()
    _, opts = split_model(model)
    if opts:
        sc = _apply(sc, opts, f"model name {model!r}")
    if header:
        sc = _apply(sc, header, f"{SCENARIO_HEADER} header")
    return replace(sc, raw=";".join(x for x in (opts, header or "") if x))
