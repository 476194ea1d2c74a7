"""Errors raised by the ``.heron`` reader and writer.

Every class derives from :class:`heron.errors.HeronError` and carries the
facts (offsets, chunk numbers, CRCs) as attributes as well as in its message,
so callers can act on them without parsing text.

Examples
--------
>>> e = CorruptBlock(offset=52, chunk_index=0, expected_crc=1, actual_crc=2)
>>> isinstance(e, FormatError), e.offset
(True, 52)
"""

from __future__ import annotations

from heron.errors import HeronError


class FormatError(HeronError):
    """Root of every ``.heron`` file-format error."""


class NotAHeronFile(FormatError):
    """The input does not start with the ``.heron`` magic bytes."""


class UnsupportedVersion(FormatError):
    """The file's major version is not one this reader implements."""


class IncompatibleFeature(FormatError):
    """The file sets an incompatible feature flag this reader does not know."""

    def __init__(self, unknown_flags: int) -> None:
        self.unknown_flags = unknown_flags
        super().__init__(
            f"file header sets incompatible feature flags 0x{unknown_flags:x} that this "
            "reader does not implement; upgrade heron to read this file"
        )


class TruncatedFile(FormatError):
    """The file ends before a structure that must be complete (e.g. the header)."""

    def __init__(self, message: str, *, offset: int) -> None:
        self.offset = offset
        super().__init__(message)


class CorruptBlock(FormatError):
    """A block's CRC-32C does not match its bytes."""

    def __init__(
        self,
        *,
        offset: int,
        chunk_index: int | None,
        expected_crc: int | None,
        actual_crc: int | None,
        detail: str = "",
    ) -> None:
        self.offset = offset
        self.chunk_index = chunk_index
        self.expected_crc = expected_crc
        self.actual_crc = actual_crc
        where = f"block at byte offset {offset}"
        if chunk_index is not None:
            where += f" (chunk #{chunk_index})"
        crc = ""
        if expected_crc is not None and actual_crc is not None:
            crc = f": stored CRC-32C 0x{expected_crc:08x}, computed 0x{actual_crc:08x}"
        super().__init__(f"corrupt {where}{crc}{'; ' + detail if detail else ''}")


class CorruptHeader(FormatError):
    """The file header block is present but unusable."""


class InvalidRecord(FormatError):
    """The writer was given a record it cannot store (bad field type, too large...)."""


class OutputError(FormatError):
    """The writer could not create or write its output."""
