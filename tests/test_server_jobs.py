"""The job manager in one process: a result is served from memory while it is being
written, and reaches the disk afterwards; a job deleted meanwhile leaves no files."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from napari_styletransfer.api import StylizeRequest, iter_run
from napari_styletransfer.image_io import read_tiff_bytes
from napari_styletransfer.server.jobs import DONE, Inputs, Job, JobManager
from napari_styletransfer.server.store import ResultStore, new_job_id

pytest.importorskip("fastapi")


class SlowStore(ResultStore):
    """A store whose result writes wait until the test lets them go."""

    def __init__(self, folder):
        super().__init__(folder)
        self.writing, self.release = threading.Event(), threading.Event()

    def save_result(self, job_id, data):
        self.writing.set()
        assert self.release.wait(30), "the test never released the write"
        super().save_result(job_id, data)


@pytest.fixture
def manager(tmp_path):
    store = SlowStore(tmp_path / "results")
    jobs = JobManager(store, [torch.device("cpu")], max_queue=4, result_ttl=3600)
    jobs.start()
    yield jobs
    store.release.set()
    jobs.stop()
    store.close()


def _job(content: np.ndarray) -> Job:
    request = StylizeRequest.from_params(
        {"style": "preset:3", "method": "fast", "max_size": 32, "device": "cpu"}
    )
    return Job(id=new_job_id(), inputs=Inputs(request, content, iter_run(request, content)))


def _wait(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def content():
    yy, xx = np.mgrid[:24, :32]
    return np.dstack([xx * 7, yy * 9, (xx + yy) * 4]).astype(np.uint8)


def test_result_is_served_before_it_is_on_disk_then_lands_there(manager, content):
    job = _job(content)
    manager.submit(job)
    assert manager.store.writing.wait(60)
    assert job.state == DONE  # announced while the write still waits
    served = read_tiff_bytes(manager.result_bytes(job))
    assert served.shape == content.shape and served.dtype == content.dtype
    assert manager.store.result_bytes(job.id) is None  # not on disk yet
    manager.store.release.set()
    _wait(lambda: job.result_data is None)
    np.testing.assert_array_equal(manager.store.result(job.id), served)
    record = next(r for r in manager.store.records() if r["id"] == job.id)
    assert record["state"] == DONE
    np.testing.assert_array_equal(read_tiff_bytes(manager.result_bytes(job)), served)


def test_a_job_deleted_while_its_result_is_written_leaves_no_files(manager, content):
    job = _job(content)
    manager.submit(job)
    assert manager.store.writing.wait(60)
    assert manager.cancel(job) == "deleted"
    manager.store.release.set()
    _wait(lambda: job.result_data is None)  # written, then removed again
    assert manager.get(job.id) is None
    _wait(lambda: not list(manager.store.folder.glob(f"{job.id}*")), 10)
