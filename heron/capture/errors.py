"""Errors of the capture side, all under :class:`heron.errors.HeronError`.

Examples
--------
>>> str(NeedPrivilege("loading BPF programs"))
'heron-capture needs root (or CAP_BPF + CAP_PERFMON) for loading BPF programs; run it with sudo'
"""

from __future__ import annotations

from heron.errors import HeronError


class CaptureError(HeronError):
    """Capture cannot start or continue."""


class NeedPrivilege(CaptureError):
    """The process lacks the privilege eBPF capture needs."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"heron-capture needs root (or CAP_BPF + CAP_PERFMON) for {what}; run it with sudo"
        )
        self.what = what


class BpfUnavailable(CaptureError):
    """bcc is missing, or the kernel refused the programs."""


class EventDecodeError(CaptureError):
    """A ring-buffer event does not match the layout heron.h declares."""
