"""What ``/proc`` and ``/sys/fs/cgroup`` say about processes and sockets.

Everything here is best effort: a process may be gone by the time we look,
which is why exec-time metadata comes from BPF and this only enriches it.

Examples
--------
>>> import os
>>> info = process_info(os.getpid())
>>> info["pid"] == os.getpid() and info["uid"] == os.getuid()
True
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import struct
from typing import Any

_CLK_TCK = os.sysconf("SC_CLK_TCK")
_CONTAINER_RE = re.compile(
    r"(?:docker-|cri-containerd-|crio-|libpod-|/docker/|/kubepods/.*?)([0-9a-f]{64})"
)


def container_id(cgroup_path: str | None) -> str | None:
    """The container id in a cgroup path (docker, containerd, cri-o, podman).

    Examples
    --------
    >>> container_id("/system.slice/docker-" + "ab" * 32 + ".scope") == "ab" * 32
    True
    >>> container_id("/user.slice") is None
    True
    """
    if not cgroup_path:
        return None
    m = _CONTAINER_RE.search(cgroup_path)
    return m.group(1) if m else None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def cgroup_path(pid: int) -> str | None:
    """The cgroup v2 path of a process ("0::/..." line)."""
    text = _read(f"/proc/{pid}/cgroup")
    if not text:
        return None
    for line in text.splitlines():
        if line.startswith("0::"):
            return line[3:]
    return None


def process_info(pid: int) -> dict[str, Any]:
    """PROCESS record fields for a live process (missing ones left out).

    Examples
    --------
    >>> process_info(2**22 + 7)
    {'pid': 4194311}
    """
    out: dict[str, Any] = {"pid": pid}
    stat = _read(f"/proc/{pid}/stat")
    if stat:
        rpar = stat.rfind(")")
        out["comm"] = stat[stat.find("(") + 1 : rpar]
        fields = stat[rpar + 2 :].split()
        out["ppid"] = int(fields[1])
        # starttime: clock ticks after boot (CLOCK_BOOTTIME; = MONOTONIC unless suspended)
        out["start_ns"] = int(fields[19]) * 1_000_000_000 // _CLK_TCK
    status = _read(f"/proc/{pid}/status")
    if status:
        for line in status.splitlines():
            if line.startswith("Uid:"):
                out["uid"] = int(line.split()[1])
            elif line.startswith("Gid:"):
                out["gid"] = int(line.split()[1])
    raw = None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        pass
    if raw:
        out["cmdline"] = [a.decode("utf-8", "replace") for a in raw.rstrip(b"\0").split(b"\0")]
    for key, link in (("exe", "exe"), ("cwd", "cwd")):
        with contextlib.suppress(OSError):
            out[key] = os.readlink(f"/proc/{pid}/{link}")
    cg = cgroup_path(pid)
    if cg is not None:
        out["cgroup"] = cg
        cid = container_id(cg)
        if cid:
            out["container_id"] = cid
    return out


def all_pids() -> list[int]:
    """Every process id currently in /proc."""
    return sorted(int(n) for n in os.listdir("/proc") if n.isdigit())


def descendants(roots: set[int]) -> set[int]:
    """``roots`` and all their live descendants (by ppid)."""
    children: dict[int, list[int]] = {}
    for pid in all_pids():
        text = _read(f"/proc/{pid}/stat")
        if not text:
            continue
        ppid = int(text[text.rfind(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(pid)
    out, todo = set(), list(roots)
    while todo:
        p = todo.pop()
        if p in out:
            continue
        out.add(p)
        todo.extend(children.get(p, ()))
    return out


def _hex_addr(text: str) -> tuple[str, int]:
    addr, port = text.split(":")
    raw = bytes.fromhex(addr)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1]), int(port, 16)
    words = struct.unpack("<4I", raw)
    a6 = socket.inet_ntop(socket.AF_INET6, struct.pack(">4I", *words))
    if a6.startswith("::ffff:") and "." in a6:
        a6 = a6[7:]
    return a6, int(port, 16)


def socket_addrs(pid: int, fd: int) -> dict[str, Any] | None:
    """Local/remote address of a process's TCP socket fd, from /proc.

    Examples
    --------
    >>> socket_addrs(os.getpid(), 10**6) is None
    True
    """
    try:
        link = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return None
    if not link.startswith("socket:["):
        return None
    inode = link[8:-1]
    for name, family in (("tcp", "ipv4"), ("tcp6", "ipv6")):
        text = _read(f"/proc/{pid}/net/{name}")
        if not text:
            continue
        for line in text.splitlines()[1:]:
            f = line.split()
            if len(f) > 9 and f[9] == inode:
                la, lp = _hex_addr(f[1])
                ra, rp = _hex_addr(f[2])
                fam = "ipv4" if "." in la and ":" not in la else family
                return {
                    "family": fam,
                    "local_addr": la,
                    "local_port": lp,
                    "remote_addr": ra,
                    "remote_port": rp,
                }
    return None


def cgroup2_root() -> str | None:
    """Where the cgroup v2 hierarchy is mounted (None on a v1-only host).

    Examples
    --------
    >>> cgroup2_root() is None or os.path.isdir(cgroup2_root())
    True
    """
    text = _read("/proc/self/mounts") or ""
    for line in text.splitlines():
        f = line.split()
        if len(f) > 2 and f[2] == "cgroup2":
            return f[1]
    return None


class CgroupNames:
    """Map BPF cgroup ids (cgroup v2 directory inode numbers) to paths.

    Examples
    --------
    >>> cg = CgroupNames()
    >>> cg.path(cg.id_of("/")) if cgroup2_root() else "/"
    '/'
    """

    def __init__(self, root: str | None = None) -> None:
        self.root = root or cgroup2_root() or "/sys/fs/cgroup"
        self._map: dict[int, str] = {}
        self._scanned = False

    def _scan(self) -> None:
        self._map.clear()
        try:
            dev = os.stat(self.root).st_dev
        except OSError:
            return
        for dirpath, dirs, _files in os.walk(self.root):
            try:
                st = os.stat(dirpath)
            except OSError:
                continue
            if st.st_dev != dev:  # another mount (e.g. a v1 hierarchy): other inodes
                dirs.clear()
                continue
            self._map.setdefault(st.st_ino, dirpath[len(self.root) :] or "/")
        self._scanned = True

    def path(self, cgroup_id: int) -> str | None:
        """Path of a cgroup id (rescans /sys/fs/cgroup once per miss)."""
        if cgroup_id in self._map:
            return self._map[cgroup_id]
        self._scan()
        return self._map.get(cgroup_id)

    def id_of(self, path: str) -> int:
        """The cgroup id BPF reports for a cgroup v2 path (its inode).

        ``path`` is either under the cgroup2 mount or relative to it
        (``/system.slice/x.service``, as ``/proc/PID/cgroup`` shows it).
        """
        full = path if path.startswith(self.root + "/") else self.root + "/" + path.lstrip("/")
        return os.stat(full).st_ino

    def relative(self, path: str) -> str:
        """``path`` as /proc/PID/cgroup shows it (relative to the mount)."""
        if path.startswith(self.root + "/"):
            return path[len(self.root) :]
        return "/" + path.strip("/")
