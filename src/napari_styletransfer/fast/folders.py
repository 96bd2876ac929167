"""The user's folders for learned styles (data) and training files (cache).

``platformdirs`` decides where they are on each system; the environment
variables ``NAPARI_STYLETRANSFER_DATA_DIR`` and ``NAPARI_STYLETRANSFER_CACHE_DIR``
move them (tests, portable installs).
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "napari-styletransfer"
DATA_DIR_ENV = "NAPARI_STYLETRANSFER_DATA_DIR"
CACHE_DIR_ENV = "NAPARI_STYLETRANSFER_CACHE_DIR"


def data_root() -> Path:
    """``platformdirs.user_data_dir("napari-styletransfer")``, unless the variable is set."""
    import platformdirs

    root = os.environ.get(DATA_DIR_ENV)
    return Path(root) if root else Path(platformdirs.user_data_dir(APP_NAME))


def cache_root() -> Path:
    """``platformdirs.user_cache_dir("napari-styletransfer")``, unless the variable is set."""
    import platformdirs

    root = os.environ.get(CACHE_DIR_ENV)
    return Path(root) if root else Path(platformdirs.user_cache_dir(APP_NAME))
