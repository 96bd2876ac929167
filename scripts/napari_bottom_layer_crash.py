"""Minimal reproduction of a napari crash with software OpenGL, for an upstream report.

    xvfb-run -a python scripts/napari_bottom_layer_crash.py   # Mesa llvmpipe: segfault

Two image layers; remove the bottom one; any redraw of the other (new data, new
contrast limits, or just a zoom) then segfaults inside Mesa's glDrawArrays.
Seen with napari 0.9.2, vispy 0.17.0, PyQt5 5.15, Mesa 22.3.6 (llvmpipe and
softpipe), Debian 12. No plugin code is involved.
"""

import time

import napari
import numpy as np
from qtpy.QtWidgets import QApplication


def spin(app: QApplication, seconds: float) -> None:
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.02)


def main() -> None:
    viewer = napari.Viewer()
    app = QApplication.instance()
    bottom = viewer.add_image(np.zeros((64, 64), np.uint8), name="bottom")
    viewer.add_image(np.zeros((64, 64), np.uint8), name="top")
    spin(app, 0.5)
    viewer.layers.remove(bottom)
    spin(app, 0.5)
    print("bottom layer removed; now zooming", flush=True)
    viewer.scene.camera.zoom = 1.5  # any redraw: segfault here with software OpenGL
    spin(app, 0.5)
    print("no crash", flush=True)


if __name__ == "__main__":
    main()
