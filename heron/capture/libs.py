"""Finding every copy of a TLS library worth hooking.

A uprobe is attached per file (inode), not per process, with ``pid=-1``, so
one attachment covers every process that maps that file, including ones that
start later.  Copies are found:

* on disk, in the usual library directories (so ``-- python agent.py`` is
  covered before Python has even loaded ``_ssl``);
* in ``/proc/PID/maps`` of running processes (venvs, conda, vendored copies),
  opened through ``/proc/PID/root`` so a container's copy is its own file;
* in executables that export the library's symbols themselves (node).

Examples
--------
>>> f = LibraryFinder()
>>> all(c.module.NAME in ("openssl", "gnutls") for c in f.system_libraries())
True
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from types import ModuleType

from heron.capture.elf import exported_symbols
from heron.capture.probes import ALL_MARKERS, module_for_exports, module_for_file

SYSTEM_DIRS = (
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/usr/lib",
    "/lib",
    "/usr/local/lib",
    "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
)


@dataclass(frozen=True, slots=True)
class LibCopy:
    """One file to hook."""

    path: str  # path to open from here (may go through /proc/PID/root)
    display: str  # the path as its process sees it
    dev: int
    ino: int
    module: ModuleType
    pid: int | None  # the process it was found in, None if found on disk


class LibraryFinder:
    """Remembers inodes already found, so each copy is reported once.

    Examples
    --------
    >>> f = LibraryFinder(); first = f.system_libraries(); f.system_libraries()
    []
    """

    def __init__(self) -> None:
        self.seen: set[tuple[int, int]] = set()
        self._exe_checked: dict[tuple[int, int], ModuleType | None] = {}

    def _new(self, path: str, display: str, module: ModuleType, pid: int | None) -> LibCopy | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        key = (st.st_dev, st.st_ino)
        if key in self.seen:
            return None
        self.seen.add(key)
        return LibCopy(path, display, st.st_dev, st.st_ino, module, pid)

    def system_libraries(self) -> list[LibCopy]:
        """Copies installed in the usual library directories."""
        out = []
        for d in SYSTEM_DIRS:
            for p in sorted(glob.glob(f"{d}/lib*.so*")):
                m = module_for_file(p)
                if m is None:
                    continue
                c = self._new(os.path.realpath(p), os.path.realpath(p), m, None)
                if c:
                    out.append(c)
        return out

    def executable(
        self, path: str, display: str | None = None, pid: int | None = None
    ) -> list[LibCopy]:
        """An executable that may export TLS symbols itself (node)."""
        try:
            st = os.stat(path)
        except OSError:
            return []
        key = (st.st_dev, st.st_ino)
        if key in self.seen:
            return []
        if key not in self._exe_checked:
            self._exe_checked[key] = module_for_exports(exported_symbols(path, ALL_MARKERS))
        m = self._exe_checked[key]
        if m is None:
            return []
        c = self._new(path, display or path, m, pid)
        return [c] if c else []

    def scan_pid(self, pid: int) -> list[LibCopy]:
        """New copies mapped by one process (through its own root)."""
        root = f"/proc/{pid}/root"
        out: list[LibCopy] = []
        try:
            with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return out
        paths = set()
        for line in lines:
            parts = line.split(None, 5)
            if len(parts) < 6 or "x" not in parts[1]:
                continue
            p = parts[5]
            if p.startswith("/") and not p.endswith(" (deleted)"):
                paths.add(p)
        for p in sorted(paths):
            m = module_for_file(p)
            if m is not None:
                c = self._new(root + p, p, m, pid)
                if c:
                    out.append(c)
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            return out
        if exe.startswith("/") and not exe.endswith(" (deleted)"):
            out.extend(self.executable(root + exe, exe, pid))
        return out

    def scan_all(self) -> list[LibCopy]:
        """New copies mapped by any running process."""
        out = []
        for name in os.listdir("/proc"):
            if name.isdigit():
                out.extend(self.scan_pid(int(name)))
        return out
