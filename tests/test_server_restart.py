"""A killed server: the client gets a clear error; a restart keeps finished results and
reports unfinished jobs as lost; results expire after --result-ttl."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from napari_styletransfer.client import Client, RemoteError
from serving import http_client, running_server, wait_for_state

FAST = {"method": "fast", "max_size": 64}
ENDLESS = {"max_size": 32, "steps": 20000, "preview_every": 0}


@pytest.fixture
def content():
    yy, xx = np.mgrid[:40, :48]
    return np.dstack([xx * 5, yy * 6, (xx + yy) * 3]).astype(np.uint8)


def test_kill_restart_and_expiry(tmp_path, content):
    results = tmp_path / "results"
    with running_server(results) as first, Client(first.url, timeout=30) as client:
        finished = client.submit(content, "preset:4", **FAST)
        client.wait(finished)
        kept = client.result(finished)
        running = client.submit(content, "starry-night", **ENDLESS)
        queued = client.submit(content, "starry-night", **ENDLESS)
        with http_client(first) as http:
            wait_for_state(http, running, {"running"})
        errors = []
        follower = threading.Thread(target=lambda: _record_error(client.wait, running, errors))
        follower.start()
        time.sleep(0.3)  # the follower is now reading the job's event stream
        first.kill()
        follower.join(30)
        assert errors and "Lost the connection to the server" in errors[0]
        with pytest.raises(RemoteError, match="Cannot reach the server"):
            client.status(running)

    with running_server(results) as second, Client(second.url) as client:
        assert client.status(finished)["state"] == "done"
        np.testing.assert_array_equal(client.result(finished), kept)
        for job_id in (running, queued):
            status = client.status(job_id)
            assert status["state"] == "failed"
            assert status["error"].startswith("lost: server restarted")
        with pytest.raises(RemoteError, match="lost: server restarted"):
            client.result(running)

    # with a short TTL the old jobs are gone at start, and a new result soon after
    with running_server(results, "--result-ttl", 1) as third, Client(third.url) as client:
        with pytest.raises(RemoteError) as gone:
            client.status(finished)
        assert gone.value.status == 404
        assert not list(results.glob(f"{finished}.*"))
        fresh = client.submit(content, "preset:4", **FAST)
        client.wait(fresh)
        deadline = time.monotonic() + 10  # written a moment after it is announced
        while not (results / f"{fresh}.tiff").is_file():
            assert time.monotonic() < deadline, "the result never reached the disk"
            time.sleep(0.01)
        deadline = time.monotonic() + 20
        while (results / f"{fresh}.tiff").exists():
            assert time.monotonic() < deadline, "the expired result was not removed"
            time.sleep(0.1)
        with pytest.raises(RemoteError) as expired:
            client.result(fresh)
        assert expired.value.status == 404


def _record_error(call, job_id, errors):
    try:
        call(job_id)
    except RemoteError as error:
        errors.append(str(error))
