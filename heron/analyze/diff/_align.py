"""Align two tool-call sequences the way a code diff aligns two files.

Theory of operation
-------------------
A tool call is a (name, arguments) pair.  Two passes:

1. An outer :class:`difflib.SequenceMatcher` over the exact keys
   ``(name, canonical JSON of the arguments)``.  Its ``equal`` runs are calls
   that are the same in both runs; ``insert``/``delete`` runs are calls only
   one run made.
2. Inside each ``replace`` run (both sides have calls the other lacks), a
   weighted longest-common-subsequence pass pairs calls that have the *same
   name* and *similar arguments* (``difflib`` ratio on the canonical JSON of at
   least :data:`CHANGED_SIMILARITY`).  A pair becomes one ``changed`` step
   instead of a deletion plus an insertion; the DP maximises the total
   similarity of the pairs while keeping both orders, so
   ``read(a), read(b)`` vs ``read(b2)`` pairs ``read(b)`` with ``read(b2)``.
   What is left over becomes deletions (first) and insertions, as in a
   unified diff.

Everything here is pure and works on plain Python values; the DataFrame
plumbing lives in :mod:`heron.analyze.diff._compare`.

Examples
--------
>>> a = [ToolStep("read", '{"p": "a.txt"}'), ToolStep("ls", "{}")]
>>> b = [ToolStep("read", '{"p": "b.txt"}'), ToolStep("ls", "{}"), ToolStep("rm", '{"p": "a"}')]
>>> [s.op for s in align_tool_calls(a, b)]
['changed', 'equal', 'insert']
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

Op = Literal["equal", "insert", "delete", "changed"]

#: Minimum argument similarity (0..1, difflib ratio of canonical JSON) for two
#: same-name calls to be shown as one changed call rather than removed+added.
CHANGED_SIMILARITY = 0.6

# The inner DP is O(n*m); past this many cells a replace run falls back to
# pairing same-name calls in order (still correct, just less clever).
_MAX_DP_CELLS = 250_000
# Half-width of the band of (base, head) pairs the DP scores.
_BAND = 16
# Arguments longer than this are compared on their first characters only:
# difflib's ratio is quadratic in the worst case.
_MAX_SIMILARITY_CHARS = 4096


def canonical_arguments(arguments: str | None) -> str:
    """Canonical JSON text for comparing arguments (sorted keys, no spaces).

    Text that is not JSON (a truncated capture) is compared as stripped text.

    Examples
    --------
    >>> canonical_arguments('{"b": 1, "a": [1, 2]}')
    '{"a":[1,2],"b":1}'
    >>> canonical_arguments('{"a": 1')
    '{"a": 1'
    """
    if arguments is None:
        return ""
    try:
        value = json.loads(arguments)
    except (ValueError, TypeError):
        return arguments.strip()
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class ToolStep:
    """One tool call in a conversation's sequence.

    Examples
    --------
    >>> ToolStep("read_file", '{"path": "x"}').key
    ('read_file', '{"path":"x"}')
    """

    name: str
    arguments: str | None
    is_error: bool | None = None
    tool_call_id: str | None = None
    key: tuple[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.name, canonical_arguments(self.arguments)))


@dataclass(frozen=True)
class AlignedStep:
    """One line of the aligned diff.

    Attributes
    ----------
    op : {"equal", "insert", "delete", "changed"}
        ``insert``: only HEAD made this call; ``delete``: only BASE did;
        ``changed``: same tool, slightly different arguments.
    base, head : ToolStep or None
        The call on each side (None on the side that lacks it).
    similarity : float or None
        Argument similarity for ``equal`` (1.0) and ``changed`` steps.

    Examples
    --------
    >>> AlignedStep("insert", None, ToolStep("ls", "{}"), None).marker
    '+'
    """

    op: Op
    base: ToolStep | None
    head: ToolStep | None
    similarity: float | None

    @property
    def marker(self) -> str:
        """The diff-line prefix: ``' '``, ``'+'``, ``'-'`` or ``'!'`` for changed.

        Examples
        --------
        >>> AlignedStep("changed", ToolStep("a", "1"), ToolStep("a", "2"), 0.9).marker
        '!'
        """
        return {"equal": " ", "insert": "+", "delete": "-", "changed": "!"}[self.op]


def argument_similarity(a: str | None, b: str | None) -> float:
    """Similarity (0..1) of two argument texts, on their canonical JSON.

    Examples
    --------
    >>> argument_similarity('{"path": "a.txt"}', '{"path":"a.txt"}')
    1.0
    >>> argument_similarity('{"path": "a.txt"}', '{"path": "b.txt"}') > 0.8
    True
    """
    return _canonical_similarity(canonical_arguments(a), canonical_arguments(b))


def _canonical_similarity(ca: str, cb: str, floor: float = 0.0) -> float:
    """difflib ratio of two canonical texts; 0.0 early when the cheap upper
    bounds show it cannot reach ``floor``."""
    if ca == cb:
        return 1.0
    sm = difflib.SequenceMatcher(
        None, ca[:_MAX_SIMILARITY_CHARS], cb[:_MAX_SIMILARITY_CHARS], autojunk=False
    )
    if sm.real_quick_ratio() < floor or sm.quick_ratio() < floor:
        return 0.0
    return sm.ratio()


def align_tool_calls(
    base: Sequence[ToolStep],
    head: Sequence[ToolStep],
    *,
    min_similarity: float = CHANGED_SIMILARITY,
) -> list[AlignedStep]:
    """Align two tool-call sequences into equal/insert/delete/changed steps.

    Parameters
    ----------
    base, head : sequence of ToolStep
        The calls of one conversation in each run, in request order.
    min_similarity : float
        Same-name calls whose arguments are at least this similar are paired
        as ``changed``.

    Returns
    -------
    list of AlignedStep
        Every call of both sides appears exactly once, in order.

    Examples
    --------
    >>> r = ToolStep("read", '{"p": "a"}')
    >>> [s.op for s in align_tool_calls([r], [r, r, r, r])]
    ['equal', 'insert', 'insert', 'insert']
    >>> [s.op for s in align_tool_calls([ToolStep("search", '{"q": "x"}')],
    ...                                 [ToolStep("fetch", '{"q": "x"}')])]
    ['delete', 'insert']
    """
    out: list[AlignedStep] = []
    sm = difflib.SequenceMatcher(None, [s.key for s in base], [s.key for s in head], autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            out.extend(
                AlignedStep("equal", base[i], head[j], 1.0)
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            )
        elif tag == "delete":
            out.extend(AlignedStep("delete", base[i], None, None) for i in range(i1, i2))
        elif tag == "insert":
            out.extend(AlignedStep("insert", None, head[j], None) for j in range(j1, j2))
        else:
            out.extend(_align_replace(base[i1:i2], head[j1:j2], min_similarity))
    return _slide_down(out)


def _slide_down(steps: list[AlignedStep]) -> list[AlignedStep]:
    """Move pure insert/delete runs below equal calls with the same key.

    ``[w] -> [w, w, w, w]`` may align the *last* w as equal; a reader expects
    the first call kept and the repeats added after it (as ``git diff`` puts
    a duplicated line after the original).  Sliding a run past an equal step
    whose key equals the run's first call keeps both sequences intact.
    """
    out = list(steps)
    i = 0
    while i < len(out):
        op = out[i].op
        if op not in ("insert", "delete"):
            i += 1
            continue
        j = i
        while j < len(out) and out[j].op == op:
            j += 1
        moved = False
        while j < len(out) and out[j].op == "equal":
            eq, first = out[j], out[i]
            run_first = first.head if op == "insert" else first.base
            assert run_first is not None and eq.base is not None and eq.head is not None
            if run_first.key != eq.base.key:
                break
            if op == "insert":
                new_eq = AlignedStep("equal", eq.base, run_first, 1.0)
                moved_out = AlignedStep("insert", None, eq.head, None)
            else:
                new_eq = AlignedStep("equal", run_first, eq.head, 1.0)
                moved_out = AlignedStep("delete", eq.base, None, None)
            out[i : j + 1] = [new_eq, *out[i + 1 : j], moved_out]
            i, j = i + 1, j + 1
            moved = True
        if not moved:
            i = j
    return out


def _pairs_dp(
    a: Sequence[ToolStep], b: Sequence[ToolStep], min_similarity: float
) -> list[tuple[int, int, float]]:
    """Order-preserving pairs maximising total similarity (weighted LCS)."""
    n, m = len(a), len(b)
    w = [[0.0] * m for _ in range(n)]
    for i in range(n):
        # only pairs near the diagonal of the run are scored: a changed call
        # sits near its counterpart, and scoring every pair is quadratic in
        # difflib calls (seconds for a few hundred calls)
        centre = i * m // n
        for j in range(max(0, centre - _BAND), min(m, centre + _BAND + 1)):
            if a[i].name == b[j].name:
                sim = _canonical_similarity(a[i].key[1], b[j].key[1], min_similarity)
                if sim >= min_similarity:
                    w[i][j] = sim
    dp = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        row, prev = dp[i], dp[i - 1]
        for j in range(1, m + 1):
            best = max(prev[j], row[j - 1])
            if w[i - 1][j - 1] > 0:
                best = max(best, prev[j - 1] + w[i - 1][j - 1])
            row[j] = best
    pairs: list[tuple[int, int, float]] = []
    i, j = n, m
    while i > 0 and j > 0:
        if w[i - 1][j - 1] > 0 and dp[i][j] == dp[i - 1][j - 1] + w[i - 1][j - 1]:
            pairs.append((i - 1, j - 1, w[i - 1][j - 1]))
            i, j = i - 1, j - 1
        elif dp[i][j] == dp[i - 1][j]:
            i -= 1
        else:
            j -= 1
    pairs.reverse()
    return pairs


def _pairs_greedy(
    a: Sequence[ToolStep], b: Sequence[ToolStep], min_similarity: float
) -> list[tuple[int, int, float]]:
    """Fallback for huge runs: pair same-name calls in order of the name LCS."""
    sm = difflib.SequenceMatcher(None, [s.name for s in a], [s.name for s in b], autojunk=False)
    pairs: list[tuple[int, int, float]] = []
    for block in sm.get_matching_blocks():
        for k in range(block.size):
            i, j = block.a + k, block.b + k
            sim = _canonical_similarity(a[i].key[1], b[j].key[1], min_similarity)
            if sim >= min_similarity:
                pairs.append((i, j, sim))
    return pairs


def _align_replace(
    a: Sequence[ToolStep], b: Sequence[ToolStep], min_similarity: float
) -> list[AlignedStep]:
    if len(a) * len(b) <= _MAX_DP_CELLS:
        pairs = _pairs_dp(a, b, min_similarity)
    else:
        pairs = _pairs_greedy(a, b, min_similarity)
    out: list[AlignedStep] = []
    i = j = 0
    for pi, pj, sim in [*pairs, (len(a), len(b), 0.0)]:
        out.extend(AlignedStep("delete", a[k], None, None) for k in range(i, pi))
        out.extend(AlignedStep("insert", None, b[k], None) for k in range(j, pj))
        if pi < len(a):
            out.append(AlignedStep("changed", a[pi], b[pj], sim))
        i, j = pi + 1, pj + 1
    return out


def summarize(steps: Sequence[AlignedStep]) -> dict[str, int]:
    """Count steps by op.

    Examples
    --------
    >>> summarize([AlignedStep("insert", None, ToolStep("a", None), None)])
    {'equal': 0, 'insert': 1, 'delete': 0, 'changed': 0}
    """
    counts = {"equal": 0, "insert": 0, "delete": 0, "changed": 0}
    for s in steps:
        counts[s.op] += 1
    return counts
