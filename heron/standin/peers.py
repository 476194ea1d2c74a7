"""Which local process owns the client end of a loopback TCP connection.

With ``serve --client-pids`` the server looks this up once per connection,
at accept, and logs it as ``client_pid``: ground truth for capture tests that
check each captured record carries the right pid.  The lookup finds the
socket's inode in ``/proc/net/tcp{,6}`` and then the process holding
``socket:[inode]`` among ``/proc/*/fd``; it costs a few milliseconds per
connection, so it is off by default.  Without permission to read another
user's ``/proc/PID/fd`` the answer is None.

Examples
--------
>>> import socket
>>> srv = socket.create_server(("127.0.0.1", 0))
>>> cli = socket.create_connection(srv.getsockname())
>>> conn, peer = srv.accept()
>>> import os
>>> socket_owner(peer, srv.getsockname()) == os.getpid()
True
>>> for s in (conn, cli, srv):
...     s.close()
"""

from __future__ import annotations

import ipaddress
import os


def _hex_addr(addr: str, port: int) -> tuple[str, str]:
    """The (address, port) spelling used in /proc/net/tcp{,6}."""
    ip = ipaddress.ip_address(addr)
    if ip.version == 4:
        return ip.packed[::-1].hex().upper(), f"{port:04X}"
    packed = ip.packed
    words = [packed[i : i + 4][::-1].hex().upper() for i in range(0, 16, 4)]
    return "".join(words), f"{port:04X}"


def socket_inode(local: tuple[str, int], remote: tuple[str, int]) -> int | None:
    """Inode of the TCP socket with this local and remote address, or None.

    Examples
    --------
    >>> socket_inode(("127.0.0.1", 1), ("127.0.0.1", 2)) is None
    True
    """
    want_l = ":".join(_hex_addr(local[0], local[1]))
    want_r = ":".join(_hex_addr(remote[0], remote[1]))
    table = "/proc/net/tcp6" if ":" in local[0] else "/proc/net/tcp"
    try:
        with open(table) as f:
            next(f, None)
            for line in f:
                cols = line.split()
                if len(cols) > 9 and cols[1] == want_l and cols[2] == want_r:
                    return int(cols[9]) or None
    except OSError:
        return None
    return None


def socket_owner(local: tuple[str, int], remote: tuple[str, int]) -> int | None:
    """Pid of the process holding the socket ``local`` -> ``remote``, or None.

    ``local`` is the *client's* address (the server's peer name) and
    ``remote`` the server's.
    """
    inode = socket_inode((local[0], local[1]), (remote[0], remote[1]))
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fds = os.scandir(f"/proc/{entry.name}/fd")
        except OSError:
            continue
        with fds:
            for fd in fds:
                try:
                    if os.readlink(fd.path) == target:
                        return int(entry.name)
                except OSError:
                    continue
    return None
