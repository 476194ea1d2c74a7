"""TLS library probe modules: one module per library.

A probe module describes how to recognise a copy of its library and which
BPF programs (in ``bpf/<name>.c``, compiled in with ``-DWITH_<NAME>``) go on
which symbols.  Adding a library (BoringSSL, rustls, ...) means adding one
module here, its ``.c`` file, and one ``#include`` line at the end of
``bpf/heron.c``.

Examples
--------
>>> [m.NAME for m in MODULES]
['openssl', 'gnutls']
>>> module_for_file("libssl.so.3").NAME
'openssl'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import ModuleType

from heron.capture.probes import gnutls, openssl


@dataclass(frozen=True, slots=True)
class Hook:
    """One symbol: the program run on entry and/or on return."""

    symbol: str
    entry: str | None = None
    ret: str | None = None
    required: bool = False  # without it the copy is not worth attaching


MODULES: tuple[ModuleType, ...] = (openssl, gnutls)


def module_for_file(name: str) -> ModuleType | None:
    """The probe module whose library file name pattern matches ``name``."""
    base = name.rsplit("/", 1)[-1]
    for m in MODULES:
        if re.fullmatch(m.FILE_PATTERN, base):
            return m
    return None


def module_for_exports(exports: set[str]) -> ModuleType | None:
    """The probe module whose marker symbols an executable exports."""
    for m in MODULES:
        if exports >= m.MARKERS:
            return m
    return None


ALL_MARKERS: set[str] = set()
for _m in MODULES:
    ALL_MARKERS |= _m.MARKERS
