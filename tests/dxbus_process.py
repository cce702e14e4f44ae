"""A real `dxbus` command in a child process, read line by line and never left running."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path


def _default_sigint() -> None:
    # A runner started in the background may ignore SIGINT, and children inherit that: give the
    # command the disposition a terminal gives it, so Ctrl+C (SIGINT) means what it means to users.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class DxbusProcess:
    """`python -m dxbus.cli ARGS` with its output collected by a thread (reads never block a test)."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dxbus.cli", *args], cwd=cwd, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, preexec_fn=_default_sigint, start_new_session=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for_line(self, prefix: str, timeout: float = 60.0) -> list[str]:
        """Every line up to the first starting with `prefix`; AssertionError if it never comes."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"dxbus exited ({self.proc.wait()}) before {prefix!r}:\n"
                                     + "\n".join(self.lines))
            self.lines.append(line)
            if line.startswith(prefix):
                return list(self.lines)
        raise AssertionError(f"no line starting {prefix!r} within {timeout} s:\n" + "\n".join(self.lines))

    def finish(self, sig: int | None = None, timeout: float = 30.0) -> tuple[int, str]:
        """Send `sig` (if given), wait for the exit; returns (exit code, all output)."""
        if sig is not None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        while (line := self._queue.get(timeout=timeout)) is not None:
            self.lines.append(line)
        return rc, "\n".join(self.lines)

    def kill(self) -> None:
        """Kill the command and anything it started; idempotent."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


@contextlib.contextmanager
def dxbus_process(args: list[str], cwd: Path) -> Iterator[DxbusProcess]:
    """Run `dxbus ARGS` in `cwd`; killed at the end whatever happened in the test."""
    proc = DxbusProcess(args, cwd)
    try:
        yield proc
    finally:
        proc.kill()
