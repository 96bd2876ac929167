"""Shared fixtures for the napari widget tests."""

from __future__ import annotations

import os
import signal
import tempfile

import numpy as np
import pytest

from napari_styletransfer.fast.folders import DATA_DIR_ENV
from napari_styletransfer.widgets.runner import preload_triton

# the user's own learned styles (a benchmark's, say) must not show up in any test,
# nor in the servers and CLIs the tests start: they all get an empty data folder
os.environ[DATA_DIR_ENV] = tempfile.mkdtemp(prefix="napari-styletransfer-data-")

# whatever the test order: triton must bind its own LLVM before Mesa's is loaded
# by the first napari viewer (see preload_triton)
preload_triton()

# A suite started in the background by a script (``cmd &``) inherits SIGINT as
# ignored, and so would every CLI the Ctrl-C tests start: they would never see
# the signal. A Python handler here is reset to the default in each child.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def style_widget(make_napari_viewer):
    """The "Style transfer" dock, opened through the plugin manifest, and its viewer."""
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-styletransfer", "Style transfer")
    return viewer, widget


@pytest.fixture
def gradient_rgb():
    """A small uint8 RGB picture with structure (gradients and a bright square)."""
    y, x = np.mgrid[0:48, 0:48].astype(np.float32) / 47
    image = np.stack([x, y, 1 - x * y], axis=-1)
    image[16:32, 16:32] = 1.0
    return (image * 255).astype(np.uint8)


@pytest.fixture
def stripes_rgb():
    """A small uint8 RGB 'painting': coloured diagonal stripes."""
    y, x = np.mgrid[0:40, 0:40]
    stripes = ((x + y) // 5) % 2
    image = np.zeros((40, 40, 3), np.uint8)
    image[stripes == 1] = (200, 40, 30)
    image[stripes == 0] = (20, 60, 220)
    return image
