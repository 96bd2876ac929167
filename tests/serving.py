"""Helpers for the tests that run a real server process."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from napari_styletransfer.server.process import (
    ServerProcess,
    child_env,
    serve_command,
    serve_in_subprocess,
)

__all__ = ["child_env", "http_client", "running_server", "serve_command", "wait_for_state"]


def http_client(server: ServerProcess, key: str | None = "same") -> httpx.Client:
    """An httpx client for the server (with its key unless told otherwise)."""
    key = server.key if key == "same" else key
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


@contextlib.contextmanager
def running_server(results_dir: Path, *args, key: str | None = None) -> Iterator[ServerProcess]:
    """A loopback server for one test module (see serve_in_subprocess)."""
    with serve_in_subprocess(results_dir, *args, key=key) as server:
        yield server


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
