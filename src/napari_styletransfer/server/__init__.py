"""The HTTP service (``napari-styletransfer serve``): FastAPI on uvicorn.

- :mod:`.app`: the routes (``create_app``);
- :mod:`.jobs`: the queue and one worker thread per device;
- :mod:`.store`: job records and results on disk (restarts lose nothing finished);
- :mod:`.submission`: a job form into engine inputs (styles by name only);
- :mod:`.uploads`: images sniffed and size-checked before decoding;
- :mod:`.security`: API keys and request size limits;
- :mod:`.metrics`: Prometheus metrics.

Needs the ``serve`` extra: ``pip install "napari-styletransfer[serve]"``.
"""

from .config import ServerConfig


def __getattr__(name):
    # the app (FastAPI, torch) is imported on first use, so that settings are
    # checked, and refused, at once
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ServerConfig", "create_app"]
