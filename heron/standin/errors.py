"""Errors raised by the stand-in provider and its agents.

Examples
--------
>>> issubclass(ScenarioError, StandInError)
True
"""

from __future__ import annotations

from heron.errors import HeronError


class StandInError(HeronError):
    """The stand-in provider could not start, answer, or be reached."""


class ScenarioError(StandInError):
    """A request asked for a scenario the stand-in does not understand.

    The server turns it into a 400 answer in the provider's error format.
    """


class RequestError(StandInError):
    """A request body did not have the shape its API expects (a 400 answer)."""


class AgentError(StandInError):
    """An agent got an answer it did not expect (the agent exits nonzero)."""
