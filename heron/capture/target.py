"""Running ``-- CMD`` under capture: held at the gate until probes are attached.

The child is forked at once (so its pid can be put in the kernel's traced
set before it does anything), drops to the invoking user (``SUDO_UID`` /
``SUDO_GID``: the agent must not run as root), then waits on a pipe.  Only
when the probes are attached does :meth:`Target.release` let it exec CMD.

Examples
--------
>>> run_as_from_env({"SUDO_UID": "1000", "SUDO_GID": "1000"})
(1000, 1000)
>>> run_as_from_env({}) is None
True
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from collections.abc import Mapping

from heron.capture.errors import CaptureError


def run_as_from_env(env: Mapping[str, str]) -> tuple[int, int] | None:
    """(uid, gid) of the user who ran sudo, when we run through sudo as root."""
    uid, gid = env.get("SUDO_UID"), env.get("SUDO_GID")
    if uid is None or not uid.isdigit():
        return None
    return int(uid), int(gid) if gid and gid.isdigit() else int(uid)


def resolve(cmd: list[str]) -> str:
    """The executable CMD will run (for finding statically linked TLS in it)."""
    exe = shutil.which(cmd[0])
    if exe is None:
        raise CaptureError(
            f"command not found: {cmd[0]!r} (looked in PATH={os.environ.get('PATH', '')})"
        )
    return os.path.realpath(exe)


def _become(uid: int, gid: int) -> None:
    """Drop root for good: groups, gid, uid; and the user's HOME/USER."""
    import pwd

    try:
        pw = pwd.getpwuid(uid)
        os.initgroups(pw.pw_name, gid)
        os.environ.update(HOME=pw.pw_dir, USER=pw.pw_name, LOGNAME=pw.pw_name)
    except KeyError:
        os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


class Target:
    """A forked child waiting to exec CMD."""

    def __init__(self, cmd: list[str], run_as: tuple[int, int] | None) -> None:
        self.cmd = cmd
        self.run_as = run_as
        self.exe = resolve(cmd)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: no Python-level cleanup may run here
            try:
                os.close(w)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                if run_as is not None:
                    uid, gid = run_as
                    _become(uid, gid)
                go = os.read(r, 1)
                os.close(r)
                if go != b"1":
                    os._exit(125)
                os.execvp(cmd[0], cmd)
            except BaseException as e:
                try:
                    os.write(2, f"heron-capture: cannot run {cmd[0]!r}: {e}\n".encode())
                finally:
                    os._exit(127)
        os.close(r)
        self.pid = pid
        self._gate = w
        self.status: int | None = None

    def release(self) -> None:
        """Let the child exec CMD."""
        os.write(self._gate, b"1")
        os.close(self._gate)
        self._gate = -1

    def abort(self) -> None:
        """Capture could not start: the child exits without running CMD."""
        if self._gate >= 0:
            os.close(self._gate)
            self._gate = -1
        self.wait()

    def poll(self) -> int | None:
        """The exit status once CMD has finished (shell style: 128+signal)."""
        if self.status is None:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(st)
                if self.status < 0:
                    self.status = 128 - self.status
        return self.status

    def wait(self) -> int:
        """Block until CMD exits; its status."""
        while self.status is None:
            _, st = os.waitpid(self.pid, 0)
            code = os.waitstatus_to_exitcode(st)
            self.status = 128 - code if code < 0 else code
        return self.status

    def signal(self, sig: int) -> None:
        """Forward a signal to CMD."""
        if self.status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)
