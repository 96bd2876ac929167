"""Start a real ``napari-styletransfer serve`` process on a free loopback port, for tests."""

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

import httpx

STARTUP_SECONDS = 90


@dataclass
class Server:
    """A running server process."""

    url: str
    process: subprocess.Popen
    results_dir: Path
    log: Path
    key: str | None = None

    def http(self, key: str | None = "same", **kwargs) -> httpx.Client:
        """An httpx client for it (with its key unless told otherwise)."""
        key = self.key if key == "same" else key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)

    def kill(self) -> None:
        """SIGKILL: the process dies at once, as in a crash."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM and wait: uvicorn's graceful shutdown."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def serve_command(*args) -> list[str]:
    return [sys.executable, "-m", "napari_styletransfer.cli", "serve", *map(str, args)]


def server_env() -> dict:
    env = dict(os.environ)
    # the same thread settings as the test process, so that results match bit for bit
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


@contextlib.contextmanager
def running_server(results_dir: Path, *args, key: str | None = None) -> Iterator[Server]:
    """Start ``serve --port 0`` with ``args``, wait until /healthz answers, stop it afterwards."""
    results_dir.mkdir(parents=True, exist_ok=True)
    log = results_dir.parent / f"{results_dir.name}-server.log"
    command = serve_command("--port", 0, "--results-dir", results_dir, "--log-level", "warning")
    if key is not None:
        key_file = results_dir.parent / f"{results_dir.name}.key"
        key_file.write_text(key + "\n")
        command += ["--api-key-file", str(key_file)]
    with open(log, "ab") as errors:
        process = subprocess.Popen(
            [*command, *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=server_env(),
        )
    server = Server(_wait_for_url(process, log), process, results_dir, log, key)
    try:
        _wait_healthy(server)
        yield server
    finally:
        server.stop()
        process.stdout.close()


def _wait_for_url(process: subprocess.Popen, log: Path) -> str:
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=STARTUP_SECONDS)
    except queue.Empty:
        process.kill()
        raise RuntimeError(f"the server did not start; its log:\n{log.read_text()}") from None
    found = re.search(r"http://\S+", line)
    if not found:
        process.wait(10)
        raise RuntimeError(f"the server did not start: {line!r}; its log:\n{log.read_text()}")
    return found.group(0)


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"/healthz never answered; the log:\n{server.log.read_text()}")


def wait_for_state(http: httpx.Client, job_id: str, states, timeout: float = 60.0) -> dict:
    """Poll a job until its state is one of ``states`` (bounded in time)."""
    deadline = time.monotonic() + timeout
    while True:
        status = http.get(f"/v1/jobs/{job_id}").json()
        if status["state"] in states:
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {status['state']} after {timeout} s")
        time.sleep(0.05)
