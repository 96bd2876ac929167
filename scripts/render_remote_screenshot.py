"""Render docs/images/napari_remote.png: the "Style transfer" dock running on a server.

A real ``napari-styletransfer serve`` process on 127.0.0.1 runs the job (Fast
mode, preset 7, Balanced) chosen through *Device → Remote server…*. Needs a
display; on a headless machine::

    xvfb-run -a python scripts/render_remote_screenshot.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render_screenshots import OUT_DIR, save, setup, show_only, wait_for


def main() -> int:
    from napari_styletransfer.server.process import serve_in_subprocess
    from napari_styletransfer.widgets.form import FAST, StyleChoice
    from napari_styletransfer.widgets.remote import RemoteSettings

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        with serve_in_subprocess(Path(folder) / "results") as server:
            viewer, widget = setup(steps=60)
            # the settings go to the temporary folder, not the user's
            import os

            os.environ["NAPARI_STYLETRANSFER_CONFIG_DIR"] = str(Path(folder) / "config")
            if not widget.connect_remote(RemoteSettings(server.url)):
                raise SystemExit("could not connect to the server")
            form = widget.form
            form.method.value = FAST
            form.style.value = StyleChoice("preset", "preset:7")
            form.quality.value = "Balanced"
            before = len(viewer.layers)
            widget.run()
            wait_for(lambda: not widget.busy)
            show_only(viewer, viewer.layers[before].name)
            widget.advanced.expand(animate=False)
            save(viewer, "remote")
            viewer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
