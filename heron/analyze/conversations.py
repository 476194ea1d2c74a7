"""Group calls into conversations by message-history prefixes.

An agent turn re-sends the whole history plus what happened since, so a
call whose messages EXTEND an earlier call's messages (same process)
continues that call's conversation.  Each message is normalised to role +
content text + tool ids (:meth:`Message.key`), and histories are chained
hashes: ``h[i] = H(h[i-1] || H(key(m[i])))``.  Only hashes are kept, never
bodies, so memory stays bounded by the number of calls and messages.

For a new call with prefix hashes ``h[1..n]`` (in request-start order),
every prefix ``h[i]`` equal to the full history of an earlier call in the
same process is a candidate parent, and the MOST RECENT such call names
the conversation (an agent continues the thread it just advanced; older
matches are ancestors, or another session that happened to say the same
thing); if none matches, the call starts a new conversation.  OpenAI responses-API
calls that chain with ``previous_response_id`` join the conversation of
the call whose response had that id.

A history EQUAL to an earlier call's is a retry (a 429 re-sent, a
repeated request) and stays in that conversation -- unless that earlier
history was already continued by a later call: then the agent is starting
over with the same opening messages (a new session with the same prompt),
and a new conversation begins.  The latest call with a given history is
the one later calls continue.

Examples
--------
>>> from heron.analyze.providers.base import Message, history_chains
>>> idx = ConversationIndex()
>>> a = prefix_hashes([Message("user", "hi")])
>>> b = prefix_hashes([Message("user", "hi"), Message("assistant", "yo"), Message("user", "more")])
>>> idx.assign(pid=1, call_id=0, prefixes=a), idx.assign(pid=1, call_id=1, prefixes=b)
(0, 0)
>>> idx.assign(pid=2, call_id=2, prefixes=b)
2
>>> idx.assign(pid=1, call_id=3, prefixes=a)    # same opening, already continued: restart
3
>>> idx.assign(pid=1, call_id=4, prefixes=a)    # same again, not continued: a retry
3
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from heron.analyze.providers.base import Message, history_chains

_RECENT = 8  # last calls per process checked first for the parent
_EMPTY_FULL: dict[int, list[Any]] = {}  # never written: only when there is no history
_NO_RECENTS: list[tuple[int, int, list[Any]]] = []  # likewise


def prefix_hashes(messages: Sequence[Message]) -> list[int]:
    """Chained hashes of every prefix of ``messages`` (one int each).

    See :func:`~heron.analyze.providers.base.history_chains` (memoised per
    message, so a re-sent history costs no hashing).

    Examples
    --------
    >>> len(prefix_hashes([Message("user", "a"), Message("user", "b")]))
    2
    """
    return history_chains(messages)[0]


class ConversationIndex:
    """Assigns conversation ids to calls.

    Calls may be visited in completion order rather than start order: every
    comparison uses ``at`` (the request start), so a call that completes
    late (an abandoned response flushed when its connection closes) is
    still judged as of when it started.

    Examples
    --------
    >>> idx = ConversationIndex()
    >>> turn1 = prefix_hashes([Message("user", "fix it")])
    >>> turn2 = prefix_hashes([Message("user", "fix it"), Message("assistant", "ok"), Message("user", "and?")])
    >>> [idx.assign(pid=1, call_id=i, prefixes=p) for i, p in enumerate([turn1, turn2])]
    [0, 0]
    """

    def __init__(self) -> None:
        # pid -> full-history hash ->
        #   [conversation id, start of the first call that continued it (or None), latest start]
        # (an entry is updated in place, never replaced: _recents holds it too)
        self._full: dict[int | None, dict[int, list[Any]]] = {}
        self._resp: dict[str, int] = {}
        # pid -> (history length, full-history hash, its entry) of its last few calls
        self._recents: dict[int | None, list[tuple[int, int, list[Any]]]] = {}

    def assign(
        self,
        *,
        pid: int | None,
        call_id: int,
        prefixes: Sequence[int],
        previous_response_id: str | None = None,
        response_id: str | None = None,
        at: int | None = None,
    ) -> int:
        """Conversation id (the call_id of its first call) for this call.

        ``at`` orders calls (the request start; default ``call_id``).

        Examples
        --------
        >>> idx = ConversationIndex()
        >>> idx.assign(pid=1, call_id=0, prefixes=b"", response_id="r1")
        0
        >>> idx.assign(pid=1, call_id=1, prefixes=b"", previous_response_id="r1")
        0
        """
        at = call_id if at is None else at
        conv: int | None = None
        if previous_response_id is not None:
            conv = self._resp.get(previous_response_id)
        n = len(prefixes)
        full: dict[int, list[Any]] = _EMPTY_FULL
        recents = _NO_RECENTS
        last = 0
        same: list[Any] | None = None
        if n:
            got = self._full.get(pid)
            if got is None:
                got = self._full[pid] = {}
            full = got
            got_recents = self._recents.get(pid)
            if got_recents is None:
                got_recents = self._recents[pid] = []
            recents = got_recents
            last = prefixes[n - 1]
            same = full.get(last)
        if conv is None and n:
            best: list[Any] | None = None
            floor = -1  # a restart: older matches are the restarted thread's ancestors
            if same is not None:
                if same[1] is not None and same[1] < at:
                    floor = same[2]
                else:
                    best = same
            # The latest strict ancestor among the process's last calls: an
            # agent's next turn almost always extends its previous call, so
            # this finds the parent without walking every prefix of a long
            # history.  Any ancestor not among the last calls is older than
            # every one of them, so a match here is also the latest overall.
            recent: list[Any] | None = None
            for m, h, rec in recents:
                t = rec[2]
                if (
                    m < n
                    and floor < t < at
                    and (recent is None or t > recent[2])
                    and prefixes[m - 1] == h
                ):
                    recent = rec
            if recent is not None:
                if best is None or recent[2] > best[2]:
                    best = recent
            else:  # no recent call is an ancestor: look at every shorter prefix
                for i in range(n - 1, 0, -1):
                    entry = full.get(prefixes[i - 1])
                    if (
                        entry is not None
                        and floor < entry[2] < at
                        and (best is None or entry[2] > best[2])
                    ):
                        best = entry
            if best is not None:
                conv = best[0]
                if best is not same and (best[1] is None or at < best[1]):
                    best[1] = at
        if conv is None:
            conv = call_id
        if n:
            if same is None:
                same = full[last] = [conv, None, at]
            elif same[2] <= at:  # the latest start with this history wins
                same[0], same[1], same[2] = conv, None, at
            recents.append((n, last, same))
            if len(recents) > _RECENT:
                del recents[0]
        if response_id is not None:
            self._resp[response_id] = conv
        return conv
