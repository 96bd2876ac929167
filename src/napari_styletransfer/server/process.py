"""Run ``napari-styletransfer serve`` as a child process (tests, benchmarks, scripts).

The child binds port 0 and prints the address it got, so there is no race for
a free port; :func:`serve_in_subprocess` waits until ``/healthz`` answers.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

STARTUP_SECONDS = 120.0


@dataclass
class ServerProcess:
    """A running server process and where to reach it."""

    url: str
    process: subprocess.Popen
    results_dir: Path
    log: Path
    key: str | None = None

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: the process dies at once, as in a crash."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (uvicorn's graceful shutdown), then SIGKILL if it does not end."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()


def serve_command(*args) -> list[str]:
    """The command line of ``napari-styletransfer serve ARGS`` with this Python."""
    return [sys.executable, "-m", "napari_styletransfer.cli", "serve", *map(str, args)]


def child_env() -> dict:
    """This process's environment, with passive OpenMP waiting unless set."""
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


@contextlib.contextmanager
def serve_in_subprocess(
    results_dir: str | Path, *args, key: str | None = None
) -> Iterator[ServerProcess]:
    """Start a loopback server on a free port; stop it when the block ends.

    Parameters
    ----------
    results_dir : str or Path
        Its ``--results-dir``; its log goes to ``<results_dir>-server.log``.
    *args
        More ``serve`` arguments (e.g. "--max-queue", 4).
    key : str, optional
        Written to ``<results_dir>.key`` and passed as ``--api-key-file``.

    Raises
    ------
    RuntimeError
        When the server does not come up within two minutes (with its log).
    """
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    log = results_dir.with_name(f"{results_dir.name}-server.log")
    command = serve_command("--port", 0, "--results-dir", results_dir, "--log-level", "warning")
    if key is not None:
        key_file = results_dir.with_name(f"{results_dir.name}.key")
        key_file.write_text(key + "\n")
        command += ["--api-key-file", str(key_file)]
    with open(log, "ab") as errors:
        process = subprocess.Popen(
            [*command, *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=child_env(),
        )
    try:
        server = ServerProcess(_read_url(process, log), process, results_dir, log, key)
        _wait_healthy(server)
    except BaseException:
        process.kill()
        process.wait(10)
        process.stdout.close()
        raise
    try:
        yield server
    finally:
        server.stop()
        process.stdout.close()


def _read_url(process: subprocess.Popen, log: Path) -> str:
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=STARTUP_SECONDS)
    except queue.Empty:
        raise RuntimeError(f"the server did not start; its log:\n{log.read_text()}") from None
    found = re.search(r"http://\S+", line)
    if not found:
        process.wait(10)
        raise RuntimeError(f"the server did not start ({line!r}); its log:\n{log.read_text()}")
    return found.group(0)


def _wait_healthy(server: ServerProcess) -> None:
    import httpx

    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if server.process.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"/healthz never answered; the log:\n{server.log.read_text()}")
