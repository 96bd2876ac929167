"""The widget's job runner, without a viewer: frames, progress and the time left."""

from __future__ import annotations

import threading

import numpy as np

from napari_styletransfer.core.progress import Progress
from napari_styletransfer.widgets.runner import (
    DONE,
    Frame,
    FramesJob,
    LazyFrame,
    Update,
    run_job,
)


def test_time_left_leaves_the_slow_start_out():
    # the first report came after 10 s of loading, then 1 s per tenth of the job
    first = Update(0, 1, (), Progress(1, 10, 0.1, 10.0, "cpu"), 10.0, (0.0, 0.0))
    later = Update(0, 1, (), Progress(3, 10, 0.3, 12.0, "cpu"), 12.0, (2.0, 0.2))
    assert first.eta is None  # nothing to go by yet
    assert abs(later.eta - 7.0) < 1e-9  # 2 s per 0.2 → 7 s for the remaining 0.7
    naive = later.elapsed * (1 - later.fraction) / later.fraction
    assert naive > 3 * later.eta


def test_a_stack_goes_to_the_stylizer_once_and_comes_back_frame_by_frame():
    from napari_styletransfer.api import StylizeRequest
    from napari_styletransfer.api.frames import FrameProgress

    seen = []

    def stylizer(request, content):
        seen.append((content.shape, request.mask.shape))
        for t in range(len(content)):
            result = content[t] + request.mask[t].astype(np.uint8)
            yield FrameProgress(1, 1, (t + 1) / len(content), 0.0, "cpu", frame=t, frame_count=2)
            yield FrameProgress(
                1,
                1,
                (t + 1) / len(content),
                0.0,
                "cpu",
                frame=t,
                frame_count=2,
                frame_result=result,
            )

    frames = [Frame((i,), np.full((16, 16), i, np.uint8), np.eye(16) * i) for i in (0, 1)]
    job = FramesJob(frames, StylizeRequest.create("preset:1", method="fast"))
    updates, outcome = drive(run_job(job, threading.Event(), stylizer))
    assert outcome.status == DONE and seen == [((2, 16, 16), (2, 16, 16))]
    np.testing.assert_array_equal(outcome.results[(1,)], 1 + np.eye(16))
    np.testing.assert_array_equal(outcome.results[(0,)], np.zeros((16, 16)))
    assert [u.frame for u in updates] == [0, 0, 1, 1]
    assert [u.fraction for u in updates] == [0.5, 0.5, 1.0, 1.0]  # the stack's own count


def test_lazy_frames_are_read_one_at_a_time_and_go_to_the_sink():
    from napari_styletransfer.api import StylizeRequest

    reads, written = [], []

    def read(index):
        reads.append(index)
        return np.full((32, 32, 3), 40 * (index[0] + 1), np.uint8)

    frames = [LazyFrame((i,), read, (32, 32, 3)) for i in range(3)]
    request = StylizeRequest.create("preset:1", method="fast", max_size=32, device="cpu")
    job = FramesJob(frames, request, sink=lambda index, result: written.append(index))
    _, outcome = drive(run_job(job, threading.Event()))
    assert outcome.status == DONE, outcome.error
    assert written == [(0,), (1,), (2,)] and outcome.results == {} and outcome.written == 3
    assert reads == [(0,), (1,), (2,)]  # each slice read once, in order, when its turn came


def drive(runner):
    updates = []
    try:
        while True:
            updates.append(next(runner))
    except StopIteration as stop:
        return updates, stop.value


def test_the_warm_up_imports_what_the_first_runs_would_import_in_the_worker():
    # in a fresh interpreter: those imports hold the GIL for up to a second, so
    # they must happen when the dock opens, not inside the first Fast/Quality job
    import subprocess
    import sys

    code = (
        "import sys, threading\n"
        "from napari_styletransfer.widgets.runner import WARM_UP_THREAD, warm_up_in_background\n"
        "assert 'onnx' not in sys.modules\n"
        "warm_up_in_background()\n"
        "[t.join(120) for t in threading.enumerate() if t.name == WARM_UP_THREAD]\n"
        "missing = [m for m in ('torch._dynamo', 'onnx', 'napari_styletransfer.fast.run',\n"
        "           'napari_styletransfer.quality.optimise') if m not in sys.modules]\n"
        "print(missing)\n"
        "sys.exit(1 if missing else 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
