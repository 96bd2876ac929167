"""Render screenshots of napari with the "Style transfer" dock for docs/images/.

Every picture comes from a real run of the widget on the bundled astronaut photo
and The Starry Night. Needs a display; on a headless machine::

    xvfb-run -a python scripts/render_screenshots.py [--steps 60] [--only NAME ...]

Writes docs/images/napari_running.png (a Quality run half-way, with its live
preview), napari_done.png (the finished result), napari_background.png ("Stylise
background": the segmented subject is left alone) and napari_fast.png (Fast
mode with a preset network); napari_segment.png shows the "Segment subject"
dock warning that the subject of a microscopy image is ambiguous.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

OUT_DIR = Path(__file__).resolve().parents[1] / "docs" / "images"
WINDOW_SIZE = (1500, 950)
SHOTS = ("running", "done", "background", "fast", "segment")


def wait_for(condition, timeout: float = 1800.0) -> None:
    """Run the Qt event loop until ``condition()`` is true."""
    from qtpy.QtWidgets import QApplication

    end = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > end:
            raise TimeoutError("the widget did not finish in time")
        QApplication.processEvents()
        time.sleep(0.02)


def _pump(seconds: float) -> None:
    """Let napari handle events and redraw for a while."""
    from qtpy.QtWidgets import QApplication

    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        QApplication.processEvents()
        time.sleep(0.02)


def save(viewer, name: str) -> Path:
    """Screenshot the whole window (canvas and docks) to docs/images/napari_<name>.png."""
    from PIL import Image

    _pump(1.0)
    pixels = viewer.screenshot(canvas_only=False, flash=False)
    path = OUT_DIR / f"napari_{name}.png"
    # a 256-colour palette keeps each picture near 200 KB instead of 600 KB
    picture = Image.fromarray(np.asarray(pixels)[..., :3])
    picture.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"wrote {path} ({pixels.shape[1]}×{pixels.shape[0]})")
    return path


def show_only(viewer, *names: str) -> None:
    """Make only the named layers visible."""
    for layer in viewer.layers:
        layer.visible = layer.name in names


def setup(steps: int):
    """A napari window with the astronaut, the docked widget, and Quality settings."""
    import napari

    # napari 0.9 pops up a toast about PyQt5 being deprecated; keep it off the pictures
    from napari._qt import qt_main_window

    from napari_styletransfer.widgets.form import StyleChoice

    qt_main_window.SHOW_QT_WARNING = False
    viewer = napari.Viewer(title="napari-styletransfer")
    viewer.window._qt_window.resize(*WINDOW_SIZE)
    viewer.open_sample("napari-styletransfer", "astronaut")
    _, widget = viewer.window.add_plugin_dock_widget("napari-styletransfer", "Style transfer")
    form = widget.form
    form.content.value = viewer.layers["astronaut"]
    form.style.value = StyleChoice("painting", "starry-night")
    form.quality.value = "Preview"
    form.steps.value = steps
    form.device.value = "cpu"
    _pump(2.0)
    return viewer, widget


def quality_shots(viewer, widget, wanted) -> None:
    """A Quality run: one screenshot half-way, one at the end."""
    widget.run()
    wait_for(lambda: widget.progress_bar.value() >= 500 or not widget.busy)
    if "running" in wanted:
        save(viewer, "running")
    wait_for(lambda: not widget.busy)
    if "done" in wanted:
        widget.advanced.expand(animate=False)
        save(viewer, "done")
        widget.advanced.collapse(animate=False)


def background_shot(viewer, widget) -> None:
    """Stylise background: segment the astronaut, stylise everything else."""
    from napari_styletransfer import segment_subject

    share = float(np.mean(segment_subject(viewer.layers["astronaut"].data)))
    if not 0.05 < share < 0.9:
        print(f"skipped napari_background.png: the subject model marks {share:.0%} of the photo")
        return
    before = {layer.name for layer in viewer.layers}
    widget.stylise_background()
    wait_for(lambda: not widget.busy and len(viewer.layers) > len(before) + 1)
    wait_for(lambda: not widget.busy)
    (result,) = [
        layer.name
        for layer in viewer.layers
        if layer.name not in before and type(layer).__name__ == "Image"
    ]
    show_only(viewer, result, "astronaut subject")
    viewer.layers["astronaut subject"].opacity = 0.25
    viewer.layers.selection.active = viewer.layers[result]
    save(viewer, "background")


def fast_shot(viewer, widget) -> None:
    """Fast mode with preset network 7."""
    from napari_styletransfer.widgets.form import FAST, StyleChoice

    form = widget.form
    form.mask.value = None
    form.method.value = FAST
    form.style.value = StyleChoice("preset", "preset:7")
    form.quality.value = "Balanced"
    before = len(viewer.layers)
    widget.run()
    wait_for(lambda: not widget.busy)
    show_only(viewer, viewer.layers[before].name)
    save(viewer, "fast")


def segment_shot(viewer) -> None:
    """The "Segment subject" dock on a microscopy image: its ambiguity warning."""
    from skimage import data

    for layer in list(viewer.layers):
        viewer.layers.remove(layer)
    viewer.add_image(data.immunohistochemistry(), name="immunohistochemistry")
    _, dock = viewer.window.add_plugin_dock_widget("napari-styletransfer", "Segment subject")
    dock.layer_combo.setCurrentText("immunohistochemistry")
    dock.run()
    wait_for(lambda: dock.worker is None)
    _pump(2.0)
    save(viewer, "segment")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="steps of the Quality runs")
    parser.add_argument("--only", nargs="*", choices=SHOTS, default=list(SHOTS))
    args = parser.parse_args(argv)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    viewer, widget = setup(args.steps)
    wanted = set(args.only)
    if wanted & {"running", "done"}:
        quality_shots(viewer, widget, wanted)
    if "background" in wanted:
        background_shot(viewer, widget)
    if "fast" in wanted:
        fast_shot(viewer, widget)
    if "segment" in wanted:
        segment_shot(viewer)
    viewer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
