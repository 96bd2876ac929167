"""napari-styletransfer: neural style transfer for napari, Python and the command line.

The engine takes and returns numpy arrays and never imports Qt or napari:

>>> from napari_styletransfer import stylize, load_sample
>>> result = stylize(load_sample("astronaut"), "starry-night", max_size=256)  # doctest: +SKIP
"""

from importlib.metadata import PackageNotFoundError, version

from .errors import StyleTransferError
from .samples import load_sample, style_names

try:
    __version__ = version("napari-styletransfer")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"


def __getattr__(name):
    # torch is imported lazily so that `import napari_styletransfer` (napari's
    # plugin discovery, the CLI's --help) stays fast
    if name in ("stylize", "iter_stylize", "StylizeRequest"):
        from . import api

        return getattr(api, name)
    if name == "segment_subject":
        from .segmentation import segment_subject

        return segment_subject
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "StyleTransferError",
    "StylizeRequest",
    "__version__",
    "iter_stylize",
    "load_sample",
    "segment_subject",
    "style_names",
    "stylize",
]
