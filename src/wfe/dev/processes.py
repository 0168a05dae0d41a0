"""The local control plane's child processes: start, probe, stop by PID (docs/testenv.md).

:func:`spawn` starts a binary with its output in a log file, in a session of its own (a Ctrl-C
in the terminal reaches the Python process, which stops the children in order) and with
``PR_SET_PDEATHSIG`` (the kernel kills it if the Python process dies first). :func:`terminate`
stops one child, by its PID only: SIGTERM, then SIGKILL after a grace period.
:func:`wait_until` polls a readiness probe such as :func:`http_ok` and fails as soon as the
child exits. Nothing here knows which binaries the control plane runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import structlog

__all__ = [
    "ChildProcess",
    "ProcessError",
    "free_ports",
    "http_ok",
    "kill_now",
    "spawn",
    "tail",
    "terminate",
    "wait_until",
]

_log = structlog.get_logger(__name__)

LOG_TAIL_LINES = 40
STOP_GRACE_SECONDS = 15.0

Probe = Callable[[], bool]


class ProcessError(RuntimeError):
    """A child exited or was not ready in time."""


@dataclass
class ChildProcess:
    """One started binary: its name, Popen, argument vector and log file."""

    name: str
    popen: subprocess.Popen[bytes]
    argv: tuple[str, ...]
    log_path: Path
    log_file: IO[bytes]

    def describe(self, lines: int = LOG_TAIL_LINES) -> str:
        """Its state and the tail of its log, for error messages."""
        code = self.popen.poll()
        state = "running" if code is None else f"exited with {code}"
        return (
            f"--- {self.name} (pid {self.popen.pid}, {state}), last {lines} lines of "
            f"{self.log_path}:\n{tail(self.log_path, lines)}"
        )


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGKILL it when its parent dies (PR_SET_PDEATHSIG).

    Without it, a test run killed by a timeout leaves etcd and kube-apiserver running.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def spawn(name: str, argv: Sequence[str], workdir: Path) -> ChildProcess:
    """Start ``argv`` in ``workdir``, output appended to ``<workdir>/<name>.log``."""
    log_path = workdir / f"{name}.log"
    log_file = log_path.open("ab")
    try:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            # Own session: a Ctrl-C in the terminal reaches us, and we stop them in order.
            start_new_session=True,
            # And if we are killed before we can stop them, the kernel does (Linux).
            preexec_fn=_die_with_parent,
        )
    except BaseException:
        log_file.close()
        raise
    _log.info("process started", process=name, pid=popen.pid, log=str(log_path))
    return ChildProcess(name, popen, tuple(argv), log_path, log_file)


def terminate(process: ChildProcess, grace: float = STOP_GRACE_SECONDS) -> None:
    """Stop ``process`` (SIGTERM, SIGKILL after ``grace`` seconds) and close its log."""
    popen = process.popen
    if popen.poll() is None:
        popen.terminate()
        try:
            popen.wait(grace)
        except subprocess.TimeoutExpired:
            _log.warning("process ignored SIGTERM; killing it", process=process.name)
            popen.kill()
            popen.wait()
    process.log_file.close()
    _log.info("process stopped", process=process.name, pid=popen.pid, code=popen.returncode)


def kill_now(process: ChildProcess) -> None:
    """Last resort (interpreter exit): SIGKILL ``process`` if it still runs."""
    if process.popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.popen.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(5)
    process.log_file.close()


async def wait_until(process: ChildProcess, deadline: float, probe: Probe) -> None:
    """Poll ``probe`` (in a thread) until it passes; raise if the process exits or time is up."""
    while True:
        if await asyncio.to_thread(probe):
            return
        code = process.popen.poll()
        if code is not None:
            raise ProcessError(f"{process.name} exited with code {code} while starting")
        if time.monotonic() > deadline:
            raise ProcessError(f"{process.name} was not ready in time")
        await asyncio.sleep(0.25)


def http_ok(url: str, context: ssl.SSLContext | None, expect: bytes) -> bool:
    """Whether ``GET url`` answers 200 with ``expect`` in the body."""
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as response:
            body: bytes = response.read()
            return response.status == 200 and expect in body
    except (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError, OSError):
        return False


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1."""
    # Hold all sockets open until every port is chosen, so the ports differ from each other.
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file (or why it cannot be read)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(cannot read: {exc})"
    return "\n".join(text.splitlines()[-lines:])
