"""Just enough ELF reading to tell which symbols a file exports (sans-IO).

Used to recognise executables that carry a TLS library statically and export
its symbols (``/usr/bin/node`` exports ``SSL_write``), without bcc.

Examples
--------
>>> import sys
>>> "Py_Initialize" in exported_symbols(sys.executable) or True
True
"""

from __future__ import annotations

import struct
from pathlib import Path

_SHT_DYNSYM = 11
_SHN_UNDEF = 0


def exported_symbols(path: str | Path, wanted: set[str] | None = None) -> set[str]:
    """Defined dynamic symbols of an ELF64 little-endian file.

    With ``wanted``, only those names are looked for (faster to compare).
    Returns an empty set for anything that is not such a file.

    Examples
    --------
    >>> exported_symbols("/nonexistent")
    set()
    """
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
                return set()
            (shoff,) = struct.unpack_from("<Q", head, 0x28)
            shentsize, shnum = struct.unpack_from("<HH", head, 0x3A)
            if not shoff or shentsize < 64 or shnum > 0xFFFF:
                return set()
            f.seek(shoff)
            shdrs = f.read(shentsize * shnum)
            sections = [
                struct.unpack_from("<IIQQQQIIQQ", shdrs, i * shentsize) for i in range(shnum)
            ]
            out: set[str] = set()
            for _name, typ, _fl, _addr, off, size, link, _info, _al, entsize in sections:
                if typ != _SHT_DYNSYM or entsize < 24 or link >= len(sections):
                    continue
                stroff, strsize = sections[link][4], sections[link][5]
                f.seek(stroff)
                strtab = f.read(strsize)
                f.seek(off)
                symtab = f.read(size)
                for name_off, _info2, _other, shndx, _value, _sz in struct.iter_unpack(
                    "<IBBHQQ", symtab[: size - size % 24]
                ):
                    if shndx == _SHN_UNDEF or not name_off:
                        continue
                    end = strtab.find(b"\0", name_off)
                    name = strtab[name_off:end].decode("ascii", "replace")
                    if wanted is None or name in wanted:
                        out.add(name)
            return out
    except (OSError, struct.error):
        return set()
