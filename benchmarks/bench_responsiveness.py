"""How responsive napari stays while the "Style transfer" widget runs a job.

A 10 ms QTimer ticks on the GUI thread while a 512 px Quality job runs in the
widget's thread worker (previews included, since they are drawn on the GUI
thread). The late-by times of the ticks say how long the event loop was blocked.
Target: the largest delay under 100 ms.

It then times Fast mode's live updates: after a first Fast run at 1024 px,
changing the style strength re-renders the output layer by itself (debounced);
the time from the change to the redrawn layer is reported.

Run (needs a display; Xvfb is fine)::

    xvfb-run -a python benchmarks/bench_responsiveness.py [--steps 30] [--max-seconds 240]

Numbers from a shared 2-core machine are noisy: run it twice.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import numpy as np

TICK_MS = 10
PARTS = ["quality", "fast"]


class TickRecorder:
    """Records when a 10 ms QTimer really fires."""

    def __init__(self) -> None:
        from qtpy.QtCore import QTimer

        self.times: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(lambda: self.times.append(time.perf_counter()))

    def start(self) -> None:
        self.times.clear()
        self.timer.start()

    def stop(self) -> np.ndarray:
        """Stop and return the delays (ms) beyond the 10 ms interval."""
        self.timer.stop()
        gaps = np.diff(np.asarray(self.times)) * 1000.0
        return np.maximum(gaps - TICK_MS, 0.0)

    def worst(self, count: int, since: float) -> list[tuple[float, float]]:
        """The ``count`` largest delays as (seconds after ``since``, delay in ms)."""
        times = np.asarray(self.times)
        delays = np.maximum(np.diff(times) * 1000.0 - TICK_MS, 0.0)
        order = np.argsort(delays)[::-1][:count]
        return [(float(times[i] - since), float(delays[i])) for i in sorted(order)]


def process_events_for(seconds: float, until=None) -> None:
    """Run the Qt event loop for a while (or until ``until()`` is true)."""
    from qtpy.QtWidgets import QApplication

    end = time.perf_counter() + seconds
    while time.perf_counter() < end and not (until and until()):
        QApplication.processEvents()
        time.sleep(0.001)


def summarise(name: str, delays: np.ndarray, extra: str = "") -> str:
    if delays.size == 0:
        return f"| {name} | 0 | – | – | – | {extra} |"
    return (
        f"| {name} | {delays.size} | {np.median(delays):.1f} | "
        f"{np.percentile(delays, 99):.1f} | {delays.max():.1f} | {extra} |"
    )


def _warming_up() -> bool:
    from napari_styletransfer.widgets.runner import WARM_UP_THREAD

    return any(t.name == WARM_UP_THREAD for t in threading.enumerate())


def open_widget():
    """A napari window with the docked widget, the compiler import warmed up."""
    import napari

    viewer = napari.Viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-styletransfer", "Style transfer")
    widget.form.device.value = "cpu"
    # the widget imports torch's compiler stack in the background when it opens
    # (runner.warm_up_in_background); a user choosing settings gives it that time
    process_events_for(60.0, until=lambda: not _warming_up())
    process_events_for(1.0)
    return viewer, widget


def quality_job(viewer, widget, size: int, steps: int, max_seconds: float) -> list[str]:
    """Tick the timer while a Quality job runs; return the report lines."""
    from napari_styletransfer import load_sample
    from napari_styletransfer.widgets.form import StyleChoice

    form = widget.form
    form.content.value = viewer.add_image(load_sample("astronaut"), name="astronaut")
    form.style.value = StyleChoice("painting", "starry-night")
    form.max_size.value = size
    form.steps.value = steps

    ticks = TickRecorder()
    ticks.start()
    process_events_for(3.0)
    idle = ticks.stop()

    updates = []
    ticks.start()
    start = time.perf_counter()
    widget.run()
    run_call = time.perf_counter() - start
    # when each report reached the GUI thread, and whether it carried a preview
    widget._running.worker.yielded.connect(
        lambda u: updates.append((time.perf_counter() - start, u.progress))
    )
    process_events_for(max_seconds, until=lambda: not widget.busy)
    if widget.busy:
        widget.cancel()
        process_events_for(30, until=lambda: not widget.busy)
    seconds = time.perf_counter() - start
    running = ticks.stop()
    last = updates[-1][1] if updates else None
    done = f"{last.step}/{last.total} steps, {last.stage}" if last else "no step"
    previews = sum(p.preview is not None for _, p in updates)

    lines = [
        f"Quality job: astronaut × starry-night, max size {size}, {done}, {seconds:.1f} s,",
        f"{previews} previews drawn, device {last.device if last else '?'};",
        f"Run button handler on the GUI thread: {run_call * 1000:.0f} ms;",
        f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.",
        "",
        "Largest delays (seconds after Run: delay):",
    ]
    for at, delay in ticks.worst(5, start):
        # a tick late by `delay` was blocked from (at - delay) to at
        near, progress = min(updates, key=lambda tp: abs(tp[0] - (at - delay / 1000)))
        kind = "with a preview" if progress.preview is not None else "no preview"
        lines.append(f"  {at:7.2f} s: {delay:6.1f} ms  (report {kind} received at {near:.2f} s)")
    lines += [
        "",
        "| event loop | ticks | median delay (ms) | p99 (ms) | max delay (ms) | note |",
        "|---|---|---|---|---|---|",
        summarise("idle", idle, "no job"),
        summarise("during the Quality job", running, "target: max < 100 ms"),
    ]
    return lines


def fast_live_updates(viewer, widget, size: int, changes: int) -> list[str]:
    """Fast mode at ``size`` px: time from a strength change to the redrawn result."""
    from napari_styletransfer import load_sample
    from napari_styletransfer.core.arrays import resize_array
    from napari_styletransfer.widgets.form import FAST, StyleChoice
    from napari_styletransfer.widgets.output import METADATA_KEY
    from napari_styletransfer.widgets.style_transfer import LIVE_DEBOUNCE_MS

    photo = resize_array(load_sample("astronaut").astype(np.float32) / 255, (size, size))
    form = widget.form
    form.content.value = viewer.add_image(
        (np.clip(photo, 0, 1) * 255).astype(np.uint8), name=f"astronaut {size}"
    )
    form.method.value = FAST
    form.style.value = StyleChoice("preset", "preset:7")
    form.max_size.value = size
    first = TickRecorder()
    first.start()
    widget.run()
    process_events_for(120, until=lambda: not widget.busy)
    first_delays = first.stop()
    output = viewer.layers[-1]

    ticks = TickRecorder()
    ticks.start()
    latencies = []
    for number in range(changes):
        strength = round(0.4 + 0.3 * number, 2)
        start = time.perf_counter()
        form.style_strength.value = strength
        process_events_for(
            120,
            until=lambda s=strength: (
                not widget.busy and output.metadata[METADATA_KEY]["style_strength"] == s
            ),
        )
        latencies.append(time.perf_counter() - start)
    delays = ticks.stop()
    seconds = [output.metadata[METADATA_KEY]["seconds"]]
    return [
        "",
        f"Fast mode, preset:7 at {size}×{size}: strength changed {changes} times;",
        f"debounce {LIVE_DEBOUNCE_MS} ms, last engine run {seconds[0]:.2f} s.",
        "",
        "| fast live update | change → redrawn (s) |",
        "|---|---|",
        *(f"| change {i + 1} | {t:.2f} |" for i, t in enumerate(latencies)),
        "",
        "| event loop | ticks | median delay (ms) | p99 (ms) | max delay (ms) | note |",
        "|---|---|---|---|---|---|",
        summarise("during the first Fast run", first_delays, "networks loaded"),
        summarise("during fast live updates", delays, f"{size} px"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="max size of the Quality job")
    parser.add_argument("--steps", type=int, default=30, help="optimisation steps")
    parser.add_argument(
        "--max-seconds", type=float, default=240, help="cancel the job after this long"
    )
    parser.add_argument("--fast-size", type=int, default=1024, help="fast live update size")
    parser.add_argument("--changes", type=int, default=3, help="fast live updates to time")
    parser.add_argument("--parts", nargs="*", choices=("quality", "fast"), default=PARTS)
    parser.add_argument(
        "--preview-every",
        type=int,
        default=None,
        help="steps between previews (0: none), to tell redraws from engine stalls",
    )
    parser.add_argument(
        "--nice", type=int, default=None, help="niceness of the job's thread (0: unchanged)"
    )
    args = parser.parse_args(argv)
    if args.nice is not None:
        from napari_styletransfer.widgets import runner

        runner.BACKGROUND_NICE = args.nice
    if args.preview_every is not None:
        from napari_styletransfer.widgets import form

        form.PREVIEW_EVERY = args.preview_every

    viewer, widget = open_widget()
    lines = []
    if "quality" in args.parts:
        lines += quality_job(viewer, widget, args.size, args.steps, args.max_seconds)
    if "fast" in args.parts:
        lines += fast_live_updates(viewer, widget, args.fast_size, args.changes)
    print("\n".join(lines))
    viewer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
