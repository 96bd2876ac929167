"""The widget's job runner, without a viewer: frames, progress and the time left."""

from __future__ import annotations

import threading

import numpy as np

from napari_styletransfer.core.progress import Progress
from napari_styletransfer.widgets.runner import DONE, Frame, FramesJob, Update, run_job


def test_time_left_leaves_the_slow_start_out():
    # the first report came after 10 s of loading, then 1 s per tenth of the job
    first = Update(0, 1, (), Progress(1, 10, 0.1, 10.0, "cpu"), 10.0, (0.0, 0.0))
    later = Update(0, 1, (), Progress(3, 10, 0.3, 12.0, "cpu"), 12.0, (2.0, 0.2))
    assert first.eta is None  # nothing to go by yet
    assert abs(later.eta - 7.0) < 1e-9  # 2 s per 0.2 → 7 s for the remaining 0.7
    naive = later.elapsed * (1 - later.fraction) / later.fraction
    assert naive > 3 * later.eta


def test_frames_run_in_order_with_their_own_masks_and_the_previous_result():
    from napari_styletransfer.api import StylizeRequest

    seen = []

    def stylizer(request, content):
        seen.append((request.mask, request.init))
        yield Progress(1, 1, 1.0, 0.0, "cpu", result=content + 1)

    frames = [
        Frame((i,), np.full((16, 16), i, np.uint8), np.eye(16) if i else None) for i in (0, 1)
    ]
    job = FramesJob(frames, StylizeRequest.create("preset:1", method="fast"))
    runner = run_job(job, threading.Event(), stylizer)
    updates = []
    try:
        while True:
            updates.append(next(runner))
    except StopIteration as stop:
        outcome = stop.value
    assert outcome.status == DONE and sorted(outcome.results) == [(0,), (1,)]
    assert seen[0][0] is None and isinstance(seen[0][1], str)
    np.testing.assert_array_equal(seen[1][0], np.eye(16))
    np.testing.assert_array_equal(seen[1][1], frames[0].content + 1)
    assert [u.frame for u in updates] == [0, 1]
